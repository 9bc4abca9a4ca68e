"""Wiring for the HTML UI: CSRF, htmx, security headers, vendored assets, template helpers."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from markupsafe import Markup

from registry import __version__
from registry.domain.metadata import exact_time, now_ms, relative_time

from .assets import init_assets
from .errors import is_fragment_request, problem, render_error, wants_problem_json

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)


def init_ui(app: Flask) -> None:
    from .api import ROUTE_BLUEPRINTS as API_BLUEPRINTS
    from .auth import auth_enabled
    from .pages import bp as pages_bp
    from .pages.page_cache import init_page_cache
    from .pages.session import (
        SESSION_ENDED,
        SESSION_ENDED_PAGE,
        TOKEN_EXPIRED,
        TOKEN_EXPIRED_PAGE,
        current_viewer,
    )

    # Flask defines these keys (SameSite as None), so setdefault would change nothing.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = SessionCookies()
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session instead
    Htmx(app)
    csrf.init_app(app)
    for api_blueprint in API_BLUEPRINTS:  # the API authenticates with bearer tokens, never cookies
        csrf.exempt(api_blueprint)
    app.register_blueprint(pages_bp)
    init_page_cache(app)  # after CSRFProtect: it wraps the `csrf_token` template global

    init_assets(app)

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
        """A form posted without a valid token. The usual cause is a session that ended (logged
        out in another tab, expired): the token belongs to the session. htmx requests get a
        problem (`session-ended` or `csrf-expired`) that static/js/app.js shows in the error
        box, keeping the form; it then fetches a fresh token (`pages.session.csrf_refresh`) before the
        next request, so "save again" works once the user has logged in elsewhere."""
        ended = auth_enabled() and current_viewer() is None
        if wants_problem_json() and not is_fragment_request():
            message = "The form expired or was sent without its security token; reload the page and try again."
            return problem(400, message)
        if is_fragment_request():
            if ended:
                return problem(401, SESSION_ENDED, kind="session-ended")
            return problem(400, TOKEN_EXPIRED, kind="csrf-expired")
        message = SESSION_ENDED_PAGE if ended else TOKEN_EXPIRED_PAGE
        return render_error(400, message)

    @app.context_processor
    def layout_context() -> dict:
        service = app.extensions["registry"]
        return {
            "viewer": current_viewer(),
            "auth_enabled": auth_enabled(),
            "store_kind": service.backend_kind,
            "app_version": __version__,
        }

    app.add_template_filter(time_tag)


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, with `Secure` decided per request (see below)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return session_cookie_secure(app)


def _loopback(hostname: str) -> bool:
    if hostname == "localhost" or hostname.endswith(".localhost") or hostname == "::1":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def session_cookie_secure(app: Flask) -> bool:
    """`Secure` on the session cookie: always over HTTPS (the request's scheme, or an https
    REGISTRY_BASE_URL for a TLS-terminating proxy); otherwise while REGISTRY_COOKIE_SECURE
    is true, except for plain HTTP on a loopback host (the development server), where browsers
    treat Secure cookies inconsistently and no network can read the cookie anyway."""
    from registry.config import flag

    base = str(app.config.get("REGISTRY_BASE_URL") or "")
    if base.startswith("https://") or (has_request_context() and request.is_secure):
        return True
    if not flag(app.config, "REGISTRY_COOKIE_SECURE", True):
        return False
    if not has_request_context():
        return True
    return not _loopback(urlsplit(f"//{request.host}").hostname or "")


def time_tag(ms: int | None) -> Markup:
    """The one template filter for stored times: the time relative to now ("3 minutes ago",
    computed here, so it reads right without JavaScript), the exact UTC time on hover
    (`title`), and the same exact time in the text, visually hidden, for screen readers; the
    element takes keyboard focus and shows it then (static/css/app.css). static/js/times.js
    refreshes the relative text on an open page from `datetime`."""
    if not ms:
        return Markup('<span class="absent">—</span>')
    exact = exact_time(ms)  # "2026-12-07 12:14:31 UTC"; the ISO form is the same fields
    iso = f"{exact[:10]}T{exact[11:19]}+00:00"
    # Built without Markup.format (a third of a registry page's time_tag cost): every part is
    # digits, letters and punctuation formatted here, never user data, so nothing to escape.
    return Markup(
        f'<time datetime="{iso}" title="{exact}" tabindex="0" data-relative>'
        f'{relative_time(ms, _request_now())}<span class="exact"> ({exact})</span></time>'
    )


def _request_now() -> int:
    """One "now" per request, so every time on a page is relative to the same moment."""
    if not has_request_context():
        return now_ms()
    if "now_ms" not in g:
        g.now_ms = now_ms()
    return int(g.now_ms)
