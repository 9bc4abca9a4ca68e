"""Who is using the UI: log in with a one-time link or a token, roles per page.

The session cookie carries only a random session id; the record (which token, since when) is
kept server-side by registry/domain/sessions.py, so logout and token revocation end it.

With `REGISTRY_AUTH=off` everyone is the local admin and the layout shows a banner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf

from registry.domain import sessions
from registry.domain import tokens as tk
from registry.domain.metadata import now_ms

from ..deps import auth_enabled, token_store
from ..errors import is_fragment_request, problem

bp = Blueprint("session", __name__)

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "sid"  # the cookie's session id; the record lives in the token store


@dataclass(frozen=True)
class Viewer:
    name: str
    role: str
    can_logout: bool = True

    def can(self, role: str) -> bool:
        return tk.allows(self.role, role)


def session_policy() -> sessions.SessionPolicy:
    """Idle and absolute session lifetimes from the configuration."""
    config = current_app.config
    return sessions.SessionPolicy(
        idle_ms=int(config["REGISTRY_SESSION_IDLE_MINUTES"]) * 60_000,
        lifetime_ms=int(config["REGISTRY_SESSION_LIFETIME_HOURS"]) * 3_600_000,
    )


def current_viewer() -> Viewer | None:
    """The logged-in viewer, cached on `g` for the request: the cookie's session id must name
    a live server-side session of an active token (logout and revocation delete it)."""
    if "viewer" in g:
        return g.viewer
    viewer: Viewer | None = None
    if not auth_enabled():
        viewer = Viewer("local", tk.ADMIN, can_logout=False)
    elif session.get(SESSION_KEY):
        token = sessions.session_token(
            token_store(), session[SESSION_KEY], now_ms(), session_policy()
        )
        if token is not None:
            viewer = Viewer(token.name, token.role)
        else:
            session.clear()
    g.viewer = viewer
    return viewer


def actor() -> str:
    viewer = current_viewer()
    return viewer.name if viewer else "anonymous"


def page_require(role: str) -> Callable[[F], F]:
    """Pages need a logged-in viewer with `role`; anonymous viewers go to the login page."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            viewer = current_viewer()
            if viewer is None:
                if is_fragment_request():  # never the login page swapped into a fragment
                    return problem(401, SESSION_ENDED, kind="session-ended")
                return redirect(url_for("pages.session.login", next=request.full_path.rstrip("?")))
            if not viewer.can(role):
                abort(403, f"Your token ({viewer.role}) may not do this; it needs the {role} role.")
            return view(*args, **kwargs)

        wrapper.page_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect to another host after login."""
    if not target:
        return url_for("pages.dashboard.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.dashboard.dashboard")
    return target


def _start_session(token: tk.Token) -> None:
    """Log the browser in as `token`: a fresh cookie (no fixation) naming a new session."""
    store = token_store()
    at = now_ms()
    session.clear()
    session[SESSION_KEY] = sessions.start_session(store, token, at, session_policy())
    session.permanent = False
    store.mark_used(token.id, at)  # an admin login ends the first-start links (see cli.py)
    g.pop("viewer", None)


# What a lost session or an expired form token says (htmx requests keep the form on the page;
# plain posts get an error page, and the browser's Back button keeps what was typed).
SESSION_ENDED = (
    "Your session ended: log in in a new tab, then save again; your changes are still here."
)
TOKEN_EXPIRED = "The page's security token expired: send it again; your changes are still here."
SESSION_ENDED_PAGE = (
    "Your session ended, so nothing was saved. Log in again in a new tab; your browser's Back "
    "button shows this form with your changes, to copy them into a freshly loaded one."
)
TOKEN_EXPIRED_PAGE = (
    "The form expired or was sent without its security token, so nothing was saved; go back, "
    "reload the page and try again."
)

TOKEN_IN_URL = (
    "Tokens in the address are no longer accepted (they end up in logs and browser history): "
    "paste the token below, or use a one-time login link."
)
BAD_TOKEN = "That token is not valid (it may have been revoked)."


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a one-time login code (`/login#code=...`: static/js/app.js moves it from
    the fragment into the form, which the user submits) or by pasting a token. Both are
    POSTs with the CSRF token; nothing in a URL logs anyone in."""
    if not auth_enabled():
        return redirect(url_for("pages.dashboard.dashboard"))
    error = ""
    status = 200
    nxt = request.values.get("next")
    if request.method == "GET" and "token" in request.args:
        error, status = TOKEN_IN_URL, 400
    elif request.method == "POST":
        store = token_store()
        if "code" in request.form:
            try:
                token = sessions.redeem_login_link(store, request.form["code"], now_ms())
            except sessions.LinkRefused as exc:
                error, status = str(exc), 400
            else:
                _start_session(token)
                flash("Logged in.", "success")
                return redirect(_safe_next(nxt))
        else:
            pasted = tk.verify(store, request.form.get("token", "").strip())
            if pasted is None:
                error, status = BAD_TOKEN, 401
            else:
                _start_session(pasted)
                flash("Logged in.", "success")
                return redirect(_safe_next(nxt))
    minutes = current_app.config["REGISTRY_LOGIN_LINK_MINUTES"]
    page = render_template("login.html", error=error, next=nxt or "", nav="", link_minutes=minutes)
    return page, status


@bp.post("/logout")
def logout():
    """End the server-side session too: a copy of the cookie is useless afterwards."""
    sid = session.get(SESSION_KEY)
    if sid and auth_enabled():
        sessions.end_session(token_store(), sid)
    session.clear()
    flash("Logged out.", "success")
    return redirect(url_for("pages.session.login"))


@bp.get("/session/csrf")
def csrf_refresh() -> Response:
    """A fresh form token for a page whose session ended meanwhile (static/js/app.js asks for
    it after a `session-ended` or `csrf-expired` answer, before sending the form again).
    Same-origin only in effect: the JSON cannot be read by another site (no CORS)."""
    response = jsonify({"csrf_token": generate_csrf(), "logged_in": current_viewer() is not None})
    response.headers["Cache-Control"] = "no-store"
    return response
