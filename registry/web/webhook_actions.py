"""The webhook use cases with the web's parsing of their input, shared by the admin API
(`api/webhooks.py`) and the admin pages (`pages/webhooks.py`), which may not import each
other: both doors add, test and read subscriptions through these functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from registry.domain import webhooks as wh
from registry.domain.errors import FieldError, ValidationError
from registry.domain.metadata import now_ms
from registry.webhook_worker import LEASE_MS, deliver

from .deps import get_service, webhook_store
from .http import slug_param


def allow_hosts() -> frozenset[str]:
    return wh.allowed_hosts(str(current_app.config.get("REGISTRY_WEBHOOK_ALLOW_HOSTS") or ""))


def create_subscription(url: Any, registry: Any, events: Any, actor: str) -> wh.NewSubscription:
    """The add use case: a 400 naming the field for a bad value, 404 for an unknown registry."""
    if not isinstance(url, str):
        raise ValidationError(FieldError("url", "must be a string"))
    if not isinstance(registry, str):
        raise ValidationError(FieldError("registry", "must be a registry slug or empty"))
    slug = ""
    if registry.strip(" \t\n\r\f\v"):
        slug = slug_param(registry, "registry", "registry")
        get_service().get_registry(slug)  # 404 for an unknown registry
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ValidationError(FieldError("events", "must be a list of event types"))
    return wh.add_subscription(
        webhook_store(),
        url,
        registry=slug,
        events=events,
        allow=allow_hosts(),
        actor=actor,
        now_ms=now_ms(),
    )


def send_test(sub: wh.Subscription) -> tuple[wh.Delivery, wh.Attempt | None]:
    """Queue a test event and send it now (the worker leaves it alone meanwhile: it is not
    due before the lease time); failures are retried like any delivery."""
    store = webhook_store()
    at = now_ms()
    delivery = wh.enqueue_test(store, sub, at, due_ms=at + LEASE_MS)
    attempt = deliver(store, delivery, current_app.config)
    return store.get_delivery(delivery.id) or delivery, attempt


@dataclass
class LoggedDelivery:
    delivery: wh.Delivery
    attempts: list[wh.Attempt]


def delivery_log(sub: wh.Subscription, limit: int) -> list[LoggedDelivery]:
    """The subscription's newest `limit` deliveries, each with its attempts (oldest first)."""
    store = webhook_store()
    return [
        LoggedDelivery(d, store.list_attempts(d.id)) for d in store.list_deliveries(sub.id, limit)
    ]


def disabled_subscriptions() -> list[wh.Subscription]:
    """Subscriptions switched off after repeated failure (none without an SQL store)."""
    if current_app.extensions.get("webhooks") is None:
        return []
    return [s for s in webhook_store().list_subscriptions() if not s.active]
