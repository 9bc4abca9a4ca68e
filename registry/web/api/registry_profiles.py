"""A registry's profiles for admins: paged listing, one document, clone."""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for

from registry.domain.errors import FieldError, ValidationError
from registry.domain.jsonutil import canonical_digest
from registry.domain.service import SOURCE_API
from registry.domain.tokens import EDITOR, READER

from ..auth import current_actor, require
from ..deps import get_service
from ..http import (
    int_param,
    json_body,
    json_response,
    not_modified,
    text_param,
)
from .common import (
    CLONE_KEYS,
    PAGE_DEFAULT,
    PAGE_MAX,
    bool_param,
    document_response,
    no_unknown,
    profile_path,
    registry_path,
)
from .shapes import (
    dependants_data,
    document,
)

bp = Blueprint("registry_profiles", __name__)


ORDERS = {"asc": False, "desc": True}


@bp.get("/registries/<slug>/profiles")
@require(READER)
def registry_profiles(slug: str) -> Response:
    """`{items: [document], next_cursor, prev_cursor, offset, total}`: a keyset page.

    `q` (substring of slug, name, description, tags), `tag` (one tag, any case), `limit` (1-500,
    default 50), `sort` (`slug`, `display_name`, `updated`) and `order` (`asc`, `desc`); the
    position is one of `cursor` (a `next_cursor`: the page after), `before` (a
    `prev_cursor`: the page before) and `last=true`, else the first page."""
    service = get_service()
    reg = service.get_registry(registry_path(slug))
    q = request.args.get("q", "")
    tag = request.args.get("tag", "")
    cursor = request.args.get("cursor", "")
    before = request.args.get("before", "")
    last = bool_param("last")
    sort = request.args.get("sort", "slug")
    order = request.args.get("order", "asc")
    if order not in ORDERS:
        raise ValidationError(FieldError("order", "must be asc or desc"), message="invalid order")
    limit = int_param("limit", PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    key = canonical_digest([q, tag, cursor, before, last, sort, order, limit])
    etag = f"profiles:{reg.slug}:{service.latest_change_id()}:{key}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    page = service.list_profiles(
        reg.slug,
        q=q,
        tag=tag,
        limit=limit,
        cursor=cursor,
        before=before,
        last=last,
        sort=sort,
        descending=ORDERS[order],
    )
    reg = service.get_registry(reg.slug)  # the default may have moved meanwhile
    data = {
        "items": [document(reg, p) for p in page.items],
        "next_cursor": page.next_cursor or None,
        "prev_cursor": page.prev_cursor or None,
        "offset": page.offset,
        "total": page.total,
    }
    return json_response(data, etag=etag)


@bp.get("/registries/<slug>/tags")
@require(READER)
def registry_tags(slug: str) -> Response:
    """`{items: [tag]}`: the tags the registry's profiles use, each once whatever its case."""
    service = get_service()
    reg = service.get_registry(registry_path(slug))
    etag = f"tags:{reg.slug}:{service.latest_change_id()}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    return json_response({"items": service.list_tags(reg.slug)}, etag=etag)


@bp.get("/registries/<slug>/profiles/<profile>")
@require(READER)
def registry_profile(slug: str, profile: str) -> Response:
    service = get_service()
    reg = service.get_registry(registry_path(slug))
    return document_response(reg, service.get_profile(reg.slug, profile_path(profile)))


@bp.get("/registries/<slug>/profiles/<profile>/dependants")
@require(READER)
def registry_profile_dependants(slug: str, profile: str) -> Response:
    """Who stacks on this profile, directly or through others (deleting it is refused while
    anything stacks on it directly)."""
    service = get_service()
    reg = service.get_registry(registry_path(slug))
    return json_response(dependants_data(service, reg.slug, profile_path(profile)))


@bp.post("/registries/<slug>/profiles/<profile>/clone")
@require(EDITOR)
def clone_profile(slug: str, profile: str) -> Response:
    """`{slug, registry?, display_name?}` -> 201 document of the copy (version 1, fresh
    history, not read-only), in `registry` or the source's registry."""
    service = get_service()
    source_registry = registry_path(slug)
    source = profile_path(profile)
    body = json_body()
    c = no_unknown(body, CLONE_KEYS)
    display_name = body.get("display_name")
    if display_name is not None and not isinstance(display_name, str):
        c.add("display_name", "must be a string")
    c.raise_if_any()
    target = text_param("registry", body)
    if target is not None:
        target = registry_path(target)
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
    response = document_response(reg, clone, status=201)
    response.headers["Location"] = url_for(
        "api.registry_profiles.registry_profile", slug=reg.slug, profile=clone.slug
    )
    return response
