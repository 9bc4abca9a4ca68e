"""Versioned schema migrations of the SQL store.

`schema_version` holds one row per applied step. `migrate(db)` runs the missing steps in
order, each in the same transaction as its version row, under a lock (SQLite: an IMMEDIATE
transaction; PostgreSQL: an advisory lock), so processes that open the store at the same time
migrate once and an interrupted upgrade leaves the previous version intact. Steps are frozen:
they carry their own table definitions and never import the current models, which keep
changing while old steps must replay the old schema exactly.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import peewee as pw

from ..domain.paging import sort_name
from .sql_models import SchemaVersionRow, bind_model

MIGRATE_LOCK_KEY = 0x50524D01  # pg_advisory_xact_lock key serializing migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[pw.Database], None]


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer program; refuse to guess what it holds."""


def is_postgres(db: pw.Database) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)


def write_transaction(db: pw.Database) -> AbstractContextManager[Any]:
    """A transaction that takes the write lock at BEGIN on SQLite.

    A deferred SQLite transaction that reads first and writes later fails with "database is
    locked" when another connection wrote in between; IMMEDIATE makes it wait (busy_timeout).
    """
    if isinstance(db, pw.SqliteDatabase):
        return db.atomic(lock_type="IMMEDIATE")
    return db.atomic()


def _slug_field(db: pw.Database, **kwargs: Any) -> pw.TextField:
    """Slug columns sort by bytes everywhere (PostgreSQL's default collation may not)."""
    return pw.TextField(collation='"C"' if is_postgres(db) else None, **kwargs)


# --- steps -----------------------------------------------------------------------------------


def _v1_initial(db: pw.Database) -> None:
    class Base(pw.Model):
        class Meta:
            database = db

    class Registry(Base):
        slug = _slug_field(db, primary_key=True)
        display_name = pw.TextField(default="")
        description = pw.TextField(default="")
        default_profile_slug = pw.TextField(default="")
        version = pw.BigIntegerField()
        created_ms = pw.BigIntegerField(default=0)
        updated_ms = pw.BigIntegerField(default=0)
        data = pw.TextField()

        class Meta:
            table_name = "registries"

    class Profile(Base):
        registry = pw.ForeignKeyField(
            Registry,
            field="slug",
            column_name="registry",
            on_delete="CASCADE",
            collation='"C"' if is_postgres(db) else None,
        )
        slug = _slug_field(db)
        display_name = pw.TextField(default="")
        description = pw.TextField(default="")
        version = pw.BigIntegerField()
        tags = pw.TextField(default="")
        created_ms = pw.BigIntegerField(default=0)
        updated_ms = pw.BigIntegerField(default=0)
        data = pw.TextField()

        class Meta:
            table_name = "profiles"
            primary_key = pw.CompositeKey("registry", "slug")

    class Revision(Base):
        id = pw.BigAutoField()
        registry = pw.TextField()
        profile = pw.TextField(default="")
        version = pw.BigIntegerField()
        action = pw.TextField()
        operation = pw.TextField()
        actor = pw.TextField(default="")
        at_ms = pw.BigIntegerField()
        snapshot = pw.TextField(null=True)

        class Meta:
            table_name = "revisions"
            indexes = ((("registry", "profile", "id"), False),)

    db.create_tables([Registry, Profile, Revision], safe=False)


def search_text(slug: str, display_name: str, description: str, tags: Sequence[str] = ()) -> str:
    """What `q` searches: casefolded in Python so that SQLite (ASCII-only LOWER/LIKE) and
    PostgreSQL match non-ASCII text the same way. Tags are part of it since migration 5."""
    return "\n".join((slug, display_name, description, *tags)).casefold()


def _v2_search_text(db: pw.Database) -> None:
    db.execute_sql("ALTER TABLE profiles ADD COLUMN search_text TEXT NOT NULL DEFAULT ''")
    rows = db.execute_sql("SELECT registry, slug, display_name, description FROM profiles")
    param = db.param
    update = (
        f"UPDATE profiles SET search_text = {param} WHERE registry = {param} AND slug = {param}"
    )
    for registry, slug, display_name, description in list(rows):
        db.execute_sql(update, (search_text(slug, display_name, description), registry, slug))


def _v3_tokens(db: pw.Database) -> None:
    """API tokens: only a hash of the secret; names unique among active tokens."""

    class Token(pw.Model):
        id = pw.TextField(primary_key=True)
        name = pw.TextField()
        role = pw.TextField()
        secret_hash = pw.TextField()
        created_at_ms = pw.BigIntegerField()
        created_by = pw.TextField(default="")
        last_used_at_ms = pw.BigIntegerField(null=True)
        revoked_at_ms = pw.BigIntegerField(null=True)

        class Meta:
            database = db
            table_name = "tokens"

    db.create_tables([Token], safe=False)
    db.execute_sql(
        "CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at_ms IS NULL"
    )


