"""Webhooks (see README, Change notifications): subscriptions, event types, Standard Webhooks
signatures, retry schedule and the URL safety rules. Pure Python; the SQL store keeps the
rows (`registry/store/sql_webhooks.py`) and `registry/webhook_delivery.py` sends them.

Events are written to an outbox in the same transaction as the change that caused them, one
delivery row per matching subscription, so no change is missed and a rolled-back write sends
nothing. Deliveries are at least once: receivers deduplicate on `webhook-id`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import ConflictError, FieldError, NotFoundError, ValidationError
from .ports import Change

EVENT_TYPES = (
    "profile.created",
    "profile.updated",
    "profile.deleted",
    "profile.restored",
    "registry.created",
    "registry.updated",
    "registry.deleted",
    "import.completed",
)
TEST_EVENT = "webhook.test"
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000
RESPONSE_EXCERPT_BYTES = 1024
MAX_RETRY_DELAY_MS = 3600_000

# delivery states
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class SubscriptionNotFound(NotFoundError):
    def __init__(self, ref: int | str = ""):
        self.ref = ref
        super().__init__("webhook subscription not found")


class WebhooksUnavailable(ConflictError):
    def __init__(self) -> None:
        super().__init__(
            "webhooks need an SQL store (SQLite or PostgreSQL): their outbox is written in the "
            "transaction of each change"
        )


class DeliveryNotFound(NotFoundError):
    def __init__(self, ref: int | str = ""):
        self.ref = ref
        super().__init__("webhook delivery not found")


@dataclass
class Subscription:
    id: int
    url: str
    registry: str  # "" = every registry
    events: tuple[str, ...]  # empty = every event type
    created_at_ms: int = 0
    created_by: str = ""
    disabled_at_ms: int | None = None
    disabled_reason: str = ""
    failures: int = 0  # consecutive failed attempts
    secret: str = field(default="", repr=False)  # only the store and the sender read it

    @property
    def active(self) -> bool:
        return self.disabled_at_ms is None

    def wants(self, event_type: str, registries: Sequence[str]) -> bool:
        """Whether an event goes to this subscription: its type is subscribed (none listed:
        every type) and it touched the filtered registry (imports: any of theirs)."""
        if event_type == TEST_EVENT:
            return True
        if self.events and event_type not in self.events:
            return False
        return not self.registry or self.registry in registries

    def to_data(self) -> dict[str, Any]:
        """The public record: never the secret."""
        return {
            "id": self.id,
            "url": self.url,
            "registry": self.registry,
            "events": list(self.events),
            "created_at_ms": self.created_at_ms,
            "created_by": self.created_by,
            "disabled": not self.active,
            "disabled_at_ms": self.disabled_at_ms,
            "disabled_reason": self.disabled_reason,
            "failures": self.failures,
        }


@dataclass
class Delivery:
    id: int
    subscription_id: int
    message_id: str  # `webhook-id`: the same for every attempt and redelivery of an event
    event_type: str
    payload: str  # the exact body sent (and signed)
    status: str = PENDING
    attempts: int = 0
    created_at_ms: int = 0
    next_attempt_ms: int = 0
    delivered_at_ms: int | None = None
    last_status: int | None = None
    order_key: str = ""  # deliveries of one subscription with one key go out in order

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subscription_id": self.subscription_id,
            "message_id": self.message_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "created_at_ms": self.created_at_ms,
            "next_attempt_ms": self.next_attempt_ms if self.status == PENDING else None,
            "delivered_at_ms": self.delivered_at_ms,
            "last_status": self.last_status,
            "payload": json.loads(self.payload),
        }


@dataclass
class Attempt:
    delivery_id: int
    at_ms: int
    status: int  # HTTP status, 0 when no response came
    latency_ms: int
    error: str = ""
    response_excerpt: str = ""
    id: int = 0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delivery_id": self.delivery_id,
            "at_ms": self.at_ms,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "response_excerpt": self.response_excerpt,
        }


class WebhookStore(Protocol):
    """Persistence of subscriptions, the outbox (deliveries) and attempts (SQL stores)."""

    def add_subscription(self, sub: Subscription) -> Subscription: ...
    def list_subscriptions(self) -> list[Subscription]: ...
    def get_subscription(self, sub_id: int) -> Subscription | None: ...
    def remove_subscription(self, sub_id: int) -> None: ...
    def enable_subscription(self, sub_id: int) -> None: ...
    def list_deliveries(self, sub_id: int, limit: int = 50) -> list[Delivery]: ...
    def get_delivery(self, delivery_id: int) -> Delivery | None: ...
    def list_attempts(self, delivery_id: int) -> list[Attempt]: ...
    def enqueue(self, sub: Subscription, delivery: Delivery) -> Delivery: ...
    def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[Delivery]: ...
    def wait_queued(self, timeout: float) -> bool: ...
    def finish(
        self,
        delivery: Delivery,
        attempt: Attempt,
        *,
        next_attempt_ms: int | None,
        disable_after: int,
    ) -> None: ...


# --- events -----------------------------------------------------------------------------------


def event_type_of(profile: str, action: str, operation: str) -> str | None:
    """The event a change-feed write is, or None for writes an import reports as one event."""
    if operation == "import":
        return None
    if not profile:
        return f"registry.{action}d" if action in ("create", "update", "delete") else None
    if operation == "restore":
        return "profile.restored"
    return f"profile.{action}d" if action in ("create", "update", "delete") else None


def change_data(change: Change) -> dict[str, Any]:
    """An event's `data` for a change-feed write: the change feed's item."""
    return {
        "id": change.id,
        "registry": change.registry,
        "profile": change.profile,
        "operation": change.operation,
        "version": change.version,
        "actor": change.actor,
        "at_ms": change.at_ms,
    }


def iso_time(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds")


def event_body(event_type: str, at_ms: int, data: dict[str, Any]) -> str:
    """A Standard Webhooks payload: `{type, timestamp, data}`."""
    body = {"type": event_type, "timestamp": iso_time(at_ms), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def parse_events(values: Sequence[str]) -> tuple[str, ...]:
    """Event types from a list (or comma-separated strings); unknown ones are a 400."""
    out: list[str] = []
    for value in values:
        for part in str(value).split(","):
            name = part.strip()
            if not name:
                continue
            if name not in EVENT_TYPES:
                raise ValidationError(
                    FieldError("events", f"unknown event type {name!r}; one of {EVENT_TYPES}")
                )
            if name not in out:
                out.append(name)
    return tuple(out)


# --- signatures (Standard Webhooks) -----------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the secret's decoded bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "Content-Type": "application/json",
    }


# --- retries ----------------------------------------------------------------------------------


def retry_delay_ms(
    attempts: int, base_seconds: float, rng: Callable[[], float] = random.random
) -> int:
    """Exponential backoff with jitter: base x 2^(attempts-1), capped at an hour, times a
    random factor in [0.5, 1) so that retries of many events do not arrive together."""
    exp = min(MAX_RETRY_DELAY_MS, base_seconds * 1000 * 2 ** max(0, min(attempts - 1, 30)))
    return max(1, int(exp * (0.5 + rng() / 2)))


# --- URL safety -------------------------------------------------------------------------------

METADATA_HOSTS = {"metadata.google.internal", "metadata"}


def refused_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why a webhook may not reach this address ("" when it may)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return refused_address(ip.ipv4_mapped)
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return "a private or reserved address"
    if not ip.is_global:
        return "a non-public address"
    return ""


def allowed_hosts(setting: str) -> frozenset[str]:
    return frozenset(h.strip().lower().strip("[]") for h in setting.split(",") if h.strip())


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query


def check_url(url: str, allow: frozenset[str]) -> Target:
    """A webhook URL's parts, or a 400 on `url`: http/https with a host, no credentials, and
    (unless the host is in `allow`) not an IP literal or name of a non-public address. Names
    are checked again after DNS resolution at every delivery (`resolve_checked`)."""

    def refuse(why: str) -> ValidationError:
        return ValidationError(FieldError("url", why), message="webhook URL refused")

    text = str(url or "").strip()
    if not text:
        raise refuse("required")
    if len(text) > MAX_URL_LENGTH:
        raise refuse(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("must be an http:// or https:// URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise refuse("has no host")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not carry credentials (the signature authenticates the sender)")
    if any(ord(c) < 33 for c in text):
        raise refuse("contains spaces or control characters")
    target = Target(
        parts.scheme,
        host,
        port or (443 if parts.scheme == "https" else 80),
        (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )
    if host in allow:
        return target
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost") or host in METADATA_HOSTS:
            raise refuse(f"{host} is a local or metadata host") from None
        return target
    why = refused_address(ip)
    if why:
        raise refuse(f"{host} is {why}; list it in REGISTRY_WEBHOOK_ALLOW_HOSTS to allow it")
    return target


class UnsafeDestination(Exception):
    """At delivery: the host resolved to an address webhooks may not reach."""


def resolve_checked(target: Target, allow: frozenset[str]) -> list[str]:
    """The addresses to connect to, each checked (DNS may have changed since the URL was
    added, or may answer differently on purpose). Allowed hosts skip the check."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeDestination(f"cannot resolve {target.host}: {exc}") from exc
    addresses = []
    for info in infos:
        address = str(info[4][0])
        if target.host not in allow:
            why = refused_address(ipaddress.ip_address(address.split("%")[0]))
            if why:
                raise UnsafeDestination(f"{target.host} resolves to {address}, {why}")
        if address not in addresses:
            addresses.append(address)
    return addresses


