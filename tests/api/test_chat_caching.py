"""ETags, If-None-Match (304) and If-Match (412) on the chat routes (see README, JSON API)."""

from __future__ import annotations

import pytest

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}


def assert_412(resp):
    assert resp.status_code == 412, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert set(body) == PROBLEM_KEYS and body["status"] == 412
    assert body["detail"].startswith("precondition failed")
    assert resp.headers["ETag"]


def etag_of(client, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.headers["ETag"].startswith('"') and resp.headers["ETag"].endswith('"')
    return resp.headers["ETag"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/chat/profiles",
        "/api/chat/profiles?registry=team",
        "/api/chat/profiles/inventory",
        "/api/chat/profiles/analyst?registry=team",
        "/api/chat/schemas/middlewares",
        "/api/chat/schemas/extensions",
        "/api/chat/profile",
    ],
)
def test_if_none_match_gives_304_without_a_body(client, seeded, path):
    etag = etag_of(client, path)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        resp = client.get(path, headers={"If-None-Match": header})
        assert resp.status_code == 304, header
        assert resp.get_data() == b""
        assert resp.headers["ETag"] == etag
    resp = client.get(path, headers={"If-None-Match": '"stale"'})
    assert resp.status_code == 200 and resp.get_data()


def test_list_etags_differ_per_registry_filter(client, seeded):
    assert etag_of(client, "/api/chat/profiles") != etag_of(
        client, "/api/chat/profiles?registry=team"
    )
    # the registry filter is canonicalized
    assert etag_of(client, "/api/chat/profiles?registry=Team") == etag_of(
        client, "/api/chat/profiles?registry=team"
    )


def test_list_etag_changes_after_every_write(client, seeded):
    seen = {etag_of(client, "/api/chat/profiles")}
    writes = [
        lambda: client.post("/api/chat/profiles", json={"slug": "agent"}),
        lambda: client.patch("/api/chat/profiles/agent", json={"description": "x"}),
        lambda: client.post("/api/chat/profiles/agent/default"),
        lambda: client.post("/api/chat/profiles/inventory/default"),
        lambda: client.delete("/api/chat/profiles/agent"),
    ]
    for write in writes:
        assert write().status_code in (200, 201, 204)
        etag = etag_of(client, "/api/chat/profiles")
        assert etag not in seen
        seen.add(etag)
    # a failed write leaves it alone
    client.patch("/api/chat/profiles/analyst", json={"description": "read-only"})
    assert etag_of(client, "/api/chat/profiles") in seen


def test_list_304_is_answered_from_the_change_feed(client, seeded, monkeypatch, service):
    etag = etag_of(client, "/api/chat/profiles")

    def boom(*_a, **_k):
        raise AssertionError("the 304 path must not read profiles")

    monkeypatch.setattr(service, "iter_profiles", boom)
    resp = client.get("/api/chat/profiles", headers={"If-None-Match": etag})
    assert resp.status_code == 304


def test_document_etag_changes_with_version_and_default(client, seeded):
    first = etag_of(client, "/api/chat/profiles/default")
    resp = client.patch("/api/chat/profiles/default", json={"description": "x"})
    assert resp.headers["ETag"] != first
    assert resp.headers["ETag"] == etag_of(client, "/api/chat/profiles/default")
    second = resp.headers["ETag"]
    resp = client.post("/api/chat/profiles/default/default")
    assert resp.headers["ETag"] not in (first, second)
    assert (
        client.get("/api/chat/profiles/default", headers={"If-None-Match": second}).status_code
        == 200
    )


def test_patch_if_match(client, seeded, service):
    etag = etag_of(client, "/api/chat/profiles/default")
    before = service.latest_change_id()
    assert_412(
        client.patch(
            "/api/chat/profiles/default", json={"description": "x"}, headers={"If-Match": '"nope"'}
        )
    )
    assert service.latest_change_id() == before
    resp = client.patch(
        "/api/chat/profiles/default", json={"description": "x"}, headers={"If-Match": etag}
    )
    assert resp.status_code == 200
    # the old ETag is now stale
    assert_412(
        client.patch(
            "/api/chat/profiles/default", json={"description": "y"}, headers={"If-Match": etag}
        )
    )
    resp = client.patch(
        "/api/chat/profiles/default", json={"description": "y"}, headers={"If-Match": "*"}
    )
    assert resp.status_code == 200
    assert client.get("/api/chat/profiles/default").get_json()["description"] == "y"


def test_if_match_on_an_unknown_profile_is_404(client, seeded):
    resp = client.patch(
        "/api/chat/profiles/ghost", json={"description": "x"}, headers={"If-Match": '"a"'}
    )
    assert resp.status_code == 404


def test_delete_if_match(client, seeded, service):
    etag = etag_of(client, "/api/chat/profiles/default")
    client.patch("/api/chat/profiles/default", json={"description": "moved on"})
    before = service.latest_change_id()
    assert_412(client.delete("/api/chat/profiles/default", headers={"If-Match": etag}))
    assert service.latest_change_id() == before
    fresh = etag_of(client, "/api/chat/profiles/default")
    assert (
        client.delete("/api/chat/profiles/default", headers={"If-Match": fresh}).status_code == 204
    )
    assert client.get("/api/chat/profiles/default").status_code == 404


def test_writes_return_the_document_etag(client, seeded):
    resp = client.post("/api/chat/profiles", json={"slug": "agent"})
    assert resp.headers["ETag"] == etag_of(client, "/api/chat/profiles/agent")


def test_if_match_compares_strongly_so_a_weak_etag_is_412(client, seeded, service):
    """RFC 9110 13.1.1: If-Match uses strong comparison, so `W/` + the current ETag fails."""
    etag = etag_of(client, "/api/chat/profiles/default")
    before = service.latest_change_id()
    weak = {"If-Match": f"W/{etag}"}
    assert_412(client.patch("/api/chat/profiles/default", json={"description": "x"}, headers=weak))
    assert_412(client.delete("/api/chat/profiles/default", headers=weak))
    assert service.latest_change_id() == before
    registry_etag = etag_of(client, "/api/registries/default")
    assert_412(
        client.patch(
            "/api/registries/default",
            json={"display_name": "x"},
            headers={"If-Match": f"W/{registry_etag}"},
        )
    )
    assert service.latest_change_id() == before
    # the same tag, strong, still matches
    resp = client.patch(
        "/api/chat/profiles/default", json={"description": "x"}, headers={"If-Match": etag}
    )
    assert resp.status_code == 200


def test_if_match_on_a_missing_profile_is_404_on_every_route(client, seeded, service):
    """One rule for chat and admin writes: a missing resource is 404, not 412."""
    before = service.latest_change_id()
    for header in ('"a"', "*"):
        for resp in (
            client.patch(
                "/api/chat/profiles/ghost", json={"description": "x"}, headers={"If-Match": header}
            ),
            client.delete("/api/chat/profiles/ghost", headers={"If-Match": header}),
            client.post(
                "/api/registries/default/profiles/ghost/revisions/1/restore",
                headers={"If-Match": header},
            ),
            client.patch(
                "/api/registries/ghost", json={"display_name": "x"}, headers={"If-Match": header}
            ),
        ):
            assert resp.status_code == 404, resp.get_data(as_text=True)
            assert resp.mimetype == "application/problem+json"
    assert service.latest_change_id() == before
