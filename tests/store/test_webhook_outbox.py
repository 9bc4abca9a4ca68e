"""The SQL outbox and its claiming on both SQL backends: deliveries are written in the
change's transaction, claims lease rows so no delivery goes to two workers, and on PostgreSQL a
claim skips rows another transaction holds (`FOR UPDATE SKIP LOCKED`) instead of waiting."""

from __future__ import annotations

import pytest

from registry.domain.errors import AlreadyExists
from registry.domain.model import Profile, Registry
from registry.domain.ports import WriteOptions
from registry.domain.webhooks import Subscription
from registry.store import open_store
from registry.store.sql_webhooks import SQLWebhookStore, open_webhook_store

OPTS = WriteOptions(actor="t")


def setup(store, profiles: int) -> SQLWebhookStore:
    hooks = SQLWebhookStore(store.db, store.kind)
    hooks.add_subscription(
        Subscription(id=0, url="https://example.com/", registry="", events=(), secret="whsec_AA==")
    )
    store.create_registry(Registry(slug="r"), OPTS)
    for i in range(profiles):
        store.create_profile("r", Profile(slug=f"p{i}"), OPTS)
    return hooks


def test_every_write_has_its_delivery_and_a_claim_leases_it(sql_store):
    hooks = setup(sql_store, 5)
    assert hooks.m.delivery.select().count() == 6  # the registry and five profiles
    first = hooks.claim(10**13, 60_000, 4)
    second = hooks.claim(10**13, 60_000, 4)
    assert len(first) == 4 and len(second) == 2
    assert not {d.id for d in first} & {d.id for d in second}
    assert hooks.claim(10**13, 60_000, 4) == []  # all leased
    assert len(hooks.claim(10**13 + 60_001, 60_000, 10)) == 6  # leases ran out


def test_one_profile_events_are_claimed_one_at_a_time_in_order(sql_store):
    hooks = setup(sql_store, 1)
    for i in range(3):
        sql_store.update_profile("r", Profile(slug="p0", description=f"v{i}"), OPTS)
    claimed = hooks.claim(10**13, 60_000, 10)
    keys = [d.order_key for d in claimed]
    assert keys.count("r/p0") == 1  # later events of p0 wait for the first one
    assert len(claimed) == 2  # the registry's event and p0's first


def test_a_committed_write_with_deliveries_wakes_this_process_worker(sql_store):
    hooks = open_webhook_store(sql_store)
    sql_store.create_registry(Registry(slug="r"), OPTS)
    assert hooks.wait_queued(0) is False  # no subscription: nothing queued, no wake-up
    hooks.add_subscription(
        Subscription(id=0, url="https://example.com/", registry="", events=(), secret="whsec_AA==")
    )
    sql_store.create_profile("r", Profile(slug="p"), OPTS)
    assert hooks.wait_queued(0) is True
    assert hooks.wait_queued(0) is False  # the signal was consumed
    with pytest.raises(AlreadyExists):
        sql_store.create_profile("r", Profile(slug="p"), OPTS)
    assert hooks.wait_queued(0) is False  # a refused write sends nothing
    with sql_store.atomic():  # a group of writes: the signal comes at its commit
        sql_store.create_profile("r", Profile(slug="q"), OPTS)
        assert hooks.wait_queued(0) is False  # not committed yet: a claim would miss it
    assert hooks.wait_queued(0) is True
    with pytest.raises(RuntimeError), sql_store.atomic():
        sql_store.create_profile("r", Profile(slug="ghost"), OPTS)
        raise RuntimeError("rolled back")
    assert hooks.wait_queued(0) is False


@pytest.mark.postgres
def test_postgres_claims_skip_rows_locked_by_another_claimer(pg_url):
    a, b = open_store(pg_url), open_store(pg_url)
    try:
        hooks_a = setup(a, 9)
        hooks_b = SQLWebhookStore(b.db, b.kind)
        with a.db.atomic():  # A's claim stays uncommitted: its rows stay locked
            mine = hooks_a.claim(10**13, 60_000, 5)
            theirs = hooks_b.claim(10**13, 60_000, 5)  # would block without SKIP LOCKED
        assert len(mine) == 5 and len(theirs) == 5
        assert not {d.id for d in mine} & {d.id for d in theirs}
    finally:
        a.close()
        b.close()
