"""`profile-registry serve`: gunicorn workers sharing one database, through real HTTP.

Each test starts real server processes on free ports (no mocks): two workers on one SQLite
file, and two instances on one PostgreSQL schema.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from registry.bench.server import ServerProcess, cli_command
from registry.config import from_environ
from registry.serve import register_bench_routes
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
CLI = cli_command()


class Instance(ServerProcess):
    """One `profile-registry serve` process with its own port and access log."""

    def __init__(
        self,
        database_url: str,
        tmp: Path,
        name: str,
        workers: int = 2,
        env: dict[str, str] | None = None,
    ):
        self.access_log = tmp / f"{name}-access.log"
        self.env = {**server_env(database_url), **(env or {})}
        super().__init__(
            ["serve", "--workers", str(workers), "--access-log", str(self.access_log)],
            env=self.env,
            log_path=tmp / f"{name}-server.log",
            cwd=ROOT,
        )

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request on a fresh connection, so successive requests may reach any worker."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            data = json.dumps(body) if body is not None else None
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw.strip() else None
        finally:
            conn.close()

    def page(self, path: str) -> tuple[int, str]:
        """GET an HTML page on a fresh connection: (status, text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def worker_pids(self) -> set[str]:
        return set(re.findall(r"pid=<?(\d+)", self.access_log.read_text()))


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(DATABASE_URL=database_url, REGISTRY_AUTH="off", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[list[Instance]]:
    started: list[Instance] = []
    yield started
    for inst in started:
        inst.stop()


def profile_body(slug: str, registry: str = "default") -> dict[str, Any]:
    return {
        "registry": registry,
        "slug": slug,
        "display_name": f"Profile {slug}",
        "runtime": {"system_prompt": f"You are {slug}.", "tools": ["search"]},
    }


# --- configuration and the bench route ------------------------------------------------------


def test_bench_routes_flag_is_read_from_the_environment() -> None:
    assert from_environ({"REGISTRY_BENCH_ROUTES": "true"})["REGISTRY_BENCH_ROUTES"] is True
    assert from_environ({"REGISTRY_BENCH_ROUTES": "0"})["REGISTRY_BENCH_ROUTES"] is False


@pytest.mark.parametrize("enabled", [False, True])
def test_hello_route_exists_only_when_enabled(tmp_path: Path, enabled: bool) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "REGISTRY_AUTH": "off",
            "REGISTRY_BENCH_ROUTES": enabled,
        }
    )
    register_bench_routes(app)
    response = app.test_client().get("/-/hello")
    if enabled:
        assert response.status_code == 200
        assert response.get_data(as_text=True) == "hello\n"
    else:
        assert response.status_code == 404


# --- SQLite: two workers on one file --------------------------------------------------------


