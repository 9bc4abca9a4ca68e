"""`Store.create_profiles`, the batched create of imports: the rows it writes (profiles,
history and change feed, webhook deliveries) are those of `create_profile` one by one, and a
failure anywhere in the batch writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from registry.domain.errors import AlreadyExists, RegistryNotFound, VersionConflict
from registry.domain.model import Metadata, Profile, ProfileRef, Registry
from registry.domain.ports import WriteOptions
from registry.domain.webhooks import Subscription
from registry.store import open_store
from registry.store.sql_webhooks import SQLWebhookStore
from tests.conftest import POSTGRES_URL, SQL_BACKENDS

IMPORT = WriteOptions(actor="ci", source="import", keep_metadata=True, operation="import")
TABLES = {
    "profiles": "registry, slug",
    "revisions": "id",
    "webhook_deliveries": "id",
}


def profiles(n: int) -> list[Profile]:
    out = []
    for i in range(n):
        meta = Metadata(version=1 + i % 3, created_at_ms=1_000 + i, updated_at_ms=2_000 + i)
        meta.tags = ["bulk", f"t{i % 2}"]
        p = Profile(slug=f"p-{i:04d}", display_name=f"P {i}", description="d", metadata=meta)
        if i % 5 == 0:
            p.stack = [ProfileRef(profile_slug="p-0001")]
        out.append(p)
    return out


@pytest.fixture(params=SQL_BACKENDS)
def twin_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple]:
    """Two fresh SQL stores of one backend, each with registry `r` and an active webhook
    subscription (so deliveries are written too)."""
    cleanup = []
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / f'{n}.db'}" for n in ("a", "b")]
    else:
        import psycopg2

        conn = psycopg2.connect(POSTGRES_URL)
        conn.autocommit = True
        urls = []
        for _ in range(2):
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with conn.cursor() as cur:
                cur.execute(f'CREATE SCHEMA "{schema}"')
            cleanup.append(schema)
            sep = "&" if "?" in POSTGRES_URL else "?"
            urls.append(f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={schema}')}")
    stores = [open_store(url) for url in urls]
    for s in stores:
        SQLWebhookStore(s.db, s.kind).add_subscription(
            Subscription(
                id=0, url="https://example.com/", registry="", events=(), secret="whsec_AA=="
            )
        )
        s.create_registry(Registry(slug="r"), WriteOptions(actor="ci"))
    yield tuple(stores)
    for s in stores:
        s.close()
    if cleanup:
        with conn.cursor() as cur:
            for schema in cleanup:
                cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def dump(store, table: str, skip: tuple[str, ...] = ()) -> list[tuple]:
    cursor = store.db.execute_sql(f"SELECT * FROM {table} ORDER BY {TABLES[table]}")
    names = [c[0] for c in cursor.description]
    keep = [i for i, n in enumerate(names) if n not in skip]
    return [tuple(row[i] for i in keep) for row in cursor.fetchall()]


def rows_of(store) -> dict[str, list[tuple]]:
    # the registry's own create happened at a different millisecond in each store
    return {
        "profiles": dump(store, "profiles"),
        "revisions": [r for r in dump(store, "revisions") if r[2] != ""],
        "webhook_deliveries": dump(store, "webhook_deliveries")[1:],
    }


@pytest.mark.parametrize(
    ("opts", "deliveries"),
    [(IMPORT, 0), (WriteOptions(actor="ci", source="api", keep_metadata=True), 450)],
    ids=["import", "create"],
)
def test_batched_create_writes_the_rows_of_one_by_one_creates(twin_stores, opts, deliveries):
    """Imports queue no per-profile webhook event (one summary instead); other operations
    queue `profile.created` per profile, as `create_profile` does."""
    batched, single = twin_stores
    items = profiles(450)  # more than one multi-row INSERT
    batched.create_profiles("r", items, opts)
    for p in items:
        single.create_profile("r", p, opts)
    got, want = rows_of(batched), rows_of(single)
    assert len(got["profiles"]) == 450
    assert len(got["revisions"]) == 450
    assert len(got["webhook_deliveries"]) == deliveries
    assert got == want
    assert batched.list_changes(after=1, limit=5) == single.list_changes(after=1, limit=5)
    assert batched.get_profile("r", "p-0005") == single.get_profile("r", "p-0005")


def test_a_conflict_mid_batch_writes_nothing(sql_store):
    sql_store.create_registry(Registry(slug="r"), WriteOptions())
    sql_store.create_profile("r", Profile(slug="p-0300"), WriteOptions())
    before = sql_store.latest_change_id()
    with pytest.raises(AlreadyExists, match="p-0300"):
        sql_store.create_profiles("r", profiles(450), IMPORT)
    assert sql_store.latest_change_id() == before
    assert [p.slug for p in sql_store.iter_profiles("r")] == ["p-0300"]


def test_a_duplicate_inside_the_batch_writes_nothing(store):
    store.create_registry(Registry(slug="r"), WriteOptions())
    items = profiles(300)
    items.append(Profile(slug="p-0250"))  # in the second INSERT of the SQL store
    before = store.latest_change_id()
    with pytest.raises(AlreadyExists, match="p-0250"):
        store.create_profiles("r", items, IMPORT)
    assert list(store.iter_profiles("r")) == []
    assert store.latest_change_id() == before


def test_a_failed_batch_inside_a_group_rolls_back_with_it(store):
    store.create_registry(Registry(slug="r"), WriteOptions())
    with pytest.raises(AlreadyExists), store.atomic():
        store.create_profiles("r", profiles(3), IMPORT)
        store.create_profiles("r", profiles(1), IMPORT)
    assert list(store.iter_profiles("r")) == []


def test_missing_registry_and_expected_version(store):
    with pytest.raises(RegistryNotFound):
        store.create_profiles("nope", profiles(2), IMPORT)
    store.create_registry(Registry(slug="r"), WriteOptions())
    with pytest.raises(VersionConflict):
        store.create_profiles("r", profiles(2), WriteOptions(expected_version=3))
    assert list(store.iter_profiles("r")) == []


def test_created_profiles_read_back_as_created_one_by_one(store):
    store.create_registry(Registry(slug="r"), WriteOptions())
    items = profiles(3)
    store.create_profiles("r", items, WriteOptions(actor="alice"))
    got = store.get_profile("r", "p-0002")
    assert got is not None and got.metadata.version == 1  # a fresh history without keep
    assert got.metadata.created_by == "alice" and got.metadata.tags == ["bulk", "t0"]
    assert items[2].metadata.version == 3  # the caller's objects are left alone