def _v4_ui_sessions(db: pw.Database) -> None:
    """Server-side records of admin UI sessions and one-time login links (hashes only), so
    that logout and token revocation end sessions and a link works once."""

    class UISession(pw.Model):
        id_hash = pw.TextField(primary_key=True)
        token_id = pw.TextField(index=True)
        created_at_ms = pw.BigIntegerField()
        last_seen_at_ms = pw.BigIntegerField()

        class Meta:
            database = db
            table_name = "ui_sessions"

    class LoginLink(pw.Model):
        code_hash = pw.TextField(primary_key=True)
        token_id = pw.TextField()
        purpose = pw.TextField()
        created_at_ms = pw.BigIntegerField()
        expires_at_ms = pw.BigIntegerField()
        used_at_ms = pw.BigIntegerField(null=True)

        class Meta:
            database = db
            table_name = "login_links"

    db.create_tables([UISession, LoginLink], safe=False)


def folded_tags(tags: list[str]) -> str:
    """Tags casefolded, "\n"-delimited with delimiters at both ends (the tag filter's column)."""
    return "\n" + "\n".join(t.casefold() for t in tags) + "\n" if tags else ""


def _v5_sort_columns(db: pw.Database) -> None:
    """Sorting a registry's profiles by display name and by update time with keyset pages,
    a case-insensitive tag filter, and tags in what `q` searches: `sort_name` (casefolded display name, else the slug;
    binary collation on PostgreSQL so its order is the same as SQLite's and Python's) and
    `tags_folded`, with one index per sort."""
    collate = ' COLLATE "C"' if is_postgres(db) else ""
    db.execute_sql(f"ALTER TABLE profiles ADD COLUMN sort_name TEXT{collate} NOT NULL DEFAULT ''")
    db.execute_sql("ALTER TABLE profiles ADD COLUMN tags_folded TEXT NOT NULL DEFAULT ''")
    param = db.param
    update = (
        f"UPDATE profiles SET sort_name = {param}, tags_folded = {param}, search_text = {param} "
        f"WHERE registry = {param} AND slug = {param}"
    )
    rows = db.execute_sql("SELECT registry, slug, display_name, description, tags FROM profiles")
    for registry, slug, display_name, description, tags in list(rows):
        spelled = [t for t in (tags or "").split("\n") if t]
        text = search_text(slug, display_name or "", description or "", spelled)
        db.execute_sql(
            update,
            (sort_name(display_name or "", slug), folded_tags(spelled), text, registry, slug),
        )
    db.execute_sql("CREATE INDEX profiles_by_name ON profiles (registry, sort_name, slug)")
    db.execute_sql("CREATE INDEX profiles_by_update ON profiles (registry, updated_ms, slug)")


def stack_refs(registry: str, data: dict[str, Any]) -> str:
    """What a profile's stack names, for finding dependants without reading payloads:
    "\\n<registry>/<profile>\\n..." (blank refs resolved to the profile's registry), or ""."""
    refs = []
    for ref in data.get("stack") or ():
        target = str(ref.get("registry_slug") or "").strip().lower() or registry
        refs.append(f"{target}/{str(ref.get('profile_slug') or '').strip().lower()}")
    return "\n" + "\n".join(refs) + "\n" if refs else ""


def _v6_stack_refs(db: pw.Database) -> None:
    """`stack_refs`: the targets of a profile's stack (see `stack_refs`), so that "who stacks
    on this profile" scans one short column instead of every JSON payload."""
    db.execute_sql("ALTER TABLE profiles ADD COLUMN stack_refs TEXT NOT NULL DEFAULT ''")
    param = db.param
    update = f"UPDATE profiles SET stack_refs = {param} WHERE registry = {param} AND slug = {param}"
    rows = db.execute_sql(
        f"SELECT registry, slug, data FROM profiles WHERE data LIKE {param}", ('%"stack":[%',)
    )
    for registry, slug, data in list(rows):
        try:
            refs = stack_refs(registry, json.loads(data, strict=False))
        except (ValueError, AttributeError, TypeError):
            continue  # an unreadable payload is reported when read, not here
        db.execute_sql(update, (refs, registry, slug))
    # Only profiles with a stack are indexed: a lookup reads those, never the payload pages.
    db.execute_sql(
        "CREATE INDEX profiles_stack_refs ON profiles (stack_refs) WHERE stack_refs <> ''"
    )


def _v7_webhooks(db: pw.Database) -> None:
    """Webhook subscriptions, their outbox (one delivery row per event and subscription,
    written in the transaction of the change) and the attempts made."""

    class Subscription(pw.Model):
        id = pw.BigAutoField()
        url = pw.TextField()
        registry = pw.TextField(default="")
        events = pw.TextField(default="")
        secret = pw.TextField()
        created_at_ms = pw.BigIntegerField()
        created_by = pw.TextField(default="")
        disabled_at_ms = pw.BigIntegerField(null=True)
        disabled_reason = pw.TextField(default="")
        failures = pw.IntegerField(default=0)

        class Meta:
            database = db
            table_name = "webhook_subscriptions"

    class Delivery(pw.Model):
        id = pw.BigAutoField()
        subscription_id = pw.BigIntegerField()
        message_id = pw.TextField()
        event_type = pw.TextField()
        payload = pw.TextField()
        order_key = pw.TextField(default="")
        status = pw.TextField(default="pending")
        attempts = pw.IntegerField(default=0)
        created_at_ms = pw.BigIntegerField()
        next_attempt_ms = pw.BigIntegerField()
        lease_until_ms = pw.BigIntegerField(default=0)
        delivered_at_ms = pw.BigIntegerField(null=True)
        last_status = pw.IntegerField(null=True)

        class Meta:
            database = db
            table_name = "webhook_deliveries"
            indexes = (
                (("status", "next_attempt_ms"), False),
                (("subscription_id", "id"), False),
            )

    class Attempt(pw.Model):
        id = pw.BigAutoField()
        delivery_id = pw.BigIntegerField(index=True)
        at_ms = pw.BigIntegerField()
        status = pw.IntegerField()
        latency_ms = pw.IntegerField()
        error = pw.TextField(default="")
        response_excerpt = pw.TextField(default="")

        class Meta:
            database = db
            table_name = "webhook_attempts"

    db.create_tables([Subscription, Delivery, Attempt], safe=False)


