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

from flask import Response, make_response, render_template
from htmx_flask import make_response as htmx_response
from htmx_flask import request
from jinja2_fragments.flask import render_block, render_blocks


def is_htmx() -> bool:
    """A fragment request: htmx, but not a boosted navigation or a history-cache miss (both
    need the whole page). The headers are read by the htmx-flask extension (`request.htmx`,
    set up in ui.py)."""
    hx = request.htmx
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def htmx_redirect(target: str) -> Response:
    """Send htmx to `target` with a full page load (`HX-Redirect`): an empty 200, which htmx
    follows instead of swapping a redirected page into the form."""
    return htmx_response("", 200, redirect=target)


def render(
    template: str, block: str | list[str] | None = None, *, status: int = 200, **context: Any
) -> Response:
    """Render the page, or only `block` of it for htmx requests (several blocks, one after
    the other, when `block` is a list: the later ones swap out of band)."""
    if isinstance(block, list) and is_htmx():
        body = render_blocks(template, block, **context)
    elif isinstance(block, str) and is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response
