"""The SQL `WebhookStore`: subscriptions, the outbox's deliveries and their attempts, in the
profile store's own database (the outbox must share the transaction of the change).

Claiming is safe with several processes: a claim reads the oldest due deliveries whose
earlier deliveries with the same order key (subscription and profile) are done, and leases
them for a while, in one transaction. PostgreSQL reads them `FOR UPDATE SKIP LOCKED`, so
concurrent claimers take different rows without waiting; SQLite's claim is an IMMEDIATE
transaction, so one process claims at a time. A lease that runs out (a process killed mid-send)
makes its delivery due again: delivery is at least once.
"""

from __future__ import annotations

import threading
from typing import Any

import peewee as pw

from ..domain.errors import StoreClosed
from ..domain.webhooks import (
    DELIVERED,
    FAILED,
    PENDING,
    Attempt,
    Delivery,
    Subscription,
    SubscriptionNotFound,
)
from .migrations import write_transaction
from .sql_outbox import OutboxModels, outbox_models, subscription_of
from .sql_store import MAX_ID, PooledConnections


def delivery_of(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        message_id=row.message_id,
        event_type=row.event_type,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        created_at_ms=row.created_at_ms,
        next_attempt_ms=row.next_attempt_ms,
        delivered_at_ms=row.delivered_at_ms,
        last_status=row.last_status,
        order_key=row.order_key,
    )