def _v8_deletions_index(db: pw.Database) -> None:
    """Index the delete revisions: the registry page lists restorable deleted profiles on
    every view, which otherwise scans the registry's whole history (16 ms at 10,000
    profiles). Partial, so it holds only deletions."""
    db.execute_sql(
        "CREATE INDEX revisions_deletions ON revisions (registry, id) WHERE action = 'delete'"
    )


def _v9_content_hash(db: pw.Database) -> None:
    """`content_hash` and `input_hash` of each profile (`domain/content_hash.py`), so an
    import recognizes an unchanged profile without validating it. Existing rows get "": they
    take the full path until their next write."""
    db.execute_sql("ALTER TABLE profiles ADD COLUMN content_hash TEXT NOT NULL DEFAULT ''")
    db.execute_sql("ALTER TABLE profiles ADD COLUMN input_hash TEXT NOT NULL DEFAULT ''")


MIGRATIONS: list[Migration] = [
    Migration(1, "registries, profiles and revisions", _v1_initial),
    Migration(2, "casefolded search text on profiles", _v2_search_text),
    Migration(3, "API tokens", _v3_tokens),
    Migration(4, "UI sessions and login links", _v4_ui_sessions),
    Migration(5, "sort and tag-filter columns on profiles", _v5_sort_columns),
    Migration(6, "stack targets on profiles", _v6_stack_refs),
    Migration(7, "webhook subscriptions, outbox and attempts", _v7_webhooks),
    Migration(8, "an index of delete revisions", _v8_deletions_index),
    Migration(9, "content and input hashes of profiles", _v9_content_hash),
]
LATEST_VERSION = MIGRATIONS[-1].version


# --- runner ----------------------------------------------------------------------------------


def _schema_version_model(db: pw.Database) -> type[SchemaVersionRow]:
    """The `schema_version` model bound to `db`: a new class per call, because binding one
    shared class (`bind_ctx`) is global state that threads opening stores at once would race on."""
    return bind_model(SchemaVersionRow, db, "schema_version")


def current_version(db: pw.Database) -> int:
    """The applied schema version (0 for an empty database)."""
    model = _schema_version_model(db)
    if not model.table_exists():
        return 0
    return model.select(pw.fn.MAX(model.version)).scalar() or 0


def migrate(db: pw.Database, target: int | None = None) -> int:
    """Apply the missing steps up to `target` (default: the latest); return the version.

    An up-to-date database is only read (no lock, no DDL), so opening it needs no write
    privilege and processes starting together do not queue. A database newer than this
    program raises `SchemaTooNew`.
    """
    target = LATEST_VERSION if target is None else target
    version = current_version(db)
    if version < target:
        with _sqlite_migration_lock(db):
            version = _migrate_locked(db, target)
    if version > LATEST_VERSION:
        raise SchemaTooNew(
            f"database schema version {version} is newer than this program "
            f"(knows up to {LATEST_VERSION}); upgrade the program"
        )
    return version


@contextmanager
def _sqlite_migration_lock(db: pw.Database) -> Iterator[None]:
    """Processes starting together on one SQLite file (gunicorn workers without preload)
    queue on an exclusive `flock` of `<db>.writelock` (the file the store's writers queue on)
    while one of them migrates: waiting in SQLite's busy handler instead would time out when
    the migration takes longer than `busy_timeout` on a loaded machine. PostgreSQL takes an
    advisory lock inside the transaction instead."""
    path = getattr(db, "database", "")
    if is_postgres(db) or not path or path == ":memory:" or str(path).startswith("file::memory"):
        yield
        return
    fd = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _migrate_locked(db: pw.Database, target: int) -> int:
    version = current_version(db)  # another process may have migrated while we waited
    if version < target:
        model = _schema_version_model(db)
        with write_transaction(db):
            if is_postgres(db):
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK_KEY,))
            if not model.table_exists():
                db.create_tables([model])
            version = model.select(pw.fn.MAX(model.version)).scalar() or 0
            for step in MIGRATIONS:
                if version < step.version <= target:
                    step.apply(db)
                    model.create(
                        version=step.version, name=step.name, applied_at_ms=int(time.time() * 1000)
                    )
                    version = step.version
    return version
