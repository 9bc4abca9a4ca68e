"""Change-notification latency (`profile-registry bench`, README "Change notifications"):
from a PATCH's response to the event on the live stream and at a webhook receiver.

A `serve` process with its delivery thread on, one registry of its own, an SSE reader and a
receiver on 127.0.0.1 in this process. PATCHes go one at a time, each after both events of the
previous one came and a random pause (so the writes fall anywhere in the stream's and the
worker's poll intervals, as real writes do). Latency is the arrival time minus the time the
PATCH's response was read (both `time.monotonic()` in this process); an event that arrives
before the response was read counts as 0. The registry and the subscription are deleted
afterwards, so a `--database-url` database keeps nothing of it.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .report import percentile
from .server import HOST, ServerNotReady, bench_server

REGISTRY = "bench-notify"
PROFILE = "watched"
EVENTS_FULL = 40
EVENTS_QUICK = 8
WAIT_S = 10.0  # an event that takes longer is counted as lost
MAX_PAUSE_S = 0.5  # longer than the stream's and the worker's poll intervals

Key = tuple[str, int]  # (profile, version)


class Arrivals:
    """When each (profile, version) arrived on one channel."""

    def __init__(self) -> None:
        self.at: dict[Key, float] = {}
        self.cond = threading.Condition()

    def record(self, data: dict[str, Any]) -> None:
        key = (str(data.get("profile")), int(data.get("version") or 0))
        with self.cond:
            self.at.setdefault(key, time.monotonic())
            self.cond.notify_all()

    def wait(self, key: Key, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: key in self.at, timeout)
            return self.at.get(key)


def start_receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.end_headers()
            event = json.loads(body)
            if event.get("type") == "profile.updated":
                arrivals.record(event["data"])

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    threading.Thread(target=server.serve_forever, name="bench-receiver", daemon=True).start()
    return server


def open_stream(port: int) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.request("GET", f"/api/changes/stream?registry={REGISTRY}")
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"the stream answered HTTP {response.status}")
    return conn, response


def read_stream(response: http.client.HTTPResponse, arrivals: Arrivals) -> None:
    """Record the arrival of each event of the stream, until it is closed."""
    data = ""
    try:
        while line := response.fp.readline().decode("utf-8"):
            line = line.rstrip("\n")
            if line.startswith("data:"):
                data = line[5:].strip()
            elif not line and data:
                arrivals.record(json.loads(data))
                data = ""
    except (OSError, ValueError):  # closed by us or by the server
        pass


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.strip() else None
    finally:
        conn.close()


def expect(status: int, wanted: int, what: str, body: Any) -> None:
    if status != wanted:
        raise RuntimeError(f"{what}: HTTP {status} {body}")


def figures(latencies: list[float], lost: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "events": len(ordered),
        "lost": lost,
        "p50_ms": round(percentile(ordered, 50) * 1000, 1),
        "p99_ms": round(percentile(ordered, 99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
    }


def measure_notify(url: str, workers: int, threads: int, log_path: Path, count: int) -> dict:
    """Serve `url`, make `count` PATCHes and time their stream events and webhooks."""
    env = {
        "REGISTRY_WEBHOOK_WORKER": "on",
        "REGISTRY_WEBHOOK_ALLOW_HOSTS": HOST,
        "REGISTRY_STREAM_HEARTBEAT_SECONDS": "1",  # the server notices the closed stream soon
    }
    server = bench_server(url, workers, max(threads, 2), log_path, env=env)
    stream_at, hook_at = Arrivals(), Arrivals()
    receiver = start_receiver(hook_at)
    try:
        try:
            server.wait_ready()
        except ServerNotReady as exc:
            return {"available": False, "note": str(exc)}
        port = server.port
        call(port, "DELETE", f"/api/registries/{REGISTRY}")  # a leftover of an aborted run
        status, body = call(port, "POST", "/api/registries", {"slug": REGISTRY})
        expect(status, 201, "create the registry", body)
        profile = {"registry": REGISTRY, "slug": PROFILE}
        status, body = call(port, "POST", "/api/chat/profiles", profile)
        expect(status, 201, "create the profile", body)
        hook = f"http://{HOST}:{receiver.server_address[1]}/hook"
        sub_body = {"url": hook, "registry": REGISTRY, "events": ["profile.updated"]}
        status, sub = call(port, "POST", "/api/webhooks", sub_body)
        expect(status, 201, "subscribe", sub)
        stream, response = open_stream(port)
        reader = threading.Thread(
            target=read_stream, args=(response, stream_at), name="bench-stream", daemon=True
        )
        reader.start()
        to_stream: list[float] = []
        to_hook: list[float] = []
        lost = {"stream": 0, "webhook": 0}
        rng = random.Random(13)
        for i in range(count):
            time.sleep(rng.uniform(0, MAX_PAUSE_S))
            patch = {"registry": REGISTRY, "description": f"change {i}"}
            status, doc = call(port, "PATCH", f"/api/chat/profiles/{PROFILE}", patch)
            answered = time.monotonic()
            expect(status, 200, "PATCH", doc)
            key = (PROFILE, int(doc["metadata"]["version"]))
            for name, arrivals, out in (
                ("stream", stream_at, to_stream),
                ("webhook", hook_at, to_hook),
            ):
                at = arrivals.wait(key, WAIT_S)
                if at is None:
                    lost[name] += 1
                else:
                    out.append(max(0.0, at - answered))
        call(port, "DELETE", f"/api/webhooks/{sub['id']}")
        call(port, "DELETE", f"/api/registries/{REGISTRY}")
        if stream.sock is not None:
            stream.sock.shutdown(socket.SHUT_RDWR)  # the reader ends
        stream.close()
        reader.join(5)
    finally:
        exit_code = server.stop()
        receiver.shutdown()
        receiver.server_close()
    return {
        "available": True,
        "patches": count,
        "server_exit_code": exit_code,
        "stream": figures(to_stream, lost["stream"]),
        "webhook": figures(to_hook, lost["webhook"]),
        "note": "ms from a PATCH's response to the event; one PATCH at a time, "
        f"random pauses up to {MAX_PAUSE_S:g} s",
    }


def format_notify(result: dict[str, Any]) -> str:
    if not result.get("available"):
        return f"change notifications: not measured ({result.get('note', '')})"
    lines = [f"change notifications, {result['patches']} PATCHes one at a time:"]
    for name, label in (("stream", "SSE stream"), ("webhook", "webhook receiver")):
        f = result[name]
        lost = f", {f['lost']} lost" if f["lost"] else ""
        lines.append(
            f"  PATCH response -> {label}: p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms"
            f" (max {f['max_ms']:.1f} ms, {f['events']} events{lost})"
        )
    return "\n".join(lines)
