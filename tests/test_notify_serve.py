"""Change notifications through real servers (`profile-registry serve` subprocesses): the live
stream across reconnects, under a burst of writes, at its connection bound, and with a write
through another instance on PostgreSQL."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import test_serve
from tests.test_serve import Instance, profile_body


class SSE:
    """A minimal Server-Sent Events reader written for the tests (not the app's code)."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.last_id = 0

    def events(self, count: int, timeout: float = 20) -> list[dict]:
        """The next `count` events' data (raises when they do not come in time)."""
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        while len(out) < count:
            assert time.monotonic() < deadline, f"only {len(out)} of {count} events came"
            line = self.response.fp.readline().decode("utf-8")
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if not line:
                if "data" in fields:
                    self.last_id = int(fields["id"])
                    out.append(json.loads(fields["data"]))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        return out

    def close(self) -> None:
        self.response.close()
        self.conn.close()


@pytest.fixture
def servers() -> Iterator[list[Instance]]:
    started: list[Instance] = []
    yield started
    for inst in started:
        inst.stop()


@pytest.mark.slow
def test_stream_resumes_after_a_reconnect_and_keeps_order_under_a_burst(
    tmp_path: Path, servers: list[Instance]
) -> None:
    server = Instance(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, "s", workers=1)
    servers.append(server)
    server.wait_ready()
    # the registry's first profile also makes it the default (a registry change): done first
    assert server.request("POST", "/api/chat/profiles", profile_body("first"))[0] == 201
    stream = SSE(server.port, "/api/changes/stream")
    assert stream.status == 200
    for i in range(3):
        assert server.request("POST", "/api/chat/profiles", profile_body(f"a{i}"))[0] == 201
    first = stream.events(3)
    assert [e["profile"] for e in first] == ["a0", "a1", "a2"]
    stream.close()

    # Writes while nobody listens, then a reconnect with Last-Event-ID: exactly those.
    for i in range(3, 6):
        server.request("POST", "/api/chat/profiles", profile_body(f"a{i}"))
    again = SSE(server.port, "/api/changes/stream", {"Last-Event-ID": str(stream.last_id)})
    missed = again.events(3)
    assert [e["profile"] for e in missed] == ["a3", "a4", "a5"]
    assert missed[0]["id"] > stream.last_id

    # 1,000 rapid writes (8 at a time) arrive all, in change-id order, none twice.
    def create(i: int) -> int:
        return server.request("POST", "/api/chat/profiles", profile_body(f"b{i:04d}"))[0]

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(create, range(1000))) == {201}
    burst = again.events(1000, timeout=120)
    ids = [e["id"] for e in burst]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert {e["profile"] for e in burst} == {f"b{i:04d}" for i in range(1000)}
    again.close()
    assert server.stop() == 0
    assert "Traceback" not in server.log()


@pytest.mark.slow
def test_stream_connection_bound_answers_503(
    tmp_path: Path, servers: list[Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain_env = test_serve.server_env

    def env(url: str) -> dict[str, str]:
        return {
            **plain_env(url),
            "REGISTRY_STREAM_MAX_CONNECTIONS": "2",
            "REGISTRY_STREAM_HEARTBEAT_SECONDS": "0.5",  # a gone client is noticed soon
        }

    monkeypatch.setattr(test_serve, "server_env", env)
    server = Instance(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, "s", workers=1)
    servers.append(server)
    server.wait_ready()
    held = [SSE(server.port, "/api/changes/stream") for _ in range(2)]
    assert [s.status for s in held] == [200, 200]
    refused = SSE(server.port, "/api/changes/stream")
    assert refused.status == 503
    assert refused.response.getheader("Retry-After") == "5"
    refused.close()
    # normal requests still get a thread
    assert server.request("GET", "/healthz")[0] == 200
    held[0].close()
    deadline = time.monotonic() + 20  # the worker notices the gone client at its next write
    while True:
        retry = SSE(server.port, "/api/changes/stream")
        if retry.status == 200 or time.monotonic() > deadline:
            break
        retry.close()
        time.sleep(0.2)
    assert retry.status == 200
    retry.close()
    held[1].close()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_write_through_another_instance_reaches_the_stream(
    pg_url: str, tmp_path: Path, servers: list[Instance]
) -> None:
    a = Instance(pg_url, tmp_path, "a", workers=1)
    b = Instance(pg_url, tmp_path, "b", workers=1)
    servers += [a, b]
    a.wait_ready()
    b.wait_ready()
    assert a.request("POST", "/api/chat/profiles", profile_body("first"))[0] == 201
    stream = SSE(a.port, "/api/changes/stream?registry=default")
    assert stream.status == 200
    status, _ = b.request("POST", "/api/chat/profiles", profile_body("from-b"))
    assert status == 201
    (event,) = stream.events(1, timeout=5)
    assert (event["registry"], event["profile"], event["operation"]) == (
        "default",
        "from-b",
        "create",
    )
    stream.close()
