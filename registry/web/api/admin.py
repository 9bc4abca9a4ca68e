"""The admin API (README, JSON API: "Admin routes"): registries, profile listing, clone,
revisions, import/export,
change feed and tokens. Everything the admin UI can do, as JSON.

Views are thin: parse the request, call one service (or token store) use case, shape the
answer. Errors are problem+json through the shared mapping.

Roles: reads need `reader`; registry updates, profile clone/restore and imports `editor`;
registry create/delete, `mirror` imports and token management `admin`.

Caching: list ETags come from the store's change feed (`latest_change_id`), document ETags
from versions; reads answer `If-None-Match` with 304 and writes check `If-Match` (412).

History on a store without it (the YAML file store): every revision route answers 404
with the problem type `no-history` (the UI hides history there).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for

from registry.domain.diff import profile_diff
from registry.domain.errors import FieldError, ValidationError
from registry.domain.importer import MODES, export_yaml, import_yaml
from registry.domain.jsonutil import canonical_digest
from registry.domain.model import Metadata, Profile, Registry, _Collector, metadata_to_data
from registry.domain.ports import Change, Revision
from registry.domain.service import SOURCE_API, RegistryPatch, RegistryService
from registry.domain.tokens import ADMIN, EDITOR, READER, TokenNotFound, TokenStore, issue

from ..auth import authorize, current_actor, require
from ..deps import get_service, token_store
from ..errors import APIProblem
from ..guards import check_body_type
from ..http import (
    expected_version_from_request,
    int_param,
    json_body,
    json_response,
    not_modified,
    slug_param,
    text_param,
    version_param,
)
from .blueprint import bp
from .shapes import document, document_etag, document_state

REGISTRY_CREATE_KEYS = frozenset({"slug", "display_name", "description", "extensions", "tags"})
REGISTRY_PATCH_KEYS = frozenset(
    {"display_name", "description", "default_profile_slug", "extensions", "tags"}
)
CLONE_KEYS = frozenset({"slug", "registry", "display_name"})
TOKEN_KEYS = frozenset({"name", "role"})
# Not text/plain: a cross-site page can send it without a preflight (see web/guards.py).
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
PAGE_DEFAULT, PAGE_MAX = 50, 500
REVISIONS_DEFAULT, REVISIONS_MAX = 100, 1000
CHANGES_DEFAULT, CHANGES_MAX = 100, 1000


# --- shapes ----------------------------------------------------------------------------------


def registry_summary(reg: Registry, profile_count: int) -> dict[str, Any]:
    """A registry header with its profile count; every key always present."""
    return {
        "slug": reg.slug,
        "display_name": reg.display_name,
        "description": reg.description,
        "default_profile_slug": reg.default_profile_slug,
        "read_only": reg.is_managed,
        "managed_by": reg.managed_by,
        "metadata": metadata_to_data(reg.metadata),
        "extensions": reg.extensions,
        "profile_count": profile_count,
    }


def registry_etag(reg: Registry, profile_count: int) -> str:
    """Changes with the registry's version and with its profile count."""
    return f"registry:{reg.slug}:v{reg.metadata.version}:n{profile_count}"


def revision_item(rev: Revision) -> dict[str, Any]:
    return {
        "id": rev.id,
        "version": rev.version,
        "operation": rev.operation,
        "actor": rev.actor,
        "at_ms": rev.at_ms,
    }


def change_item(change: Change) -> dict[str, Any]:
    return {
        "id": change.id,
        "registry": change.registry,
        "profile": change.profile,
        "operation": change.operation,
        "version": change.version,
        "actor": change.actor,
        "at_ms": change.at_ms,
    }


# --- parameters ------------------------------------------------------------------------------


def _registry_path(raw: str) -> str:
    return slug_param(raw, "registry", "registry")


def _profile_path(raw: str) -> str:
    return slug_param(raw, "profile")


def _bool_param(name: str, default: bool = False) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ValidationError(FieldError(name, "must be true or false"))


