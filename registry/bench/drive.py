"""The load driver, run in its own processes (`python -m registry.bench drive`).

It imports nothing heavy (standard library only): load processes must not compete with the
server for CPU more than they have to.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from typing import Any

UNIQUE_TEXT = "{unique}"  # in a request body: replaced by a text no other request sends
UNIQUE = UNIQUE_TEXT.encode()


def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Run `spec["threads"]` keep-alive clients from `start_at` (wall clock, shared by every
    driver process) for warm-up + duration; keep latencies of requests inside the window."""
    variants = spec["variants"]
    start_at, warmup, duration = spec["start_at"], spec["warmup"], spec["duration"]
    window_start, window_end = start_at + warmup, start_at + warmup + duration
    expect = spec["expect"]
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    totals = {"errors": 0, "connections": 0, "late_ms": 0}

    def client(index: int) -> None:
        req = variants[(spec["offset"] + index) % len(variants)]
        body = req["body"].encode() if req["body"] is not None else None
        # A write's body carries UNIQUE, replaced per request so that every write changes the
        # profile (the same body again would be a no-op write, which writes nothing).
        unique = body is not None and UNIQUE in body
        sent = 0
        mine: list[float] = []
        seen: dict[str, int] = {}
        errors = connections = 0
        conn: http.client.HTTPConnection | None = None
        delay = start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        elif index == 0:
            totals["late_ms"] = round(-delay * 1000)
        while True:
            begin = time.time()
            if begin >= window_end:
                break
            if conn is None:
                conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=60)
                connections += 1
            if unique:
                assert body is not None
                sent += 1
                body = req["body"].replace(UNIQUE_TEXT, f"{start_at:.0f}.{index}.{sent}").encode()
            t0 = time.perf_counter()
            try:
                conn.request(req["method"], req["path"], body=body, headers=req["headers"])
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = None
                continue
            elapsed = time.perf_counter() - t0
            if resp.will_close:
                conn.close()
                conn = None
            if begin >= window_start and begin + elapsed <= window_end:
                mine.append(elapsed * 1000)
                key = str(resp.status)
                seen[key] = seen.get(key, 0) + 1
                if resp.status != expect:
                    errors += 1
        if conn is not None:
            conn.close()
        with lock:
            latencies.extend(mine)
            for key, n in seen.items():
                statuses[key] = statuses.get(key, 0) + n
            totals["errors"] += errors
            totals["connections"] += connections

    threads = [threading.Thread(target=client, args=(i,)) for i in range(spec["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies_ms": [round(x, 3) for x in latencies], "statuses": statuses, **totals}


def main() -> None:
    """Read the spec (one line), say "ready", then wait for the shared start time (one line)."""
    spec = json.loads(sys.stdin.readline())
    print("ready", flush=True)
    spec["start_at"] = float(sys.stdin.readline())
    print(json.dumps(drive(spec)))
