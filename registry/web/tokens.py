"""Bearer-token authentication for the API and the first-start admin token (SPEC 8.4).

`authenticate(role, public=)` is what `auth.authorize` calls when `REGISTRY_AUTH` is on:
- no `Authorization` header: allowed as "anonymous" on `public` routes while
  `REGISTRY_PUBLIC_READS` is true, else 401;
- a header that is not a valid, active `Bearer prt_...` token: 401 (even on public routes:
  wrong credentials are reported, never silently ignored);
- a valid token whose role is below `role`: 403.
401 responses carry `WWW-Authenticate: Bearer`. The actor (`g.actor`) is the token's name.
"""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app, g, request

from registry import config as cfg
from registry.domain import tokens as tk
from registry.domain.metadata import now_ms
from registry.domain.tokens import Token, TokenStore

from .errors import APIProblem

REALM = 'Bearer realm="profile-registry"'
LAST_USED_RESOLUTION_MS = 60_000  # last-used times are written at most once a minute


def token_store() -> TokenStore:
    return current_app.extensions["tokens"]


def public_reads() -> bool:
    return cfg.flag(current_app.config, "REGISTRY_PUBLIC_READS", True)


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
    from .auth import auth_enabled

    with app.app_context():
        if not auth_enabled():
            return False
    value = app.config.get("REGISTRY_BOOTSTRAP_ADMIN", "auto")
    if str(value).strip().lower() == "auto":
        return not app.config.get("TESTING")
    return cfg.flag(app.config, "REGISTRY_BOOTSTRAP_ADMIN", True)


def login_url(token: str) -> str:
    """Where the UI login page accepts the token: the `run` command's host and port when this
    is one, else FLASK_RUN_HOST/FLASK_RUN_PORT, else 127.0.0.1:5000."""
    host = os.environ.get("FLASK_RUN_HOST") or "127.0.0.1"
    port = os.environ.get("FLASK_RUN_PORT") or "5000"
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.info_name == "run":
        host = str(ctx.params.get("host") or host)
        port = str(ctx.params.get("port") or port)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/login?token={token}"


def bootstrap_admin(app: Flask) -> Token | None:
    """On first start (no active admin token), create "admin" and print it with a login URL
    to stderr. Safe when several processes start at once: one creates it, one prints it."""
    if not should_bootstrap(app):
        return None
    store: TokenStore = app.extensions["tokens"]
    try:
        if any(t.role == tk.ADMIN for t in store.list()):
            return None
        issued = tk.bootstrap_admin(store)
    finally:
        store.release()  # no connection left open in a process that forks workers
    if issued is None:
        return None
    print(
        f"Admin token: {issued.secret}\n"
        f"Log in at: {login_url(issued.secret)}\n"
        f'(token "{issued.token.name}"; shown once, stored hashed; '
        "manage tokens with `profile-registry token`)",
        file=sys.stderr,
        flush=True,
    )
    return issued.token
