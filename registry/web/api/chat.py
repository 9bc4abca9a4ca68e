"""The chat-client contract: `/api/chat/...` (see README, JSON API).

Existing chat clients depend on these routes and shapes exactly, so every view is thin: parse
the HTTP request, call one service use case, shape the answer with `shapes`. The service owns
every business rule; the error handlers turn domain errors into problem+json. HTTP-parameter
problems keep the reference wording in `detail` (`invalid registry`, `invalid profile slug`)
and carry the precise reason in `errors[]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from registry.config import flag
from registry.domain.errors import FieldError, ProfileNotFound, ValidationError
from registry.domain.jsonutil import canonical_digest
from registry.domain.model import (
    PROFILE_KEYS,
    Metadata,
    Profile,
    Registry,
    _Collector,
    profile_fields_from_data,
)
from registry.domain.resolution import COOKIE_NAME, select_profile
from registry.domain.service import SOURCE_API, ProfilePatch, RegistryService
from registry.domain.slugs import SlugError, parse_slug

from ..auth import current_actor, require
from ..caches import LRUCache
from ..deps import get_service
from ..http import (
    encoded_json,
    encoded_json_response,
    expected_version_from_request,
    json_body,
    json_response,
    not_modified,
    slug_param,
    text_param,
    version_param,
)
from .shapes import dependants_data, document, document_etag, document_state, list_item

bp = Blueprint("chat", __name__)

# Body keys the routes consume themselves; everything else is a profile field.
LIST_CACHE_SIZE = 8
ANSWER_CACHE_BYTES = 8 * 1024 * 1024  # resolutions and profile documents kept per process
ENVELOPE_KEYS = frozenset({"registry", "set_default", "expected_version"})
CREATE_KEYS = PROFILE_KEYS
PATCH_KEYS = CREATE_KEYS - {"slug"}
RESOLVE_KEYS = frozenset(
    {"profile", "registry", "request_overrides", "runtime_key", "registry_slug"}
)


# --- parameter parsing -----------------------------------------------------------------------


def _registry_param(source: dict[str, Any] | None = None) -> str | None:
    """Registry from a JSON body, else the query; None (server default) when absent or blank.

    A query value is checked even when the body's wins, so a malformed one is always a 400."""
    queried = _registry_slug(text_param("registry"))
    if source is None or text_param("registry", source) is None:
        return queried
    return _registry_slug(text_param("registry", source))


def _registry_slug(raw: str | None) -> str | None:
    return None if raw is None else slug_param(raw, "registry", "registry")


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError(FieldError(name, "must be a boolean"))
    return value


