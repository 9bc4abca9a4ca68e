"""htmx helpers: one page template, its blocks rendered as fragments.

A request from htmx (`HX-Request`, not a boosted navigation) gets only the named block of the
page template; anything else gets the whole page. Responses vary on `HX-Request` so caches
keep the two apart.

Error responses: htmx 2 does not swap 4xx/5xx by default. We configure `responseHandling`
(in templates/base.html) to swap 400, 409, 412 and 422 responses (forms re-rendered with
their errors) and to show other errors in the page's error region instead of swapping.
"""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """A fragment request: htmx, but not a boosted navigation or a history-cache miss (both
    need the whole page)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    template: str, block: str | None = None, *, status: int = 200, **context: Any
) -> Response:
    """Render the page, or only `block` of it for htmx requests."""
    if block and is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response
