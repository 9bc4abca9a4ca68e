"""`GET /api/changes/stream` through the Flask test client: events, resume points, filters,
auth and the per-worker connection bound. Streams here end after a short lifetime
(`REGISTRY_STREAM_MAX_SECONDS`), so a body can be read whole; live-server tests (reconnects,
another instance writing) are in tests/test_notify_serve.py."""

from __future__ import annotations

import json

import pytest

from registry.domain.model import Profile, Registry
from registry.domain.tokens import READER, issue

SHORT = {"REGISTRY_STREAM_MAX_SECONDS": 0.3, "REGISTRY_STREAM_POLL_SECONDS": 0.02}


def parse_events(text: str) -> list[tuple[int, dict]]:
    """(id, data) of each SSE event, by an SSE reader written for the test."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "data" in fields:
            out.append((int(fields["id"]), json.loads(fields["data"])))
    return out


@pytest.fixture
def stream_app(make_app):
    return make_app(**SHORT)


def write_some(service, n: int = 3, registry: str = "default") -> None:
    for i in range(n):
        service.create_profile(registry, Profile(slug=f"{registry}-p{i}"), actor="t")


def test_events_after_a_change_id_match_the_feed(stream_app):
    service = stream_app.extensions["registry"]
    service.ensure_default_registry(actor="t", source="cli")
    write_some(service, 4)
    client = stream_app.test_client()
    feed = client.get("/api/changes?after=1").json["items"]
    response = client.get("/api/changes/stream?after=1")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    events = parse_events(response.get_data(as_text=True))
    assert [data for _, data in events] == feed
    assert [i for i, _ in events] == [item["id"] for item in feed]
    assert response.get_data(as_text=True).startswith("retry: 1000\n")


def test_last_event_id_wins_over_after_and_nothing_is_repeated(stream_app):
    service = stream_app.extensions["registry"]
    service.ensure_default_registry(actor="t", source="cli")
    write_some(service, 5)
    client = stream_app.test_client()
    first = parse_events(client.get("/api/changes/stream?after=0").get_data(as_text=True))
    middle = first[2][0]
    resumed = client.get("/api/changes/stream?after=0", headers={"Last-Event-ID": str(middle)})
    rest = parse_events(resumed.get_data(as_text=True))
    assert [i for i, _ in rest] == [i for i, _ in first if i > middle]


def test_without_a_resume_point_the_stream_starts_now(stream_app):
    service = stream_app.extensions["registry"]
    service.ensure_default_registry(actor="t", source="cli")
    write_some(service, 2)
    response = stream_app.test_client().get("/api/changes/stream")
    assert parse_events(response.get_data(as_text=True)) == []


def test_registry_filter(stream_app):
    service = stream_app.extensions["registry"]
    service.ensure_default_registry(actor="t", source="cli")
    service.create_registry(Registry(slug="team"), actor="t")
    write_some(service, 2, "default")
    write_some(service, 2, "team")
    response = stream_app.test_client().get("/api/changes/stream?after=0&registry=team")
    events = parse_events(response.get_data(as_text=True))
    assert {d["registry"] for _, d in events} == {"team"}
    assert [d["profile"] for _, d in events if d["profile"]] == ["team-p0", "team-p1"]


def test_heartbeat_comments_when_nothing_happens(make_app):
    app = make_app(**SHORT, REGISTRY_STREAM_HEARTBEAT_SECONDS=0.05)
    text = app.test_client().get("/api/changes/stream").get_data(as_text=True)
    assert ": heartbeat" in text
    assert parse_events(text) == []


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [
        ("?after=-1", {}, "after"),
        ("?after=x", {}, "after"),
        ("", {"Last-Event-ID": "abc"}, "Last-Event-ID"),
        ("?after=x", {"Last-Event-ID": "3"}, "after"),
        ("?registry=Not%20a%20slug", {}, "registry"),
        ("?registry=%1C", {}, "registry"),
    ],
)
def test_bad_resume_points_and_filters_are_400(stream_app, query, headers, field):
    response = stream_app.test_client().get(f"/api/changes/stream{query}", headers=headers)
    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == [field]


def test_unknown_registry_is_404(stream_app):
    response = stream_app.test_client().get("/api/changes/stream?registry=nope")
    assert response.status_code == 404


def test_connection_limit_answers_503_with_retry_after(make_app):
    app = make_app(**SHORT, REGISTRY_STREAM_MAX_CONNECTIONS=2)
    client = app.test_client()
    open_streams = [client.get("/api/changes/stream", buffered=False) for _ in range(2)]
    assert [r.status_code for r in open_streams] == [200, 200]
    refused = client.get("/api/changes/stream")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json["type"].endswith("/unavailable")
    # (a stream read to its end holds its slot until the server closes the response)
    open_streams[0].close()  # the server closes the response: its slot is free again
    again = client.get("/api/changes/stream", buffered=False)
    assert again.status_code == 200
    again.close()
    open_streams[1].close()


def test_anonymous_callers_must_name_a_registry(make_app):
    app = make_app(**SHORT, REGISTRY_AUTH="on", REGISTRY_PUBLIC_READS=True)
    app.extensions["registry"].ensure_default_registry(actor="t", source="cli")
    client = app.test_client()
    whole = client.get("/api/changes/stream")
    assert whole.status_code == 401
    assert whole.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/changes/stream?registry=default").status_code == 200
    reader = issue(app.extensions["tokens"], "r", READER).secret
    auth = {"Authorization": f"Bearer {reader}"}
    assert client.get("/api/changes/stream", headers=auth).status_code == 200


def test_without_public_reads_anonymous_is_401_even_with_a_registry(make_app):
    app = make_app(**SHORT, REGISTRY_AUTH="on", REGISTRY_PUBLIC_READS=False)
    app.extensions["registry"].ensure_default_registry(actor="t", source="cli")
    assert app.test_client().get("/api/changes/stream?registry=default").status_code == 401
