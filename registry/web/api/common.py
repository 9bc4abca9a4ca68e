"""What the admin API's route modules share: body keys and limits, path and query parameters,
and the responses every resource answers with.

The admin API (README, JSON API: "Admin routes") is everything the admin UI can do, as JSON,
one module per resource: `registries`, `registry_profiles`, `revisions`, `transfer` (import
and export), `changes` and `tokens`. Views are thin: parse the request, call one service (or
token store) use case, shape the answer (`shapes`). Errors are problem+json through the
shared mapping.

Roles: reads need `reader`; registry updates, profile clone/restore and imports `editor`;
registry create/delete, `mirror` imports and token management `admin`.

Caching: list ETags come from the store's change feed (`latest_change_id`), document ETags
from versions; reads answer `If-None-Match` with 304 and writes check `If-Match` (412).
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from registry.domain.errors import FieldError, ValidationError
from registry.domain.model import Profile, Registry, _Collector
from registry.domain.service import RegistryService
from registry.domain.tokens import TokenStore

from ..deps import token_store
from ..errors import APIProblem
from ..http import (
    json_response,
    slug_param,
)
from .shapes import document, document_etag, registry_etag, registry_summary

REGISTRY_CREATE_KEYS = frozenset({"slug", "display_name", "description", "extensions", "tags"})
REGISTRY_PATCH_KEYS = frozenset(
    {"display_name", "description", "default_profile_slug", "extensions", "tags"}
)
CLONE_KEYS = frozenset({"slug", "registry", "display_name"})
TOKEN_KEYS = frozenset({"name", "role"})
# Not text/plain: a cross-site page can send it without a preflight (see web/guards.py).
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
# what the import reads: YAML, or the same bundle as JSON (the fast lane, see yaml_safe)
DOCUMENT_TYPES = (*YAML_TYPES, "application/json")
PAGE_DEFAULT, PAGE_MAX = 50, 500
REVISIONS_DEFAULT, REVISIONS_MAX = 100, 1000
CHANGES_DEFAULT, CHANGES_MAX = 100, 1000


def registry_path(raw: str) -> str:
    return slug_param(raw, "registry", "registry")


def profile_path(raw: str) -> str:
    return slug_param(raw, "profile")


def bool_param(name: str, default: bool = False) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ValidationError(FieldError(name, "must be true or false"))


def no_unknown(body: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> _Collector:
    c = _Collector()
    c.unknown(body, allowed, prefix)
    return c


def registry_fields(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The registry fields of a create/patch body (`null` = absent), every problem at once."""
    data = {k: v for k, v in body.items() if k != "expected_version" and v is not None}
    c = no_unknown(data, allowed, "registry")
    out: dict[str, Any] = {}
    for key in ("slug", "display_name", "description", "default_profile_slug"):
        if key in data and key in allowed:
            out[key] = c.string(data, key, f"registry.{key}")
    if "extensions" in data:
        out["extensions"] = c.mapping(data["extensions"], "registry.extensions") or {}
    if "tags" in data:
        out["tags"] = c.string_list(data, "tags", "registry.tags")
    c.raise_if_any()
    return out


def registry_state(service: RegistryService, slug: str) -> tuple[str, int]:
    """The registry's ETag and version, for `If-Match` (404 when it is missing)."""
    summary = service.registry_summary(slug)
    return registry_etag(summary.registry, summary.profile_count), summary.registry.metadata.version


def summary_response(service: RegistryService, slug: str, status: int = 200) -> Response:
    """The registry's summary as stored now (after a write: what the write left)."""
    summary = service.registry_summary(slug)
    reg, count = summary.registry, summary.profile_count
    return json_response(
        registry_summary(reg, count), status=status, etag=registry_etag(reg, count)
    )


def document_response(reg: Registry, p: Profile, status: int = 200) -> Response:
    return json_response(document(reg, p), status=status, etag=document_etag(reg, p))


def require_history(service: RegistryService) -> None:
    if not service.supports_history:
        raise APIProblem(
            404,
            f"history is not available: the {service.backend_kind} store keeps no revisions",
            kind="no-history",
        )


def tokens() -> TokenStore:
    return token_store()
