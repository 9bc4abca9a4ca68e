"""What route modules need from the running app: the service, the token store, auth settings.

The app factory puts the stores into `app.extensions`; these accessors are the one way web
code reaches them (never by importing `registry.store`, an import-linter contract). They live
in a leaf module so that route modules never import the `registry.web` package or each other
for them, which kept `registry.web` one import cycle.
"""

from __future__ import annotations

from flask import current_app

from registry import config as cfg
from registry.domain.service import RegistryService
from registry.domain.sessions import AccountStore
from registry.domain.webhooks import WebhookStore, WebhooksUnavailable


def get_service() -> RegistryService:
    return current_app.extensions["registry"]


def token_store() -> AccountStore:
    return current_app.extensions["tokens"]


def webhook_store() -> WebhookStore:
    """The webhook store; a YAML deployment has none (409: webhooks need an SQL store)."""
    store = current_app.extensions.get("webhooks")
    if store is None:
        raise WebhooksUnavailable()
    return store


def auth_enabled() -> bool:
    """`registry.config.auth_enabled` for the current app."""
    return cfg.auth_enabled(current_app.config)


def public_reads() -> bool:
    return cfg.flag(current_app.config, "REGISTRY_PUBLIC_READS", True)