@pytest.mark.slow
def test_two_workers_share_one_sqlite_file(tmp_path: Path, instances: list[Instance]) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    server = Instance(url, tmp_path, "sqlite", workers=2)
    instances.append(server)
    server.wait_ready()
    status, health = server.request("GET", "/healthz")
    assert (status, health["store"], health["registries"]) == (200, "sqlite", 1)  # default made

    # Concurrent creates on fresh connections until both workers have served some.
    created: list[int] = []
    with ThreadPoolExecutor(8) as pool:
        for batch in range(10):
            slugs = [f"p{batch}-{i}" for i in range(16)]
            statuses = pool.map(
                lambda s: server.request("POST", "/api/chat/profiles", profile_body(s))[0], slugs
            )
            created += list(statuses)
            if len(server.worker_pids()) == 2:
                break
    assert set(created) == {201}
    assert len(server.worker_pids()) == 2, "every request reached the same worker"
    assert server.request("GET", "/healthz")[1]["profiles"] == len(created)

    # No lost update across processes: concurrent PATCHes carrying the same expected version
    # either win with a unique new version or get 409.
    _, doc = server.request("GET", "/api/chat/profiles/p0-0?registry=default")
    version = doc["metadata"]["version"]

    def patch(i: int) -> tuple[int, Any]:
        body = {"description": f"edit {i}", "expected_version": version}
        return server.request("PATCH", "/api/chat/profiles/p0-0?registry=default", body)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(patch, range(16)))
    wins = [body["metadata"]["version"] for status, body in answers if status == 200]
    assert wins == [version + 1]
    assert {status for status, _ in answers} <= {200, 409}

    # A CLI import into the same file while serving shows up in the served counts.
    before = server.request("GET", "/healthz")[1]
    imported = subprocess.run(
        [*CLI, "import", str(FIXTURES / "canonical-bundle.yaml"), "--mode", "upsert"],
        cwd=ROOT,
        env=server_env(url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    after = server.request("GET", "/healthz")[1]
    assert after["registries"] == before["registries"] + 1  # "team"
    assert after["profiles"] == before["profiles"] + 4

    assert server.stop() == 0
    log = server.log()
    assert "Shutting down: Master" in log
    assert "inherited an open database connection" not in log
    assert "Traceback" not in log


# --- PostgreSQL: two instances on one database ----------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_two_instances_share_one_postgresql_database(
    pg_url: str, tmp_path: Path, instances: list[Instance]
) -> None:
    # Started together: both migrate and create the default registry at the same moment.
    a = Instance(pg_url, tmp_path, "a", workers=2)
    b = Instance(pg_url, tmp_path, "b", workers=2)
    instances += [a, b]
    a.wait_ready()
    b.wait_ready()
    assert a.request("GET", "/healthz")[1]["store"] == "postgresql"

    status, created = a.request("POST", "/api/chat/profiles", profile_body("shared"))
    assert status == 201
    status, seen = b.request("GET", "/api/chat/profiles/shared?registry=default")
    assert status == 200
    assert seen["runtime"]["system_prompt"] == "You are shared."
    version = seen["metadata"]["version"]

    # Optimistic concurrency holds across instances: it is enforced in the database.
    status, _ = a.request(
        "PATCH",
        "/api/chat/profiles/shared?registry=default",
        {"description": "from a", "expected_version": version},
    )
    assert status == 200
    status, problem = b.request(
        "PATCH",
        "/api/chat/profiles/shared?registry=default",
        {"description": "from b", "expected_version": version},
    )
    assert status == 409, problem
    assert b.request("GET", "/api/chat/profiles/shared?registry=default")[1]["description"] == (
        "from a"
    )

    # Cached answers (resolutions, pages, list bodies) never outlive a write through the
    # other instance: each is keyed by the change id read from the shared database. Every
    # worker of b is warmed (several requests on fresh connections) before the write.
    resolve = {"registry": "default", "profile": "shared"}
    page = "/registries/default/profiles/shared"
    for _ in range(6):
        assert b.request("POST", "/api/chat/resolve", resolve)[0] == 200
        assert b.page(page)[0] == 200
        assert b.request("GET", "/api/chat/profiles?registry=default")[0] == 200
    status, _ = a.request(
        "PATCH",
        "/api/chat/profiles/shared?registry=default",
        {"description": "cached nowhere", "runtime": {"system_prompt": "You are new."}},
    )
    assert status == 200
    for _ in range(6):
        status, resolved = b.request("POST", "/api/chat/resolve", resolve)
        assert resolved["effective_runtime"]["system_prompt"] == "You are new."
        assert "cached nowhere" in b.page(page)[1]
        listed = b.request("GET", "/api/chat/profiles?registry=default")[1]
        assert [p["description"] for p in listed if p["slug"] == "shared"] == ["cached nowhere"]

    assert a.stop() == 0
    assert b.stop() == 0
    for inst in (a, b):
        assert "Traceback" not in inst.log(), inst.log()


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_patches_through_two_instances_all_land_once(
    pg_url: str, tmp_path: Path, instances: list[Instance]
) -> None:
    """Writers on two instances PATCH one profile at once: each write waits for the change
    lock, so its first read may be older than the write before it; the conditional UPDATE
    catches that. Every write lands once (a version and a revision each), each answer is
    read at once through the other instance, and a stale expected version is still a 409."""
    a = Instance(pg_url, tmp_path, "a", workers=2)
    b = Instance(pg_url, tmp_path, "b", workers=2)
    instances += [a, b]
    a.wait_ready()
    b.wait_ready()
    assert a.request("POST", "/api/chat/profiles", profile_body("hot"))[0] == 201
    path = "/api/chat/profiles/hot?registry=default"
    writes = 40

    def patch(n: int) -> tuple[int, int, str]:
        writer, reader = (a, b) if n % 2 else (b, a)
        status, doc = writer.request("PATCH", path, {"description": f"write {n}"})
        assert status == 200, doc
        seen = reader.request("GET", path)[1]["metadata"]["version"]
        return doc["metadata"]["version"], seen, doc["description"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(patch, range(writes)))
    versions = sorted(v for v, _, _ in results)
    assert versions == list(range(2, writes + 2))  # one new version per write, none lost
    assert all(seen >= v for v, seen, _ in results)  # read through the other instance at once
    assert {d for _, _, d in results} == {f"write {n}" for n in range(writes)}
    status, history = b.request("GET", "/api/registries/default/profiles/hot/revisions?limit=100")
    assert status == 200 and len(history["items"]) == writes + 1
    status, problem = a.request("PATCH", path, {"description": "late", "expected_version": 2})
    assert status == 409, problem
    assert a.stop() == 0 and b.stop() == 0
    for inst in (a, b):
        assert "Traceback" not in inst.log(), inst.log()
