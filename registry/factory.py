"""The application factory, behind `flask --app app run` (app.py) and `profile-registry run`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from registry import config as cfg
from registry.domain.errors import RegistryError
from registry.domain.importer import import_yaml
from registry.domain.middleware import MiddlewareRegistry, load_definitions
from registry.domain.service import RegistryService
from registry.store import open_store
from registry.store.sql_tokens import open_token_store
from registry.store.sql_webhooks import open_webhook_store
from registry.webhook_worker import ensure_worker

# The project folder (templates/, static/, node_modules/, instance/), beside app.py: the
# factory moved into the package, the app's files did not.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config (defaults < environment < `config`), store, service, blueprints.

    `REGISTRY_INSTANCE_PATH` (config or environment) moves the instance folder (secret key,
    default SQLite file), which is otherwise `instance/` beside `app.py`."""
    instance = (config or {}).get("REGISTRY_INSTANCE_PATH") or os.environ.get(
        "REGISTRY_INSTANCE_PATH"
    )
    app = Flask(
        "app",  # the app's name (and logger name) from before the factory moved here
        root_path=ROOT,
        instance_relative_config=True,
        instance_path=os.path.abspath(instance) if instance else os.path.join(ROOT, "instance"),
    )
    app.config.from_mapping(cfg.DEFAULTS)
    app.config.update(cfg.from_environ())
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    cfg.base_url(app.config)  # a malformed REGISTRY_BASE_URL fails the start, not a later link
    cfg.auth_enabled(app.config)  # likewise REGISTRY_AUTH, not every request
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = cfg.instance_secret(app.instance_path)

    store = open_store(cfg.store_url(app.config, app.instance_path))
    definitions = app.config["REGISTRY_MIDDLEWARE_DEFINITIONS"] or None
    service = RegistryService(
        store,
        middlewares=MiddlewareRegistry(load_definitions(definitions)),
        default_registry=app.config["REGISTRY_DEFAULT_REGISTRY"],
    )
    app.extensions["registry"] = service
    _seed(app, service)
    tokens = open_token_store(store, app.config["REGISTRY_TOKEN_STORE"], app.instance_path)
    app.extensions["tokens"] = tokens
    app.extensions["webhooks"] = open_webhook_store(store)  # None beside a YAML store

    @app.before_request
    def start_webhook_worker() -> None:
        # Per process, on its first request: `serve` forks workers after building the app,
        # and a thread started before a fork does not exist in the children.
        ensure_worker(app)

    @app.teardown_appcontext
    def release_connection(_exc: BaseException | None) -> None:
        service.release()
        tokens.release()

    from registry.web import register_blueprints

    register_blueprints(app)

    from registry.cli import register_commands

    register_commands(app)
    # The first-start admin token and login link belong to `init`, `run` and `serve`
    # (registry/cli.py): building the app never creates or prints credentials.
    return app


def _seed(app: Flask, service: RegistryService) -> None:
    """Import REGISTRY_SEED_FILES; their registries become read-only, managed by the file."""
    for path in cfg.seed_files(app.config["REGISTRY_SEED_FILES"]):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            import_yaml(
                service,
                text,
                mode="mirror",
                actor="seed",
                managed_by=os.path.basename(path),
                seed=True,
            )
        except RegistryError as exc:
            raise RuntimeError(f"seed file {path}: {exc}") from exc
