"""The peewee SQL store for SQLite and PostgreSQL (see README, Architecture).

One row per profile, so a write costs the same whatever the registry size. Optimistic
concurrency is enforced by the database: every write is a conditional
`UPDATE/DELETE ... WHERE version = <version read>` inside a transaction, so it holds across
processes and machines. Each write appends a `revisions` row (history and change feed) in the
same transaction.

Registry versions move only on writes to the registry header (`update_registry`), not on
profile writes: a per-registry counter bumped by every profile write would be a hot row that
serializes all writers of a registry. Use `latest_change_id()` to notice any change.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import peewee as pw
from playhouse import db_url
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from ..domain.content_hash import content_hash
from ..domain.errors import (
    AlreadyExists,
    ProfileNotFound,
    RegistryNotFound,
    StoreClosed,
    StoreUnavailable,
    ValidationError,
    VersionConflict,
)
from ..domain.metadata import now_ms, touch
from ..domain.model import (
    Metadata,
    Profile,
    Registry,
    profile_from_stored,
    profile_to_data,
    registry_from_data,
    registry_to_data,
    stacks_on,
)
from ..domain.paging import cursor_of, decode_cursor, distinct_tags, sort_name
from ..domain.ports import Change, ProfilePage, ProfileQuery, Revision, WriteOptions
from ..domain.text import SUSPECT_JSON_RE, repair_tree
from ..domain.webhooks import change_data, event_type_of
from .migrations import folded_tags, migrate, search_text, stack_refs
from .sql_models import build_models
from .sql_outbox import fan_out, outbox_models

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10_000,
    "foreign_keys": 1,
    "synchronous": "normal",
}
# pg_advisory_xact_lock key taken first by every write transaction on PostgreSQL, see `_write`.
CHANGE_LOCK_KEY = 0x50524D02
ITER_CHUNK = 500
MANY_CHUNK = 100  # keys per query of `get_profiles`
BATCH_ROWS = 200  # rows per multi-row INSERT of `create_profiles` (13 params each: < 32766)
POOL_MAX = 64  # connections per process (threads x stores); more wait instead of failing
POOL_STALE_SECONDS = 300
PING_AFTER_IDLE = 1.0  # seconds; see `PostgresDatabase`
MAX_WRITE_ATTEMPTS = 20
MAX_ID = 2**63 - 1  # SQL BIGINT: a larger id cannot exist (and would overflow the driver)
# The revision INSERT's columns, in the order `_record` passes its values.
REVISION_COLUMNS = (
    '"registry", "profile", "version", "action", "operation", "actor", "at_ms", "snapshot"'
)

T = TypeVar("T")  # what one conditional write returns
P = ParamSpec("P")

log = logging.getLogger(__name__)


class CorruptRecord(ValueError):
    """A stored row whose payload does not parse or does not match its key."""


# --- connections ---------------------------------------------------------------------------


class OutageAware(pw.Database):
    """Database errors that mean "the database cannot serve now" become `StoreUnavailable`.

    Driver `OperationalError`s and `InterfaceError`s (server down or restarting, connection
    lost or refused, SQLite locked or unable to open its file) are raised as the domain's
    `StoreUnavailable`, which the web layer answers with 503 and `Retry-After` instead of
    500. Connection-level failures leave the connection unusable; the pool drops it when it
    is handed back (its transaction status is unknown) and pings idle ones before reuse, so
    the app recovers by itself once the database is back. Errors peewee raises itself (no
    driver error behind them) are programming errors and pass unchanged.
    """

    def _outage(self, exc: Exception) -> StoreUnavailable:
        kind = "postgresql" if isinstance(self, pw.PostgresqlDatabase) else "sqlite"
        log.warning("%s database unavailable: %s", kind, str(exc).strip().splitlines()[:1])
        # The driver's text may name hosts and ports: it goes to the log, not to clients.
        return StoreUnavailable(f"the {kind} database is unavailable; try again later")

    def _translated(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except (pw.OperationalError, pw.InterfaceError) as exc:
            if getattr(exc, "orig", None) is None:
                raise
            raise self._outage(exc) from exc

    def connect(self, reuse_if_open: bool = False) -> bool:
        return self._translated(super().connect, reuse_if_open)

    def _execute_cursor(self, sql: str, params: Any, **options: Any) -> Any:
        return self._translated(super()._execute_cursor, sql, params, **options)

    def begin(self, *args: Any, **kwargs: Any) -> None:
        self._translated(super().begin, *args, **kwargs)

    def commit(self) -> None:
        self._translated(super().commit)

    def rollback(self) -> None:
        self._translated(super().rollback)


class PostgresDatabase(OutageAware, PooledPostgresqlDatabase):
    """Pooled PostgreSQL connections whose outages are `StoreUnavailable` (503).

    peewee pings every pooled connection (`SELECT 1`) when it is taken: a round trip per
    request, as dear as the request's own query. A connection handed back less than
    `PING_AFTER_IDLE` seconds ago was working then, so it is taken without the ping; one idle
    longer is pinged as before. A server restart in that second costs the requests that
    reuse such a connection one 503 each (the broken connection is then dropped), as it costs
    the requests in flight.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}  # conn_key -> when it was handed back

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned_at.pop(self.conn_key(conn), None)
        if conn.closed:
            return True
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE:
            return self._adapter.txn_status(conn) == self._adapter.txn_unknown
        return bool(self._adapter.is_connection_closed(conn))

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        super()._close(conn, close_conn)
        if not close_conn:  # a dict item set or popped is atomic: no lock needed
            self._returned_at[self.conn_key(conn)] = time.monotonic()

    # BEGIN travels with the transaction's first statement (`BEGIN; <statement>`, one query):
    # one round trip fewer per transaction (a lone PATCH went from 3.0 to 2.4 ms). The flag is
    # the thread's own (`_state`, like its connection): set by `begin`, consumed by the first
    # statement, and dropped by a COMMIT or ROLLBACK that finds nothing sent (then there is
    # nothing to end either). Every statement goes through `_execute_cursor`; peewee's own
    # COMMIT and ROLLBACK, which do not, are the two overridden below.

    def begin(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs or self._isolation_level:
            super().begin(*args, **kwargs)
            return
        if self.is_closed():  # as BEGIN's own cursor would: connecting later resets the
            self.connect()  # thread's state, the transaction being opened included
        self._state.begin_pending = True

    def _execute_cursor(self, sql: str, params: Any, **options: Any) -> Any:
        if getattr(self._state, "begin_pending", False):
            self._state.begin_pending = False
            if self.in_transaction():  # (a flag left by a dropped connection is ignored)
                sql = f"BEGIN; {sql}"
        return super()._execute_cursor(sql, params, **options)

    def commit(self) -> None:
        if not self._begin_dropped():
            super().commit()

    def rollback(self) -> None:
        if not self._begin_dropped():
            super().rollback()

    def _begin_dropped(self) -> bool:
        """Whether the transaction ends before it sent anything (its BEGIN never left)."""
        pending = getattr(self._state, "begin_pending", False)
        self._state.begin_pending = False
        return pending


class MemorySqliteDatabase(OutageAware, pw.SqliteDatabase):
    """The throwaway in-memory SQLite database."""


class SqliteFileDatabase(OutageAware, PooledSqliteDatabase):
    """Pooled SQLite connections on one file, refused once that file is deleted or replaced.

    A deleted SQLite file stays readable and writable through the connections that had it
    open: writes keep succeeding into an unlinked file and vanish at the next restart, and a
    new connection would create an empty file in its place. So the file's identity (device,
    inode) is recorded when it is first opened, and compared with the path's (one `stat`)
    whenever a connection is taken for a request and before every write transaction. A
    mismatch is `StoreUnavailable` without `Retry-After`: only an operator can fix it
    (restore the file, or restart on purpose). Moving the file back recovers by itself.
    """

    _file_id: tuple[int, int] | None = None

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.database)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def check_file(self) -> None:
        """Raise `StoreUnavailable` when the path no longer names the file opened first."""
        if self._file_id is not None and self._identity() != self._file_id:
            raise StoreUnavailable(
                f"the SQLite database file {self.database} was deleted or replaced while the "
                "server was running; nothing is read or written until it is restored or the "
                "server restarted",
                retry_after=None,
            )

    def _connect(self) -> Any:
        self.check_file()
        conn = super()._connect()
        if self._file_id is None:
            self._file_id = self._identity()
        return conn

    def begin(self, *args: Any, **kwargs: Any) -> None:
        self.check_file()
        super().begin(*args, **kwargs)


