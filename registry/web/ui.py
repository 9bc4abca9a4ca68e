"""Wiring for the HTML UI: CSRF, htmx, security headers, vendored assets, template helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask, Response, abort, request, send_from_directory
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx

from registry import __version__

csrf = CSRFProtect()

# Third-party front-end code is installed from npm by the set-up command (package.json pins
# it) and served from node_modules; it is never committed and never loaded from a CDN.
VENDOR_FILES = {"htmx.min.js": "htmx.org/dist/htmx.min.js"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)


def init_ui(app: Flask) -> None:
    from .api import bp as api_bp
    from .auth import auth_enabled
    from .pages import bp as pages_bp
    from .pages.session import current_viewer

    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session instead
    Htmx(app)
    csrf.init_app(app)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, never cookies
    app.register_blueprint(pages_bp)

    node_modules = Path(app.root_path) / "node_modules"

    @app.get("/vendor/<path:filename>", endpoint="vendor")
    def vendor(filename: str) -> Response:
        target = VENDOR_FILES.get(filename)
        if target is None or not (node_modules / target).is_file():
            abort(404)
        response = send_from_directory(node_modules, target, max_age=86400)
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CSP)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        from .errors import problem, wants_problem_json

        message = "The form expired or was sent without its security token; reload the page and try again."
        if wants_problem_json():
            return problem(400, message)
        return render_error(400, message)

    @app.context_processor
    def layout_context() -> dict:
        service = app.extensions["registry"]
        return {
            "viewer": current_viewer(),
            "auth_enabled": auth_enabled(),
            "store_kind": service.store.kind,
            "app_version": __version__,
        }

    app.add_template_filter(iso_time)
    app.add_template_filter(human_time)


def render_error(status: int, message: str) -> tuple[str, int]:
    from flask import render_template

    try:
        return render_template("error.html", status=status, message=message, nav=""), status
    except Exception:  # the error page must never fail itself (e.g. outside a request)
        from markupsafe import escape

        return f"<!doctype html><title>{status}</title><p>{escape(message)}</p>", status


def iso_time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds") if ms else ""


def human_time(ms: int) -> str:
    if not ms:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def is_page_request() -> bool:
    return not (request.path.startswith("/api/") or request.path == "/api")
