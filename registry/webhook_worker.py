"""Webhook delivery: the sender (one signed POST, safely) and the background worker that
drains the outbox in every app process (see README, Change notifications).

The sender resolves the host, refuses non-public addresses (unless the host is allowed),
connects to the checked address itself (so a second DNS answer cannot point elsewhere),
follows no redirect (a 3xx is a failure), waits `REGISTRY_WEBHOOK_TIMEOUT_SECONDS` at most and
keeps the first KiB of the response. Secrets go into signatures only, never into logs.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any

from registry import config as cfg
from registry.domain.errors import StoreClosed, StoreUnavailable
from registry.domain.metadata import now_ms
from registry.domain.webhooks import (
    RESPONSE_EXCERPT_BYTES,
    Attempt,
    Delivery,
    Subscription,
    UnsafeDestination,
    WebhookStore,
    allowed_hosts,
    check_url,
    resolve_checked,
    retry_delay_ms,
    signed_headers,
)

log = logging.getLogger(__name__)

LEASE_MS = 60_000  # a claimed delivery is someone else's again after this (a killed process)
BATCH = 10
IDLE_SECONDS = 0.5


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate checked for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def send(sub: Subscription, delivery: Delivery, config: Mapping[str, Any]) -> Attempt:
    """One signed POST of `delivery` to `sub.url`; the attempt (never raises for network or
    safety failures: they are failed attempts)."""
    started = time.monotonic()
    at = now_ms()
    timeout = float(config.get("REGISTRY_WEBHOOK_TIMEOUT_SECONDS", 5.0))
    allow = allowed_hosts(str(config.get("REGISTRY_WEBHOOK_ALLOW_HOSTS") or ""))

    def attempt(status: int, error: str = "", excerpt: str = "") -> Attempt:
        latency = int((time.monotonic() - started) * 1000)
        return Attempt(delivery.id, at, status, latency, error[:500], excerpt)

    try:
        target = check_url(sub.url, allow)
        address = resolve_checked(target, allow)[0]
    except UnsafeDestination as exc:
        return attempt(0, f"refused: {exc}")
    except Exception as exc:  # a URL that became invalid (settings changed)
        return attempt(0, f"refused: {exc}")
    timestamp = int(time.time())
    headers = signed_headers(sub.secret, delivery.message_id, timestamp, delivery.payload)
    default_port = 443 if target.scheme == "https" else 80
    headers["Host"] = target.host if target.port == default_port else f"{target.host}:{target.port}"
    headers["User-Agent"] = "profile-registry-webhooks"
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = _PinnedHTTPS(target.host, address, target.port, timeout)
    else:
        conn = http.client.HTTPConnection(address, target.port, timeout=timeout)
    try:
        conn.request("POST", target.path, body=delivery.payload.encode("utf-8"), headers=headers)
        response = conn.getresponse()
        raw = response.read(RESPONSE_EXCERPT_BYTES)
        excerpt = raw.decode("utf-8", errors="replace")
        error = ""
        if 300 <= response.status < 400:
            error = f"redirect to {response.getheader('Location', '?')} not followed"
        return attempt(response.status, error, excerpt)
    except (OSError, http.client.HTTPException) as exc:
        return attempt(0, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def next_attempt(delivery: Delivery, attempt: Attempt, config: Mapping[str, Any]) -> int | None:
    """When to try again after a failed attempt; None once the retry window is over."""
    base = float(config.get("REGISTRY_WEBHOOK_RETRY_BASE_SECONDS", 5.0))
    window_ms = float(config.get("REGISTRY_WEBHOOK_RETRY_HOURS", 24.0)) * 3600_000
    due = attempt.at_ms + retry_delay_ms(delivery.attempts + 1, base)
    return None if due - delivery.created_at_ms > window_ms else due


def deliver(store: WebhookStore, delivery: Delivery, config: Mapping[str, Any]) -> Attempt | None:
    """Send one claimed delivery and record the attempt (None: its subscription is gone)."""
    sub = store.get_subscription(delivery.subscription_id)
    if sub is None:
        return None
    attempt = send(sub, delivery, config)
    if not attempt.ok:
        log.info(
            "webhook %s delivery %s attempt failed: %s %s",
            sub.id,
            delivery.id,
            attempt.status,
            attempt.error,
        )
    store.finish(
        delivery,
        attempt,
        next_attempt_ms=None if attempt.ok else next_attempt(delivery, attempt, config),
        disable_after=int(config.get("REGISTRY_WEBHOOK_DISABLE_AFTER", 20)),
    )
    return attempt


def drain(store: WebhookStore, config: Mapping[str, Any], limit: int = BATCH) -> int:
    """Claim and send what is due now; how many were sent."""
    claimed = store.claim(now_ms(), LEASE_MS, limit)
    for delivery in claimed:
        deliver(store, delivery, config)
    return len(claimed)


class DeliveryWorker(threading.Thread):
    """The outbox drainer of one process (a daemon thread)."""

    def __init__(self, store: Any, config: Mapping[str, Any]) -> None:
        super().__init__(name="webhook-delivery", daemon=True)
        self.store = store
        self.config = config
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            sent = 0
            try:
                sent = drain(self.store, self.config)
            except (StoreUnavailable, StoreClosed) as exc:  # an outage: wait for the database
                log.warning("webhook delivery paused: %s", exc)
                self.stopping.wait(5)
            except Exception:  # a bug: keep the worker alive
                log.exception("webhook delivery failed; retrying")
                self.stopping.wait(5)
            finally:
                self.store.release()
            if not sent and not self.stopping.is_set():
                # until the next poll, or at once when a write of this process queued some
                self.store.wait_queued(IDLE_SECONDS)

    def stop(self) -> None:
        self.stopping.set()


def worker_enabled(config: Mapping[str, Any]) -> bool:
    value = str(config.get("REGISTRY_WEBHOOK_WORKER", "auto")).strip().lower()
    if value == "auto":
        return not config.get("TESTING")
    return cfg.flag(config, "REGISTRY_WEBHOOK_WORKER", True)


def ensure_worker(app: Any) -> DeliveryWorker | None:
    """Start this process's delivery worker once (per pid: a forked worker starts its own)."""
    store = app.extensions.get("webhooks")
    if store is None or not worker_enabled(app.config):
        return None
    current = app.extensions.get("webhook_worker")
    if current is not None and current[0] == os.getpid():
        return current[1]
    lock = app.extensions.setdefault("webhook_worker_lock", threading.Lock())
    with lock:
        current = app.extensions.get("webhook_worker")
        if current is not None and current[0] == os.getpid():
            return current[1]
        worker = DeliveryWorker(store, app.config)
        worker.start()
        app.extensions["webhook_worker"] = (os.getpid(), worker)
        return worker
