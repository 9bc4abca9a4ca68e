"""Bearer-token authentication for the API, the first-start admin token and login banner.

`authenticate(role, public=)` is what `auth.authorize` calls when `REGISTRY_AUTH` is on:
- no `Authorization` header: allowed as "anonymous" on `public` routes while
  `REGISTRY_PUBLIC_READS` is true, else 401;
- a header that is not a valid, active `Bearer prt_...` token: 401 (even on public routes:
  wrong credentials are reported, never silently ignored);
- a valid token whose role is below `role`: 403.
401 responses carry `WWW-Authenticate: Bearer`. The actor (`g.actor`) is the token's name.
"""

from __future__ import annotations

import sys

from flask import Flask, g, request

from registry import config as cfg
from registry.domain import sessions
from registry.domain import tokens as tk
from registry.domain.metadata import now_ms
from registry.domain.sessions import AccountStore
from registry.domain.tokens import Token

from .deps import auth_enabled, public_reads, token_store
from .errors import APIProblem

REALM = 'Bearer realm="profile-registry"'
LAST_USED_RESOLUTION_MS = 60_000  # last-used times are written at most once a minute


def _unauthorized(detail: str, *, invalid: bool = False) -> APIProblem:
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
    return APIProblem(401, detail, kind="unauthorized", headers={"WWW-Authenticate": challenge})


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header; "" for any other header value,
    None without the header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


def authenticate(role: str, *, public: bool = False) -> None:
    """Let the request through or raise a 401/403 problem; sets `g.actor` and `g.token`."""
    presented = bearer_token()
    if presented is None:
        if public and public_reads():
            g.actor = "anonymous"
            return
        raise _unauthorized("authentication required: send Authorization: Bearer <token>")
    token = tk.verify(token_store(), presented) if presented else None
    if token is None:
        raise _unauthorized("invalid or revoked token", invalid=True)
    if not tk.allows(token.role, role):
        raise APIProblem(
            403,
            f'forbidden: token "{token.name}" has role {token.role}; this needs {role}',
            kind="forbidden",
        )
    g.actor = token.name
    g.token = token
    _note_use(token)


def _note_use(token: Token) -> None:
    at = now_ms()
    if token.last_used_at_ms is None or at - token.last_used_at_ms >= LAST_USED_RESOLUTION_MS:
        token_store().mark_used(token.id, at)


# --- first start -----------------------------------------------------------------------------


def should_bootstrap(app: Flask) -> bool:
    """Auth on and `REGISTRY_BOOTSTRAP_ADMIN` true ("auto": true unless TESTING)."""
    with app.app_context():
        if not auth_enabled():
            return False
    value = app.config.get("REGISTRY_BOOTSTRAP_ADMIN", "auto")
    if str(value).strip().lower() == "auto":
        return not app.config.get("TESTING")
    return cfg.flag(app.config, "REGISTRY_BOOTSTRAP_ADMIN", True)


def bootstrap_admin(app: Flask) -> Token | None:
    """First start (`init`, `run`, `serve`): create the admin token "admin" when no active
    admin token exists. Its secret is never shown: people log in with one-time links (see
    `announce_login`) and make their own API tokens. Safe when several processes start at
    once: exactly one creates it. Returns the token when this call created it."""
    if not should_bootstrap(app):
        return None
    store: AccountStore = app.extensions["tokens"]
    try:
        if any(t.role == tk.ADMIN for t in store.all()):
            return None
        issued = tk.bootstrap_admin(store)
    finally:
        store.release()  # no connection left open in a process that forks workers
    return None if issued is None else issued.token


def announce_login(app: Flask, host: str | None = None, port: int | str | None = None) -> None:
    """The start banner of `run`/`serve` (printed once, by the process that forks workers).

    Until an admin token has been used (a UI login or an API call), every start prints a
    fresh one-time login link for the oldest active admin token and the previous start link
    stops working; afterwards it says how to make one.
    """
    if not should_bootstrap(app):
        return
    bootstrap_admin(app)
    store: AccountStore = app.extensions["tokens"]
    try:
        if sessions.admin_has_logged_in(store):
            message = (
                "Log in with a token, or make a one-time login link: profile-registry login-link"
            )
        else:
            admin = next((t for t in store.all() if t.role == tk.ADMIN), None)
            if admin is None:
                return
            minutes = int(app.config["REGISTRY_LOGIN_LINK_MINUTES"])
            code = sessions.make_login_link(
                store, admin, now_ms(), minutes * 60_000, purpose=sessions.START_PURPOSE
            )
            url = login_link_url(cfg.base_url(app.config, host, port), code)
            message = (
                f"Log in as {admin.name} (one-time link, valid {minutes} minutes):\n  {url}\n"
                "Until an admin logs in, each start prints a new link; later, make one with "
                "`profile-registry login-link`."
            )
    finally:
        store.release()
    print(message, file=sys.stderr, flush=True)


def login_link_url(base: str, code: str) -> str:
    """The code travels in the fragment: browsers never send it to a server or a log."""
    return f"{base}/login#code={code}"
