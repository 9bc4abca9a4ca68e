"""The webhook outbox of the SQL store: rows of migration step 7, and the fan-out every write
runs in its own transaction (see README, Change notifications).

`fan_out` reads the active subscriptions and inserts one `webhook_deliveries` row per
subscription that wants the event, inside the transaction of the change: a rolled-back write
leaves no delivery, a committed one always has its deliveries, whatever happens to the process
afterwards. The delivery worker (`registry/webhook_worker.py`) drains the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import peewee as pw

from ..domain.webhooks import PENDING, Subscription, event_body
from .sql_models import bind_model


class SubscriptionRow(pw.Model):
    id = pw.BigAutoField()
    url = pw.TextField()
    registry = pw.TextField(default="")
    events = pw.TextField(default="")  # comma-separated; "" = every type
    secret = pw.TextField()
    created_at_ms = pw.BigIntegerField()
    created_by = pw.TextField(default="")
    disabled_at_ms = pw.BigIntegerField(null=True)
    disabled_reason = pw.TextField(default="")
    failures = pw.IntegerField(default=0)


class DeliveryRow(pw.Model):
    id = pw.BigAutoField()
    subscription_id = pw.BigIntegerField()
    message_id = pw.TextField()
    event_type = pw.TextField()
    payload = pw.TextField()
    order_key = pw.TextField(default="")
    status = pw.TextField(default=PENDING)
    attempts = pw.IntegerField(default=0)
    created_at_ms = pw.BigIntegerField()
    next_attempt_ms = pw.BigIntegerField()
    lease_until_ms = pw.BigIntegerField(default=0)
    delivered_at_ms = pw.BigIntegerField(null=True)
    last_status = pw.IntegerField(null=True)


class AttemptRow(pw.Model):
    id = pw.BigAutoField()
    delivery_id = pw.BigIntegerField()
    at_ms = pw.BigIntegerField()
    status = pw.IntegerField()
    latency_ms = pw.IntegerField()
    error = pw.TextField(default="")
    response_excerpt = pw.TextField(default="")


@dataclass(frozen=True)
class OutboxModels:
    subscription: type[SubscriptionRow]
    delivery: type[DeliveryRow]
    attempt: type[AttemptRow]
    # `fan_out`'s read of the active subscriptions, built once: peewee builds a query's SQL
    # on every execution, which cost more than the query on the write path.
    active_sql: str = ""


def outbox_models(db: pw.Database) -> OutboxModels:
    S = bind_model(SubscriptionRow, db, "webhook_subscriptions")
    active = S.select().where(S.disabled_at_ms.is_null()).order_by(S.id)
    return OutboxModels(
        S,
        bind_model(DeliveryRow, db, "webhook_deliveries"),
        bind_model(AttemptRow, db, "webhook_attempts"),
        active_sql=active.sql()[0],
    )


def subscription_of(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        registry=row.registry,
        events=tuple(e for e in row.events.split(",") if e),
        created_at_ms=row.created_at_ms,
        created_by=row.created_by,
        disabled_at_ms=row.disabled_at_ms,
        disabled_reason=row.disabled_reason,
        failures=row.failures,
        secret=row.secret,
    )


def fan_out(
    models: OutboxModels,
    *,
    message_id: str,
    event_type: str,
    registries: Sequence[str],
    data: dict[str, Any],
    at_ms: int,
    order_key: str,
    any_active: bool = True,
) -> int:
    """Queue the event for every active subscription that wants it (in the caller's
    transaction); returns how many deliveries were queued. `any_active=False` says the
    caller already learned, in this transaction, that no subscription is active (a
    PostgreSQL write asks in its own statement, saving a round trip)."""
    if not any_active:
        return 0
    subs = [subscription_of(row) for row in models.subscription.raw(models.active_sql)]
    wanted = [s for s in subs if s.wants(event_type, registries)]
    if not wanted:
        return 0
    body = event_body(event_type, at_ms, data)
    rows = [
        {
            "subscription_id": s.id,
            "message_id": message_id,
            "event_type": event_type,
            "payload": body,
            "order_key": order_key,
            "status": PENDING,
            "created_at_ms": at_ms,
            "next_attempt_ms": at_ms,
        }
        for s in wanted
    ]
    models.delivery.insert_many(rows).execute()
    return len(rows)
