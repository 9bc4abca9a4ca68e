"""Who is using the UI: log in with a token (session cookie + CSRF), roles per page.

With `REGISTRY_AUTH=off` everyone is the local admin and the layout shows a banner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for

from registry.domain import tokens as tk

from ..auth import auth_enabled
from . import bp

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Viewer:
    name: str
    role: str
    can_logout: bool = True

    def can(self, role: str) -> bool:
        return tk.allows(self.role, role)


def current_viewer() -> Viewer | None:
    """The logged-in viewer (token still active), cached on `g` for the request."""
    if "viewer" in g:
        return g.viewer
    viewer: Viewer | None = None
    if not auth_enabled():
        viewer = Viewer("local", tk.ADMIN, can_logout=False)
    elif session.get("token_id"):
        token = current_app.extensions["tokens"].get(session["token_id"])
        if token is not None and not token.revoked:
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
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if not viewer.can(role):
                abort(403, f"Your token ({viewer.role}) may not do this; it needs the {role} role.")
            return view(*args, **kwargs)

        wrapper.page_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect to another host after login."""
    if not target:
        return url_for("pages.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.dashboard")
    return target


def _login(secret: str) -> bool:
    token = tk.verify(current_app.extensions["tokens"], secret.strip())
    if token is None:
        return False
    session.clear()
    session["token_id"] = token.id
    session.permanent = False
    g.pop("viewer", None)
    return True


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a token. `GET /login?token=...` (the first-start URL) logs in directly,
    like Jupyter, then drops the token from the address bar by redirecting."""
    if not auth_enabled():
        return redirect(url_for("pages.dashboard"))
    error = ""
    nxt = request.values.get("next")
    if request.method == "GET" and request.args.get("token"):
        if _login(request.args["token"]):
            flash("Logged in.", "success")
            return redirect(_safe_next(nxt))
        error = "That token is not valid (it may have been revoked)."
    elif request.method == "POST":
        if _login(request.form.get("token", "")):
            flash("Logged in.", "success")
            return redirect(_safe_next(nxt))
        error = "That token is not valid (it may have been revoked)."
    status = 401 if error else 200
    return render_template("login.html", error=error, next=nxt or "", nav=""), status


@bp.post("/logout")
def logout():
    session.clear()
    flash("Logged out.", "success")
    return redirect(url_for("pages.login"))
