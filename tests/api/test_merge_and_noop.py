"""`PATCH /api/chat/profiles/<slug>`: no-op writes and `?merge=base:<version>`, on SQLite and
PostgreSQL (responses are checked against the OpenAPI document by the validating client)."""

from __future__ import annotations

import pytest

URL = "/api/chat/profiles/agent"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request, make_app):
    config = (
        {"DATABASE_URL": request.getfixturevalue("pg_url")} if request.param == "postgres" else {}
    )
    client = make_app(**config).test_client()
    assert client.post("/api/registries", json={"slug": "default"}).status_code == 201
    created = client.post(
        "/api/chat/profiles",
        json={
            "slug": "agent",
            "display_name": "Agent",
            "description": "first",
            "runtime": {"system_prompt": "be brief", "tools": ["search"]},
        },
    )
    assert created.status_code == 201, created.get_json()
    return client


def _feed(client) -> list:
    return client.get("/api/changes?limit=1000").get_json()["items"]


def _revisions(client) -> list:
    return client.get("/api/registries/default/profiles/agent/revisions").get_json()["items"]


def test_a_patch_that_changes_nothing_is_a_no_op(api):
    feed, revisions = _feed(api), _revisions(api)
    etag = api.get(URL).headers["ETag"]
    for body in (
        {"description": "first"},
        {"display_name": " Agent ", "runtime": {"system_prompt": "be brief", "tools": ["search"]}},
        {"expected_version": 1, "metadata": {"tags": []}},
        {},
    ):
        response = api.patch(URL, json=body)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["metadata"]["version"] == 1, body
        assert response.headers["ETag"] == etag
    assert _feed(api) == feed
    assert _revisions(api) == revisions
    # and a real change still makes a version
    assert api.patch(URL, json={"description": "second"}).get_json()["metadata"]["version"] == 2
    assert len(_feed(api)) == len(feed) + 1


def test_a_stale_expected_version_stays_a_conflict_even_for_a_no_op(api):
    api.patch(URL, json={"description": "second"})
    response = api.patch(URL, json={"description": "second", "expected_version": 1})
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/conflict")


def test_merge_applies_disjoint_changes(api):
    api.patch(URL, json={"description": "A's words"})  # v2, by someone else
    # this client fetched version 1 and changed only the prompt
    response = api.patch(
        URL + "?merge=base:1",
        json={"runtime": {"system_prompt": "be thorough", "tools": ["search"]}},
    )
    assert response.status_code == 200, response.get_json()
    doc = response.get_json()
    assert doc["metadata"]["version"] == 3
    assert doc["description"] == "A's words"
    assert doc["runtime"] == {"system_prompt": "be thorough", "tools": ["search"]}


def test_merge_that_collides_is_409_with_the_paths_and_values(api):
    api.patch(URL, json={"description": "A", "runtime": {"system_prompt": "x", "tools": []}})
    feed = _feed(api)
    response = api.patch(
        URL + "?merge=base:1",
        json={"description": "B", "runtime": {"system_prompt": "be brief", "tools": ["web"]}},
    )
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["type"].endswith("/merge-conflict")
    assert (problem["base_version"], problem["current_version"]) == (1, 2)
    by_field = {e["field"]: e for e in problem["errors"]}
    assert set(by_field) == {"description", "runtime.tools"}
    assert by_field["description"] == {
        "field": "description",
        "message": "changed by both sides",
        "base": "first",
        "theirs": "A",
        "yours": "B",
    }
    assert (by_field["runtime.tools"]["theirs"], by_field["runtime.tools"]["yours"]) == (
        [],
        ["web"],
    )
    assert "description" in problem["detail"]
    assert _feed(api) == feed  # nothing written, nothing half-applied
    assert api.get(URL).get_json()["description"] == "A"


def test_a_merge_without_changes_since_is_a_plain_update(api):
    response = api.patch(URL + "?merge=base:1", json={"description": "mine"})
    assert response.status_code == 200
    assert response.get_json()["metadata"]["version"] == 2


@pytest.mark.parametrize(
    "value",
    [
        "",
        "base",
        "base:",
        "base:0",
        "base:-1",
        "base:x",
        "base:1.0",
        "1",
        "head:1",
        " base:1",
        "base:01",
    ],
)
def test_bad_merge_values_are_400(api, value):
    feed = _feed(api)
    response = api.patch(URL, query_string={"merge": value}, json={"description": "x"})
    assert response.status_code == 400, value
    problem = response.get_json()
    assert problem["errors"] == [
        {
            "field": "merge",
            "message": 'Must be "base:<version>": the version your changes were made against',
        }
    ]
    assert _feed(api) == feed


def test_a_base_version_the_profile_never_had_is_unavailable(api):
    response = api.patch(URL + "?merge=base:7", json={"description": "x"})
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/merge-unavailable")
    assert "has no version 7" in response.get_json()["detail"]


def test_expected_version_or_if_match_guard_the_version_a_merge_lands_on(api):
    api.patch(URL, json={"description": "A"})  # v2
    stale = api.patch(URL + "?merge=base:1", json={"display_name": "B", "expected_version": 1})
    assert stale.status_code == 409
    assert stale.get_json()["type"].endswith("/conflict")
    old_etag = api.get(URL).headers["ETag"]
    api.patch(URL, json={"description": "A2"})  # v3
    precondition = api.patch(
        URL + "?merge=base:1", json={"display_name": "B"}, headers={"If-Match": old_etag}
    )
    assert precondition.status_code == 412
    assert api.get(URL).get_json()["metadata"]["version"] == 3
    ok = api.patch(URL + "?merge=base:1", json={"display_name": "B", "expected_version": 3})
    assert ok.status_code == 200, ok.get_json()
    assert (ok.get_json()["display_name"], ok.get_json()["description"]) == ("B", "A2")


def test_merge_on_the_yaml_store_is_unavailable(make_app, tmp_path):
    client = make_app(DATABASE_URL=f"yaml:{tmp_path / 'r.yaml'}").test_client()
    client.post("/api/registries", json={"slug": "default"})
    client.post("/api/chat/profiles", json={"slug": "agent", "description": "first"})
    client.patch(URL, json={"description": "A"})
    response = client.patch(URL + "?merge=base:1", json={"display_name": "B"})
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["type"].endswith("/merge-unavailable")
    assert "keeps no history" in problem["detail"]
    assert client.get(URL).get_json()["metadata"]["version"] == 2
