"""Transport hardening against a live `profile-registry serve` (gunicorn gthread workers).

Request framing is decided by the server, not by the app: these findings only show through
real sockets. Each test starts its own server on a free port (see tests/test_serve.py).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.test_serve import Instance, instances, profile_body  # noqa: F401 (fixture)

LIMIT = 2 * 1024 * 1024  # MAX_CONTENT_LENGTH


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def send_chunked(
    server: Instance, method: str, path: str, body: bytes, content_type: str
) -> tuple[int, str, Any]:
    """Send `body` with `Transfer-Encoding: chunked` (no Content-Length) on a raw connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(
            method,
            path,
            body=chunks(body),
            headers={"Content-Type": content_type},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, resp.getheader("Content-Type", ""), json.loads(raw)
    finally:
        conn.close()


def mirror_document(keep: list[str], cut: list[str], padding: int) -> bytes:
    """A single-registry YAML document: the profiles in `keep`, a comment of `padding` bytes,
    then the profiles in `cut`. Cut inside the comment it is still valid YAML, without `cut`."""
    lines = ["slug: default", "display_name: Default", "profiles:"]
    for slug in keep:
        lines += [f"  {slug}:", f"    display_name: Profile {slug}"]
    head = ("\n".join(lines) + "\n").encode()
    comment = b"  # " + b"x" * padding + b"\n"
    tail = "".join(f"  {slug}:\n    display_name: Profile {slug}\n" for slug in cut).encode()
    return head + comment + tail


@pytest.mark.slow
def test_chunked_bodies_over_the_limit_are_refused_not_cut(
    tmp_path: Path,
    instances: list[Instance],  # noqa: F811
) -> None:
    server = Instance(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path, "limits", workers=1)
    instances.append(server)
    server.wait_ready()
    slugs = [f"p{i:02d}" for i in range(30)]
    for slug in slugs:
        assert server.request("POST", "/api/chat/profiles", profile_body(slug))[0] == 201
    _, before = server.request("GET", "/api/changes?limit=1000")

    # Cut at the limit, this mirror import is a valid document without p03..p29: it would
    # delete 27 profiles.
    document = mirror_document(slugs[:3], slugs[3:], LIMIT)
    assert len(document) > LIMIT
    status, ctype, body = send_chunked(
        server, "POST", "/api/import?mode=mirror&confirm=27", document, "application/yaml"
    )
    assert (status, ctype, body["status"]) == (413, "application/problem+json", 413)
    assert body["detail"] == "request body is larger than the limit"

    # Oversized chunked JSON: 413 as well (it was 400 "Unterminated string").
    big = json.dumps({**profile_body("big"), "description": "x" * LIMIT}).encode()
    status, ctype, body = send_chunked(
        server, "POST", "/api/chat/profiles", big, "application/json"
    )
    assert (status, ctype) == (413, "application/problem+json")

    # Nothing happened: no profile lost, none created, no change recorded.
    _, listing = server.request("GET", "/api/chat/profiles?registry=default")
    assert sorted(p["slug"] for p in listing) == slugs
    assert server.request("GET", "/api/changes?limit=1000")[1] == before

    # A chunked body within the limit is read whole and applied.
    small = json.dumps(profile_body("chunked")).encode()
    status, _, body = send_chunked(server, "POST", "/api/chat/profiles", small, "application/json")
    assert (status, body["slug"]) == (201, "chunked")
    exactly = mirror_document(slugs, [], 0)
    exactly = exactly[:-1] + b" " * (LIMIT - len(exactly)) + b"\n"  # exactly the limit
    assert len(exactly) == LIMIT
    status, _, plan = send_chunked(
        server, "POST", "/api/import?mode=upsert&dry_run=true", exactly, "application/yaml"
    )
    assert status == 200, plan
    assert server.stop() == 0
    assert "Traceback" not in server.log()


# --- database outages ------------------------------------------------------------------------


def get(server: Instance, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.mark.slow
def test_a_deleted_sqlite_file_is_503_not_writes_into_the_void(
    tmp_path: Path,
    instances: list[Instance],  # noqa: F811
) -> None:
    db = tmp_path / "registry.db"
    server = Instance(f"sqlite:///{db}", tmp_path, "deleted", workers=2)
    instances.append(server)
    server.wait_ready()
    assert server.request("POST", "/api/chat/profiles", profile_body("kept"))[0] == 201
    backup = tmp_path / "backup.db"
    backup.hardlink_to(db)  # the same file (inode), to put back later
    db.unlink()

    for _ in range(4):  # on fresh connections: every worker and thread refuses
        status, body = server.request("POST", "/api/chat/profiles", profile_body("lost"))
        assert status == 503, body
        assert "deleted or replaced" in body["detail"]
        status, body = server.request("GET", "/api/chat/profiles/kept?registry=default")
        assert status == 503, body
    status, headers, raw = get(server, "/healthz")
    health = json.loads(raw)
    assert (status, headers["content-type"]) == (503, "application/json")
    assert (health["status"], health["store"]) == ("unavailable", "sqlite")
    assert "deleted or replaced" in health["detail"]
    status, headers, raw = get(server, "/")
    assert (status, headers["content-type"].split(";")[0]) == (503, "text/html")
    assert not db.exists(), "a new empty database file was created in its place"

    # Put back, the same file serves again; nothing was written while it was gone.
    db.hardlink_to(backup)
    status, body = server.request("GET", "/api/chat/profiles/kept?registry=default")
    assert (status, body["slug"]) == (200, "kept")
    assert server.request("GET", "/api/chat/profiles/lost?registry=default")[0] == 404
    assert server.request("GET", "/healthz")[1]["status"] == "ok"
    assert server.stop() == 0
    assert "Traceback" not in server.log()


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temp dir, trust auth, a free port), so a
    test can stop and start the database under a running server: a real outage."""

    def __init__(self, root: Path):
        from registry.bench.server import free_port

        self.port = free_port()
        self.data = root / "pgdata"
        self.sockets = root / "pgsock"
        root.chmod(0o755)  # the postgres user must reach it
        self.sockets.mkdir()
        self.data.mkdir()
        for path in (self.data, self.sockets):
            shutil.chown(path, "postgres", "postgres")
        self._as_postgres(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, argv: list[str]) -> None:
        command = argv if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            ["pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data / "log"), "-w"]
            + ["start"]
        )

    def stop(self) -> None:
        self._as_postgres(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        if IN_CI:
            pytest.fail("initdb and pg_ctl are needed for the PostgreSQL outage test in CI")
        pytest.skip("initdb/pg_ctl not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser: initdb refuses root")
    # Not under tmp_path: pytest's base directory is private to its user.
    root = Path(tempfile.mkdtemp(prefix="registry-pg-"))
    try:
        pg = PrivatePostgres(root)
        pg.start()
        yield pg
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_down_is_503_with_retry_after_and_recovers(
    tmp_path: Path,
    private_postgres: PrivatePostgres,
    instances: list[Instance],  # noqa: F811
) -> None:
    server = Instance(private_postgres.url, tmp_path, "pgdown", workers=1)
    instances.append(server)
    server.wait_ready()
    for slug in ("before", "warm"):  # pooled connections exist when the database goes away
        assert server.request("POST", "/api/chat/profiles", profile_body(slug))[0] == 201

    private_postgres.stop()
    for _ in range(3):
        status, headers, raw = get(server, "/api/chat/profiles/before?registry=default")
        assert (status, headers["content-type"]) == (503, "application/problem+json"), raw
        assert headers["retry-after"] == "5"
        body = json.loads(raw)
        assert body["type"].endswith("/unavailable")
        assert body["detail"] == "the postgresql database is unavailable; try again later"
        assert str(private_postgres.port) not in raw.decode()  # no connection details leak
    status, body = server.request("POST", "/api/chat/profiles", profile_body("during"))
    assert status == 503, body
    status, headers, raw = get(server, "/healthz")
    assert (status, headers["content-type"], headers["retry-after"]) == (
        503,
        "application/json",
        "5",
    )
    assert json.loads(raw)["status"] == "unavailable"
    status, headers, raw = get(server, "/registries")
    assert (status, headers["content-type"].split(";")[0]) == (503, "text/html")
    assert headers["retry-after"] == "5"

    # Back up: the next requests are served (dead pooled connections were dropped).
    private_postgres.start()
    for _ in range(6):
        status, body = server.request("GET", "/api/chat/profiles/before?registry=default")
        assert (status, body["slug"]) == (200, "before")
    assert server.request("POST", "/api/chat/profiles", profile_body("after"))[0] == 201
    assert server.request("GET", "/api/chat/profiles/during?registry=default")[0] == 404
    assert server.request("GET", "/healthz")[1]["status"] == "ok"
    assert server.stop() == 0
    assert "Traceback" not in server.log()
