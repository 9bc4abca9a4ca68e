"""Every write records the channel it came through in `metadata.source`: `api`, `ui`,
`import`, `cli` and `seed` (start-up seed files), and the JSON documents show it."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.domain.importer import import_yaml
from registry.domain.model import Profile
from registry.domain.service import SOURCES, RegistryService
from tests.conftest import FIXTURES
from tests.pages.conftest import csrf_token


def _source(service: RegistryService, registry: str, profile: str = "") -> str:
    if profile:
        return service.get_profile(registry, profile).metadata.source
    return service.get_registry(registry).metadata.source


def test_api_writes_record_api_and_the_documents_show_it(app, client):
    service = app.extensions["registry"]
    created = client.post("/api/registries", json={"slug": "team"})
    assert created.status_code == 201, created.get_json()
    assert _source(service, "team") == "api"

    body = {"registry": "team", "slug": "a", "metadata": {"source": "forged"}}
    response = client.post("/api/chat/profiles", json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["metadata"]["source"] == "api"  # a client cannot set it
    service.create_profile("team", Profile(slug="b"), source="ui")
    patched = client.patch("/api/chat/profiles/b?registry=team", json={"display_name": "B"})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["metadata"]["source"] == "api"
    assert client.get("/api/registries/team/profiles/b").get_json()["metadata"]["source"] == "api"


def test_ui_writes_record_ui(app, client):
    service = app.extensions["registry"]
    service.create_registry(service.prepare_registry_header(_registry("team")), source="api")
    response = client.post(
        "/registries/team/new-profile",
        data={"csrf_token": csrf_token(client), "slug": "a", "display_name": "A"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert _source(service, "team", "a") == "ui"
    assert _source(service, "team") == "ui"  # it became the default: the registry was written


def test_imports_record_import_unless_the_file_declares_a_source(app):
    service = app.extensions["registry"]
    text = (
        "registries:\n  team:\n    default_profile_slug: a\n    profiles:\n"
        "      a: {}\n      b:\n        metadata: {source: api, version: 3}\n"
    )
    import_yaml(service, text, actor="ci")
    assert _source(service, "team") == "import"
    assert _source(service, "team", "a") == "import"
    # declared metadata is kept for created items, like versions (an export re-imported)
    assert _source(service, "team", "b") == "api"
    import_yaml(service, text.replace("a: {}", "a: {display_name: A}"), actor="ci")
    assert _source(service, "team", "a") == "import"


def test_seed_files_record_seed(make_app):
    app = make_app(REGISTRY_SEED_FILES=str(FIXTURES / "single-registry.yaml"))
    service = app.extensions["registry"]
    assert _source(service, "support") == "seed"
    assert _source(service, "support", "triage") == "seed"


def test_cli_writes_record_cli_and_cli_imports_record_import(make_app, tmp_path: Path):
    app = make_app()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    service = app.extensions["registry"]
    assert _source(service, "default") == "cli"
    bundle = FIXTURES / "canonical-bundle.yaml"
    result = runner.invoke(args=["import", str(bundle), "--mode", "upsert"])
    assert result.exit_code == 0, result.output
    assert _source(service, "team", "analyst") == "import"


@pytest.mark.parametrize("source", SOURCES)
def test_the_service_records_the_source_it_is_given(app, source):
    service = app.extensions["registry"]
    service.create_registry(_registry("team"), source=source)
    service.create_profile("team", Profile(slug="a"), source=source)
    assert (_source(service, "team"), _source(service, "team", "a")) == (source, source)


def _registry(slug: str):
    from registry.domain.model import Registry

    return Registry(slug=slug)
