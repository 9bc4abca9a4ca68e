"""Rendered pages kept per process, keyed by everything they show, the store's change id first.

A registry page of 10,000 profiles or a profile editor costs 5-10 ms of Jinja rendering and a
few queries; the same page asked again costs one query (`latest_change_id`) and a dictionary
look-up. What a page depends on, and so its key:

- the store's state: its change id (every write appends a revision and moves it; on
  PostgreSQL ids become visible in order, see Architecture). It is read *before* the page's
  data, so a write racing the render can only make a cached page newer than its key, never
  older; a write through another instance moves the id that instance reads, so no instance
  serves a page a write made stale;
- the request: endpoint, path and query string, and whether htmx asked for a fragment;
- the viewer: name, role and whether they can log out (what the header and the role-gated
  buttons show);
- the clock, coarsely: an entry lives `TTL_SECONDS`, so relative times stay near right.

Per-request parts stay out: the CSRF token is rendered as a placeholder and put in on every
answer (each session keeps its own token), and a request with flashed messages waiting is
neither served from nor stored in the cache (flashes belong to one session and are shown
once). Only 200 answers are kept. `REGISTRY_PAGE_CACHE_MB` bounds the memory (least recently
used entries go first); 0 turns the cache off.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, g, request, session
from flask_wtf.csrf import generate_csrf

from ..caches import LRUCache
from ..deps import get_service
from ..htmx import is_htmx
from .session import current_viewer

TTL_SECONDS = 60.0
# Stands for the CSRF token in a cached page: random per process, so no page can contain it.
CSRF_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Entry:
    status: int
    headers: list[tuple[str, str]]
    body: str


def init_page_cache(app: Flask) -> None:
    """Create the app's cache and make `csrf_token()` in templates render the placeholder
    while a page is rendered for the cache."""
    megabytes = float(app.config.get("REGISTRY_PAGE_CACHE_MB") or 0)
    if megabytes > 0:
        app.extensions["page_cache"] = LRUCache[Entry](int(megabytes * 1024 * 1024), TTL_SECONDS)

    def csrf_token() -> str:
        return CSRF_PLACEHOLDER if g.get("page_cache_render") else generate_csrf()

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})  # Flask-WTF adds one as well


def _key() -> tuple[Any, ...] | None:
    """The cache key of this request, or None when it must not use the cache."""
    if request.method != "GET" or session.get("_flashes"):
        return None
    viewer = current_viewer()
    who = (viewer.name, viewer.role, viewer.can_logout) if viewer else None
    change = get_service().latest_change_id()
    return (request.endpoint, request.full_path, is_htmx(), who, change)


def _answer(entry: Entry) -> Response:
    body = entry.body.replace(CSRF_PLACEHOLDER, generate_csrf())
    return Response(body, status=entry.status, headers=entry.headers)


def cached_page(view: F) -> F:
    """Serve the view's page from the cache when its key matches (see the module docstring).
    Put it under the route and role decorators: the viewer is checked on every request."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cache: LRUCache[Entry] | None = current_app.extensions.get("page_cache")
        key = _key() if cache is not None else None
        if cache is None or key is None:
            return view(*args, **kwargs)
        entry = cache.get(key)
        if entry is not None:
            return _answer(entry)
        before = dict(session)
        g.page_cache_render = True
        try:
            response = current_app.make_response(view(*args, **kwargs))
        finally:
            g.page_cache_render = False
        body = response.get_data(as_text=True)
        # a view that flashed or changed the session rendered something of this session's
        private = dict(session) != before or "Set-Cookie" in response.headers
        if response.status_code == 200 and not private:
            headers = [(k, v) for k, v in response.headers.items() if k != "Content-Length"]
            cache.put(key, Entry(response.status_code, headers, body), len(body))
        if CSRF_PLACEHOLDER in body:
            response.set_data(body.replace(CSRF_PLACEHOLDER, generate_csrf()))
        return response

    return cast(F, wrapper)