def _profile_fields(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """Parse the profile part of a create/patch body, reporting every problem at once.

    `null` means "absent" (unchanged on PATCH). Client metadata is server-managed except
    `tags`; a `metadata` object without `tags` leaves the tags alone.
    """
    data = {k: v for k, v in body.items() if k not in ENVELOPE_KEYS and v is not None}
    c = _Collector()
    c.unknown(data, allowed, "")
    fields = profile_fields_from_data(data, c)
    c.raise_if_any()
    meta = data.get("metadata")
    if "metadata" in fields:
        if isinstance(meta, dict) and meta.get("tags") is not None:
            fields["metadata"] = Metadata(tags=list(fields["metadata"].tags))
        else:
            del fields["metadata"]
    return fields


MERGE_RE = re.compile(r"base:[1-9][0-9]{0,17}")  # as the OpenAPI document's pattern
MERGE_RULE = 'must be "base:<version>": the version your changes were made against'


def _merge_param() -> int | None:
    """`?merge=base:<version>` -> the base version; None when absent; 400 when malformed."""
    raw = request.args.get("merge")
    if raw is None:
        return None
    if not MERGE_RE.fullmatch(raw):
        raise ValidationError(FieldError("merge", MERGE_RULE), message="invalid merge")
    return int(raw.removeprefix("base:"))


def _document_response(reg: Registry, p: Profile, status: int = 200) -> Response:
    return json_response(document(reg, p), status=status, etag=document_etag(reg, p))


def _cookie_secure() -> bool:
    return flag(current_app.config, "REGISTRY_COOKIE_SECURE", True)


def _content_etag(prefix: str, data: Any) -> str:
    return f"{prefix}:{canonical_digest(data)}"


# --- profiles --------------------------------------------------------------------------------


@bp.get("/chat/profiles")
@require("reader", public=True)
def list_profiles() -> Response:
    """All registries' profiles (or one registry's), sorted by `(slug, registry)`.

    The ETag comes from the store's change feed, so a matching If-None-Match is answered
    without reading any profile.
    """
    service = get_service()
    registry = _registry_param()
    # Read the change id before the profiles: a write in between can only make the ETag
    # older than the body (one extra 200 later), never newer (a wrong 304). A matching
    # If-None-Match needs no registry read: only an existing registry's list carried that
    # ETag, and an unchanged change id means it still exists (one query per 304).
    etag = f"profiles:{service.latest_change_id()}:{registry or '*'}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    only = service.get_registry(registry) if registry is not None else None  # 404 if unknown
    cache = current_app.extensions.setdefault("chat_list_cache", {})
    body = cache.get(etag)
    if body is None:
        registries = [only] if only else [s.registry for s in service.list_registries()]
        items = [list_item(reg, p) for reg in registries for p in service.iter_profiles(reg.slug)]
        items.sort(key=lambda item: (item["slug"], item["registry"]))
        body = (json.dumps(items, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        # The change id names the whole store state, so a body cached under it never goes
        # stale; keep the few most recent (one per registry filter in use).
        while len(cache) >= LIST_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[etag] = body
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    return response


@bp.post("/chat/profiles")
@require("editor")
def create_profile() -> Response:
    """Create a profile (201 + document + Location); `set_default` in the same transaction."""
    service = get_service()
    body = json_body()
    registry = _registry_param(body)
    set_default = _flag(body, "set_default")
    expected = version_param(source=body)
    fields = _profile_fields(body, CREATE_KEYS)
    fields.setdefault("slug", "")
    profile = Profile(**fields)
    actor = current_actor()
    created = service.create_profile(
        registry,
        profile,
        actor=actor,
        source=SOURCE_API,
        expected_version=expected,
        set_default=set_default,
    )
    reg = service.get_registry(registry)
    response = _document_response(reg, created, status=201)
    response.headers["Location"] = url_for(
        "api.chat.get_profile", slug=created.slug, registry=reg.slug
    )
    return response


@bp.get("/chat/profiles/<slug>")
@require("reader", public=True)
def get_profile(slug: str) -> Response:
    """One profile. Without `?registry=` the registries are searched in slug order and the
    first one holding the slug wins (chat resolution does not search). Answered again from
    the cache of `_answer` while nothing changed: one query (the change id) per read."""
    service = get_service()
    slug = slug_param(slug, "slug")
    registry = _registry_param()

    def build() -> tuple[Any, str]:
        reg, profile = _find_profile(service, registry, slug)
        return document(reg, profile), document_etag(reg, profile)

    body, etag = _answer(("profile", service.latest_change_id(), registry, slug), build)
    return encoded_json_response(body, etag=etag)


def _find_profile(
    service: RegistryService, registry: str | None, slug: str
) -> tuple[Registry, Profile]:
    if registry is not None:
        return service.registry_and_profile(registry, slug)
    for summary in service.list_registries():
        try:
            return summary.registry, service.get_profile(summary.registry.slug, slug)
        except ProfileNotFound:
            continue
    raise ProfileNotFound(slug)


@bp.get("/chat/profiles/<slug>/dependants")
@require("reader", public=True)
def profile_dependants(slug: str) -> Response:
    """Who stacks on this profile (in the query's registry, else the configured one)."""
    service = get_service()
    slug = slug_param(slug, "slug")
    reg = service.get_registry(_registry_param())
    return json_response(dependants_data(service, reg.slug, slug))


@bp.patch("/chat/profiles/<slug>")
@require("editor")
def update_profile(slug: str) -> Response:
    """Present fields replace (runtime, policy, extensions wholesale), absent or null ones
    stay; `extensions: {}` clears. `expected_version` (body) and `If-Match` both guard it.
    `?merge=base:<version>` instead applies the changes, made against that version, on top
    of the current one (three-way merge; 409 `merge-conflict` with the colliding paths).
    A write that changes nothing answers the current document, same version."""
    service = get_service()
    body = json_body()
    slug = slug_param(slug, "slug")
    registry = _registry_param(body)
    set_default = _flag(body, "set_default")
    expected = version_param(source=body)
    base = _merge_param()
    patch = ProfilePatch.from_fields(_profile_fields(body, PATCH_KEYS))
    if_match = expected_version_from_request(lambda: document_state(service, registry, slug))
    expected = expected or if_match
    actor = current_actor()
    if base is not None:
        merged = service.merge_update(
            registry,
            slug,
            patch,
            base_version=base,
            theirs_version=expected,
            actor=actor,
            source=SOURCE_API,
            set_default=set_default,
        )
        return _document_response(service.get_registry(registry), merged)
    reg, updated = service.patch_profile(
        registry,
        slug,
        patch,
        expected_version=expected,
        actor=actor,
        source=SOURCE_API,
        set_default=set_default,
    )
    return _document_response(reg, updated)


@bp.delete("/chat/profiles/<slug>")
@require("editor")
def delete_profile(slug: str) -> Response:
    """204. Registry and `expected_version` come from the query only."""
    service = get_service()
    slug = slug_param(slug, "slug")
    registry = _registry_param()
    expected = version_param()
    if_match = expected_version_from_request(lambda: document_state(service, registry, slug))
    expected = expected or if_match
    service.delete_profile(
        registry, slug, expected_version=expected, actor=current_actor(), source=SOURCE_API
    )
    return Response(status=204)


@bp.post("/chat/profiles/<slug>/default")
@require("editor")
def set_default_profile(slug: str) -> Response:
    """Make `{slug}` its registry's default. The body is optional and a malformed one is
    ignored; `expected_version` is checked against the registry version."""
    service = get_service()
    slug = slug_param(slug, "slug")
    try:
        body = json_body(required=False)
    except ValidationError:
        body = {}
    registry = _registry_param(body)
    expected = version_param(source=body) or version_param()
    reg = service.set_default_profile(
        registry, slug, expected_version=expected, actor=current_actor(), source=SOURCE_API
    )
    return _document_response(reg, service.get_profile(reg.slug, slug))


# --- current profile (cookie) ------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _current(registry: str, profile: str) -> dict[str, str]:
    # `slug` duplicates `profile` for older clients that read only `slug`.
    return {"profile": profile, "registry": registry, "slug": profile}


@bp.get("/chat/profile")
@require("reader", public=True)
def get_current_profile() -> Response:
    """The profile selected by the `chat_profile` cookie; a stale cookie falls back to the
    default registry's default (never 404)."""
    selection = select_profile(cookie=request.cookies.get(COOKIE_NAME))
    registry, profile = get_service().current_profile(selection)
    data = _current(registry, profile)
    response = json_response(data, etag=_content_etag("current", data))
    response.vary.add("Cookie")
    return response


@bp.post("/chat/profile")
@require("reader", public=True)
def set_current_profile() -> Response:
    """Remember a selection in the `chat_profile=<registry>/<profile>` session cookie.

    An unknown registry is a 404 (the reference answered 500).
    """
    service = get_service()
    body = json_body()
    name = "slug" if _blank(body.get("profile")) and not _blank(body.get("slug")) else "profile"
    raw = body.get(name)
    if _blank(raw):
        raise ValidationError(
            FieldError("profile", "must not be empty"), message="bad request: profile is required"
        )
    try:
        slug = parse_slug(raw, "profile slug")
    except SlugError as exc:
        raise ValidationError(FieldError(name, str(exc)), message=f"bad request: {exc}") from None
    reg = service.get_registry(_registry_param(body))
    profile = service.get_profile(reg.slug, slug)
    response = json_response(_current(reg.slug, profile.slug))
    response.set_cookie(
        COOKIE_NAME,
        f"{reg.slug}/{profile.slug}",
        path="/",
        httponly=True,
        secure=_cookie_secure(),
        samesite="Lax",
    )
    return response


# --- schemas ---------------------------------------------------------------------------------


def _with_object_schema(item: dict[str, Any]) -> dict[str, Any]:
    # Both clients reject `"schema": null`.
    if not isinstance(item.get("schema"), dict):
        item["schema"] = {"type": "object"}
    return item


@bp.get("/chat/schemas/middlewares")
@require("reader", public=True)
def middleware_schemas() -> Response:
    """`[{name, version, display_name, description?, schema}]` sorted by name."""
    data = [_with_object_schema(d.describe()) for d in get_service().middlewares.all()]
    return json_response(data, etag=_content_etag("middlewares", data))


@bp.get("/chat/schemas/extensions")
@require("reader", public=True)
def extension_schemas() -> Response:
    """`[{key, schema, display_name?, description?}]` sorted by key: every codec, explicit
    ones and one per middleware config."""
    data = [_with_object_schema(c.describe()) for c in get_service().codecs.all()]
    return json_response(data, etag=_content_etag("extensions", data))


# --- resolution ------------------------------------------------------------------------------


@bp.post("/chat/resolve")
@require("reader", public=True)
def resolve() -> Response:
    """Selection as chat requests do it (body > query > cookie > defaults), then
    the effective runtime and fingerprint. Forbidden overrides are 403."""
    service = get_service()
    body = json_body(required=False)
    selection = select_profile(
        body=body, query=request.args.to_dict(), cookie=request.cookies.get(COOKIE_NAME)
    )
    c = _Collector()
    c.unknown(body, RESOLVE_KEYS, "")
    c.raise_if_any()
    overrides = body.get("request_overrides")
    key = (
        "resolve",
        service.latest_change_id(),
        selection.registry,
        selection.profile,
        selection.legacy_cookie_profile,
        None if overrides is None else canonical_digest(overrides),
    )
    answer, _ = _answer(
        key, lambda: (service.resolve_selection(selection, overrides).to_data(shared=True), "")
    )
    return encoded_json_response(answer)


def _answer(key: tuple[Any, ...], build: Callable[[], tuple[Any, str]]) -> tuple[bytes, str]:
    """An answer (encoded JSON, ETag) that depends on the store's state and the request
    alone, from this process's cache while the change id in `key` (read before `build` reads
    anything, see `caches`) is the same; built and kept on a miss. Errors are never kept:
    `build` raises before anything is stored."""
    cache: LRUCache[tuple[bytes, str]] | None = current_app.extensions.get("answer_cache")
    if cache is None:
        cache = current_app.extensions["answer_cache"] = LRUCache(ANSWER_CACHE_BYTES)
    found = cache.get(key)
    if found is None:
        data, etag = build()
        found = (encoded_json(data), etag)
        cache.put(key, found, len(found[0]))
    return found
