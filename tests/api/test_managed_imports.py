"""An export of a deployment with a seed file imports again through the API, the UI and the
CLI: the registries the seed file manages are reported unchanged (with the file named) and
skipped; a change to one is still refused with 403 naming the file, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.domain.importer import export_yaml
from tests.conftest import FIXTURES
from tests.pages.conftest import csrf_token, plan_items, soup

SEED = FIXTURES / "single-registry.yaml"
YAML = "application/yaml"
REASON = "managed by single-registry.yaml; left to its file"


@pytest.fixture
def seeded_app(make_app):
    app = make_app(REGISTRY_SEED_FILES=str(SEED))
    service = app.extensions["registry"]
    from registry.domain.importer import import_yaml

    import_yaml(service, "registries:\n  team:\n    display_name: Team\n", actor="ci")
    return app


@pytest.mark.parametrize("mode", ["upsert", "mirror"])
def test_api_reimports_its_own_export(seeded_app, mode):
    client = seeded_app.test_client()
    export = client.get("/api/export")
    assert export.status_code == 200
    service = seeded_app.extensions["registry"]
    before = service.latest_change_id()
    for query in (f"mode={mode}&dry_run=true", f"mode={mode}"):
        response = client.post(f"/api/import?{query}", data=export.data, content_type=YAML)
        assert response.status_code == 200, response.get_json()
        items = {(i["registry"], i.get("profile", "")): i for i in response.get_json()["items"]}
        assert items[("support", "")]["action"] == "unchanged"
        assert items[("support", "")]["reason"] == REASON
        assert items[("support", "triage")]["action"] == "unchanged"
        assert "reason" not in items[("team", "")]
    assert service.latest_change_id() == before


def test_api_refuses_a_changed_managed_registry_naming_the_file(seeded_app):
    client = seeded_app.test_client()
    service = seeded_app.extensions["registry"]
    before = export_yaml(service)
    changed = before.replace("Support desk", "Changed").replace(
        "display_name: Team", "display_name: New team"
    )
    for query in ("dry_run=true", ""):
        response = client.post(f"/api/import?{query}", data=changed, content_type=YAML)
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert "managed by single-registry.yaml" in response.get_json()["detail"]
        assert "would change it (updated registry)" in response.get_json()["detail"]
    assert export_yaml(service) == before  # the change to `team` was not applied either


def test_api_mirror_without_the_managed_registry_keeps_it(seeded_app):
    client = seeded_app.test_client()
    response = client.post(
        "/api/import?mode=mirror&confirm=1",  # team (no profiles)
        data="registries:\n  other: {}\n",
        content_type=YAML,
    )
    assert response.status_code == 200, response.get_json()
    items = {(i["registry"], i.get("profile", "")): i for i in response.get_json()["items"]}
    assert items[("support", "")]["action"] == "skipped"
    assert "mirror imports leave it to its file" in items[("support", "")]["reason"]
    assert items[("team", "")]["action"] == "deleted"
    slugs = [s.registry.slug for s in seeded_app.extensions["registry"].list_registries()]
    assert slugs == ["other", "support"]


def test_ui_plans_and_applies_its_own_export(seeded_app):
    client = seeded_app.test_client()
    service = seeded_app.extensions["registry"]
    export = export_yaml(service)
    token = csrf_token(client)
    data = {"csrf_token": token, "action": "dry-run", "mode": "upsert", "yaml": export}
    response = client.post("/import", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    action, support = plan_items(soup(response))["registry support"]
    assert action == "unchanged"
    assert support.select_one(".plan-reason").get_text() == REASON
    assert "Nothing to change" in response.get_data(as_text=True)
    latest = service.latest_change_id()
    apply = dict(data, action="apply", latest_change_id=str(latest))
    assert client.post("/import", data=apply).status_code == 200
    assert service.latest_change_id() == latest


def test_cli_imports_its_own_export(seeded_app, tmp_path: Path):
    runner = seeded_app.test_cli_runner()
    out = tmp_path / "export.yaml"
    assert runner.invoke(args=["export", "-o", str(out)]).exit_code == 0
    for extra in (["--dry-run"], []):
        result = runner.invoke(args=["import", str(out), "--mode", "mirror", *extra])
        assert result.exit_code == 0, result.output
        assert f"unchanged support (registry): {REASON}" in result.output
    out.write_text(out.read_text().replace("Support desk", "Changed"))
    result = runner.invoke(args=["import", str(out)])
    assert result.exit_code != 0
    assert "managed by single-registry.yaml" in result.output
