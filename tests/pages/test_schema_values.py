"""Extensions and middleware configs drawn through their JSON Schema (profile view, resolve
page, history diffs), with the raw JSON one click away and a clear fallback to raw JSON."""

from __future__ import annotations

import json

from registry.domain.ports import WriteOptions
from registry.domain.service import ProfilePatch
from tests.pages.conftest import HX, csrf_token, soup

URL = "/registries/default/profiles/inventory"
SUGGESTIONS = "webchat.starter_suggestions@v1"
AGENT = "middleware.agentmode_config@v1"
XSS = "<script>alert('x')</script>"


def extension_entry(page, key: str):
    return page.find("code", string=key).find_parent(class_="ext-view")


def fields(tag) -> dict[str, str]:
    """A `dl.value-fields` as {label: shown value} (labels without their help text)."""
    out = {}
    for div in tag.select(":scope > div"):
        label = div.dt.contents[0]
        out[str(label).strip()] = div.dd.get_text(" ", strip=True)
    return out


def test_known_extension_reads_as_structure_with_raw_json_one_click_away(client, seeded):
    page = soup(client.get(URL))
    entry = extension_entry(page, SUGGESTIONS)
    assert entry.h3.get_text(" ", strip=True).startswith("Starter suggestions")
    view = entry.select_one(".schema-view dl.value-fields")
    label = view.select_one(":scope > div > dt")
    assert label.contents[0].strip() == "Suggestions"  # the schema's title
    assert "Prompts a chat client offers" in label.select_one(".help").get_text()
    items = [li.get_text() for li in view.select("ol.value-list > li")]
    assert items == ["Show stock below reorder threshold", "Which suppliers are late this week?"]
    raw = entry.select_one("details.raw-json")
    assert raw.summary.get_text() == "Raw JSON" and not raw.has_attr("open")
    assert (
        json.loads(raw.pre.get_text())
        == seeded.get_profile("default", "inventory").extensions[SUGGESTIONS]
    )
    assert entry.select(".raw-fallback") == []


def test_middleware_config_extension_and_effective_config_use_the_definition_schema(client, seeded):
    page = soup(client.get(URL))
    entry = extension_entry(page, AGENT)
    assert "middleware config" in entry.h3.get_text()
    instances = entry.select_one(".schema-view dl.value-fields")
    assert list(fields(instances)) == ["Instances"]
    primary = instances.select_one("dd dl.value-fields")
    assert list(fields(primary)) == ["id:primary"]
    assert fields(primary.select_one("dd dl.value-fields")) == {"Default mode": "plan"}
    # the middlewares table: the effective config as fields, with the schema's description
    row = page.find("td", string="1").find_parent("tr")
    config = row.select_one("td.config .schema-view dl.value-fields")
    assert fields(config) == {"Default mode": "plan"}
    assert "Mode used at the start" in config.select_one("dt .help").get_text()
    assert json.loads(row.select_one("details.raw-json pre").get_text()) == {"default_mode": "plan"}


def test_unknown_key_falls_back_to_raw_json_and_says_why(client, seeded):
    page = soup(client.get(URL))
    entry = extension_entry(page, "inventory.capabilities@v1")
    assert "unknown key" in entry.h3.get_text()
    assert entry.select(".schema-view") == [] and entry.select("details.raw-json") == []
    note = entry.select_one(".raw-fallback").get_text(" ", strip=True)
    assert "raw JSON" in note and "no codec knows this key" in note
    assert json.loads(entry.pre.get_text()) == {"panels": ["stock_alerts", "reorder", "suppliers"]}


def test_a_value_its_schema_refuses_falls_back_to_raw_json_with_the_problem(
    client, seeded, app_store
):
    profile = seeded.get_profile("default", "inventory")
    profile.extensions[SUGGESTIONS] = {"items": ["fine", {"no": 1}], "colour": "red"}
    app_store.update_profile("default", profile, WriteOptions(actor="test"))  # past the rules
    page = soup(client.get(URL))
    entry = extension_entry(page, SUGGESTIONS)
    assert entry.select(".schema-view") == []
    note = entry.select_one(".raw-fallback").get_text(" ", strip=True)
    assert "does not match its schema" in note
    assert "colour: unknown property" in note and "items[1]" in note
    assert json.loads(entry.pre.get_text()) == {"items": ["fine", {"no": 1}], "colour": "red"}
    # the other extensions still read through their schemas
    assert extension_entry(page, AGENT).select_one(".schema-view") is not None


def test_schema_values_are_escaped(client, seeded):
    current = seeded.get_profile("default", "inventory")
    extensions = {**current.extensions, SUGGESTIONS: {"items": [XSS]}}
    seeded.update_profile("default", "inventory", ProfilePatch(extensions=extensions), actor="a")
    body = client.get(URL).get_data(as_text=True)
    assert XSS not in body
    assert "&lt;script&gt;alert(" in body