def connect_database(url: str) -> tuple[pw.Database, str, str]:
    """The peewee database, its kind and the canonical URL for a store URL.

    `sqlite:////abs/path.db` (or `sqlite:///relative.db`, made absolute) and
    `postgresql://` / `postgres://` URLs, whose query string goes to the driver (for example
    `options=-csearch_path%3Dschema`). Connections are per thread and open on first use;
    closing one (`release()` at the end of a request) returns it to a pool, so a request does
    not pay for a new connection (a PostgreSQL backend process, SQLite's pragmas and WAL
    checkpoint on last close). `sqlite:///:memory:` is one shared connection, for throwaway
    use: its URL reopens nothing.
    """
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:///"):
            raise ValueError("SQLite store URLs look like sqlite:////absolute/path.db")
        path = url[len("sqlite:///") :]
        if path in ("", ":memory:"):
            memory = MemorySqliteDatabase(
                ":memory:",
                pragmas=SQLITE_PRAGMAS,
                lock_type="IMMEDIATE",
                thread_safe=False,
                check_same_thread=False,
            )
            return memory, "sqlite", "sqlite:///:memory:"
        path = os.path.abspath(path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = SqliteFileDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            lock_type="IMMEDIATE",
            max_connections=POOL_MAX,
            stale_timeout=POOL_STALE_SECONDS,
            check_same_thread=False,
        )
        return db, "sqlite", f"sqlite:///{path}"
    scheme = url.split(":", 1)[0]
    if scheme in ("postgres", "postgresql"):
        params = db_url.parse(url, unquote_password=True, unquote_user=True)
        name = params.pop("database")
        db = PostgresDatabase(
            name,
            autoconnect=True,
            max_connections=POOL_MAX,
            stale_timeout=POOL_STALE_SECONDS,
            **params,
        )
        return db, "postgresql", url
    raise ValueError(f'unsupported SQL store URL scheme "{scheme}"')


# --- rows ----------------------------------------------------------------------------------


def dumps(data: Any) -> str:
    """JSON for payload columns. ASCII-escaped so that NUL and lone surrogates survive
    (PostgreSQL text rejects NUL; both drivers reject lone surrogates)."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def _decode_payload(data: str) -> tuple[Any, list[str]]:
    """A payload column's JSON, with refused characters (NUL, lone surrogates: written before
    they were refused, or straight into the database) repaired to U+FFFD so that no reader
    fails on them; also returns the field paths repaired (`text.repair_tree`).

    The payload is ASCII-escaped JSON, so a cheap search finds the rare rows to walk.
    """
    raw = json.loads(data, strict=False)  # strict=False: a raw control character typed in SQL
    if not SUSPECT_JSON_RE.search(data) and "\x00" not in data:
        return raw, []
    return repair_tree(raw)


def _first_duplicate(slugs: Sequence[str]) -> str:
    """The first slug a batch holds twice (or its first slug: a row a concurrent writer
    inserted in between), for the `AlreadyExists` of a failed multi-row INSERT."""
    seen: set[str] = set()
    for slug in slugs:
        if slug in seen:
            return slug
        seen.add(slug)
    return slugs[0] if slugs else ""


def _column_text(value: str) -> str:
    """Text for query-only columns (the JSON payload keeps the exact text)."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def tags_text(tags: list[str]) -> str:
    """Tags as "\\n"-delimited text with delimiters at both ends, so that an exact tag match
    is a substring search for "\\n<tag>\\n"."""
    return "\n" + "\n".join(_column_text(t) for t in tags) + "\n" if tags else ""


def profile_row(registry: str, p: Profile, rules: str = "", input_hash: str = "") -> dict[str, Any]:
    """The `profiles` row of a profile (public so tests and tools can bulk-load); `rules`
    the digest of the rules it passed and `input_hash` the hash of what the caller received
    (`WriteOptions`), for the import's unchanged check."""
    data = profile_to_data(p, shared=True)  # only encoded and hashed here
    return {
        "registry": str(registry),
        "slug": str(p.slug),
        "display_name": _column_text(p.display_name),
        "description": _column_text(p.description),
        "version": p.metadata.version,
        "tags": tags_text(p.metadata.tags),
        "search_text": _column_text(
            search_text(p.slug, p.display_name, p.description, p.metadata.tags)
        ),
        "sort_name": _column_text(sort_name(p.display_name, p.slug)),
        "tags_folded": _column_text(folded_tags(p.metadata.tags)),
        "stack_refs": stack_refs(str(registry), data),
        "content_hash": content_hash(data, rules),
        "input_hash": input_hash if rules else "",
        "created_ms": p.metadata.created_at_ms,
        "updated_ms": p.metadata.updated_at_ms,
        "data": dumps(data),
    }


def registry_row(r: Registry) -> dict[str, Any]:
    """The `registries` row of a registry header."""
    return {
        "slug": str(r.slug),
        "display_name": _column_text(r.display_name),
        "description": _column_text(r.description),
        "default_profile_slug": _column_text(r.default_profile_slug),
        "version": r.metadata.version,
        "created_ms": r.metadata.created_at_ms,
        "updated_ms": r.metadata.updated_at_ms,
        "data": dumps(registry_to_data(r, with_profiles=False, with_state=True)),
    }


# --- the store -----------------------------------------------------------------------------


# Connections a forked worker found open (see `PooledConnections.forget_inherited`).
_INHERITED: list[Any] = []


class PooledConnections:
    """Connection lifecycle shared by the SQL stores (they keep `db` and `_closed`)."""

    db: pw.Database
    _closed: bool

    def release(self) -> None:
        """Return this thread's connection to the pool if it is idle (end of a web request).

        The next call takes one again. A no-op for the in-memory database, whose data lives
        in its only connection, and inside a transaction.
        """
        if self._closed or self.db.database == ":memory:" or self.db.in_transaction():
            return
        if not self.db.is_closed():
            self.db.close()

    def disconnect(self) -> None:
        """Close this thread's connection and every idle pooled one (before a fork: a child
        must not inherit a socket or SQLite handle)."""
        self.release()
        close_idle = getattr(self.db, "close_idle", None)
        if close_idle is not None and not self._closed:
            close_idle()

    def forget_inherited(self) -> bool:
        """In a forked child: drop this thread's open connection without closing it (the
        parent or a sibling owns the same socket or SQLite handle; closing it would end their
        session). True when there was one. It stays referenced so garbage collection cannot
        close it either."""
        state = getattr(self.db, "_state", None)
        if state is None or getattr(state, "closed", True):
            return False
        _INHERITED.append(state.conn)
        state.reset()
        return True


