"""The SQL `TokenStore` (SQLite and PostgreSQL, table `tokens` of migration step 3).

Tokens share the profile store's database when it is an SQL store; beside a YAML file store
they live in their own SQLite file (`instance/tokens.db`), or wherever `REGISTRY_TOKEN_STORE`
points. Creating a token takes the write lock first (SQLite: an IMMEDIATE transaction;
PostgreSQL: an advisory lock), so "create the first admin unless one exists" holds across
processes starting at the same time; a partial unique index keeps active names unique.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee as pw

from ..domain.errors import AlreadyExists, StoreClosed, StoreUnavailable
from ..domain.sessions import LoginLink, UISession
from ..domain.tokens import ADMIN, Token, TokenNotFound
from .migrations import migrate, write_transaction
from .sql_models import bind_model
from .sql_store import PooledConnections, connect_database

TOKEN_LOCK_KEY = 0x50524D03  # pg_advisory_xact_lock key serializing token creation


# Columns at module level (typed); each store binds subclasses to its database.


class TokenRow(pw.Model):
    id = pw.TextField(primary_key=True)
    name = pw.TextField()
    role = pw.TextField()
    secret_hash = pw.TextField()
    created_at_ms = pw.BigIntegerField()
    created_by = pw.TextField(default="")
    last_used_at_ms = pw.BigIntegerField(null=True)
    revoked_at_ms = pw.BigIntegerField(null=True)


class SessionRow(pw.Model):
    id_hash = pw.TextField(primary_key=True)
    token_id = pw.TextField()
    created_at_ms = pw.BigIntegerField()
    last_seen_at_ms = pw.BigIntegerField()


class LinkRow(pw.Model):
    code_hash = pw.TextField(primary_key=True)
    token_id = pw.TextField()
    purpose = pw.TextField()
    created_at_ms = pw.BigIntegerField()
    expires_at_ms = pw.BigIntegerField()
    used_at_ms = pw.BigIntegerField(null=True)


def _model(db: pw.Database) -> type[TokenRow]:
    return bind_model(TokenRow, db, "tokens")


def _session_models(db: pw.Database) -> tuple[type[SessionRow], type[LinkRow]]:
    return bind_model(SessionRow, db, "ui_sessions"), bind_model(LinkRow, db, "login_links")


class SQLTokenStore(PooledConnections):
    """`TokenStore` over a peewee database (see the module docstring)."""

    def __init__(self, db: pw.Database, kind: str, *, owns_db: bool = False) -> None:
        self.db = db
        self.kind = kind
        self.owns_db = owns_db
        self.model = _model(db)
        self.sessions, self.links = _session_models(db)
        self._closed = False

    @classmethod
    def open(cls, url: str) -> SQLTokenStore:
        """Open (and migrate) the database at `url` for tokens alone."""
        db, kind, _ = connect_database(url)
        try:
            migrate(db)
        except BaseException:
            if not db.is_closed():
                db.close()
            raise
        return cls(db, kind, owns_db=True)

    def __repr__(self) -> str:
        return f"<SQLTokenStore {self.kind}>"

    def close(self) -> None:
        """Close the database if this store opened it (a shared one belongs to its store)."""
        self._closed = True
        if self.owns_db and not self.db.is_closed():
            self.db.close()
        if self.owns_db and hasattr(self.db, "close_all"):
            self.db.close_all()

    def _check(self) -> None:
        if self._closed:
            raise StoreClosed(f"{self.kind} token store closed")

    @staticmethod
    def _token(row: Any) -> Token:
        return Token(
            id=row.id,
            name=row.name,
            role=row.role,
            created_at_ms=row.created_at_ms,
            created_by=row.created_by,
            last_used_at_ms=row.last_used_at_ms,
            revoked=row.revoked_at_ms is not None,
        )

    def create(
        self, token: Token, secret_hash: str, *, only_if_no_admin: bool = False
    ) -> Token | None:
        self._check()
        T = self.model
        with write_transaction(self.db):
            if self.kind == "postgresql":
                self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (TOKEN_LOCK_KEY,))
            active = T.revoked_at_ms.is_null()
            if only_if_no_admin and T.select().where(active, T.role == ADMIN).exists():
                return None
            if T.select().where(active, T.name == token.name).exists():
                raise AlreadyExists("token", token.name)
            try:
                T.insert(
                    id=token.id,
                    name=token.name,
                    role=token.role,
                    secret_hash=secret_hash,
                    created_at_ms=token.created_at_ms,
                    created_by=token.created_by,
                ).execute()
            except pw.IntegrityError as exc:
                raise AlreadyExists("token", token.name) from exc
        return self.get(token.id)

    def all(self, *, include_revoked: bool = False) -> list[Token]:
        self._check()
        T = self.model
        query = T.select().order_by(T.created_at_ms, T.id)
        if not include_revoked:
            query = query.where(T.revoked_at_ms.is_null())
        return [self._token(row) for row in query]

    def get(self, token_id: str) -> Token | None:
        found = self.find(token_id)
        return None if found is None else found[0]

    def find(self, token_id: str) -> tuple[Token, str] | None:
        self._check()
        T = self.model
        row = T.select().where(T.id == str(token_id)).first()
        return None if row is None else (self._token(row), row.secret_hash)

    def revoke(self, token_id: str) -> Token:
        self._check()
        T = self.model
        from ..domain.metadata import now_ms

        with write_transaction(self.db):
            T.update(revoked_at_ms=now_ms()).where(
                T.id == str(token_id), T.revoked_at_ms.is_null()
            ).execute()
            # Revoking ends the UI sessions the token started; its login links are refused
            # when used (kept, so the login page can say why).
            self.sessions.delete().where(self.sessions.token_id == str(token_id)).execute()
        token = self.get(token_id)
        if token is None:
            raise TokenNotFound(token_id)
        return token

    def mark_used(self, token_id: str, at_ms: int) -> None:
        """Record use (best effort: a busy database never fails the request)."""
        self._check()
        T = self.model
        try:
            T.update(last_used_at_ms=at_ms).where(
                T.id == str(token_id),
                T.last_used_at_ms.is_null() | (T.last_used_at_ms < at_ms),
            ).execute()
        except (pw.OperationalError, StoreUnavailable):
            pass

    # --- UI sessions (see registry/domain/sessions.py) -----------------------------------------

    def create_session(self, session: UISession) -> None:
        self._check()
        with write_transaction(self.db):
            self.sessions.insert(
                id_hash=session.id_hash,
                token_id=session.token_id,
                created_at_ms=session.created_at_ms,
                last_seen_at_ms=session.last_seen_at_ms,
            ).execute()

    def get_session(self, id_hash: str) -> UISession | None:
        self._check()
        S = self.sessions
        row = S.select().where(S.id_hash == id_hash).first()
        if row is None:
            return None
        return UISession(row.id_hash, row.token_id, row.created_at_ms, row.last_seen_at_ms)

    def touch_session(self, id_hash: str, at_ms: int) -> None:
        """Record activity (best effort, like `mark_used`)."""
        self._check()
        S = self.sessions
        try:
            S.update(last_seen_at_ms=at_ms).where(
                S.id_hash == id_hash, S.last_seen_at_ms < at_ms
            ).execute()
        except (pw.OperationalError, StoreUnavailable):
            pass

    def delete_session(self, id_hash: str) -> None:
        self._check()
        with write_transaction(self.db):
            self.sessions.delete().where(self.sessions.id_hash == id_hash).execute()

    def delete_sessions_before(self, *, seen_before_ms: int, created_before_ms: int) -> None:
        self._check()
        S = self.sessions
        with write_transaction(self.db):
            S.delete().where(
                (S.last_seen_at_ms < seen_before_ms) | (S.created_at_ms < created_before_ms)
            ).execute()

    # --- one-time login links ----------------------------------------------------------------

    def create_login_link(self, link: LoginLink, *, replace_unused: bool = False) -> None:
        self._check()
        L = self.links
        with write_transaction(self.db):
            if replace_unused:
                L.delete().where(L.purpose == link.purpose, L.used_at_ms.is_null()).execute()
            L.insert(
                code_hash=link.code_hash,
                token_id=link.token_id,
                purpose=link.purpose,
                created_at_ms=link.created_at_ms,
                expires_at_ms=link.expires_at_ms,
            ).execute()

    def get_login_link(self, code_hash: str) -> LoginLink | None:
        self._check()
        L = self.links
        row = L.select().where(L.code_hash == code_hash).first()
        if row is None:
            return None
        return LoginLink(
            row.code_hash,
            row.token_id,
            row.purpose,
            row.created_at_ms,
            row.expires_at_ms,
            row.used_at_ms,
        )

    def claim_login_link(self, code_hash: str, at_ms: int) -> bool:
        self._check()
        L = self.links
        with write_transaction(self.db):
            claimed = (
                L.update(used_at_ms=at_ms)
                .where(L.code_hash == code_hash, L.used_at_ms.is_null(), L.expires_at_ms > at_ms)
                .execute()
            )
        return claimed == 1

    def delete_login_links_before(self, expired_before_ms: int) -> None:
        self._check()
        L = self.links
        with write_transaction(self.db):
            L.delete().where(L.expires_at_ms < expired_before_ms).execute()


def open_token_store(profile_store: Any, url: str = "", instance_path: str = "") -> SQLTokenStore:
    """The token store of a deployment: `url` when given, else the SQL profile store's own
    database, else an SQLite file `tokens.db` in `instance_path` (YAML profile stores)."""
    if url:
        return SQLTokenStore.open(url)
    db = getattr(profile_store, "db", None)
    if isinstance(db, pw.Database):
        return SQLTokenStore(db, profile_store.kind)
    if not instance_path:
        raise ValueError("a token store needs an SQL profile store, a URL or an instance path")
    return SQLTokenStore.open(f"sqlite:///{Path(instance_path) / 'tokens.db'}")


__all__ = ["SQLTokenStore", "open_token_store"]
