"""Static files (ours under `static/`, htmx from `node_modules`) under content-hashed URLs.

`url_for("static", filename="css/app.css")` becomes `/static/css/app.css?v=<digest>`: the
digest is the file's content hash, so a changed file gets a new URL. A request carrying the
current digest is answered with a one-year `immutable` cache (browsers never revalidate it);
any other request (no `v`, an old digest from a cached page) falls back to Flask's default of
revalidating, so a stale URL can never pin an old file. Templates need nothing special.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request, send_from_directory

# Third-party front-end code is installed from npm by the set-up command (package.json pins
# it) and served from node_modules; it is never committed and never loaded from a CDN.
VENDOR_FILES = {"htmx.min.js": "htmx.org/dist/htmx.min.js"}

ONE_YEAR = 365 * 24 * 3600
_ENDPOINTS = ("static", "vendor")


class AssetDigests:
    """Content digests of asset files, recomputed only when a file's size or mtime changes."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], str]] = {}

    def digest(self, path: Path) -> str | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached is None or cached[0] != key:
            cached = (key, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
            self._cache[path] = cached
        return cached[1]


def init_assets(app: Flask) -> None:
    """The `vendor` route, `v=` digests on asset URLs, and their cache headers."""
    node_modules = Path(app.root_path) / "node_modules"
    digests = AssetDigests()

    def file_of(endpoint: str | None, filename: str) -> Path | None:
        if endpoint == "static" and app.static_folder:
            return Path(app.static_folder) / filename
        if endpoint == "vendor" and filename in VENDOR_FILES:
            return node_modules / VENDOR_FILES[filename]
        return None

    @app.get("/vendor/<path:filename>", endpoint="vendor")
    def vendor(filename: str) -> Response:
        target = VENDOR_FILES.get(filename)
        if target is None or not (node_modules / target).is_file():
            abort(404)
        return send_from_directory(node_modules, target)

    @app.url_defaults
    def add_digest(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint in _ENDPOINTS and "v" not in values and "filename" in values:
            path = file_of(endpoint, str(values["filename"]))
            digest = digests.digest(path) if path is not None else None
            if digest:
                values["v"] = digest

    @app.after_request
    def cache_forever_when_hashed(response: Response) -> Response:
        if request.endpoint not in _ENDPOINTS or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        path = file_of(request.endpoint, filename)
        version = request.args.get("v")
        if version and path is not None and version == digests.digest(path):
            response.cache_control.public = True
            response.cache_control.max_age = ONE_YEAR
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        return response
