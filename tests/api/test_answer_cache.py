"""Resolutions and profile documents answered again from a per-process cache keyed by the
store's change id: the same answer for the same request while nothing changed, a fresh one
after any write through any instance, and errors never kept."""

from __future__ import annotations

import pytest

from registry.domain.importer import import_yaml
from registry.domain.model import PolicySpec, Profile, RuntimeSpec
from registry.domain.service import ProfilePatch
from tests.conftest import FIXTURES

OVERRIDES = {"system_prompt": "Be terse."}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def instances(request, make_app, tmp_path):
    """Two app instances on one database, the canonical bundle seeded."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    first, second = make_app(DATABASE_URL=url), make_app(DATABASE_URL=url)
    service = first.extensions["registry"]
    import_yaml(service, (FIXTURES / "canonical-bundle.yaml").read_text(), actor="t")
    profile = service.get_profile("team", "analyst")
    service.update_profile(
        "team",
        "analyst",
        ProfilePatch(
            policy=PolicySpec(allow_overrides=True, allowed_override_keys=["system_prompt"])
        ),
        expected_version=profile.metadata.version,
        actor="t",
    )
    yield first, second
    for app in (first, second):
        app.extensions["registry"].close()


def resolve(client, **body):
    return client.post("/api/chat/resolve", json={"registry": "team", "profile": "analyst", **body})


def statements(app):
    seen: list[str] = []
    app.extensions["registry"]._store.db.query_hooks.append(lambda e: seen.append(e.sql))
    return seen


def only_the_change_id(seen: list[str]) -> bool:
    """The statements run (prepared ones by name) are the change-id read alone."""
    run = [s for s in seen if not s.startswith("PREPARE")]
    return len(run) == 1 and ("MAX(" in run[0].upper() or "LATEST_CHANGE_ID" in run[0].upper())


def test_the_same_request_is_answered_again_with_one_query(instances):
    app, _ = instances
    client = app.test_client()
    first = resolve(client, request_overrides=OVERRIDES)
    seen = statements(app)
    again = resolve(client, request_overrides=OVERRIDES)
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert only_the_change_id(seen), seen
    assert again.get_json()["effective_runtime"]["system_prompt"] == "Be terse."


def test_other_overrides_and_selections_are_other_answers(instances):
    app, _ = instances
    client = app.test_client()
    terse = resolve(client, request_overrides=OVERRIDES).get_json()
    plain = resolve(client).get_json()
    assert terse["fingerprint"] != plain["fingerprint"]
    assert plain["effective_runtime"]["system_prompt"] != "Be terse."
    other = client.post("/api/chat/resolve", json={"registry": "default", "profile": "inventory"})
    assert other.get_json()["profile"] == "inventory"
    client.set_cookie("chat_profile", "team/analyst")
    by_cookie = client.post("/api/chat/resolve", json={}).get_json()
    assert (by_cookie["registry"], by_cookie["profile"]) == ("team", "analyst")
    assert by_cookie["fingerprint"] == plain["fingerprint"]


def test_a_write_through_another_instance_is_resolved_at_once(instances):
    first, second = instances
    client = second.test_client()
    before = resolve(client).get_json()
    assert resolve(client).get_json() == before  # cached
    service = first.extensions["registry"]
    service.update_profile(
        "team",
        "analyst",
        ProfilePatch(runtime=RuntimeSpec(system_prompt="Changed elsewhere.")),
        actor="t",
    )
    after = resolve(client).get_json()
    assert after["effective_runtime"]["system_prompt"] == "Changed elsewhere."
    assert (after["version"], after["fingerprint"]) != (before["version"], before["fingerprint"])


def test_errors_are_not_kept(instances):
    app, _ = instances
    client = app.test_client()
    forbidden = {"tools": ["shell"]}
    assert resolve(client, request_overrides=forbidden).status_code == 403
    assert resolve(client, request_overrides=forbidden).status_code == 403
    service = app.extensions["registry"]
    service.update_profile(
        "team",
        "analyst",
        ProfilePatch(policy=PolicySpec(allow_overrides=True)),
        actor="t",
    )
    allowed = resolve(client, request_overrides=forbidden)
    assert allowed.status_code == 200 and allowed.get_json()["effective_runtime"]["tools"] == [
        "shell"
    ]
    assert resolve(client, profile="missing").status_code == 404


def document(client, slug="analyst", registry="team", **headers):
    query = f"?registry={registry}" if registry else ""
    return client.get(f"/api/chat/profiles/{slug}{query}", headers=headers)


def test_a_profile_document_is_answered_again_with_one_query(instances):
    app, _ = instances
    client = app.test_client()
    first = document(client)
    seen = statements(app)
    again = document(client)
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert only_the_change_id(seen), seen
    unchanged = document(client, **{"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == first.headers["ETag"]
    searched = document(client, registry="")  # no ?registry=: the first registry holding it
    assert searched.get_json()["registry"] == "default"
    assert document(client, registry="").get_data() == searched.get_data()


def test_a_write_through_another_instance_is_read_at_once(instances):
    first, second = instances
    service = first.extensions["registry"]
    service.create_profile("team", Profile(slug="solo", display_name="Solo"), actor="t")
    client = second.test_client()
    before = document(client)
    assert document(client).get_data() == before.get_data()  # cached
    assert document(client, slug="solo", registry="").get_json()["registry"] == "team"
    service.update_profile(
        "team", "analyst", ProfilePatch(description="Changed elsewhere."), actor="t"
    )
    after = document(client)
    assert after.get_json()["description"] == "Changed elsewhere."
    assert after.headers["ETag"] != before.headers["ETag"]
    assert document(client, **{"If-None-Match": before.headers["ETag"]}).status_code == 200
    service.delete_profile("team", "solo", actor="t")
    assert document(client, slug="solo", registry="").status_code == 404
    assert document(client).get_json()["description"] == "Changed elsewhere."


def test_a_missing_profile_is_not_kept(instances):
    first, second = instances
    client = second.test_client()
    assert document(client, slug="newcomer").status_code == 404
    assert document(client, slug="newcomer").status_code == 404
    service = first.extensions["registry"]
    service.create_profile("team", Profile(slug="newcomer", display_name="New"), actor="t")
    assert document(client, slug="newcomer").get_json()["display_name"] == "New"