class SQLStore(PooledConnections):
    """`Store` on SQLite or PostgreSQL through peewee (see the module docstring)."""

    supports_history = True

    def __init__(self, url: str) -> None:
        self.db, self.kind, self.url = connect_database(url)
        self.models = build_models(self.db)
        self.outbox = outbox_models(self.db)
        # set after a write of this process committed webhook deliveries: it wakes this
        # process's delivery thread at once instead of at its next poll (a hint only: other
        # processes' writes are found by polling)
        self.deliveries_queued = threading.Event()
        self._write_state = threading.local()  # per thread: this write queued deliveries
        self._closed = False
        self._thread_writer = threading.RLock()
        self._writer_depth = 0
        self._lock_owner = 0
        self._lock_file = -1
        memory = self.kind != "sqlite" or self.db.database in ("", ":memory:")
        self._lock_path = None if memory else f"{self.db.database}.writelock"
        self._sql_cache: dict[str, str] = {}
        # PostgreSQL connection -> names of the hot reads prepared on it (see `_prepared`)
        self._prepared_on: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self._group = threading.local()  # per thread: inside `atomic()`, change lock taken
        try:
            self.schema_version = migrate(self.db)
        except BaseException:
            if not self.db.is_closed():
                self.db.close()
            raise

    def __repr__(self) -> str:
        return f"<SQLStore {self.kind}>"

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store; idempotent. Later calls raise `StoreClosed`."""
        if self._closed:
            return
        self._closed = True
        if not self.db.is_closed():
            self.db.close()
        close_all = getattr(self.db, "close_all", None)
        if close_all is not None:
            close_all()
        if self._lock_owner == os.getpid():
            os.close(self._lock_file)
            self._lock_owner = 0

    def _check(self) -> None:
        if self._closed:
            raise StoreClosed(f"{self.kind} profile store closed")

    def atomic(self) -> AbstractContextManager[None]:
        """Group writes in one transaction (nested groups are savepoints).

        On SQLite the transaction begins IMMEDIATE (the write lock is taken at BEGIN, so a
        concurrent writer waits on busy_timeout instead of failing on lock upgrade).
        """
        self._check()
        return self._atomic()

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        outermost = not getattr(self._group, "depth", 0)
        with self._wake_after_commit(), self._local_writer(), self.db.atomic():
            self._group.depth = getattr(self._group, "depth", 0) + 1
            try:
                yield
            except BaseException:
                self._forget_change_lock()
                raise
            finally:
                self._group.depth -= 1
                if outermost:
                    self._group.change_locked = False

    @contextmanager
    def _wake_after_commit(self) -> Iterator[None]:
        """Around a transaction: once the outermost one commits, set `deliveries_queued` if
        one of its writes queued webhook deliveries (set earlier, a worker's claim on
        PostgreSQL would not see the rows yet)."""
        state = self._write_state
        try:
            yield
        except BaseException:
            if self.db.transaction_depth() == 0:
                state.queued = False  # rolled back: nothing to send
            raise
        if self.db.transaction_depth() == 0 and getattr(state, "queued", False):
            state.queued = False
            self.deliveries_queued.set()

    @contextmanager
    def _local_writer(self) -> Iterator[None]:
        """On SQLite, writers queue on locks that wake them when the writer before them is
        done, instead of sleeping in SQLite's busy handler (it backs off up to 100 ms per try,
        which made writes slow and their p99 half a second): threads of a process on an
        RLock, processes on an exclusive `flock` of `<db>.writelock`. SQLite's own locking
        still guarantees correctness; these only make waiting efficient."""
        if self.kind != "sqlite" or self._lock_path is None:
            yield
            return
        with self._thread_writer:
            self._writer_depth += 1
            try:
                if self._writer_depth == 1:
                    fcntl.flock(self._lock_fd(), fcntl.LOCK_EX)
                yield
            finally:
                if self._writer_depth == 1:
                    fcntl.flock(self._lock_fd(), fcntl.LOCK_UN)
                self._writer_depth -= 1

    def _lock_fd(self) -> int:
        """This process's descriptor of the write-lock file. Opened per process: a descriptor
        inherited across fork shares its lock with the parent and siblings."""
        if self._lock_owner != os.getpid():
            assert self._lock_path is not None
            self._lock_file = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_owner = os.getpid()
        return self._lock_file

    @contextmanager
    def _write(self, *, savepoint: bool = True, lock: bool = True) -> Iterator[None]:
        """The transaction of one write (a savepoint inside a caller's `atomic()` group).

        On PostgreSQL every write transaction first takes one advisory lock, held until it
        commits. Sequence values are handed out at insert time but become visible at commit,
        so without it a reader could see change 5 before change 4 commits, and a cache keyed
        on `latest_change_id()` would miss change 4 for good. Taking the lock before any row
        lock keeps writers deadlock-free; writes are short (SQLite serializes them anyway).
        `lock=False` leaves it to the write's first statement (`_change_lock_needed`).

        `savepoint=False` writes straight into an enclosing PostgreSQL transaction (two round
        trips fewer) for writes that catch no database error: on PostgreSQL any failed
        statement aborts the whole enclosing transaction, so nothing can be half-applied.
        """
        self._check()
        with self._wake_after_commit(), self._local_writer():
            if not savepoint and self.kind == "postgresql" and self.db.in_transaction():
                if lock:
                    self._lock_changes()
                yield
                return
            try:
                with self.db.atomic():
                    if lock:
                        self._lock_changes()
                    yield
            except BaseException:
                self._forget_change_lock()
                raise

    def _change_lock_needed(self) -> bool:
        """Whether this transaction has yet to take the change-feed lock of `_write` (once per
        transaction: inside an `atomic()` group, its first write takes it)."""
        if self.kind != "postgresql":
            return False
        return not (
            getattr(self._group, "depth", 0) and getattr(self._group, "change_locked", False)
        )

    def _change_lock_taken(self) -> None:
        if getattr(self._group, "depth", 0):
            self._group.change_locked = True

    def _forget_change_lock(self) -> None:
        """A savepoint rolled back releases the locks taken inside it, the change lock too:
        the group's next write takes it again (taking it twice is harmless)."""
        self._group.change_locked = False

    def _lock_changes(self) -> None:
        if self._change_lock_needed():
            self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (CHANGE_LOCK_KEY,))
            self._change_lock_taken()

    # --- parsing ---------------------------------------------------------------------------

    def _profile_of(self, registry: str, slug: str, data: str) -> Profile:
        try:
            raw, repaired = _decode_payload(data)
            p = profile_from_stored(raw, slug=slug)
            p.repaired = repaired
        except (ValueError, ValidationError) as exc:
            raise CorruptRecord(
                f'{self.kind} profile store: profile "{registry}/{slug}" has an invalid '
                f"payload: {exc}"
            ) from exc
        if p.slug != slug:
            raise CorruptRecord(
                f"{self.kind} profile store: slug mismatch payload={p.slug!r} row={slug!r}"
            )
        return p

    def _registry_of(self, slug: str, data: str) -> Registry:
        try:
            raw, repaired = _decode_payload(data)
            r = registry_from_data(raw, slug=slug)
            r.repaired = repaired
        except (ValueError, ValidationError) as exc:
            raise CorruptRecord(
                f'{self.kind} profile store: registry "{slug}" has an invalid payload: {exc}'
            ) from exc
        if r.slug != slug:
            raise CorruptRecord(
                f"{self.kind} profile store: slug mismatch payload={r.slug!r} row={slug!r}"
            )
        r.profiles = {}
        return r

    def _revision_of(self, row: Any) -> Revision:
        snapshot = None
        if row.profile and row.snapshot is not None:
            snapshot = self._profile_of(row.registry, row.profile, row.snapshot)
        return Revision(
            id=row.id,
            registry=row.registry,
            profile=row.profile,
            version=row.version,
            operation=row.operation,
            actor=row.actor,
            at_ms=row.at_ms,
            snapshot=snapshot,
        )

    # --- shared queries --------------------------------------------------------------------

    def _fetchone(self, name: str, build: Any, params: tuple[Any, ...]) -> Any:
        """Run a hot read with its SQL built once per store.

        peewee builds a query's SQL on every execution, which cost more than running it on
        these paths (every request reads a registry and a profile). `build()` returns the
        query made with placeholder values; the cached text is run with `params`, given in
        the order the placeholders appear.
        """
        sql = self._sql_cache.get(name)
        if sql is None:
            sql = self._sql_cache[name] = build().sql()[0]
        if self.kind == "postgresql":
            sql = self._prepared(name, sql, len(params))
        return self.db.execute_sql(sql, params).fetchone()

    def _prepared(self, name: str, sql: str, arity: int) -> str:
        """`EXECUTE` of a hot read prepared once per PostgreSQL connection.

        Parsing and planning these small queries cost PostgreSQL ~0.2 ms each, four times
        what running them costs; a prepared statement is planned once per connection (and
        pooled connections live for minutes). Statements are prepared on first use on each
        connection, so a new connection or a reconnect after an outage prepares again.
        """
        conn = self.db.connection()
        done = self._prepared_on.get(conn)
        if done is None:
            done = self._prepared_on[conn] = set()
        statement = f"pr_{name}"
        if statement not in done:
            numbered = sql
            for i in range(1, arity + 1):
                numbered = numbered.replace("%s", f"${i}", 1)
            self.db.execute_sql(f"PREPARE {statement} AS {numbered}")
            done.add(statement)
        return (
            f"EXECUTE {statement}({', '.join(['%s'] * arity)})" if arity else f"EXECUTE {statement}"
        )

    def _registry_state(self, slug: str) -> tuple[int, str] | None:
        R = self.models.registry
        return self._fetchone(
            "registry_state",
            lambda: R.select(R.version, R.data).where(R.slug == "").limit(1),
            (slug, 1),
        )

    def _registry_version(self, slug: str) -> int | None:
        state = self._registry_state(slug)
        return None if state is None else state[0]

    def _registry_exists(self, slug: str) -> bool:
        R = self.models.registry
        return R.select(R.slug).where(R.slug == slug).exists()

    def _profile_state(self, registry: str, slug: str) -> tuple[bool, int | None, str | None]:
        """(registry exists, profile version, profile payload) in one query."""
        R, P = self.models.registry, self.models.profile
        row = self._fetchone(
            "profile_state",
            lambda: (
                R.select(R.slug, P.version, P.data)
                .join(P, pw.JOIN.LEFT_OUTER, on=(P.registry == R.slug) & (P.slug == ""))
                .where(R.slug == "")
                .limit(1)
            ),
            (slug, registry, 1),
        )
        if row is None:
            return False, None, None
        return True, row[1], row[2]

    @staticmethod
    def _check_version(resource: str, slug: str, expected: int, actual: int) -> None:
        if expected and expected != actual:
            raise VersionConflict(resource, slug, expected, actual)

    def _record(
        self,
        registry: str,
        profile: str,
        action: str,
        version: int,
        opts: WriteOptions,
        at_ms: int,
        snapshot: str | None,
    ) -> None:
        """Append the revision (history and change feed) and queue its webhook deliveries,
        in the write's transaction (the outbox, see `sql_outbox`)."""
        operation = _column_text(opts.operation or action)
        actor = _column_text(opts.actor)
        sql = self._sql_cache.get("insert_revision")
        if sql is None:
            sql = self._sql_cache["insert_revision"] = self._insert_revision_sql()
        cursor = self.db.execute_sql(
            sql, (registry, profile, version, action, operation, actor, at_ms, snapshot)
        )
        ((change_id, any_active),) = cursor.fetchall()  # all: SQLite ends the statement
        change = Change(int(change_id), registry, profile, operation, version, actor, at_ms)
        self._queue_deliveries(change, action, any_active=bool(any_active))

    def _insert_revision_sql(self) -> str:
        """The revision INSERT, returning its change id and whether any webhook subscription
        is active (asked in the same statement: one statement fewer per write, and on
        SQLite one fewer while the write lock is held)."""
        return (
            f'INSERT INTO "{self.models.revision._meta.table_name}" ({REVISION_COLUMNS}) '
            f"VALUES ({', '.join([self.db.param] * 8)}) "
            f'RETURNING "id", {self._any_active_sql()}'
        )

    def _any_active_sql(self) -> str:
        return (
            f'EXISTS (SELECT 1 FROM "{self.outbox.subscription._meta.table_name}" '
            'WHERE "disabled_at_ms" IS NULL)'
        )

    def _queue_deliveries(self, change: Change, action: str, any_active: bool = True) -> None:
        """The change's webhook deliveries, in its transaction (`sql_outbox.fan_out`)."""
        event_type = event_type_of(change.profile, action, change.operation)
        if event_type is None:
            return
        self._queued(
            fan_out(
                self.outbox,
                message_id=f"msg_change_{change.id}",
                event_type=event_type,
                registries=(change.registry,),
                data=change_data(change),
                at_ms=change.at_ms,
                order_key=f"{change.registry}/{change.profile}",
                any_active=any_active,
            )
        )

    def notify(self, event_type: str, registries: tuple[str, ...], data: dict[str, Any]) -> None:
        """Queue a store-wide webhook event (an import's summary) in the current transaction."""
        self._check()
        at = now_ms()
        queued = fan_out(
            self.outbox,
            message_id=f"msg_{event_type.replace('.', '_')}_{uuid.uuid4().hex}",
            event_type=event_type,
            registries=registries,
            data=data,
            at_ms=at,
            order_key=event_type,
        )
        self._queued(queued)

    def _queued(self, count: int) -> None:
        """Note that the current write queued deliveries (`deliveries_queued` at its commit)."""
        if count:
            self._write_state.queued = True

    # --- registries ------------------------------------------------------------------------

    def list_registries(self) -> list[Registry]:
        self._check()
        R = self.models.registry
        rows = R.select(R.slug, R.data).order_by(R.slug).tuples()
        return [self._registry_of(slug, data) for slug, data in rows]

    def get_registry(self, slug: str) -> Registry | None:
        self._check()
        state = self._registry_state(str(slug))
        return None if state is None else self._registry_of(str(slug), state[1])

    def profile_counts(self) -> dict[str, int]:
        self._check()
        R, P = self.models.registry, self.models.profile
        query = (
            R.select(R.slug, pw.fn.COUNT(P.slug))
            .join(P, pw.JOIN.LEFT_OUTER, on=(P.registry == R.slug))
            .group_by(R.slug)
            .tuples()
        )
        return dict(query)

    def create_registry(self, registry: Registry, opts: WriteOptions) -> Registry:
        """Create a registry header; `registry.profiles` is ignored (use `create_profile`)."""
        slug = str(registry.slug)
        with self._write():
            if self._registry_exists(slug):
                raise AlreadyExists("registry", slug)
            self._check_version("registry", slug, opts.expected_version, 0)
            new = registry.header()
            new.slug = slug
            new.metadata = touch(None, registry.metadata, opts)
            row = registry_row(new)
            try:
                self.models.registry.insert(**row).execute()
            except pw.IntegrityError as exc:
                raise AlreadyExists("registry", slug) from exc
            meta = new.metadata
            self._record(slug, "", "create", meta.version, opts, meta.updated_at_ms, row["data"])
        return self._registry_of(slug, row["data"])

    def update_registry(self, registry: Registry, opts: WriteOptions) -> Registry:
        """Replace a registry header (profiles are ignored); the only write that moves the
        registry version."""
        slug = str(registry.slug)
        with self._write():
            data = self._until_written(
                "registry",
                slug,
                opts,
                lambda: self._try_update_registry(registry, slug, opts),
                lambda: self._registry_version(slug),
            )
        return self._registry_of(slug, data)

    def _try_update_registry(
        self, registry: Registry, slug: str, opts: WriteOptions
    ) -> tuple[int, str | None]:
        """One attempt of `update_registry`: (version read, stored data or None if lost)."""
        R = self.models.registry
        state = self._registry_state(slug)
        if state is None:
            raise RegistryNotFound(slug)
        version, data = state
        self._check_version("registry", slug, opts.expected_version, version)
        stored = self._registry_of(slug, data)
        stored.metadata.version = version  # the column is what writes are checked on
        new = registry.header()
        new.slug = slug
        new.metadata = touch(stored.metadata, registry.metadata, opts)
        row = registry_row(new)
        values = {k: v for k, v in row.items() if k != "slug"}
        if not R.update(**values).where(R.slug == slug, R.version == version).execute():
            return version, None
        meta = new.metadata
        self._record(slug, "", "update", meta.version, opts, meta.updated_at_ms, row["data"])
        return version, row["data"]

    def delete_registry(self, slug: str, opts: WriteOptions) -> None:
        """Delete a registry and its profiles (one change row for the registry)."""
        slug = str(slug)
        with self._write():
            self._until_written(
                "registry",
                slug,
                opts,
                lambda: self._try_delete_registry(slug, opts),
                lambda: self._registry_version(slug),
            )

    def _try_delete_registry(self, slug: str, opts: WriteOptions) -> tuple[int, bool | None]:
        """One attempt of `delete_registry`: (version read, True or None if lost)."""
        R, P = self.models.registry, self.models.profile
        state = self._registry_state(slug)
        if state is None:
            raise RegistryNotFound(slug)
        version = state[0]
        self._check_version("registry", slug, opts.expected_version, version)
        if not R.delete().where(R.slug == slug, R.version == version).execute():
            return version, None
        # Also covered by ON DELETE CASCADE; explicit so it never depends on it.
        P.delete().where(P.registry == slug).execute()
        self._record(slug, "", "delete", version, opts, now_ms(), None)
        return version, True

    def _until_written(
        self,
        resource: str,
        slug: str,
        opts: WriteOptions,
        attempt: Callable[[], tuple[int, T | None]],
        current_version: Callable[[], int | None],
    ) -> T:
        """The conditional-write loop every update and delete shares.

        `attempt` reads the row, checks it and runs one write conditioned on the version it
        read; it returns that version and its result, or None when the write matched no row
        (another writer got there first). A lost race raises when the caller asked for a
        version or the target is gone (`_lost_race`), else the attempt runs again on the new
        state, up to MAX_WRITE_ATTEMPTS times, then gives up with a VersionConflict.
        """
        version = 0
        for _ in range(MAX_WRITE_ATTEMPTS):
            version, result = attempt()
            if result is not None:
                return result
            self._lost_race(resource, slug, opts, current_version())
        raise VersionConflict(resource, slug, opts.expected_version, version)

    @staticmethod
    def _lost_race(resource: str, slug: str, opts: WriteOptions, actual: int | None) -> None:
        """A conditional write matched no row: another writer got there first. Raise when
        the caller asked for a version or the target is gone; otherwise let it retry."""
        if actual is None:
            raise RegistryNotFound(slug) if resource == "registry" else ProfileNotFound(slug)
        if opts.expected_version:
            raise VersionConflict(resource, slug, opts.expected_version, actual)

    # --- profiles --------------------------------------------------------------------------

    def list_profiles(self, registry: str, query: ProfileQuery) -> ProfilePage:
        """A keyset page (`domain/paging.py`): one indexed range read of `limit + 1` rows, the
        count of all matches, and (past the first page) the count of those before the page.
        `q` matches a casefolded substring of slug, display name, description or tags; `tag` one
        tag, case-insensitively."""
        self._check()
        registry = str(registry)
        P = self.models.profile
        cond = P.registry == registry
        if query.q:
            cond &= P.search_text.contains(_column_text(query.q.casefold()))
        if query.tag:
            finder = pw.fn.strpos if self.kind == "postgresql" else pw.fn.instr
            cond &= finder(P.tags_folded, f"\n{_column_text(query.tag.casefold())}\n") > 0
        sort, limit = query.sort, max(1, query.limit)
        column = {"display_name": P.sort_name, "updated": P.updated_ms}.get(sort)
        key = pw.Tuple(column, P.slug) if column is not None else P.slug

        def bound(cursor: str, field: str) -> Any:
            value, slug = decode_cursor(sort, cursor, field)
            return pw.Tuple(value, slug) if column is not None else slug

        def order(reverse: bool) -> list[Any]:
            fields = [column, P.slug] if column is not None else [P.slug]
            return [f.desc() if reverse else f.asc() for f in fields]

        forward = not query.descending
        if query.before:  # read backwards from the cursor, then turn the rows around
            edge = bound(query.before, "before")
            page_cond = cond & ((key < edge) if forward else (key > edge))
            reverse = True
        elif query.last:
            page_cond, reverse = cond, True
        else:
            page_cond, reverse = cond, False
            if query.after:
                edge = bound(query.after, "cursor")
                page_cond = cond & ((key > edge) if forward else (key < edge))
        rows = list(
            P.select(P.slug, P.data)
            .where(page_cond)
            .order_by(*order(reverse != query.descending))
            .limit(limit + 1)
            .tuples()
        )
        total = P.select(pw.fn.COUNT(pw.SQL("*"))).where(cond).scalar() or 0
        if not total and not self._registry_exists(registry):
            raise RegistryNotFound(registry)
        rows = rows[:limit]
        if reverse:
            rows.reverse()
        items = [self._profile_of(registry, slug, data) for slug, data in rows]
        if not items:
            return ProfilePage(items=[], total=total, offset=total if query.after else 0)
        first = cursor_of(items[0], sort)
        if query.last:
            offset = total - len(items)
        elif query.after or query.before:
            offset = self._count_before(cond, key, bound(first, "cursor"), forward)
        else:
            offset = 0
        return ProfilePage(
            items=items,
            next_cursor=cursor_of(items[-1], sort) if offset + len(items) < total else "",
            prev_cursor=first if offset > 0 else "",
            total=total,
            offset=offset,
        )

    def _count_before(self, cond: Any, key: Any, edge: Any, forward: bool) -> int:
        """Matches ahead of `edge` in the page order: the position of a page past the first."""
        P = self.models.profile
        ahead = (key < edge) if forward else (key > edge)
        return P.select(pw.fn.COUNT(pw.SQL("*"))).where(cond & ahead).scalar() or 0

    def list_tags(self, registry: str) -> list[str]:
        """Every tag of the registry's profiles, compared case-insensitively (`paging.distinct_tags`)."""
        self._check()
        registry = str(registry)
        P = self.models.profile
        rows = P.select(P.tags).where((P.registry == registry) & (P.tags != "")).tuples()
        tags = distinct_tags(text.strip("\n").split("\n") for (text,) in rows)
        if not tags and not self._registry_exists(registry):
            raise RegistryNotFound(registry)
        return tags

    def iter_profiles(self, registry: str) -> Iterator[Profile]:
        """All profiles in slug order, read in chunks (keyset pagination)."""
        self._check()
        registry = str(registry)
        if not self._registry_exists(registry):
            raise RegistryNotFound(registry)
        return self._iter_profiles(registry)

    def _iter_profiles(self, registry: str) -> Iterator[Profile]:
        P = self.models.profile
        after: str | None = None
        while True:
            self._check()
            query = P.select(P.slug, P.data).where(P.registry == registry)
            if after is not None:
                query = query.where(P.slug > after)
            rows = list(query.order_by(P.slug).limit(ITER_CHUNK).tuples())
            for slug, data in rows:
                yield self._profile_of(registry, slug, data)
            if len(rows) < ITER_CHUNK:
                return
            after = rows[-1][0]

    def get_profile(self, registry: str, slug: str) -> Profile | None:
        """The profile, or None when it (or its registry) does not exist."""
        self._check()
        registry, slug = str(registry), str(slug)
        P = self.models.profile
        row = self._fetchone(
            "get_profile",
            lambda: P.select(P.data).where(P.registry == "", P.slug == "").limit(1),
            (registry, slug, 1),
        )
        return None if row is None else self._profile_of(registry, slug, row[0])

    def get_registry_profile(
        self, registry: str, slug: str
    ) -> tuple[Registry | None, Profile | None]:
        """The registry and its profile in one query (a LEFT JOIN on the primary keys)."""
        self._check()
        registry, slug = str(registry), str(slug)
        R, P = self.models.registry, self.models.profile
        row = self._fetchone(
            "registry_profile",
            lambda: (
                R.select(R.data, P.data)
                .join(P, pw.JOIN.LEFT_OUTER, on=(P.registry == R.slug) & (P.slug == ""))
                .where(R.slug == "")
                .limit(1)
            ),
            (slug, registry, 1),
        )
        if row is None:
            return None, None
        reg = self._registry_of(registry, row[0])
        return reg, None if row[1] is None else self._profile_of(registry, slug, row[1])

    def get_profiles(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Profile]:
        """The profiles of several `(registry, slug)` keys that exist, in one query per
        `MANY_CHUNK` keys (a stack's layers are read a level at a time, not one by one)."""
        self._check()
        wanted = list(dict.fromkeys((str(r), str(s)) for r, s in keys))
        out: dict[tuple[str, str], Profile] = {}
        for start in range(0, len(wanted), MANY_CHUNK):
            by_registry: dict[str, list[str]] = {}
            for r, s in wanted[start : start + MANY_CHUNK]:
                by_registry.setdefault(r, []).append(s)
            sql, params = self._many_sql(by_registry)
            for registry, slug, data in self.db.execute_sql(sql, params).fetchall():
                out[(registry, slug)] = self._profile_of(registry, slug, data)
        return out

    def _many_sql(self, by_registry: dict[str, list[str]]) -> tuple[str, list[str]]:
        """The query of `get_profiles`, its text cached by shape (peewee rebuilding it cost
        more than running it): `(registry = ? AND slug IN (?, ...)) OR ...`."""
        shape = tuple(len(slugs) for slugs in by_registry.values())
        name = f"get_profiles:{shape}"
        sql = self._sql_cache.get(name)
        if sql is None:
            mark = self.db.param
            parts = [
                f'("registry" = {mark} AND "slug" IN ({", ".join([mark] * n)}))' for n in shape
            ]
            sql = 'SELECT "registry", "slug", "data" FROM "profiles" WHERE ' + " OR ".join(parts)
            if len(self._sql_cache) < 256:  # shapes vary; the common ones fit
                self._sql_cache[name] = sql
        params = [v for r, slugs in by_registry.items() for v in (r, *slugs)]
        return sql, params

    def find_dependants(self, registry: str, slug: str | None) -> list[tuple[str, Profile]]:
        """`(registry, profile)` of every profile whose stack names this one (any profile of
        the registry when `slug` is None), sorted. The short `stack_refs` column (each
        target as a `\\n<registry>/<profile>\\n` line) finds the candidates without
        reading payloads; the decoded stacks decide."""
        self._check()
        target = (str(registry), None if slug is None else str(slug))
        needle = f"\n{target[0]}/" + ("" if target[1] is None else f"{target[1]}\n")
        finder = "strpos" if self.kind == "postgresql" else "instr"
        # the literal '' lets the planner use the partial index (a bound value would not)
        sql = (
            'SELECT "registry", "slug", "data" FROM "profiles" '
            f'WHERE "stack_refs" <> \'\' AND {finder}("stack_refs", {self.db.param}) > 0'
        )
        rows = sorted(self.db.execute_sql(sql, (needle,)).fetchall())
        out = []
        for reg, prof, data in rows:
            p = self._profile_of(reg, prof, data)
            if stacks_on(p, reg, target):
                out.append((reg, p))
        return out

    def profile_hashes(self, registry: str) -> dict[str, tuple[str, str]]:
        self._check()
        P = self.models.profile
        query = P.select(P.slug, P.content_hash, P.input_hash).where(P.registry == str(registry))
        return {slug: (content, given) for slug, content, given in query.tuples().iterator()}

    def create_profile(self, registry: str, profile: Profile, opts: WriteOptions) -> Profile:
        registry, slug = str(registry), str(profile.slug)
        with self._write():
            exists, version, _ = self._profile_state(registry, slug)
            if not exists:
                raise RegistryNotFound(registry)
            if version is not None:
                raise AlreadyExists("profile", slug)
            self._check_version("profile", slug, opts.expected_version, 0)
            new = profile.clone()
            new.slug = slug
            new.metadata = touch(None, profile.metadata, opts)
            row = profile_row(registry, new, opts.rules, opts.input_hashes.get(slug, ""))
            try:
                self.models.profile.insert(**row).execute()
            except pw.IntegrityError as exc:
                raise AlreadyExists("profile", slug) from exc
            meta = new.metadata
            self._record(
                registry, slug, "create", meta.version, opts, meta.updated_at_ms, row["data"]
            )
        return self._profile_of(registry, slug, row["data"])

    def create_profiles(
        self, registry: str, profiles: Sequence[Profile], opts: WriteOptions
    ) -> None:
        """`create_profile` of each profile, in order, in one transaction: the same rows
        (profile, revision, webhook deliveries), written by multi-row INSERTs of
        `BATCH_ROWS` rows instead of three statements per profile (peewee building each
        INSERT cost more than running it). All or nothing: any existing slug, a duplicate
        in the batch or a missing registry raises and writes none of them."""
        registry = str(registry)
        with self._write():
            if not self._registry_exists(registry):
                raise RegistryNotFound(registry)
            slugs = [str(p.slug) for p in profiles]
            taken = self._existing_slugs(registry, slugs)
            if taken:
                raise AlreadyExists("profile", min(taken))
            for slug in slugs:
                self._check_version("profile", slug, opts.expected_version, 0)
            rows = []
            for profile, slug in zip(profiles, slugs, strict=True):
                new = dataclasses.replace(
                    profile, slug=slug, metadata=touch(None, profile.metadata, opts)
                )
                rows.append(profile_row(registry, new, opts.rules, opts.input_hashes.get(slug, "")))
            operation, actor = _column_text(opts.operation or "create"), _column_text(opts.actor)
            # imports report one summary event, not one per profile (`event_type_of`)
            events = event_type_of(slugs[0] if slugs else "", "create", operation) is not None
            any_active = events and self._any_subscription_active()
            for start in range(0, len(rows), BATCH_ROWS):
                chunk = rows[start : start + BATCH_ROWS]
                try:
                    self._insert_rows(self.models.profile._meta.table_name, chunk)
                except pw.IntegrityError as exc:
                    raise AlreadyExists("profile", _first_duplicate(slugs)) from exc
                revisions = [
                    {
                        "registry": registry,
                        "profile": row["slug"],
                        "version": row["version"],
                        "action": "create",
                        "operation": operation,
                        "actor": actor,
                        "at_ms": row["updated_ms"],
                        "snapshot": row["data"],
                    }
                    for row in chunk
                ]
                ids = self._insert_rows(
                    self.models.revision._meta.table_name, revisions, returning=True
                )
                if not any_active:
                    continue
                for change_id, rev in zip(ids, revisions, strict=True):
                    change = Change(
                        change_id,
                        registry,
                        rev["profile"],
                        operation,
                        rev["version"],
                        actor,
                        rev["at_ms"],
                    )
                    self._queue_deliveries(change, "create")

    def _existing_slugs(self, registry: str, slugs: Sequence[str]) -> set[str]:
        """Which of `slugs` the registry already holds (one query per `BATCH_ROWS`)."""
        P = self.models.profile
        out: set[str] = set()
        for start in range(0, len(slugs), BATCH_ROWS):
            chunk = list(slugs[start : start + BATCH_ROWS])
            query = P.select(P.slug).where(P.registry == registry, P.slug.in_(chunk)).tuples()
            out.update(slug for (slug,) in query)
        return out

    def _insert_rows(
        self, table: str, rows: list[dict[str, Any]], *, returning: bool = False
    ) -> list[int]:
        """One multi-row INSERT of `rows` (same keys each), its SQL text cached by row count;
        with `returning`, the new ids in row order (`RETURNING`, SQLite 3.35+ and PostgreSQL,
        which both return a VALUES list's rows in the order given)."""
        columns = list(rows[0])
        name = f"insert:{table}:{len(rows)}:{returning}"
        sql = self._sql_cache.get(name)
        if sql is None:
            one = "(" + ", ".join([self.db.param] * len(columns)) + ")"
            sql = (
                f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)}) '
                f"VALUES {', '.join([one] * len(rows))}"
            ) + (' RETURNING "id"' if returning else "")
            if len(self._sql_cache) < 256:
                self._sql_cache[name] = sql
        params = [row[c] for row in rows for c in columns]
        cursor = self.db.execute_sql(sql, params)
        return [int(r[0]) for r in cursor.fetchall()] if returning else []

    def _any_subscription_active(self) -> bool:
        S = self.outbox.subscription
        return bool(S.select(S.id).where(S.disabled_at_ms.is_null()).exists())

    def update_profile(self, registry: str, profile: Profile, opts: WriteOptions) -> Profile:
        """Replace a profile, whatever the registry size: the conditional UPDATE and the
        revision INSERT, on the version in `opts.stored` (the caller's read) or else on the
        row read first. On PostgreSQL the two are one statement, sent with the change-feed
        lock and also saying whether any webhook subscription is active
        (`_update_and_record`): one round trip between BEGIN and COMMIT, under the lock.

        On the caller's read the row is built (encoded, hashed) before the transaction, so
        SQLite's write lock is held for the statements alone; its `updated_at_ms` is then
        taken just before the lock, not under it."""
        registry, slug = str(registry), str(profile.slug)
        # the first attempt writes on what the caller read, its row built outside the lock
        stored = opts.stored
        first = None if stored is None else self._row_on(registry, profile, slug, opts, stored)
        known = iter([first])
        with self._write(savepoint=False, lock=False):  # the write's statement takes the lock
            data = self._until_written(
                "profile",
                slug,
                opts,
                lambda: self._try_update_profile(registry, profile, slug, opts, next(known, None)),
                lambda: self._profile_version(registry, slug),
            )
        return self._profile_of(registry, slug, data)

    def _row_on(
        self, registry: str, profile: Profile, slug: str, opts: WriteOptions, stored: Metadata
    ) -> tuple[int, dict[str, Any], Metadata]:
        """The row an update writes on the `stored` version (checked against the version the
        caller expects): that version, the row and its metadata."""
        self._check_version("profile", slug, opts.expected_version, stored.version)
        # a shallow copy: only slug and metadata differ, and the row is all that is kept
        new = dataclasses.replace(
            profile, slug=slug, metadata=touch(stored, profile.metadata, opts)
        )
        row = profile_row(registry, new, opts.rules, opts.input_hashes.get(slug, ""))
        return stored.version, row, new.metadata

    def _try_update_profile(
        self,
        registry: str,
        profile: Profile,
        slug: str,
        opts: WriteOptions,
        built: tuple[int, dict[str, Any], Metadata] | None,
    ) -> tuple[int, str | None]:
        """One attempt of `update_profile`: (version written on, stored data or None if
        lost). Without a row `built` on the caller's read it reads the row first; either way
        the UPDATE is conditioned on the version, so a stale read only loses the attempt."""
        if built is None:
            # PostgreSQL: the read takes no lock; the write's statement takes it (see there)
            exists, version, data = self._profile_state(registry, slug)
            if not exists:
                raise RegistryNotFound(registry)
            if version is None or data is None:
                raise ProfileNotFound(slug)
            stored = self._profile_of(registry, slug, data).metadata
            stored.version = version  # the column is what writes are checked on
            built = self._row_on(registry, profile, slug, opts, stored)
        version, row, meta = built
        values = [v for k, v in row.items() if k not in ("registry", "slug")]
        where = (registry, slug, version)
        if self.kind == "postgresql":
            return version, self._update_and_record(row, values, where, opts, meta)
        sql = self._sql_cache.get("update_profile")
        if sql is None:
            sql = self._sql_cache["update_profile"] = self._update_profile_sql(row)
        if not self.db.execute_sql(sql, (*values, *where)).rowcount:
            return version, None
        self._record(registry, slug, "update", meta.version, opts, meta.updated_at_ms, row["data"])
        return version, row["data"]

    def _update_profile_sql(self, row: dict[str, Any]) -> str:
        """`UPDATE profiles SET <every column of row but the key> WHERE registry, slug and
        version match` (the conditional write), built once per store."""
        param = self.db.param
        sets = ", ".join(f'"{k}" = {param}' for k in row if k not in ("registry", "slug"))
        return (
            f'UPDATE "{self.models.profile._meta.table_name}" SET {sets} '
            f'WHERE "registry" = {param} AND "slug" = {param} AND "version" = {param}'
        )

    def _update_and_record(
        self,
        row: dict[str, Any],
        values: list[Any],
        where: tuple[str, str, int],
        opts: WriteOptions,
        meta: Metadata,
    ) -> str | None:
        """PostgreSQL: the conditional UPDATE and its revision INSERT in one statement (a
        data-modifying CTE: no revision when the UPDATE matched no row), returning the change
        id and whether any webhook subscription is active; the stored data, or None when
        another writer got there first.

        The change-feed lock (`_write`) is taken by a statement sent in the same round trip,
        just before the UPDATE (psycopg2 sends both as one query): the lock, which serializes
        writers until they commit, is then held for this statement and the COMMIT only, not
        for the row read before it. No row lock is taken before the advisory lock, so writers
        stay deadlock-free. The CTE is a prepared statement (planning it cost more than
        running it)."""
        sql = self._sql_cache.get("update_and_record")
        if sql is None:
            param = self.db.param
            sql = self._sql_cache["update_and_record"] = (
                f'WITH u AS ({self._update_profile_sql(row)} RETURNING "data"), '
                f'r AS (INSERT INTO "{self.models.revision._meta.table_name}" '
                f'({REVISION_COLUMNS}) SELECT {", ".join([param] * 7)}, u."data" FROM u '
                'RETURNING "id") '
                f'SELECT r."id", {self._any_active_sql()} FROM r'
            )
        registry, slug, _ = where
        operation, actor = _column_text(opts.operation or "update"), _column_text(opts.actor)
        revision = (registry, slug, meta.version, "update", operation, actor, meta.updated_at_ms)
        params: tuple[Any, ...] = (*values, *where, *revision)
        sql = self._prepared("update_and_record", sql, len(params))
        if self._change_lock_needed():
            sql = f"SELECT pg_advisory_xact_lock({CHANGE_LOCK_KEY}); {sql}"
            self._change_lock_taken()
        written = self.db.execute_sql(sql, params).fetchone()
        if written is None:
            return None
        change_id, any_active = written
        change = Change(
            change_id, registry, slug, operation, meta.version, actor, meta.updated_at_ms
        )
        self._queue_deliveries(change, "update", any_active=bool(any_active))
        return str(row["data"])

    def delete_profile(self, registry: str, slug: str, opts: WriteOptions) -> None:
        """Delete a profile. The registry's default is left alone: the service decides."""
        registry, slug = str(registry), str(slug)
        with self._write():
            self._until_written(
                "profile",
                slug,
                opts,
                lambda: self._try_delete_profile(registry, slug, opts),
                lambda: self._profile_version(registry, slug),
            )

    def _try_delete_profile(
        self, registry: str, slug: str, opts: WriteOptions
    ) -> tuple[int, bool | None]:
        """One attempt of `delete_profile`: (version read, True or None if lost)."""
        P = self.models.profile
        exists, version, _ = self._profile_state(registry, slug)
        if not exists:
            raise RegistryNotFound(registry)
        if version is None:
            raise ProfileNotFound(slug)
        self._check_version("profile", slug, opts.expected_version, version)
        deleted = (
            P.delete().where(P.registry == registry, P.slug == slug, P.version == version).execute()
        )
        if not deleted:
            return version, None
        self._record(registry, slug, "delete", version, opts, now_ms(), None)
        return version, True

    def _profile_version(self, registry: str, slug: str) -> int | None:
        P = self.models.profile
        rows = P.select(P.version).where(P.registry == registry, P.slug == slug).tuples()
        row = next(iter(rows.limit(1)), None)
        return None if row is None else row[0]

    # --- history and change feed -----------------------------------------------------------

    def list_revisions(self, registry: str, profile: str, limit: int = 100) -> list[Revision]:
        """Newest first, since the latest create of that profile (a deleted and recreated
        slug starts a fresh history). `profile` "" lists registry-level writes (snapshots are
        not returned for those)."""
        self._check()
        registry, profile = str(registry), str(profile)
        V = self.models.revision
        last = V.alias()
        start = last.select(pw.fn.COALESCE(pw.fn.MAX(last.id), 0)).where(
            last.registry == registry, last.profile == profile, last.action == "create"
        )
        rows = (
            V.select()
            .where(V.registry == registry, V.profile == profile, V.id >= start)
            .order_by(V.id.desc())
            .limit(max(1, limit))
        )
        return [self._revision_of(row) for row in rows]

    def get_revision(self, registry: str, profile: str, revision_id: int) -> Revision | None:
        self._check()
        if not 0 <= revision_id <= MAX_ID:
            return None
        V = self.models.revision
        rows = V.select().where(
            V.id == revision_id, V.registry == str(registry), V.profile == str(profile)
        )
        row = next(iter(rows.limit(1)), None)
        return None if row is None else self._revision_of(row)

    def list_deleted_profiles(self, registry: str, limit: int = 100) -> list[Revision]:
        """The delete revisions of profiles deleted from `registry` and not created again,
        newest first (only since the registry itself was last created).

        Reads the delete revisions newest first through their own index
        (`revisions_deletions`), each checked for a later revision of its profile on the
        `(registry, profile, id)` index: the cost follows the deletions shown, not the
        registry's history."""
        self._check()
        registry = str(registry)
        V = self.models.revision
        born = V.alias()
        since = born.select(pw.fn.COALESCE(pw.fn.MAX(born.id), 0)).where(
            born.registry == registry, born.profile == "", born.action == "create"
        )
        later = V.alias()
        recreated = later.select(later.id).where(
            later.registry == V.registry, later.profile == V.profile, later.id > V.id
        )
        rows = (
            V.select()
            .where(
                V.registry == registry,
                V.action == "delete",
                V.profile != "",
                V.id > since,
                ~pw.fn.EXISTS(recreated),
            )
            .order_by(V.id.desc())
            .limit(max(1, limit))
        )
        return [self._revision_of(row) for row in rows]

    def list_changes(
        self, after: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> list[Change]:
        """Changes with id > `after`, oldest first (or the newest, newest first)."""
        self._check()
        if after >= MAX_ID:
            return []
        V = self.models.revision
        rows = (
            V.select(V.id, V.registry, V.profile, V.operation, V.version, V.actor, V.at_ms)
            .where(V.id > after)
            .order_by(V.id.desc() if newest_first else V.id)
            .limit(max(1, limit))
            .tuples()
        )
        return [Change(*row) for row in rows]

    def latest_change_id(self) -> int:
        """The newest change id (0 for none): asked by every ETag and cached page, so a hot
        read (SQL built once, prepared on PostgreSQL)."""
        self._check()
        V = self.models.revision
        row = self._fetchone("latest_change_id", lambda: V.select(pw.fn.MAX(V.id)), ())
        return (row[0] if row else 0) or 0


__all__ = [
    "CorruptRecord",
    "PooledConnections",
    "SQLStore",
    "connect_database",
    "profile_row",
    "registry_row",
]
