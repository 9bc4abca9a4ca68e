"""The API accepts and refuses what its OpenAPI document says (schemathesis findings)."""

from __future__ import annotations

import pytest


@pytest.fixture
def profile(client, service):
    from registry.domain.model import Registry

    service.create_registry(Registry(slug="default"))
    assert client.post("/api/chat/profiles", json={"slug": "a"}).status_code == 201
    return client.get("/api/chat/profiles/a").get_json()


def test_an_integral_float_expected_version_is_an_integer(client, profile):
    version = profile["metadata"]["version"]
    body = {"expected_version": float(version), "description": "changed"}
    response = client.patch("/api/chat/profiles/a", json=body)
    assert response.status_code == 200, response.get_json()
    stale = client.patch("/api/chat/profiles/a", json=body)
    assert stale.status_code == 409  # the float was checked like the integer it is


@pytest.mark.parametrize("bad", [1.5, -1.0, 1e300, True, "1", {}, []])
def test_other_expected_versions_are_refused_with_the_field(client, profile, bad):
    response = client.patch(
        "/api/chat/profiles/a", json={"display_name": "x", "expected_version": bad}
    )
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "expected_version"
    assert client.get("/api/chat/profiles/a").get_json().get("display_name") != "x"


def test_registry_create_checks_the_expected_version_it_ignores(client):
    response = client.post("/api/registries", json={"slug": "r", "expected_version": {}})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == "expected_version"
    assert client.get("/api/registries/r").status_code == 404
    created = client.post("/api/registries", json={"slug": "r", "expected_version": 7})
    assert created.status_code == 201
    assert created.get_json()["metadata"]["version"] == 1
