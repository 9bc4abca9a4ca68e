"""`POST /api/import?mode=mirror`: what a deleting mirror would delete is in the plan, and it
applies only with `confirm=<deletions.total>` (409 listing what would go, nothing written)."""

from __future__ import annotations

import pytest

from registry.domain.importer import export_yaml
from tests.conftest import FIXTURES

YAML = "application/yaml"
ONE_REGISTRY = (FIXTURES / "single-registry.yaml").read_text()  # only `support`
URL = "/api/import?mode=mirror"


def post(client, query: str = "", text: str = ONE_REGISTRY):
    return client.post(URL + query, data=text, content_type=YAML)


def test_the_dry_run_counts_profiles_inside_deleted_registries(client, seeded):
    body = post(client, "&dry_run=true").json
    assert body["counts"]["deleted"] == 4
    assert body["deletions"] == {"total": 6, "registries": ["default", "team"], "profiles": 4}
    assert body["empty_document"] is False
    deleted = {
        (i["registry"], i.get("profile", "")) for i in body["items"] if i["action"] == "deleted"
    }
    assert ("default", "inventory") in deleted and ("team", "analyst") in deleted


@pytest.mark.parametrize("query", ["", "&confirm=0", "&confirm=4", "&confirm=7"])
def test_an_unconfirmed_deleting_mirror_is_409_and_writes_nothing(client, seeded, query):
    before, change = export_yaml(seeded), seeded.latest_change_id()
    response = post(client, query)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["type"].endswith("/confirmation-required")
    assert "deletes 2 registries (default, team) and 4 profiles" in body["detail"]
    assert "nothing was written" in body["detail"]
    expected = "confirm=6" if not query else f"{query[1:]} does not match its 6 deletions"
    assert expected in body["detail"]
    assert body["errors"] == [
        {"field": "registries[default]", "message": "Would be deleted with its 3 profiles"},
        {"field": "registries[team]", "message": "Would be deleted with its 1 profile"},
    ]
    assert export_yaml(seeded) == before and seeded.latest_change_id() == change


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "9" * 20])
def test_a_malformed_confirm_is_400_on_its_parameter(client, seeded, value):
    before = export_yaml(seeded)
    response = post(client, f"&confirm={value}")
    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == ["confirm"]
    assert export_yaml(seeded) == before


def test_the_confirmed_count_applies(client, seeded):
    response = post(client, "&confirm=6")
    assert response.status_code == 200, response.json
    assert response.json["applied"] is True and response.json["deletions"]["total"] == 6
    assert [s.registry.slug for s in seeded.list_registries()] == ["support"]


@pytest.mark.parametrize("text", ["---\n", "# only a comment\n", "~\n", "{}\n", "registries: {}\n"])
def test_an_empty_document_mirror_is_refused_unless_confirmed(client, seeded, text):
    dry = post(client, "&dry_run=true", text)
    assert dry.status_code == 200
    assert dry.json["empty_document"] is True and dry.json["deletions"]["total"] == 6
    refused = post(client, "", text)
    assert refused.status_code == 409
    assert refused.json["detail"].startswith("the document holds no registries")
    assert len(seeded.list_registries()) == 2
    assert post(client, "&confirm=6", text).status_code == 200
    assert seeded.list_registries() == []


def test_upsert_and_non_deleting_mirrors_need_no_confirm(client, seeded):
    bundle = (FIXTURES / "canonical-bundle.yaml").read_text()
    assert post(client, "", bundle).status_code == 200  # mirror of what is there: no deletion
    response = client.post("/api/import?mode=upsert", data=ONE_REGISTRY, content_type=YAML)
    assert response.status_code == 200 and response.json["deletions"]["total"] == 0