def test_resolve_page_draws_extensions_and_configs_through_their_schemas(client, seeded):
    page = soup(client.get("/resolve?registry=default&profile=inventory"))
    result = page.select_one("#resolve-result")
    entry = result.find("code", string=SUGGESTIONS).find_parent(class_="ext-view")
    assert entry.find("h4") is not None  # under the result's h3
    assert [li.get_text() for li in entry.select("ol.value-list > li")] == [
        "Show stock below reorder threshold",
        "Which suppliers are late this week?",
    ]
    unknown = result.find("code", string="inventory.capabilities@v1").find_parent(class_="ext-view")
    assert "no codec knows this key" in unknown.select_one(".raw-fallback").get_text()
    config = result.select_one("td.config")
    assert fields(config.select_one("dl.value-fields")) == {"Default mode": "plan"}
    assert json.loads(config.select_one("details.raw-json pre").get_text()) == {
        "default_mode": "plan"
    }


def test_resolve_fragment_has_the_schema_values_too(client, seeded):
    token = csrf_token(client, "/resolve")
    response = client.post(
        "/resolve",
        data={"csrf_token": token, "registry": "default", "profile": "inventory"},
        headers=HX,
    )
    assert response.status_code == 200
    assert soup(response).select("#resolve-result ol.value-list > li")


def test_history_diff_of_an_extension_reads_with_the_schema_labels(client, seeded):
    current = seeded.get_profile("default", "inventory")
    extensions = {
        **current.extensions,
        SUGGESTIONS: {"items": ["Only this one"]},
        AGENT: {"instances": {"id:primary": {"default_mode": "act"}}},
    }
    seeded.update_profile("default", "inventory", ProfilePatch(extensions=extensions), actor="a")
    new, old = [r.id for r in seeded.list_revisions("default", "inventory")][:2]
    page = soup(client.get(f"{URL}/history/diff?a={old}&b={new}", headers=HX))
    rows = {r.find("code").get_text(): r for r in page.select("table.diff tbody tr")}
    mode = rows[f"extensions.{AGENT}.instances.id:primary.default_mode"]
    assert mode.select_one(".field-label").get_text() == (
        "Agent Mode config › Instances › id:primary › Default mode"
    )
    assert (mode.select_one("td.before").get_text(), mode.select_one("td.after").get_text()) == (
        "plan",
        "act",
    )
    items = rows[f"extensions.{SUGGESTIONS}.items"]  # a list that shrank: one entry, as lists
    assert items.select_one(".field-label").get_text() == "Starter suggestions › Suggestions"
    before = [li.get_text() for li in items.select("td.before ol.value-list > li")]
    assert before == ["Show stock below reorder threshold", "Which suppliers are late this week?"]
    assert [li.get_text() for li in items.select("td.after ol.value-list > li")] == [
        "Only this one"
    ]


def test_diff_of_an_unknown_extension_or_other_field_keeps_the_plain_path(client, seeded):
    current = seeded.get_profile("default", "inventory")
    extensions = {**current.extensions, "inventory.capabilities@v1": {"panels": ["x"]}}
    seeded.update_profile("default", "inventory", ProfilePatch(extensions=extensions), actor="a")
    new, old = [r.id for r in seeded.list_revisions("default", "inventory")][:2]
    page = soup(client.get(f"{URL}/history/diff?a={old}&b={new}", headers=HX))
    row = page.select_one("table.diff tbody tr")
    assert row.find("code").get_text() == "extensions.inventory.capabilities@v1.panels"
    assert row.select(".field-label") == [] and row.select("ol.value-list") == []
    assert json.loads(row.select_one("td.after").get_text()) == ["x"]


STEP_SCHEMA = {
    "type": "object",
    "properties": {
        "ai-chat": {
            "type": "object",
            "title": "Chat step",
            "properties": {"ai-engine": {"type": "string", "title": "Engine"}},
        }
    },
    "additionalProperties": False,
}


def test_step_settings_read_through_the_configured_schema(make_app):
    from registry.domain.importer import import_yaml
    from tests.conftest import FIXTURES

    app = make_app(REGISTRY_STEP_SETTINGS_SCHEMA=STEP_SCHEMA)
    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())
    page = soup(app.test_client().get("/registries/default/profiles/analyst"))
    runtime = page.find(id="h-runtime").find_parent("section")
    chat = runtime.select_one(".schema-view dl.value-fields")
    assert list(fields(chat)) == ["Chat step"]
    # the analyst's patch has ai-temperature too, which the schema does not know: for the
    # nested object that is allowed, so it is shown by its key
    assert fields(chat.select_one("dd dl.value-fields")) == {
        "Engine": "large-model-5",
        "ai-temperature": "0.2",
    }
    assert runtime.select_one("details.raw-json pre") is not None


def test_step_settings_the_schema_refuses_or_without_a_schema_are_raw_json(
    make_app, client, seeded
):
    from registry.domain.importer import import_yaml
    from tests.conftest import FIXTURES

    plain = soup(client.get("/registries/default/profiles/analyst"))
    runtime = plain.find(id="h-runtime").find_parent("section")
    assert runtime.select(".schema-view") == [] and runtime.select(".raw-fallback") == []
    assert json.loads(runtime.select_one("pre:not(.prompt)").get_text())["ai-chat"][
        "ai-engine"
    ] == ("large-model-5")
    strict = {**STEP_SCHEMA, "properties": {"other-step": {"type": "object"}}}
    app = make_app(REGISTRY_STEP_SETTINGS_SCHEMA=strict)
    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())
    page = soup(app.test_client().get("/registries/default/profiles/analyst"))
    runtime = page.find(id="h-runtime").find_parent("section")
    assert runtime.select(".schema-view") == []
    assert "does not match its schema" in runtime.select_one(".raw-fallback").get_text()
