"""API tokens (see README, JSON API): the `TokenStore` protocol, generation and verification.

A token is `prt_<id>_<secret>`. Only `sha256(secret)` is stored; a presented token is found by
its id and its secret's hash compared in constant time (`hmac.compare_digest`). Roles are
ordered reader < editor < admin. Names are unique among active (unrevoked) tokens and become
the actor recorded in metadata and history.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .errors import AlreadyExists, FieldError, NotFoundError, ValidationError
from .ports import Connections

READER, EDITOR, ADMIN = "reader", "editor", "admin"
ROLES = (READER, EDITOR, ADMIN)
RANK = {role: i for i, role in enumerate(ROLES)}
PREFIX = "prt_"
NAME_MAX = 100
BOOTSTRAP_NAME = "admin"
ID_BYTES = 8  # 16 hex characters
SECRET_BYTES = 32
MAX_TOKEN_LENGTH = 200  # longer Authorization values are rejected before hashing
# Compared against when the id is unknown, so that a miss costs about what a hit does.
_DUMMY_HASH = hashlib.sha256(b"profile-registry: no such token").hexdigest()


class TokenNotFound(NotFoundError):
    def __init__(self, ref: str = ""):
        self.ref = ref
        super().__init__("token not found")


@dataclass
class Token:
    """A token's public record (never its secret)."""

    id: str
    name: str
    role: str
    created_at_ms: int
    created_by: str = ""
    last_used_at_ms: int | None = None
    revoked: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at_ms": self.created_at_ms,
            "created_by": self.created_by,
            "last_used_at_ms": self.last_used_at_ms,
            "revoked": self.revoked,
        }


@dataclass
class IssuedToken:
    """A token just created: `secret` is the whole bearer string, shown once."""

    token: Token
    secret: str


@runtime_checkable
class TokenStore(Connections, Protocol):
    """Persistence of tokens; the secret is never stored, only its hash."""

    def create(
        self, token: Token, secret_hash: str, *, only_if_no_admin: bool = False
    ) -> Token | None:
        """Store a new token. A taken active name raises `AlreadyExists`. With
        `only_if_no_admin`, store it only if no active admin token exists, atomically across
        processes, and return None when one does (the caller did not create it)."""
        ...

    def all(self, *, include_revoked: bool = False) -> list[Token]:
        """Tokens ordered by creation time (then id)."""
        ...

    def get(self, token_id: str) -> Token | None: ...

    def find(self, token_id: str) -> tuple[Token, str] | None:
        """The token and its stored secret hash (revoked tokens included)."""
        ...

    def revoke(self, token_id: str) -> Token:
        """Revoke (idempotent); raises `TokenNotFound` for an unknown id."""
        ...

    def mark_used(self, token_id: str, at_ms: int) -> None: ...


# --- validation ------------------------------------------------------------------------------


def name_problem(raw: Any) -> str:
    """Why `raw` is not a token name ("" when it is one): a string, trimmed non-empty, at most
    100 characters, no control or format characters."""
    if not isinstance(raw, str):
        return "must be a string"
    name = raw.strip()
    if not name:
        return "token name cannot be empty"
    if len(name) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in name):
        return "must not contain control characters"
    return ""


def role_problem(raw: Any) -> str:
    role = raw.strip().lower() if isinstance(raw, str) else raw
    return "" if role in ROLES else f"must be one of {', '.join(ROLES)}"


def token_fields(name: Any, role: Any) -> tuple[str, str]:
    """Validated (name, role), raising one `ValidationError` listing every problem."""
    errors = [
        FieldError(field, problem)
        for field, problem in (("name", name_problem(name)), ("role", role_problem(role)))
        if problem
    ]
    if errors:
        raise ValidationError(errors)
    return name.strip(), role.strip().lower()


def allows(role: str, required: str) -> bool:
    """True when a token of `role` may do what needs `required`."""
    return RANK.get(role, -1) >= RANK[required]


# --- generation and verification ------------------------------------------------------------


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def generate(
    name: Any, role: Any, *, created_by: str = "", now_ms: int = 0
) -> tuple[Token, str, str]:
    """A new token: (record, bearer string `prt_<id>_<secret>`, hash of the secret)."""
    name, role = token_fields(name, role)
    token = Token(
        id=secrets.token_hex(ID_BYTES),
        name=name,
        role=role,
        created_at_ms=now_ms,
        created_by=created_by,
    )
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return token, f"{PREFIX}{token.id}_{secret}", hash_secret(secret)


def issue(store: TokenStore, name: Any, role: Any, *, created_by: str = "") -> IssuedToken:
    """Create and store a token; the returned secret is the only copy."""
    from .metadata import now_ms

    token, bearer, digest = generate(name, role, created_by=created_by, now_ms=now_ms())
    stored = store.create(token, digest)
    assert stored is not None
    return IssuedToken(stored, bearer)


def bootstrap_admin(store: TokenStore, *, created_by: str = "bootstrap") -> IssuedToken | None:
    """Create the first admin token unless an active one exists; None when this caller did not
    create it (another process may have, concurrently)."""
    from .metadata import now_ms

    for _ in range(5):
        taken = {t.name for t in store.all()}
        name, n = BOOTSTRAP_NAME, 1
        while name in taken:  # an active non-admin token already uses the name
            n += 1
            name = f"{BOOTSTRAP_NAME}-{n}"
        token, bearer, digest = generate(name, ADMIN, created_by=created_by, now_ms=now_ms())
        try:
            stored = store.create(token, digest, only_if_no_admin=True)
        except AlreadyExists:  # the name was taken meanwhile: pick again
            continue
        return None if stored is None else IssuedToken(stored, bearer)
    return None


def parse(bearer: str) -> tuple[str, str] | None:
    """`prt_<id>_<secret>` -> (id, secret), or None when it is not shaped like a token."""
    if not bearer.startswith(PREFIX) or len(bearer) > MAX_TOKEN_LENGTH:
        return None
    token_id, sep, secret = bearer[len(PREFIX) :].partition("_")
    if not sep or not token_id or not secret:
        return None
    if not all(c in "0123456789abcdef" for c in token_id):
        return None
    return token_id, secret


def verify(store: TokenStore, bearer: str) -> Token | None:
    """The active token `bearer` names, or None (unknown, malformed, wrong secret, revoked).

    The secret's hash is compared with `hmac.compare_digest` whether or not the id exists.
    """
    parts = parse(bearer)
    if parts is None:
        return None
    token_id, secret = parts
    found = store.find(token_id)
    stored_hash = found[1] if found else _DUMMY_HASH
    matches = hmac.compare_digest(hash_secret(secret), stored_hash)
    if found is None or not matches or found[0].revoked:
        return None
    return found[0]
