"""Search every registry from the header box: profiles by slug, name, description or tag.

`GET /search?q=` works as a plain GET form; typing on the page swaps the `results` block
(htmx). JSON twin: `GET /api/search?q=`.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for
from werkzeug.wrappers import Response

from ..deps import get_service
from ..htmx import render
from .session import page_require

bp = Blueprint("search", __name__)

LIMIT = 50


@bp.get("/search")
@page_require("reader")
def search() -> Response:
    q = request.args.get("q", "").strip()[:200]
    result = get_service().search_profiles(q, LIMIT)
    return render(
        "search.html",
        "results",
        q=q,
        result=result,
        limit=LIMIT,
        nav="",
        json_url=url_for("api.search.search", q=q or None),
    )
