"""The live change stream (`/api/changes/stream`): the change feed as Server-Sent Events.

Each stream holds one gthread worker thread for as long as it is open, so a worker admits at
most `REGISTRY_STREAM_MAX_CONNECTIONS` of them (default: half its threads) and answers 503 with
`Retry-After` beyond that; the other threads keep serving normal requests. A stream reads the
change feed every `REGISTRY_STREAM_POLL_SECONDS` (a write through any instance sharing the
database shows up within that), hands its database connection back between reads, sends a
comment line every `REGISTRY_STREAM_HEARTBEAT_SECONDS` when nothing happened (proxies keep the
connection, a gone client is noticed) and ends after `REGISTRY_STREAM_MAX_SECONDS`; clients
reconnect with `Last-Event-ID` and lose nothing (change ids are committed in order, see
`SQLStore._write`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, request

from registry.domain.tokens import READER

from ..auth import require
from ..deps import get_service
from ..errors import APIProblem
from ..http import parse_int, slug_param
from .shapes import change_item

bp = Blueprint("stream", __name__)

BATCH = 500  # changes read per poll
DEFAULT_STREAM_LIMIT = 8  # per process when the thread count is unknown (`run`, tests)
RETRY_MS = 1000  # the reconnection delay clients are told
ASCII_SPACE = " \t\n\r\f\v"


class StreamSlots:
    """A per-process count of open streams, bounded (each holds a worker thread)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open = max(0, self.open - 1)


def stream_slots(app: Flask) -> StreamSlots:
    slots = app.extensions.get("stream_slots")
    if slots is None:
        limit = int(app.config.get("REGISTRY_STREAM_MAX_CONNECTIONS") or DEFAULT_STREAM_LIMIT)
        slots = app.extensions["stream_slots"] = StreamSlots(max(1, limit))
    return slots


def set_stream_limit(app: Flask, threads: int) -> None:
    """`serve`: unless configured, a worker admits half its threads as streams."""
    configured = int(app.config.get("REGISTRY_STREAM_MAX_CONNECTIONS") or 0)
    app.extensions["stream_slots"] = StreamSlots(configured or max(1, threads // 2))


def _resume_point() -> int:
    """`Last-Event-ID` (a reconnecting EventSource) wins over `?after=`; -1 = from now on.
    Both are checked whenever given."""
    raw = request.args.get("after", "").strip()
    after = parse_int(raw, "after", maximum=2**63 - 1) if raw else -1
    header = request.headers.get("Last-Event-ID", "").strip()
    if header:
        return parse_int(header, "Last-Event-ID", maximum=2**63 - 1)
    return after


@bp.get("/changes/stream")
@require(READER, public=True)
def change_stream() -> Response:
    """`text/event-stream` of change-feed entries after `Last-Event-ID` / `after` (without
    either: from now on); `registry` filters one registry. Anonymous callers (public reads)
    must name a registry: a registry's profiles are public, the whole store's activity is not."""
    registry_raw = request.args.get("registry", "")
    # blank (ASCII spaces only, as the document's `\s`) = every registry
    blank = not registry_raw.strip(ASCII_SPACE)
    registry = None if blank else slug_param(registry_raw, "registry", "registry")
    if g.get("actor") == "anonymous" and registry is None:
        raise APIProblem(
            401,
            "authentication required: send Authorization: Bearer <token>, or name a registry "
            "(?registry=) to follow it anonymously",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="profile-registry"'},
        )
    service = get_service()
    if registry is not None:
        service.get_registry(registry)  # 404 for an unknown one
    after = _resume_point()
    if after < 0:
        after = service.latest_change_id()
    service.release()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    slots = stream_slots(app)
    if not slots.take():
        raise APIProblem(
            503,
            f"too many open change streams on this worker ({slots.limit}); retry shortly or "
            "poll GET /api/changes",
            kind="unavailable",
            headers={"Retry-After": "5"},
        )
    config = app.config
    heartbeat = float(config["REGISTRY_STREAM_HEARTBEAT_SECONDS"])
    poll = float(config["REGISTRY_STREAM_POLL_SECONDS"])
    lifetime = float(config["REGISTRY_STREAM_MAX_SECONDS"])

    def events() -> Iterator[str]:
        cursor = after
        yield f"retry: {RETRY_MS}\n: stream after {cursor}\n\n"
        started = last_sent = time.monotonic()
        while time.monotonic() - started < lifetime:
            try:
                changes = service.list_changes(cursor, BATCH)
            finally:
                service.release()
            chunk = []
            for change in changes:
                cursor = change.id
                if registry is None or change.registry == registry:
                    data = json.dumps(change_item(change), separators=(",", ":"))
                    chunk.append(f"id: {change.id}\ndata: {data}\n\n")
            if chunk:
                yield "".join(chunk)
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= heartbeat:
                yield f": heartbeat {cursor}\n\n"
                last_sent = time.monotonic()
            if len(changes) < BATCH:
                time.sleep(poll)

    response = Response(events(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through unbuffered
    # The server closes the response when the stream ends or the client goes, even if the
    # body was never iterated (a generator's `finally` would not run then).
    response.call_on_close(slots.give_back)
    return response
