"""Registries: list, create, read, update, delete (`/api/registries[/{slug}]`)."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from registry.domain.model import Metadata, Registry
from registry.domain.service import SOURCE_API, RegistryPatch
from registry.domain.tokens import ADMIN, EDITOR, READER

from ..auth import current_actor, require
from ..deps import get_service
from ..http import (
    expected_version_from_request,
    json_body,
    json_response,
    not_modified,
    version_param,
)
from .common import (
    REGISTRY_CREATE_KEYS,
    REGISTRY_PATCH_KEYS,
    registry_fields,
    registry_path,
    registry_state,
    summary_response,
)
from .shapes import (
    registry_summary,
)

bp = Blueprint("registries", __name__)


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
    fields = registry_fields(body, REGISTRY_CREATE_KEYS)
    reg = Registry(
        slug=fields.get("slug", ""),
        display_name=fields.get("display_name", ""),
        description=fields.get("description", ""),
        extensions=fields.get("extensions", {}),
        metadata=Metadata(tags=fields.get("tags", [])),
    )
    created = service.create_registry(reg, actor=current_actor(), source=SOURCE_API)
    response = summary_response(service, created.slug, status=201)
    response.headers["Location"] = url_for("api.registries.get_registry", slug=created.slug)
    return response


@bp.get("/registries/<slug>")
@require(READER)
def get_registry(slug: str) -> Response:
    service = get_service()
    return summary_response(service, registry_path(slug))


@bp.patch("/registries/<slug>")
@require(EDITOR)
def update_registry(slug: str) -> Response:
    """Present fields replace, absent or null ones stay. `default_profile_slug` must name a
    profile of the registry. Guarded by `expected_version` (body) and `If-Match`."""
    service = get_service()
    slug = registry_path(slug)
    body = json_body()
    expected = version_param(source=body)
    patch = RegistryPatch(**registry_fields(body, REGISTRY_PATCH_KEYS))
    expected = expected or expected_version_from_request(lambda: registry_state(service, slug))
    updated = service.update_registry(
        slug, patch, expected_version=expected, actor=current_actor(), source=SOURCE_API
    )
    return summary_response(service, updated.slug)


@bp.delete("/registries/<slug>")
@require(ADMIN)
def delete_registry(slug: str) -> Response:
    """Delete a registry and all its profiles; `expected_version` in the query or If-Match."""
    service = get_service()
    slug = registry_path(slug)
    expected = version_param() or expected_version_from_request(
        lambda: registry_state(service, slug)
    )
    service.delete_registry(
        slug, expected_version=expected, actor=current_actor(), source=SOURCE_API
    )
    return Response(status=204)
