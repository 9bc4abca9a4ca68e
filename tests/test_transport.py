"""Transport hardening against a live `profile-registry serve` (gunicorn gthread workers).

Request framing is decided by the server, not by the app: these findings only show through
real sockets. Each test starts its own server on a free port (see tests/test_serve.py).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
        server, "POST", "/api/import?mode=mirror", document, "application/yaml"
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