class SQLWebhookStore(PooledConnections):
    """`WebhookStore` on the SQL profile store's database (see the module docstring)."""

    def __init__(self, db: pw.Database, kind: str, queued: threading.Event | None = None) -> None:
        self.db = db
        self.kind = kind
        self.m: OutboxModels = outbox_models(db)
        self._closed = False
        self._queued = queued or threading.Event()  # set by the profile store's writes

    def _check(self) -> None:
        if self._closed:
            raise StoreClosed(f"{self.kind} webhook store closed")

    def close(self) -> None:
        self._closed = True

    def wait_queued(self, timeout: float) -> bool:
        """Wait until a write of this process queues deliveries, or `timeout` seconds; True
        when one did (the signal is consumed)."""
        woken = self._queued.wait(timeout)
        self._queued.clear()
        return woken

    # --- subscriptions -------------------------------------------------------------------

    def add_subscription(self, sub: Subscription) -> Subscription:
        self._check()
        S = self.m.subscription
        with write_transaction(self.db):
            new_id = S.insert(
                url=sub.url,
                registry=sub.registry,
                events=",".join(sub.events),
                secret=sub.secret,
                created_at_ms=sub.created_at_ms,
                created_by=sub.created_by,
            ).execute()
        found = self.get_subscription(int(new_id))
        assert found is not None
        return found

    def list_subscriptions(self) -> list[Subscription]:
        self._check()
        S = self.m.subscription
        return [subscription_of(r) for r in S.select().order_by(S.id)]

    def get_subscription(self, sub_id: int) -> Subscription | None:
        self._check()
        if not 0 < sub_id <= MAX_ID:
            return None
        S = self.m.subscription
        row = S.select().where(S.id == sub_id).first()
        return None if row is None else subscription_of(row)

    def remove_subscription(self, sub_id: int) -> None:
        self._check()
        S, D, A = self.m.subscription, self.m.delivery, self.m.attempt
        if not 0 < sub_id <= MAX_ID:
            raise SubscriptionNotFound(sub_id)
        with write_transaction(self.db):
            if not S.delete().where(S.id == sub_id).execute():
                raise SubscriptionNotFound(sub_id)
            ids = D.select(D.id).where(D.subscription_id == sub_id)
            A.delete().where(A.delivery_id.in_(ids)).execute()
            D.delete().where(D.subscription_id == sub_id).execute()

    def enable_subscription(self, sub_id: int) -> None:
        self._check()
        S = self.m.subscription
        if not 0 < sub_id <= MAX_ID:
            raise SubscriptionNotFound(sub_id)
        updated = (
            S.update(disabled_at_ms=None, disabled_reason="", failures=0)
            .where(S.id == sub_id)
            .execute()
        )
        if not updated:
            raise SubscriptionNotFound(sub_id)

    # --- deliveries ----------------------------------------------------------------------

    def list_deliveries(self, sub_id: int, limit: int = 50) -> list[Delivery]:
        self._check()
        D = self.m.delivery
        rows = D.select().where(D.subscription_id == sub_id).order_by(D.id.desc()).limit(limit)
        return [delivery_of(r) for r in rows]

    def get_delivery(self, delivery_id: int) -> Delivery | None:
        self._check()
        if not 0 < delivery_id <= MAX_ID:
            return None
        D = self.m.delivery
        row = D.select().where(D.id == delivery_id).first()
        return None if row is None else delivery_of(row)

    def list_attempts(self, delivery_id: int) -> list[Attempt]:
        self._check()
        A = self.m.attempt
        rows = A.select().where(A.delivery_id == delivery_id).order_by(A.id)
        return [
            Attempt(
                id=r.id,
                delivery_id=r.delivery_id,
                at_ms=r.at_ms,
                status=r.status,
                latency_ms=r.latency_ms,
                error=r.error,
                response_excerpt=r.response_excerpt,
            )
            for r in rows
        ]

    def enqueue(self, sub: Subscription, delivery: Delivery) -> Delivery:
        """A delivery outside a write (a test event, a redelivery), due now."""
        self._check()
        D = self.m.delivery
        with write_transaction(self.db):
            new_id = D.insert(
                subscription_id=sub.id,
                message_id=delivery.message_id,
                event_type=delivery.event_type,
                payload=delivery.payload,
                order_key=delivery.order_key,
                status=PENDING,
                created_at_ms=delivery.created_at_ms,
                next_attempt_ms=delivery.next_attempt_ms,
            ).execute()
        found = self.get_delivery(int(new_id))
        assert found is not None
        return found

    def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[Delivery]:
        """Lease up to `limit` due deliveries, each the oldest pending one of its order key
        (so one subscription gets one profile's events in order), of active subscriptions."""
        self._check()
        db = self.db
        p = db.param
        sql = (
            "SELECT d.id FROM webhook_deliveries d "
            "JOIN webhook_subscriptions s ON s.id = d.subscription_id "
            f"WHERE d.status = {p} AND d.next_attempt_ms <= {p} AND d.lease_until_ms <= {p} "
            "AND s.disabled_at_ms IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e "
            "WHERE e.subscription_id = d.subscription_id AND e.order_key = d.order_key "
            f"AND e.status = {p} AND e.id < d.id) "
            f"ORDER BY d.id LIMIT {p}"
        )
        if self.kind == "postgresql":
            sql += " FOR UPDATE OF d SKIP LOCKED"
        D = self.m.delivery
        with write_transaction(db):
            ids = [r[0] for r in db.execute_sql(sql, (PENDING, now_ms, now_ms, PENDING, limit))]
            if not ids:
                return []
            D.update(lease_until_ms=now_ms + lease_ms).where(D.id.in_(ids)).execute()
            rows = D.select().where(D.id.in_(ids)).order_by(D.id)
            return [delivery_of(r) for r in rows]

    def finish(
        self,
        delivery: Delivery,
        attempt: Attempt,
        *,
        next_attempt_ms: int | None,
        disable_after: int,
    ) -> None:
        """Record an attempt; the delivery is done, due again at `next_attempt_ms`, or failed
        (None). Consecutive failures of a subscription reaching `disable_after` disable it."""
        self._check()
        S, D, A = self.m.subscription, self.m.delivery, self.m.attempt
        with write_transaction(self.db):
            A.insert(
                delivery_id=delivery.id,
                at_ms=attempt.at_ms,
                status=attempt.status,
                latency_ms=attempt.latency_ms,
                error=attempt.error,
                response_excerpt=attempt.response_excerpt,
            ).execute()
            values: dict[str, Any] = {
                "attempts": D.attempts + 1,
                "last_status": attempt.status,
                "lease_until_ms": 0,
            }
            if attempt.ok:
                values.update(status=DELIVERED, delivered_at_ms=attempt.at_ms)
            elif next_attempt_ms is None:
                values.update(status=FAILED)
            else:
                values.update(next_attempt_ms=next_attempt_ms)
            D.update(**values).where(D.id == delivery.id).execute()
            if attempt.ok:
                S.update(failures=0).where(S.id == delivery.subscription_id).execute()
                return
            S.update(failures=S.failures + 1).where(S.id == delivery.subscription_id).execute()
            reason = (
                f"disabled after {disable_after} failed attempts in a row "
                f"(last: {attempt.error or f'HTTP {attempt.status}'})"
            )
            S.update(disabled_at_ms=attempt.at_ms, disabled_reason=reason[:500]).where(
                S.id == delivery.subscription_id,
                S.failures >= disable_after,
                S.disabled_at_ms.is_null(),
            ).execute()


def open_webhook_store(profile_store: Any) -> SQLWebhookStore | None:
    """The webhook store beside an SQL profile store; None beside a YAML store (webhooks need
    the outbox table in the profile store's own transactions)."""
    db = getattr(profile_store, "db", None)
    if isinstance(db, pw.Database):
        return SQLWebhookStore(db, profile_store.kind, profile_store.deliveries_queued)
    return None


__all__ = ["SQLWebhookStore", "open_webhook_store"]
