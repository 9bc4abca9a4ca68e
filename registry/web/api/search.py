"""Search across registries: the JSON twin of the header's search box."""

from __future__ import annotations

from flask import Blueprint, Response, request

from registry.domain.tokens import READER

from ..auth import require
from ..deps import get_service
from ..http import int_param, json_response
from .common import PAGE_MAX

bp = Blueprint("search", __name__)


@bp.get("/search")
@require(READER)
def search() -> Response:
    """`{items: [{registry, slug, display_name, tags, matched}], total, per_registry}`:
    profiles whose slug, name, description or tags hold `q` (any case), by registry, then slug.
    """
    q = request.args.get("q", "")
    limit = int_param("limit", 20, minimum=1, maximum=PAGE_MAX)
    result = get_service().search_profiles(q, limit)
    items = [
        {
            "registry": hit.registry,
            "slug": hit.profile.slug,
            "display_name": hit.profile.display_name,
            "tags": list(hit.profile.metadata.tags),
            "matched": "tag" if hit.by_tag else "text",
        }
        for hit in result.hits
    ]
    data = {"items": items, "total": result.total, "per_registry": result.per_registry}
    return json_response(data)
