"""The change feed (`/api/changes`): what changed after a change id, for caches and sync."""

from __future__ import annotations

from flask import Blueprint, Response

from registry.domain.tokens import READER

from ..auth import require
from ..deps import get_service
from ..http import (
    int_param,
    json_response,
    not_modified,
)
from .common import CHANGES_DEFAULT, CHANGES_MAX
from .shapes import (
    change_item,
)

bp = Blueprint("changes", __name__)


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
