"""Editing a profile's middleware list: configs follow their uses, for the API and the editor
alike (the rule lives in `registry.domain.middleware.remap_configs`)."""

from __future__ import annotations

import pytest

from tests.pages.test_profile_editor import Editor

SQLITE = "middleware.sqlite_config@v1"
AGENT = "middleware.agentmode_config@v1"
# the stored config: schema defaults filled in on write
STOCK = {"dsn": "file:stock.db", "max_rows": 25, "execution_timeout_ms": 2000}


@pytest.fixture
def two_uses(client, seeded):
    """`default/tooling`: `[agentmode, sqlite(dsn=file:stock.db)]`, both without ids."""
    response = client.post(
        "/api/chat/profiles",
        json={
            "slug": "tooling",
            "runtime": {
                "middlewares": [
                    {"name": "agentmode", "config": {"default_mode": "plan"}},
                    {"name": "sqlite", "config": {"dsn": "file:stock.db", "max_rows": 25}},
                ]
            },
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["extensions"][SQLITE] == {"instances": {"index:1": STOCK}}
    return client


def _stored(client) -> dict:
    return client.get("/api/chat/profiles/tooling").get_json()["extensions"]


def test_patch_removing_an_earlier_use_keeps_the_config_of_the_later_one(two_uses):
    response = two_uses.patch(
        "/api/chat/profiles/tooling", json={"runtime": {"middlewares": [{"name": "sqlite"}]}}
    )
    assert response.status_code == 200, response.get_json()
    extensions = response.get_json()["extensions"]
    # sqlite moved from index 1 to 0 and took its config along; agentmode's config went with it
    assert extensions == {SQLITE: {"instances": {"index:0": STOCK}}}
    resolved = two_uses.post("/api/chat/resolve", json={"profile": "tooling"}).get_json()
    [config] = resolved["middleware_configs"]
    assert config["slot"] == "index:0" and config["config"]["dsn"] == "file:stock.db"


def test_patch_reordering_uses_moves_positional_configs(two_uses):
    response = two_uses.patch(
        "/api/chat/profiles/tooling",
        json={"runtime": {"middlewares": [{"name": "sqlite"}, {"name": "agentmode"}]}},
    )
    assert response.status_code == 200, response.get_json()
    extensions = response.get_json()["extensions"]
    assert extensions[SQLITE] == {"instances": {"index:0": STOCK}}
    assert extensions[AGENT] == {"instances": {"index:1": {"default_mode": "plan"}}}


def test_patch_of_other_fields_drops_orphan_slots(two_uses, service, app_store):
    profile = service.get_profile("default", "tooling")
    profile.extensions[SQLITE]["instances"]["index:7"] = {"dsn": "orphan.db"}
    app_store.update_profile("default", profile, _opts())  # written past the service's rules
    response = two_uses.patch("/api/chat/profiles/tooling", json={"display_name": "Tooling"})
    assert response.status_code == 200
    assert "index:7" not in response.get_json()["extensions"][SQLITE]["instances"]


def test_a_use_without_a_config_to_follow_still_needs_its_required_fields(two_uses):
    response = two_uses.patch(
        "/api/chat/profiles/tooling",
        json={"runtime": {"middlewares": [{"name": "agentmode"}, {"name": "sqlite", "id": "wh"}]}},
    )
    assert response.status_code == 400
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert fields == ["runtime.middlewares[1].config.dsn"]
    assert _stored(two_uses)[SQLITE] == {"instances": {"index:1": STOCK}}


def test_the_api_and_the_editor_give_the_same_result_for_the_same_edit(two_uses, service):
    """Remove the first middleware once through the editor, once through PATCH."""
    service.clone_profile("default", "tooling", "tooling-ui")
    ed = Editor(two_uses, "default", "tooling-ui")
    ed.press("op", "remove:mw/0")
    assert ed.press().status_code == 303
    by_api = two_uses.patch(
        "/api/chat/profiles/tooling", json={"runtime": {"middlewares": [{"name": "sqlite"}]}}
    )
    assert by_api.status_code == 200
    by_editor = service.get_profile("default", "tooling-ui")
    assert [m.name for m in by_editor.runtime.middlewares] == ["sqlite"]
    # The same slots hold the same configs (the editor's form also writes its empty list
    # fields, so compare what chat backends get: the effective configs).
    assert set(by_editor.extensions) == set(by_api.get_json()["extensions"]) == {SQLITE}
    configs = {}
    for slug in ("tooling", "tooling-ui"):
        resolved = two_uses.post("/api/chat/resolve", json={"profile": slug}).get_json()
        configs[slug] = resolved["middleware_configs"]
    assert configs["tooling"] == configs["tooling-ui"]
    assert configs["tooling"][0]["config"]["dsn"] == "file:stock.db"


def _opts():
    from registry.domain.ports import WriteOptions

    return WriteOptions(actor="test")
