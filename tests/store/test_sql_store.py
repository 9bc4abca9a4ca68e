"""SQL-store specifics: migrations, stored rows, statement counts, SQLite/PostgreSQL setup."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

from registry.domain.errors import AlreadyExists, StoreUnavailable, VersionConflict
from registry.domain.model import Metadata, Profile, Registry
from registry.domain.ports import ProfileQuery, WriteOptions
from registry.store import open_store
from registry.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    SchemaTooNew,
    _schema_version_model,
    current_version,
    migrate,
)
from registry.store.sql_store import CorruptRecord, SQLStore, connect_database, profile_row

W = WriteOptions()


@contextmanager
def statements(store: SQLStore) -> Iterator[list[str]]:
    """The SQL statements the store runs inside the block (COMMIT not included; on PostgreSQL
    a transaction's BEGIN is sent with its first statement)."""
    seen: list[str] = []

    def hook(event) -> None:
        seen.append(event.sql)

    store.db.query_hooks.append(hook)
    try:
        yield seen
    finally:
        store.db.query_hooks.remove(hook)


def seed(store: SQLStore, registry: str, count: int) -> None:
    """`count` profiles in one transaction with multi-row inserts (fast, no revisions)."""
    store.create_registry(Registry(slug=registry), W)
    model = store.models.profile
    meta = Metadata(version=1, created_at_ms=1, updated_at_ms=1)
    with store.atomic():
        batch = []
        for i in range(count):
            batch.append(profile_row(registry, Profile(slug=f"p{i:05d}", metadata=meta)))
            if len(batch) == 1000:
                model.insert_many(batch).execute()
                batch = []
        if batch:
            model.insert_many(batch).execute()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no store opened on it yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    return request.getfixturevalue("pg_url")


# --- migrations ------------------------------------------------------------------------------


def test_migrating_twice_is_a_noop(sql_store: SQLStore, reopen) -> None:
    """F3."""
    sql_store.create_registry(Registry(slug="default"), W)
    sql_store.create_profile("default", Profile(slug="agent"), W)
    assert sql_store.schema_version == LATEST_VERSION
    assert migrate(sql_store.db) == LATEST_VERSION
    assert migrate(sql_store.db) == LATEST_VERSION
    applied = _schema_version_model(sql_store.db)  # the one model of the table
    rows = applied.select().order_by(applied.version)
    assert [(r.version, r.name) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]
    second = reopen(sql_store)
    try:
        assert second.get_profile("default", "agent") == sql_store.get_profile("default", "agent")
    finally:
        second.close()


def _insert(db, table: str, row: dict) -> None:
    marks = ", ".join([db.param] * len(row))
    db.execute_sql(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", list(row.values()))


def db_row(store: SQLStore, sql: str) -> tuple:
    return store.db.execute_sql(sql).fetchone()


def test_an_old_database_upgrades_on_open_without_data_loss(blank_url: str) -> None:
    """A version-1 database (before `search_text`) with data opens, upgrades and works."""
    db, kind, _ = connect_database(blank_url)
    assert migrate(db, target=1) == 1
    assert current_version(db) == 1
    header = '{"slug":"default","default_profile_slug":"agent","metadata":{"version":1}}'
    data = '{"slug":"agent","display_name":"Straße Agent","metadata":{"version":4,"tags":["t"]}}'
    times = {"created_ms": 5, "updated_ms": 6}
    _insert(
        db,
        "registries",
        {"slug": "default", "default_profile_slug": "agent", "version": 1, "data": header}
        | {"display_name": "", "description": ""}
        | times,
    )
    _insert(
        db,
        "profiles",
        {"registry": "default", "slug": "agent", "display_name": "Straße Agent", "version": 4}
        | {"description": "", "tags": "\nt\n", "data": data}
        | times,
    )
    _insert(
        db,
        "revisions",
        {"registry": "default", "profile": "agent", "version": 4, "action": "create"}
        | {"operation": "import", "actor": "old", "at_ms": 6, "snapshot": data},
    )
    db.close()

    store = open_store(blank_url)
    try:
        assert isinstance(store, SQLStore) and store.kind == kind
        assert store.schema_version == LATEST_VERSION
        agent = store.get_profile("default", "agent")
        assert (agent.display_name, agent.metadata.version) == ("Straße Agent", 4)
        assert store.get_registry("default").default_profile_slug == "agent"
        # the new column was backfilled: casefolded search finds the old row
        page = store.list_profiles("default", ProfileQuery(q="STRASSE", tag="t"))
        assert [x.slug for x in page.items] == ["agent"]
        # v5 backfilled the sort name and the folded tags
        page = store.list_profiles("default", ProfileQuery(tag="T", sort="display_name"))
        assert [x.slug for x in page.items] == ["agent"]
        (sort_name,) = db_row(store, "SELECT sort_name FROM profiles WHERE slug = 'agent'")
        assert sort_name == "strasse agent"
        assert [r.operation for r in store.list_revisions("default", "agent")] == ["import"]
        agent.description = "after upgrade"
        updated = store.update_profile("default", agent, WriteOptions(expected_version=4))
        assert updated.metadata.version == 5
        assert store.list_profiles("default", ProfileQuery(q="after up")).total == 1
    finally:
        store.close()


def test_a_newer_database_is_refused(sql_store: SQLStore) -> None:
    model = _schema_version_model(sql_store.db)
    model.create(version=LATEST_VERSION + 1, name="from the future", applied_at_ms=0)
    with pytest.raises(SchemaTooNew, match="newer than this program"):
        open_store(sql_store.url)


# --- rows ------------------------------------------------------------------------------------


def test_corrupt_payload_is_reported_not_guessed(sql_store: SQLStore) -> None:
    """F4 and F5: a truncated JSON payload, and a payload whose slug is not the row's."""
    sql_store.create_registry(Registry(slug="default"), W)
    sql_store.create_profile("default", Profile(slug="agent"), W)
    sql_store.create_profile("default", Profile(slug="other"), W)
    P = sql_store.models.profile
    P.update(data='{"slug": "agent", "runtime": {').where(P.slug == "agent").execute()
    with pytest.raises(CorruptRecord, match='profile "default/agent" has an invalid payload'):
        sql_store.get_profile("default", "agent")
    P.update(data='{"slug": "renamed"}').where(P.slug == "other").execute()
    with pytest.raises(CorruptRecord, match="slug mismatch payload='renamed' row='other'"):
        sql_store.get_profile("default", "other")


def test_hostile_text_is_written_safely_and_read_repaired(sql_store: SQLStore, reopen) -> None:
    """NUL (rejected by PostgreSQL text) and a lone surrogate (rejected by both drivers) only
    reach the JSON payload escaped; the query columns get a cleaned copy. The service refuses
    them on every write; what the store holds anyway is read with U+FFFD (README: Text)."""
    sql_store.create_registry(Registry(slug="default", display_name="a\x00b\ud800"), W)
    text = "nul\x00 surrogate\ud800 <script>'; DROP TABLE profiles; --"
    shown = "nul\ufffd surrogate\ufffd <script>'; DROP TABLE profiles; --"
    created = sql_store.create_profile(
        "default",
        Profile(slug="agent", display_name=text, description=text, metadata=Metadata(tags=[text])),
        W,
    )
    assert created.display_name in (text, shown)
    second = reopen(sql_store)
    try:
        got = second.get_profile("default", "agent")
        assert (got.display_name, got.description, got.metadata.tags) == (shown, shown, [shown])
        assert sorted(got.repaired) == ["description", "display_name", "metadata.tags[0]"]
        registry = second.get_registry("default")
        assert (registry.display_name, registry.repaired) == ("a\ufffdb\ufffd", ["display_name"])
        assert second.list_profiles("default", ProfileQuery(q="drop table")).total == 1
    finally:
        second.close()


def test_history_survives_the_registry_and_counts_are_one_query(sql_store: SQLStore) -> None:
    sql_store.create_registry(Registry(slug="default"), W)
    sql_store.create_registry(Registry(slug="other"), W)
    for slug in ("a", "b"):
        sql_store.create_profile("default", Profile(slug=slug), W)
    with statements(sql_store) as seen:
        assert sql_store.profile_counts() == {"default": 2, "other": 0}
    assert len(seen) == 1
    before = sql_store.latest_change_id()
    sql_store.delete_registry("default", WriteOptions(actor="ops"))
    assert [c.operation for c in sql_store.list_changes(after=before)] == ["delete"]
    assert [r.operation for r in sql_store.list_revisions("default", "a")] == ["create"]


# --- cost of a write -------------------------------------------------------------------------


def update_statements(store: SQLStore, registry: str, *, known: bool = False) -> list[str]:
    """The statements of one profile update (BEGIN and COMMIT not included). `known` passes
    the metadata just read (`WriteOptions.stored`), as the service does."""
    profile = store.get_profile(registry, "p00003")
    profile.display_name = f"edited {known}"
    opts = WriteOptions(
        expected_version=profile.metadata.version,
        actor="bench",
        stored=profile.metadata if known else None,
    )
    with statements(store) as seen:
        store.update_profile(registry, profile, opts)
    if store.kind == "postgresql":  # BEGIN travels with the first statement: no round trip
        assert seen[0].startswith("BEGIN; "), seen
        seen[0] = seen[0].removeprefix("BEGIN; ")
    # PostgreSQL prepares a hot statement once per connection: not a cost of each write
    return [s for s in seen if not s.startswith("PREPARE ")]


def test_updating_one_profile_costs_the_same_in_a_huge_registry(sql_store: SQLStore) -> None:
    seed(sql_store, "small", 10)
    seed(sql_store, "huge", 10_000)
    assert sql_store.profile_counts() == {"huge": 10_000, "small": 10}
    for known in (False, True):
        small = update_statements(sql_store, "small", known=known)
        huge = update_statements(sql_store, "huge", known=known)
        assert len(small) == len(huge), huge
        if sql_store.kind == "postgresql":
            # the read (a prepared statement) unless the caller gave what it read; then in
            # one round trip the advisory lock and UPDATE + revision + "any subscription?"
            # (prepared too: `pr_update_and_record`); with no subscription, no fan-out read
            *reads, last = huge
            assert reads == ([] if known else [reads[0]]), huge
            assert all("pr_profile_state" in r for r in reads)
            lock, write = last.split("; ")
            assert "pg_advisory_xact_lock" in lock
            assert write.startswith("EXECUTE pr_update_and_record")
            (prepared,) = sql_store.db.execute_sql(
                "SELECT statement FROM pg_prepared_statements WHERE name = 'pr_update_and_record'"
            ).fetchone()
            assert "webhook_subscriptions" in prepared
        else:
            # (the read,) UPDATE, the revision asking whether any subscription is active
            expected = ["UPDATE", "INSERT"] if known else ["SELECT", "UPDATE", "INSERT"]
            assert [s.split()[0] for s in huge] == expected
            assert "webhook_subscriptions" in huge[-1]
        assert sql_store.get_profile("huge", "p00003").display_name == f"edited {known}"
    page = sql_store.list_profiles("huge", ProfileQuery(limit=50, after="p09990"))
    assert (len(page.items), page.total, page.next_cursor) == (9, 10_000, "")


def test_an_update_on_a_stale_read_retries_or_conflicts_as_a_fresh_one(
    sql_store: SQLStore,
) -> None:
    """`WriteOptions.stored` older than the row: the conditional UPDATE matches nothing, so an
    unconditional write reads the row and lands on the new version, and a write that asked
    for the old version conflicts; no revision is written for the lost attempt."""
    sql_store.create_registry(Registry(slug="r"), W)
    first = sql_store.create_profile("r", Profile(slug="p", display_name="v1"), W)
    stale = first.metadata
    moved = first.clone()
    moved.display_name = "v2"
    sql_store.update_profile("r", moved, W)  # version 2, behind the stale read's back

    edit = first.clone()
    edit.display_name = "v3"
    with pytest.raises(VersionConflict):
        sql_store.update_profile("r", edit, WriteOptions(expected_version=1, stored=stale))
    assert [r.version for r in sql_store.list_revisions("r", "p")] == [2, 1]

    written = sql_store.update_profile("r", edit, WriteOptions(stored=stale))
    assert (written.metadata.version, written.display_name) == (3, "v3")
    assert written.metadata.created_at_ms == first.metadata.created_at_ms
    assert [r.version for r in sql_store.list_revisions("r", "p")] == [3, 2, 1]


# --- cost of a read --------------------------------------------------------------------------


def test_a_profile_and_its_registry_are_one_query(sql_store: SQLStore) -> None:
    sql_store.create_registry(Registry(slug="team", display_name="Team"), W)
    sql_store.create_profile("team", Profile(slug="a", display_name="A"), W)
    sql_store.get_registry_profile("team", "a")  # PostgreSQL prepares it on first use
    with statements(sql_store) as seen:
        reg, profile = sql_store.get_registry_profile("team", "a")
    assert len(seen) == 1
    assert reg is not None and profile is not None
    assert (reg.display_name, reg.profiles, profile.display_name) == ("Team", {}, "A")
    reg, profile = sql_store.get_registry_profile("team", "missing")
    assert reg is not None and reg.slug == "team" and profile is None
    assert sql_store.get_registry_profile("nope", "a") == (None, None)


@pytest.mark.postgres
def test_hot_reads_are_prepared_once_per_postgresql_connection(pg_url: str) -> None:
    store = SQLStore(pg_url)
    try:
        store.create_registry(Registry(slug="team"), W)
        store.create_profile("team", Profile(slug="a", display_name="A"), W)
        with statements(store) as first:
            store.get_profile("team", "a")
        with statements(store) as second:
            assert store.get_profile("team", "a").display_name == "A"
        assert [s.split()[0] for s in first] == ["PREPARE", "EXECUTE"]
        assert [s.split()[0] for s in second] == ["EXECUTE"]
        # A new connection (after a pool close or an outage) has no prepared statements.
        store.disconnect()
        with statements(store) as third:
            assert store.get_profile("team", "a").display_name == "A"
        assert [s.split()[0] for s in third] == ["PREPARE", "EXECUTE"]
    finally:
        store.close()


def _bump_behind_the_store(store: SQLStore, registry: str, slug: str) -> Iterator[None]:
    """A hook that, right after the store reads the profile's row, moves its version in the
    same transaction, as a writer outside the store's locks would: the store's conditional
    UPDATE must then match nothing."""
    fired = []

    def hook(event) -> None:
        # the row read: `SELECT ... "profiles"` on SQLite, a prepared statement on PostgreSQL
        sql = event.sql.removeprefix("BEGIN; ")  # PostgreSQL: sent with the first statement
        read = sql.startswith("EXECUTE pr_profile_state") or (
            sql.startswith("SELECT") and '"profiles"' in sql
        )
        if fired or not read:
            return
        fired.append(event.sql)
        store.db.execute_sql(
            f'UPDATE "profiles" SET "version" = "version" + 1 WHERE "registry" = {store.db.param}'
            f' AND "slug" = {store.db.param}',
            (registry, slug),
        )

    return hook


def test_a_write_that_loses_the_race_in_the_database_writes_no_revision(
    sql_store: SQLStore,
) -> None:
    sql_store.create_registry(Registry(slug="r"), W)
    created = sql_store.create_profile("r", Profile(slug="p"), W)
    edited = created.clone()
    edited.display_name = "edited"
    changes = sql_store.latest_change_id()
    hook = _bump_behind_the_store(sql_store, "r", "p")
    sql_store.db.query_hooks.append(hook)
    try:
        with pytest.raises(VersionConflict) as lost:
            sql_store.update_profile("r", edited, WriteOptions(expected_version=1))
    finally:
        sql_store.db.query_hooks.remove(hook)
    assert (lost.value.expected, lost.value.actual) == (1, 2)
    assert sql_store.latest_change_id() == changes  # rolled back, nothing recorded
    assert sql_store.get_profile("r", "p").display_name == ""
    # unconditional: the lost attempt is retried on the new state, one revision in all
    hook = _bump_behind_the_store(sql_store, "r", "p")
    sql_store.db.query_hooks.append(hook)
    try:
        written = sql_store.update_profile("r", edited, W)
    finally:
        sql_store.db.query_hooks.remove(hook)
    assert (written.display_name, written.metadata.version) == ("edited", 3)
    assert [c.version for c in sql_store.list_changes(after=changes)] == [3]


def test_an_update_queues_its_webhook_delivery_in_its_transaction(sql_store: SQLStore) -> None:
    from registry.domain.webhooks import Subscription
    from registry.store.sql_webhooks import SQLWebhookStore

    hooks = SQLWebhookStore(sql_store.db, sql_store.kind)
    sql_store.create_registry(Registry(slug="r"), W)
    sql_store.create_profile("r", Profile(slug="p"), W)
    edited = sql_store.get_profile("r", "p")
    edited.display_name = "no subscription yet"
    sql_store.update_profile("r", edited, W)
    assert hooks.m.delivery.select().count() == 0
    hooks.add_subscription(
        Subscription(id=0, url="https://example.com/", registry="", events=(), secret="whsec_AA==")
    )
    edited.display_name = "rolled back"
    with pytest.raises(RuntimeError), sql_store.atomic():
        sql_store.update_profile("r", edited, W)
        raise RuntimeError("abort the group")
    assert hooks.m.delivery.select().count() == 0
    edited.display_name = "delivered"
    with sql_store.atomic():  # inside a group, as the service writes
        written = sql_store.update_profile("r", edited, W)
    rows = list(hooks.m.delivery.select())
    assert [(r.event_type, r.order_key) for r in rows] == [("profile.updated", "r/p")]
    change = sql_store.list_changes(after=0)[-1]
    assert (change.version, rows[0].message_id) == (
        written.metadata.version,
        f"msg_change_{change.id}",
    )


def test_a_group_takes_the_change_lock_once_and_again_after_a_rolled_back_savepoint(
    sql_store: SQLStore,
) -> None:
    if sql_store.kind != "postgresql":
        pytest.skip("the change-feed lock is PostgreSQL's")
    from registry.domain.errors import AlreadyExists

    sql_store.create_registry(Registry(slug="r"), W)
    for slug in ("a", "b"):
        sql_store.create_profile("r", Profile(slug=slug), W)

    def locks(seen: list[str]) -> int:
        # PREPARE only plans a statement; the lock is taken by the statements that run
        run = [sql for sql in seen if not sql.startswith("PREPARE ")]
        return sum("pg_advisory_xact_lock" in sql for sql in run)

    a, b = sql_store.get_profile("r", "a"), sql_store.get_profile("r", "b")
    a.display_name = b.display_name = "edited"
    with statements(sql_store) as seen, sql_store.atomic():
        sql_store.update_profile("r", a, W)
        sql_store.update_profile("r", b, W)
    assert locks(seen) == 1  # held until the group commits
    with statements(sql_store) as seen, sql_store.atomic():
        with pytest.raises(AlreadyExists):  # its savepoint rolls back, releasing the lock
            sql_store.create_profile("r", Profile(slug="a"), W)
        a.display_name = "again"
        sql_store.update_profile("r", a, W)
    assert locks(seen) == 2
    assert sql_store.get_profile("r", "a").display_name == "again"


# --- the database decides --------------------------------------------------------------------


@pytest.mark.postgres
def test_conditional_update_catches_a_write_between_read_and_update(pg_url: str) -> None:
    """A writer that bypasses this program (another connection, no advisory lock) bumps the
    version right after the store read it: the conditional UPDATE matches no row, so a
    conditional write reports the conflict and an unconditional one re-reads and retries."""
    store = open_store(pg_url)
    other = psycopg2.connect(pg_url)
    other.autocommit = True
    try:
        store.create_registry(Registry(slug="default"), W)
        store.create_profile("default", Profile(slug="agent"), W)
        armed = {"on": True}

        def interfere(event) -> None:
            # the read of the profile (a prepared statement, `EXECUTE pr_profile_state`)
            if armed["on"] and "EXECUTE pr_profile_state" in event.sql:
                armed["on"] = False
                with other.cursor() as cur:
                    cur.execute("UPDATE profiles SET version = version + 10 WHERE slug = 'agent'")

        store.db.query_hooks.append(interfere)
        with pytest.raises(VersionConflict) as exc:
            store.update_profile("default", Profile(slug="agent"), WriteOptions(expected_version=1))
        assert (exc.value.expected, exc.value.actual) == (1, 11)

        armed["on"] = True
        updated = store.update_profile("default", Profile(slug="agent"), W)
        assert updated.metadata.version == 22  # retried on 21 (the payload said 11)
        assert updated.metadata.version == store.models.profile.get().version
    finally:
        other.close()
        store.close()


# --- setup -----------------------------------------------------------------------------------


def test_sqlite_setup(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "registry.db"
    store = open_store(f"sqlite:///{path}")
    try:
        assert path.exists()
        assert store.url == f"sqlite:///{path}"
        assert store.kind == "sqlite"
        pragma = {
            name: store.db.execute_sql(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }
        assert pragma["journal_mode"] == "wal"
        assert pragma["busy_timeout"] >= 5000
        assert pragma["foreign_keys"] == 1
        assert pragma["synchronous"] == 1  # NORMAL
    finally:
        store.close()


def test_sqlite_memory_store() -> None:
    store = open_store("sqlite:///:memory:")
    try:
        store.create_registry(Registry(slug="default"), W)
        store.release()  # must not drop the only connection
        seen = []
        thread = threading.Thread(target=lambda: seen.append(store.get_registry("default")))
        thread.start()
        thread.join()
        assert seen[0].slug == "default"
    finally:
        store.close()


def test_release_closes_this_threads_connection_and_reconnects(sql_store: SQLStore) -> None:
    sql_store.create_registry(Registry(slug="default"), W)
    assert not sql_store.db.is_closed()
    sql_store.release()
    assert sql_store.db.is_closed()
    assert sql_store.get_registry("default") is not None
    with sql_store.atomic():
        sql_store.release()  # inside a transaction: keeps it
        sql_store.create_profile("default", Profile(slug="agent"), W)
    assert sql_store.get_profile("default", "agent") is not None
    sql_store.close()
    sql_store.release()


@pytest.mark.postgres
def test_begin_travels_with_the_first_statement_and_no_transaction_is_left_open(
    pg_url: str,
) -> None:
    """PostgreSQL: BEGIN is sent with a transaction's first statement (one round trip fewer);
    a transaction that sends nothing sends no COMMIT either, a failed one is rolled back, and
    the connection is idle after each (a connection left in a transaction would hold the
    change-feed lock and stall every writer)."""
    store = open_store(pg_url)
    idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
    try:
        with statements(store) as seen:
            with store.atomic():
                pass
        assert seen == []
        assert store.db.connection().get_transaction_status() == idle
        with statements(store) as seen, store.atomic():
            store.create_registry(Registry(slug="r"), W)
            store.create_profile("r", Profile(slug="p"), W)
        assert seen[0].startswith("BEGIN; ") and sum("BEGIN" in s for s in seen) == 1, seen
        assert store.db.connection().get_transaction_status() == idle
        with pytest.raises(AlreadyExists), store.atomic():
            store.create_registry(Registry(slug="r"), W)
        assert store.db.connection().get_transaction_status() == idle
        with statements(store) as seen:
            assert [r.slug for r in store.list_registries()] == ["r"]
        assert not any("BEGIN" in s for s in seen), seen  # a read outside one: none
        store.release()  # the connection back to the pool, then a write on a fresh one
        assert (
            store.update_profile("r", Profile(slug="p", display_name="x"), W).metadata.version == 2
        )
        assert store.db.connection().get_transaction_status() == idle
    finally:
        store.close()


def test_threads_use_their_own_connections(sql_store: SQLStore) -> None:
    sql_store.create_registry(Registry(slug="default"), W)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                sql_store.create_profile("default", Profile(slug=f"t{n}-{i}"), W)
            sql_store.release()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sql_store.profile_counts() == {"default": 40}
    ids = [c.id for c in sql_store.list_changes(limit=100)]
    assert len(ids) == 41 and len(set(ids)) == 41


def test_unsupported_urls() -> None:
    with pytest.raises(ValueError, match="unsupported store URL scheme"):
        open_store("mysql://localhost/x")
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store("sqlite://relative.db")


# --- outages ---------------------------------------------------------------------------------


def test_a_deleted_sqlite_file_refuses_reads_and_writes(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.create_registry(Registry(slug="r"), W)
        store.release()  # end of a request: the connection goes back to the pool
        backup = tmp_path / "same-file.db"
        backup.hardlink_to(db)
        db.unlink()
        with pytest.raises(StoreUnavailable, match="deleted or replaced") as caught:
            store.create_profile("r", Profile(slug="lost"), W)
        assert caught.value.retry_after is None  # waiting does not help
        store.release()
        with pytest.raises(StoreUnavailable):
            store.get_registry("r")  # a new request's first query
        assert not db.exists(), "an empty database was created in its place"
        # A file put in its place is another database: refused too.
        db.write_bytes(b"")
        store.release()
        with pytest.raises(StoreUnavailable):
            store.list_registries()
        db.unlink()
        db.hardlink_to(backup)  # the same file back: served again, nothing was written
        store.release()
        assert store.get_registry("r") is not None
        assert store.get_profile("r", "lost") is None
    finally:
        store.close()


def test_postgresql_unreachable_is_store_unavailable(pg_url: str) -> None:
    """Connection refused (nothing listens on the port) is an outage, not a crash."""
    from registry.bench.server import free_port

    store = open_store(pg_url)
    try:
        store.db.connect_params["port"] = free_port()  # the server "moved away"
        store.db.connect_params["host"] = "127.0.0.1"
        store.disconnect()
        with pytest.raises(StoreUnavailable, match="postgresql database is unavailable") as caught:
            store.get_registry("default")
        assert caught.value.retry_after == 5
    finally:
        store.close()


def test_migration_6_backfills_stack_targets(blank_url: str) -> None:
    """Profiles stored before `stack_refs` existed are found as dependants after upgrading."""
    db, _, _ = connect_database(blank_url)
    assert migrate(db, target=5) == 5
    header = '{"slug":"default","default_profile_slug":"base","metadata":{"version":1}}'
    _insert(
        db,
        "registries",
        {"slug": "default", "default_profile_slug": "base", "version": 1, "data": header}
        | {"display_name": "", "description": "", "created_ms": 1, "updated_ms": 1},
    )
    stacked = (
        '{"slug":"agent","stack":[{"profile_slug":"base"},'
        '{"registry_slug":"shared","profile_slug":"mw"}],"metadata":{"version":1}}'
    )
    for slug, data in (("base", '{"slug":"base","metadata":{"version":1}}'), ("agent", stacked)):
        _insert(
            db,
            "profiles",
            {"registry": "default", "slug": slug, "display_name": "", "version": 1}
            | {"description": "", "tags": "", "data": data, "created_ms": 1, "updated_ms": 1},
        )
    db.close()
    store = open_store(blank_url)
    try:
        refs = db_row(store, "SELECT stack_refs FROM profiles WHERE slug = 'agent'")[0]
        assert refs == "\ndefault/base\nshared/mw\n"
        assert [p.slug for _, p in store.find_dependants("default", "base")] == ["agent"]
        assert [p.slug for _, p in store.find_dependants("shared", None)] == ["agent"]
        assert store.find_dependants("default", "agent") == []
    finally:
        store.close()