# --- use cases (API, CLI and UI share them) --------------------------------------------------


@dataclass
class NewSubscription:
    subscription: Subscription
    secret: str  # shown once


def add_subscription(
    store: WebhookStore,
    url: str,
    *,
    registry: str = "",
    events: Sequence[str] = (),
    allow: frozenset[str] = frozenset(),
    actor: str = "",
    now_ms: int,
) -> NewSubscription:
    """Validate and store a subscription with a fresh secret (returned once)."""
    check_url(url, allow)
    secret = new_secret()
    sub = Subscription(
        id=0,
        url=str(url).strip(),
        registry=registry,
        events=parse_events(events),
        created_at_ms=now_ms,
        created_by=actor,
        secret=secret,
    )
    return NewSubscription(store.add_subscription(sub), secret)


def subscription(store: WebhookStore, sub_id: int) -> Subscription:
    found = store.get_subscription(sub_id)
    if found is None:
        raise SubscriptionNotFound(sub_id)
    return found


def enqueue_test(
    store: WebhookStore, sub: Subscription, now_ms: int, due_ms: int | None = None
) -> Delivery:
    """Queue a `webhook.test` event, due at `due_ms` (default now)."""
    data = {"subscription_id": sub.id, "message": "a test event from Profile Registry"}
    delivery = Delivery(
        id=0,
        subscription_id=sub.id,
        message_id=f"msg_test_{secrets.token_hex(8)}",
        event_type=TEST_EVENT,
        payload=event_body(TEST_EVENT, now_ms, data),
        created_at_ms=now_ms,
        next_attempt_ms=now_ms,
        order_key=TEST_EVENT,
    )
    if due_ms is not None:
        delivery.next_attempt_ms = due_ms
    return store.enqueue(sub, delivery)


def redeliver(store: WebhookStore, sub_id: int, delivery_id: int, now_ms: int) -> Delivery:
    """Send an event again (same `webhook-id` and body, a new delivery with its own retries)."""
    sub = subscription(store, sub_id)
    old = store.get_delivery(delivery_id)
    if old is None or old.subscription_id != sub.id:
        raise DeliveryNotFound(delivery_id)
    again = Delivery(
        id=0,
        subscription_id=sub.id,
        message_id=old.message_id,
        event_type=old.event_type,
        payload=old.payload,
        created_at_ms=now_ms,
        next_attempt_ms=now_ms,
        order_key=old.order_key,
    )
    return store.enqueue(sub, again)
