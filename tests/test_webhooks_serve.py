"""Webhook delivery through real servers (`profile-registry serve` subprocesses, their own
delivery threads) to a real receiver: an app SIGKILLed between a commit and its delivery
(the outbox), two instances on one PostgreSQL database (each event once), a receiver down for
a while (exactly the missed events, in order per profile), and a receiver answering 500
(retried with growing delays). The same rules in one process, drained by hand, are in
tests/api/test_webhooks.py."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.receiver import Receiver
from tests.test_serve import Instance, profile_body

pytestmark = pytest.mark.slow

# the background worker on, 127.0.0.1 reachable, and retries soon (README, Configuration)
DELIVERING = {
    "REGISTRY_WEBHOOK_WORKER": "on",
    "REGISTRY_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "REGISTRY_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "REGISTRY_WEBHOOK_TIMEOUT_SECONDS": "3",
}


@pytest.fixture
def servers() -> Iterator[list[Instance]]:
    started: list[Instance] = []
    yield started
    for inst in started:
        inst.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def start(servers: list[Instance], url: str, tmp: Path, name: str, **env: str) -> Instance:
    inst = Instance(url, tmp, name, workers=1, env={**DELIVERING, **env})
    servers.append(inst)
    inst.wait_ready()
    return inst


def subscribe(inst: Instance, url: str, **body) -> dict:
    status, sub = inst.request("POST", "/api/webhooks", {"url": url, **body})
    assert status == 201, sub
    return sub


def patch(inst: Instance, slug: str, description: str) -> dict:
    status, doc = inst.request("PATCH", f"/api/chat/profiles/{slug}", {"description": description})
    assert status == 200, doc
    return doc


def wait_for(done: Callable[[], bool], timeout: float = 60, what: str = "deliveries") -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{what} did not arrive in {timeout} s"
        time.sleep(0.05)


def sigkill(inst: Instance) -> None:
    """SIGKILL the gunicorn master and its workers at once: nothing runs a shutdown path."""
    master = inst.proc.pid
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:  # field 4: the parent pid
                children.append(int(entry))
    for pid in [*children, master]:
        os.kill(pid, signal.SIGKILL)
    inst.proc.wait(timeout=10)


def ids_of(receiver: Receiver) -> list[str]:
    with receiver.lock:
        return [r["headers"]["webhook-id"] for r in receiver.requests if r["status"] < 300]


def profile_versions(receiver: Receiver) -> list[tuple[str, int]]:
    return [(b["data"]["profile"], b["data"]["version"]) for b in receiver.accepted()]


def test_a_change_committed_before_a_sigkill_is_delivered_after_the_restart(
    tmp_path: Path, servers: list[Instance], receiver: Receiver
) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    # A commits the change but never delivers: its worker is off, then it is killed
    a = start(servers, db, tmp_path, "a", REGISTRY_WEBHOOK_WORKER="off")
    assert a.request("POST", "/api/chat/profiles", profile_body("bot"))[0] == 201
    subscribe(a, receiver.url, events=["profile.updated"])
    doc = patch(a, "bot", "changed just before the crash")
    sigkill(a)
    assert a.proc.returncode == -signal.SIGKILL
    assert receiver.requests == []

    b = start(servers, db, tmp_path, "b")
    wait_for(lambda: len(receiver.requests) >= 1)
    time.sleep(2)  # time for a duplicate to show up, if one were sent
    (body,) = receiver.accepted()
    assert body["type"] == "profile.updated"
    assert (body["data"]["profile"], body["data"]["version"]) == ("bot", doc["metadata"]["version"])
    assert len(ids_of(receiver)) == 1
    _, log = b.request("GET", "/api/webhooks/1")
    (delivery,) = log["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    assert "Traceback" not in b.log()


@pytest.mark.postgres
def test_two_instances_on_one_postgres_deliver_each_event_once(
    pg_url: str, tmp_path: Path, servers: list[Instance], receiver: Receiver
) -> None:
    a = start(servers, pg_url, tmp_path, "a")
    b = start(servers, pg_url, tmp_path, "b")
    for slug in ("p0", "p1", "p2", "p3"):
        assert a.request("POST", "/api/chat/profiles", profile_body(slug))[0] == 201
    subscribe(a, receiver.url, events=["profile.updated"])
    expected = []
    for i in range(10):  # writes through both instances, each profile several times
        for n, slug in enumerate(("p0", "p1", "p2", "p3")):
            doc = patch(a if (i + n) % 2 else b, slug, f"v{i}")
            expected.append((slug, doc["metadata"]["version"]))
    wait_for(lambda: len(receiver.requests) >= len(expected))
    time.sleep(2)  # time for a duplicate to show up, if one were sent
    ids = ids_of(receiver)
    assert len(ids) == len(expected) == 40
    assert not [i for i, n in Counter(ids).items() if n > 1]
    got = profile_versions(receiver)
    assert sorted(got) == sorted(expected)
    for slug in ("p0", "p1", "p2", "p3"):  # one profile's events in order
        versions = [v for p, v in got if p == slug]
        assert versions == sorted(versions)
    assert "Traceback" not in a.log() + b.log()


def test_a_receiver_down_for_a_while_gets_exactly_the_missed_events_in_order(
    tmp_path: Path, servers: list[Instance]
) -> None:
    app = start(servers, f"sqlite:///{tmp_path / 'r.db'}", tmp_path, "s")
    for slug in ("p", "q"):
        assert app.request("POST", "/api/chat/profiles", profile_body(slug))[0] == 201
    first = Receiver()
    port = first.port
    subscribe(app, first.url, events=["profile.updated"])
    patch(app, "p", "before the outage")
    wait_for(lambda: len(first.accepted()) == 1)
    first.close()  # the receiver goes down

    missed = []
    for i in range(3):
        for slug in ("p", "q"):
            missed.append((slug, patch(app, slug, f"during the outage {i}")["metadata"]["version"]))
    wait_for(lambda: _failed_attempts(app) >= 2, what="failed attempts")
    time.sleep(1.5)  # down a while: several retries fail

    back = Receiver(port)  # the same URL answers again
    try:
        wait_for(lambda: len(back.requests) >= len(missed))
        time.sleep(2)
        got = profile_versions(back)
        assert sorted(got) == sorted(missed)  # exactly the missed ones, none twice
        for slug in ("p", "q"):
            assert [v for p, v in got if p == slug] == [v for p, v in missed if p == slug]
    finally:
        back.close()


def _failed_attempts(app: Instance) -> int:
    _, log = app.request("GET", "/api/webhooks/1")
    return sum(1 for d in log["deliveries"] for a in d["attempt_log"] if a["status"] == 0)


def test_a_receiver_answering_500_is_retried_with_growing_delays(
    tmp_path: Path, servers: list[Instance], receiver: Receiver
) -> None:
    app = start(
        servers,
        f"sqlite:///{tmp_path / 'r.db'}",
        tmp_path,
        "s",
        REGISTRY_WEBHOOK_RETRY_BASE_SECONDS="1",
    )
    assert app.request("POST", "/api/chat/profiles", profile_body("bot"))[0] == 201
    subscribe(app, receiver.url, events=["profile.updated"])
    receiver.statuses = [500, 500, 500]
    patch(app, "bot", "x")
    wait_for(lambda: len(receiver.accepted()) == 1, timeout=30)
    assert [r["status"] for r in receiver.requests] == [500, 500, 500, 200]
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1

    def current() -> dict:
        _, log = app.request("GET", "/api/webhooks/1")
        (only,) = log["deliveries"]
        return only

    # the worker records the attempt once the receiver has answered: a moment after it
    wait_for(lambda: current()["status"] != "pending", timeout=10, what="the delivered state")
    delivery = current()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    times = [a["at_ms"] for a in delivery["attempt_log"]]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # the schedule: 1 s, 2 s, 4 s, each times 0.5-1 (jitter); never sooner, whatever the load
    assert gaps[0] >= 500 and gaps[1] >= 1000 and gaps[2] >= 2000, gaps
