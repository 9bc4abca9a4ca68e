"""Admin UI sessions and one-time login links, kept beside the tokens they belong to.

Flask's session is a signed cookie the server cannot take back, so the cookie carries only a
random session id and the token store keeps the record (`ui_sessions`): logout deletes it,
revoking a token deletes its sessions, and an unknown, expired or orphaned id means "logged
out". Sessions end after an idle time and after an absolute lifetime.

A login link (`/login#code=...`) carries a one-time code instead of a reusable secret. It names
the token whose sessions it starts, expires after a few minutes and is claimed atomically
(`UPDATE ... WHERE used_at_ms IS NULL`), so two clicks never make two sessions. Only SHA-256
hashes of session ids and codes are stored: a copy of the database logs nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from .tokens import ADMIN, Token, TokenStore, generate, token_fields

SESSION_ID_BYTES = 32
CODE_BYTES = 24
TOUCH_RESOLUTION_MS = 60_000  # last-seen times are written at most once a minute
LINK_RETENTION_MS = 24 * 3600 * 1000  # used/expired links kept a day to explain refusals
START_PURPOSE = "start"  # links printed by `run`/`serve`: each start replaces the previous one
CLI_PURPOSE = "cli"  # links made by `profile-registry login-link`
LINK_TOKEN_CREATOR = "login-link"  # created_by of tokens a login link created


@dataclass
class UISession:
    """A logged-in browser: the hash of the id its cookie carries, and the token it acts as."""

    id_hash: str
    token_id: str
    created_at_ms: int
    last_seen_at_ms: int


@dataclass
class LoginLink:
    """A one-time login code (its hash) for the sessions of one token."""

    code_hash: str
    token_id: str
    purpose: str
    created_at_ms: int
    expires_at_ms: int
    used_at_ms: int | None = None


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live: idle (since the last request) and absolute (since login)."""

    idle_ms: int
    lifetime_ms: int

    def expired(self, s: UISession, now_ms: int) -> bool:
        return now_ms - s.last_seen_at_ms >= self.idle_ms or now_ms - s.created_at_ms >= (
            self.lifetime_ms
        )


class SessionStore(Protocol):
    """What the token store keeps for sessions and links (hashes only)."""

    def create_session(self, session: UISession) -> None: ...

    def get_session(self, id_hash: str) -> UISession | None: ...

    def touch_session(self, id_hash: str, at_ms: int) -> None: ...

    def delete_session(self, id_hash: str) -> None: ...

    def delete_sessions_before(self, *, seen_before_ms: int, created_before_ms: int) -> None:
        """Forget sessions idle since, or created before, the given times."""
        ...

    def create_login_link(self, link: LoginLink, *, replace_unused: bool = False) -> None:
        """Store a link; with `replace_unused`, unused links of the same purpose are deleted
        in the same transaction (the previous start link stops working)."""
        ...

    def get_login_link(self, code_hash: str) -> LoginLink | None: ...

    def claim_login_link(self, code_hash: str, at_ms: int) -> bool:
        """Mark the link used if it is unused and unexpired at `at_ms`; True when this caller
        claimed it (atomic across processes)."""
        ...

    def delete_login_links_before(self, expired_before_ms: int) -> None: ...


class AccountStore(TokenStore, SessionStore, Protocol):
    """Tokens with their UI sessions and login links: the one store the app keeps them in
    (`app.extensions["tokens"]`), so revoking a token can end its sessions in one place."""


class LinkRefused(ValueError):
    """A login code that cannot log in; the message says why, for the login page."""


def hash_value(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- sessions --------------------------------------------------------------------------------


def start_session(store: SessionStore, token: Token, now_ms: int, policy: SessionPolicy) -> str:
    """Record a new session for `token`; returns the id for the cookie (stored only hashed).
    Expired records are swept on the way, so the table holds only live sessions."""
    store.delete_sessions_before(
        seen_before_ms=now_ms - policy.idle_ms, created_before_ms=now_ms - policy.lifetime_ms
    )
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    store.create_session(UISession(hash_value(session_id), token.id, now_ms, now_ms))
    return session_id


def session_token(
    store: TokenStore, session_id: str, now_ms: int, policy: SessionPolicy
) -> Token | None:
    """The active token a cookie's session id acts as, or None (logged out). An expired
    session, or one whose token was revoked, is deleted."""
    sessions: SessionStore = store  # type: ignore[assignment]
    if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
        return None
    id_hash = hash_value(session_id)
    record = sessions.get_session(id_hash)
    if record is None:
        return None
    token = store.get(record.token_id)
    if policy.expired(record, now_ms) or token is None or token.revoked:
        sessions.delete_session(id_hash)
        return None
    if now_ms - record.last_seen_at_ms >= TOUCH_RESOLUTION_MS:
        sessions.touch_session(id_hash, now_ms)
    return token


def end_session(store: SessionStore, session_id: str) -> None:
    if isinstance(session_id, str) and session_id:
        store.delete_session(hash_value(session_id))


# --- login links -----------------------------------------------------------------------------


def link_token(store: TokenStore, role: str, name: str | None, now_ms: int) -> Token:
    """The token a link logs in as: the active token named `name` (default: the role's own
    name, e.g. "admin"), created without a known secret when there is none. An existing token
    of another role is refused rather than silently used."""
    name, role = token_fields(name if name is not None else role, role)
    for t in store.all():
        if t.name == name:
            if t.role != role:
                raise LinkRefused(f'token "{name}" has role {t.role}, not {role}')
            return t
    token, _bearer, digest = generate(name, role, created_by=LINK_TOKEN_CREATOR, now_ms=now_ms)
    stored = store.create(token, digest)  # the bearer secret is dropped: sessions only
    assert stored is not None
    return stored


def make_login_link(
    store: SessionStore,
    token: Token,
    now_ms: int,
    ttl_ms: int,
    *,
    purpose: str = CLI_PURPOSE,
) -> str:
    """A new one-time code for `token` (returned once, stored hashed). A start link replaces
    the previous unused start link."""
    store.delete_login_links_before(now_ms - LINK_RETENTION_MS)
    code = secrets.token_urlsafe(CODE_BYTES)
    link = LoginLink(hash_value(code), token.id, purpose, now_ms, now_ms + ttl_ms)
    store.create_login_link(link, replace_unused=purpose == START_PURPOSE)
    return code


def redeem_login_link(store: TokenStore, code: str, now_ms: int) -> Token:
    """Use a code once: the token to start a session for, or `LinkRefused` saying why."""
    links: SessionStore = store  # type: ignore[assignment]
    code = code.strip() if isinstance(code, str) else ""
    how = "run `profile-registry login-link` on the server for a new one"
    link = links.get_login_link(hash_value(code)) if 0 < len(code) <= 200 else None
    if link is None:
        raise LinkRefused(f"This login link is not valid (it may have been replaced); {how}.")
    if link.used_at_ms is not None:
        raise LinkRefused(f"This login link has already been used; {how}.")
    if now_ms >= link.expires_at_ms:
        raise LinkRefused(f"This login link has expired; {how}.")
    token = store.get(link.token_id)
    if token is None or token.revoked:
        raise LinkRefused(f"The token of this login link has been revoked; {how}.")
    if not links.claim_login_link(link.code_hash, now_ms):
        raise LinkRefused(f"This login link has already been used; {how}.")
    return token


def admin_has_logged_in(store: TokenStore) -> bool:
    """True once any admin token (revoked ones too) has been used: a UI login or an API call.
    Until then every server start prints a fresh login link."""
    return any(
        t.role == ADMIN and t.last_used_at_ms is not None for t in store.all(include_revoked=True)
    )