def _no_unknown(body: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> _Collector:
    c = _Collector()
    c.unknown(body, allowed, prefix)
    return c


def _registry_fields(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The registry fields of a create/patch body (`null` = absent), every problem at once."""
    data = {k: v for k, v in body.items() if k != "expected_version" and v is not None}
    c = _no_unknown(data, allowed, "registry")
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


def _registry_state(service: RegistryService, slug: str) -> tuple[str, int]:
    """The registry's ETag and version, for `If-Match` (404 when it is missing)."""
    summary = service.registry_summary(slug)
    return registry_etag(summary.registry, summary.profile_count), summary.registry.metadata.version


def _summary_response(service: RegistryService, slug: str, status: int = 200) -> Response:
    """The registry's summary as stored now (after a write: what the write left)."""
    summary = service.registry_summary(slug)
    reg, count = summary.registry, summary.profile_count
    return json_response(
        registry_summary(reg, count), status=status, etag=registry_etag(reg, count)
    )


def _document_response(reg: Registry, p: Profile, status: int = 200) -> Response:
    return json_response(document(reg, p), status=status, etag=document_etag(reg, p))


def _require_history(service: RegistryService) -> None:
    if not service.supports_history:
        raise APIProblem(
            404,
            f"history is not available: the {service.backend_kind} store keeps no revisions",
            kind="no-history",
        )


def _tokens() -> TokenStore:
    return token_store()


# --- registries ------------------------------------------------------------------------------


@bp.get("/registries")
@require(READER)
def list_registries() -> Response:
    """`{items: [registry summary]}` sorted by slug."""
    service = get_service()
    etag = f"registries:{service.latest_change_id()}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    items = [registry_summary(s.registry, s.profile_count) for s in service.list_registries()]
    return json_response({"items": items}, etag=etag)


@bp.post("/registries")
@require(ADMIN)
def create_registry() -> Response:
    """Create an empty registry: `{slug, display_name?, description?, extensions?, tags?}`."""
    service = get_service()
    body = json_body()
    version_param(source=body)  # accepted and ignored on create, but checked like everywhere
    fields = _registry_fields(body, REGISTRY_CREATE_KEYS)
    reg = Registry(
        slug=fields.get("slug", ""),
        display_name=fields.get("display_name", ""),
        description=fields.get("description", ""),
        extensions=fields.get("extensions", {}),
        metadata=Metadata(tags=fields.get("tags", [])),
    )
    created = service.create_registry(reg, actor=current_actor(), source=SOURCE_API)
    response = _summary_response(service, created.slug, status=201)
    response.headers["Location"] = url_for("api.get_registry", slug=created.slug)
    return response


@bp.get("/registries/<slug>")
@require(READER)
def get_registry(slug: str) -> Response:
    service = get_service()
    return _summary_response(service, _registry_path(slug))


@bp.patch("/registries/<slug>")
@require(EDITOR)
def update_registry(slug: str) -> Response:
    """Present fields replace, absent or null ones stay. `default_profile_slug` must name a
    profile of the registry. Guarded by `expected_version` (body) and `If-Match`."""
    service = get_service()
    slug = _registry_path(slug)
    body = json_body()
    expected = version_param(source=body)
    patch = RegistryPatch(**_registry_fields(body, REGISTRY_PATCH_KEYS))
    expected = expected or expected_version_from_request(lambda: _registry_state(service, slug))
    updated = service.update_registry(
        slug, patch, expected_version=expected, actor=current_actor(), source=SOURCE_API
    )
    return _summary_response(service, updated.slug)


@bp.delete("/registries/<slug>")
@require(ADMIN)
def delete_registry(slug: str) -> Response:
    """Delete a registry and all its profiles; `expected_version` in the query or If-Match."""
    service = get_service()
    slug = _registry_path(slug)
    expected = version_param() or expected_version_from_request(
        lambda: _registry_state(service, slug)
    )
    service.delete_registry(
        slug, expected_version=expected, actor=current_actor(), source=SOURCE_API
    )
    return Response(status=204)


# --- profiles --------------------------------------------------------------------------------


@bp.get("/registries/<slug>/profiles")
@require(READER)
def registry_profiles(slug: str) -> Response:
    """`{items: [document], next_cursor, total}`; `q` (substring of slug, name, description),
    `tag` (exact), `limit` (1-500, default 50), `cursor` (`next_cursor` of the last page)."""
    service = get_service()
    reg = service.get_registry(_registry_path(slug))
    q = request.args.get("q", "")
    tag = request.args.get("tag", "")
    cursor = request.args.get("cursor", "")
    limit = int_param("limit", PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    etag = f"profiles:{reg.slug}:{service.latest_change_id()}:{canonical_digest([q, tag, cursor, limit])}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    page = service.list_profiles(reg.slug, q=q, tag=tag, limit=limit, cursor=cursor)
    reg = service.get_registry(reg.slug)  # the default may have moved meanwhile
    data = {
        "items": [document(reg, p) for p in page.items],
        "next_cursor": page.next_cursor or None,
        "total": page.total,
    }
    return json_response(data, etag=etag)


@bp.get("/registries/<slug>/profiles/<profile>")
@require(READER)
def registry_profile(slug: str, profile: str) -> Response:
    service = get_service()
    reg = service.get_registry(_registry_path(slug))
    return _document_response(reg, service.get_profile(reg.slug, _profile_path(profile)))


@bp.post("/registries/<slug>/profiles/<profile>/clone")
@require(EDITOR)
def clone_profile(slug: str, profile: str) -> Response:
    """`{slug, registry?, display_name?}` -> 201 document of the copy (version 1, fresh
    history, not read-only), in `registry` or the source's registry."""
    service = get_service()
    source_registry = _registry_path(slug)
    source = _profile_path(profile)
    body = json_body()
    c = _no_unknown(body, CLONE_KEYS)
    display_name = body.get("display_name")
    if display_name is not None and not isinstance(display_name, str):
        c.add("display_name", "must be a string")
    c.raise_if_any()
    target = text_param("registry", body)
    if target is not None:
        target = _registry_path(target)
    clone = service.clone_profile(
        source_registry,
        source,
        body.get("slug") or "",
        target_registry=target,
        display_name=display_name,
        actor=current_actor(),
        source=SOURCE_API,
    )
    reg = service.get_registry(target or source_registry)
    response = _document_response(reg, clone, status=201)
    response.headers["Location"] = url_for(
        "api.registry_profile", slug=reg.slug, profile=clone.slug
    )
    return response


# --- history ---------------------------------------------------------------------------------


@bp.get("/registries/<slug>/profiles/<profile>/revisions")
@require(READER)
def list_revisions(slug: str, profile: str) -> Response:
    """`{items: [{id, version, operation, actor, at_ms}]}`, newest first, since the profile's
    latest create; `limit` 1-1000 (default 100)."""
    service = get_service()
    _require_history(service)
    registry, profile = _registry_path(slug), _profile_path(profile)
    limit = int_param("limit", REVISIONS_DEFAULT, minimum=1, maximum=REVISIONS_MAX)
    etag = f"revisions:{registry}:{profile}:{service.latest_change_id()}:{limit}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    revisions = service.list_revisions(registry, profile, limit)
    return json_response({"items": [revision_item(r) for r in revisions]}, etag=etag)


@bp.get("/registries/<slug>/profiles/<profile>/revisions/<int:revision_id>")
@require(READER)
def get_revision(slug: str, profile: str, revision_id: int) -> Response:
    """One revision with `snapshot` (the profile document after it; null for a delete)."""
    service = get_service()
    _require_history(service)
    reg = service.get_registry(_registry_path(slug))
    rev = service.get_revision(reg.slug, _profile_path(profile), revision_id)
    data = revision_item(rev)
    data["snapshot"] = document(reg, rev.snapshot) if rev.snapshot is not None else None
    is_default = int(data["snapshot"] is not None and data["snapshot"]["is_default"])
    return json_response(data, etag=f"revision:{rev.id}:d{is_default}")


@bp.get("/registries/<slug>/profiles/<profile>/revisions/<int:revision_id>/diff")
@require(READER)
def revision_diff(slug: str, profile: str, revision_id: int) -> Response:
    """`{revision, against, changes: [{path, before, after}]}`: what changed from revision
    `{id}` to `against` (another revision id, or `current`, the default)."""
    service = get_service()
    _require_history(service)
    registry, profile = _registry_path(slug), _profile_path(profile)
    raw = request.args.get("against", "current").strip().lower() or "current"
    if raw != "current" and (not raw.isdigit() or len(raw) > 18):
        raise ValidationError(FieldError("against", 'must be a revision id or "current"'))
    rev = service.get_revision(registry, profile, revision_id)
    if raw == "current":
        after = service.find_profile(service.get_registry(registry).slug, profile)
        against: int | str = "current"
        etag = f"diff:{rev.id}:current:v{after.metadata.version if after else 0}"
    else:
        other = service.get_revision(registry, profile, int(raw))
        after, against = other.snapshot, other.id
        etag = f"diff:{rev.id}:{other.id}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    data = {"revision": rev.id, "against": against, "changes": profile_diff(rev.snapshot, after)}
    return json_response(data, etag=etag)


@bp.post("/registries/<slug>/profiles/<profile>/revisions/<int:revision_id>/restore")
@require(EDITOR)
def restore_revision(slug: str, profile: str, revision_id: int) -> Response:
    """Write the revision's snapshot as a new revision (recreating a deleted profile);
    optional body `{expected_version}`, or If-Match. 200 + document."""
    service = get_service()
    _require_history(service)
    registry, profile = _registry_path(slug), _profile_path(profile)
    body = json_body(required=False)
    _no_unknown(body, frozenset({"expected_version"})).raise_if_any()
    expected = version_param(source=body)
    # an unknown revision is a 404 whatever If-Match says (preconditions come last)
    service.get_revision(registry, profile, revision_id)
    expected = expected or expected_version_from_request(
        lambda: document_state(service, registry, profile)
    )
    restored = service.restore_revision(
        registry,
        profile,
        revision_id,
        expected_version=expected,
        actor=current_actor(),
        source=SOURCE_API,
    )
    return _document_response(service.get_registry(registry), restored)


# --- import / export -------------------------------------------------------------------------


@bp.post("/import")
@require(EDITOR)
def import_document() -> Response:
    """A YAML body (bundle, single registry or legacy map) -> the import plan.

    `mode`: create-only | upsert (default) | mirror (admin only: it deletes);
    `dry_run=true` plans without writing. Applying is all or nothing.
    """
    service = get_service()
    mode = request.args.get("mode", "upsert").strip().lower() or "upsert"
    if mode not in MODES:
        raise ValidationError(FieldError("mode", f"must be one of {', '.join(MODES)}"))
    dry_run = _bool_param("dry_run")
    if mode == "mirror":
        authorize(ADMIN)
    check_body_type(YAML_TYPES)
    raw = request.get_data(cache=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            FieldError("body", f"not valid UTF-8 (byte {exc.start})"),
            message="bad request: the YAML document is not valid UTF-8",
        ) from None
    if not text.strip():
        # An empty document would mean "nothing" (a mirror of it deletes everything).
        raise ValidationError(FieldError("body", "request body must be a YAML document"))
    plan = import_yaml(
        service,
        text,
        mode=mode,
        dry_run=dry_run,
        actor=current_actor(),
        max_bytes=current_app.config["REGISTRY_MAX_IMPORT_BYTES"],
    )
    return json_response(plan.to_data())


@bp.get("/export")
@require(READER)
def export_document() -> Response:
    """The canonical YAML bundle of the store (or of `?registry=`), as a download."""
    service = get_service()
    registry = text_param("registry")
    if registry is not None:
        registry = service.get_registry(_registry_path(registry)).slug
    etag = f"export:{service.latest_change_id()}:{registry or '*'}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    text = export_yaml(service, registry)
    response = Response(text, content_type="application/yaml; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{registry or "profiles"}.yaml"'
    )
    response.set_etag(etag)
    return response


# --- change feed -----------------------------------------------------------------------------


@bp.get("/changes")
@require(READER)
def list_changes() -> Response:
    """`{latest, items: [{id, registry, profile, operation, version, actor, at_ms}]}`: the
    changes with id > `after`, oldest first; `limit` 1-1000 (default 100). Poll with
    `after=<last id seen>`; `latest` is the newest change id (stores without history: a
    value that moves on every write, and no items)."""
    service = get_service()
    after = int_param("after", 0, maximum=10**18 - 1)
    limit = int_param("limit", CHANGES_DEFAULT, minimum=1, maximum=CHANGES_MAX)
    latest = service.latest_change_id()
    etag = f"changes:{latest}:{after}:{limit}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    items = [change_item(c) for c in service.list_changes(after, limit)]
    return json_response({"latest": latest, "items": items}, etag=etag)


# --- tokens ----------------------------------------------------------------------------------


@bp.get("/tokens")
@require(ADMIN)
def list_tokens() -> Response:
    """`{items: [{id, name, role, created_at_ms, created_by, last_used_at_ms, revoked}]}`:
    active tokens (`include_revoked=true` for all). Secrets are never shown."""
    include_revoked = _bool_param("include_revoked")
    items = [t.to_data() for t in _tokens().all(include_revoked=include_revoked)]
    data = {"items": items}
    return json_response(data, etag=f"tokens:{canonical_digest(data)}")


@bp.post("/tokens")
@require(ADMIN)
def create_token() -> Response:
    """`{name, role}` -> 201 with the token record and `token`, the secret (shown once)."""
    body = json_body()
    _no_unknown(body, TOKEN_KEYS).raise_if_any()
    issued = issue(
        _tokens(), body.get("name", ""), body.get("role", ""), created_by=current_actor()
    )
    data = issued.token.to_data()
    data["token"] = issued.secret
    response = json_response(data, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/tokens/<token_id>")
@require(ADMIN)
def revoke_token(token_id: str) -> Response:
    """Revoke a token (idempotent for a revoked one); 404 for an unknown id."""
    store = _tokens()
    if store.get(token_id) is None:
        raise TokenNotFound(token_id)
    store.revoke(token_id)
    return Response(status=204)
