"""Values holding NUL or lone surrogates already in a store (written before they were refused,
or straight into the database or the YAML file): every reader answers, showing U+FFFD."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import FIXTURES

BAD = "bad\ud800\x00end"
SHOWN = "bad\ufffd\ufffdend"
NUL_BAD = "bad\x00end"
NUL_SHOWN = "bad\ufffdend"
READERS = [
    "/api/chat/profiles",
    "/api/chat/profiles/inventory",
    "/api/registries",
    "/api/registries/default",
    "/api/registries/default/profiles/inventory",
    "/api/registries/default/profiles/inventory/revisions",
    "/api/export",
    "/",
    "/registries",
    "/registries/default",
    "/registries/default/profiles/inventory",
    "/registries/default/profiles/inventory/edit",
    "/registries/default/profiles/inventory/history",
    "/export/download",
]


def _seed(app) -> None:
    from registry.domain.importer import import_yaml

    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())


def _poison_sql(app) -> None:
    """What the app wrote before the rule: ASCII-escaped JSON holding `\\ud800\\u0000`."""
    db = app.extensions["registry"]._store.db  # written past the service, as old rows were
    escaped = json.dumps(BAD)[1:-1]  # bad\ud800\u0000end
    for table in ("profiles", "revisions"):
        column = "snapshot" if table == "revisions" else "data"
        db.execute_sql(
            f"UPDATE {table} SET {column} = "
            f'REPLACE({column}, \'"display_name":"Inventory\', \'"display_name":"{escaped}\')'
        )
    db.execute_sql(
        "UPDATE registries SET data = "
        f"REPLACE(data, 'Profiles shared by every chat app.', '{escaped}') WHERE slug = 'default'"
    )
    # and a key: an unknown extension whose key and value both hold the characters
    db.execute_sql(
        "UPDATE profiles SET data = REPLACE(data, '\"extensions\":{', "
        f'\'"extensions":{{"acme.x@v1":{{"k{escaped}":["{escaped}"]}},\') '
        "WHERE slug = 'inventory'"
    )


def _poison_yaml(path) -> None:
    """NUL only: libyaml (which reads the file) refuses `\\uD800` escapes itself, so the
    file cannot hold a lone surrogate; it can hold `\\0`."""
    data = yaml.safe_load(path.read_text())
    data["registries"]["default"]["description"] = NUL_BAD
    profile = data["registries"]["default"]["profiles"]["inventory"]
    profile["display_name"] = NUL_BAD
    profile.setdefault("extensions", {})["acme.x@v1"] = {f"k{NUL_BAD}": [NUL_BAD]}
    path.write_text(yaml.safe_dump(data, allow_unicode=False))  # escapes NUL as "\0"


def _check_readers(app, shown: str = SHOWN, *, history: bool = True) -> None:
    client = app.test_client()
    for url in READERS:
        if not history and ("/revisions" in url or "/history" in url):
            continue
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
        assert "\ud800" not in response.get_data(as_text=True)
    one = client.get("/api/chat/profiles/inventory").get_json()
    assert one["display_name"] == shown
    assert one["extensions"]["acme.x@v1"] == {f"k{shown}": [shown]}
    listed = {p["slug"]: p for p in client.get("/api/chat/profiles").get_json()}
    assert listed["inventory"]["display_name"] == shown
    assert client.get("/api/registries/default").get_json()["description"] == shown
    resolved = client.post("/api/chat/resolve", json={"profile": "inventory"})
    assert resolved.status_code == 200
    exported = yaml.safe_load(client.get("/api/export").get_data(as_text=True))
    profile = exported["registries"]["default"]["profiles"]["inventory"]
    assert profile["display_name"] == shown
    assert exported["registries"]["default"]["description"] == shown
    page = client.get("/registries/default/profiles/inventory").get_data(as_text=True)
    assert shown in page
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["registries"]["default"]["description"] == shown


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sql_rows_with_refused_characters_are_read_as_replacement_characters(
    make_app, request, backend
):
    config = {"DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    app = make_app(**config)
    _seed(app)
    _poison_sql(app)
    _check_readers(app)
    repaired = app.extensions["registry"].get_profile("default", "inventory").repaired
    assert repaired == [
        "display_name",
        "extensions[acme.x@v1][kbad\\ud800\\u0000end]",
        "extensions[acme.x@v1][kbad\\ud800\\u0000end][0]",
    ]


def test_a_yaml_store_file_with_refused_characters_is_read_as_replacement_characters(
    make_app, tmp_path
):
    path = tmp_path / "store.yaml"
    app = make_app(REGISTRY_STORE=f"yaml:{path}")
    _seed(app)
    _poison_yaml(path)
    assert "\\0" in path.read_text()
    _check_readers(app, NUL_SHOWN, history=False)
    service = app.extensions["registry"]
    assert service.get_registry("default").repaired == ["description"]
    assert service.get_profile("default", "inventory").repaired[0] == "display_name"
