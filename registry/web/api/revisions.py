"""Profile history: revisions, one revision, diffs, restore (404 `no-history` on the YAML store)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from registry.domain.diff import profile_diff
from registry.domain.errors import FieldError, ValidationError
from registry.domain.service import SOURCE_API
from registry.domain.tokens import EDITOR, READER

from ..auth import current_actor, require
from ..deps import get_service
from ..http import (
    expected_version_from_request,
    int_param,
    json_body,
    json_response,
    not_modified,
    version_param,
)
from .common import (
    REVISIONS_DEFAULT,
    REVISIONS_MAX,
    document_response,
    no_unknown,
    profile_path,
    registry_path,
    require_history,
)
from .shapes import (
    document,
    document_state,
    revision_item,
)

bp = Blueprint("revisions", __name__)
DELETED_DEFAULT, DELETED_MAX = 50, 500


@bp.get("/registries/<slug>/profiles/<profile>/revisions")
@require(READER)
def list_revisions(slug: str, profile: str) -> Response:
    """`{items: [{id, version, operation, actor, at_ms}]}`, newest first, since the profile's
    latest create; `limit` 1-1000 (default 100)."""
    service = get_service()
    require_history(service)
    registry, profile = registry_path(slug), profile_path(profile)
    limit = int_param("limit", REVISIONS_DEFAULT, minimum=1, maximum=REVISIONS_MAX)
    etag = f"revisions:{registry}:{profile}:{service.latest_change_id()}:{limit}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    revisions = service.list_revisions(registry, profile, limit)
    return json_response({"items": [revision_item(r) for r in revisions]}, etag=etag)


@bp.get("/registries/<slug>/deleted-profiles")
@require(READER)
def list_deleted_profiles(slug: str) -> Response:
    """`{items: [{slug, display_name, version, deleted_at_ms, deleted_by, restore_revision}]}`:
    profiles deleted from the registry and not created again, newest deletion first (the
    registry page's "Deleted profiles"). `restore_revision` is the revision to restore
    (`POST .../revisions/{id}/restore`); `limit` 1-500 (default 50)."""
    service = get_service()
    require_history(service)
    registry = registry_path(slug)
    limit = int_param("limit", DELETED_DEFAULT, minimum=1, maximum=DELETED_MAX)
    etag = f"deleted:{registry}:{service.latest_change_id()}:{limit}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    items = [
        {
            "slug": d.slug,
            "display_name": d.display_name,
            "version": d.version,
            "deleted_at_ms": d.deleted_at_ms,
            "deleted_by": d.deleted_by,
            "restore_revision": d.restore_revision,
        }
        for d in service.list_deleted_profiles(registry, limit)
    ]
    return json_response({"items": items}, etag=etag)


@bp.get("/registries/<slug>/profiles/<profile>/revisions/<int:revision_id>")
@require(READER)
def get_revision(slug: str, profile: str, revision_id: int) -> Response:
    """One revision with `snapshot` (the profile document after it; null for a delete)."""
    service = get_service()
    require_history(service)
    reg = service.get_registry(registry_path(slug))
    rev = service.get_revision(reg.slug, profile_path(profile), revision_id)
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
    require_history(service)
    registry, profile = registry_path(slug), profile_path(profile)
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
    require_history(service)
    registry, profile = registry_path(slug), profile_path(profile)
    body = json_body(required=False)
    no_unknown(body, frozenset({"expected_version"})).raise_if_any()
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
    return document_response(service.get_registry(registry), restored)
