"""The schema-driven profile editor: round trips, array buttons, errors beside fields,
inline validation, version conflicts, read-only profiles, escaping."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import MultiDict

from registry.domain.model import MiddlewareUse, PolicySpec, Profile, RuntimeSpec, profile_to_data
from registry.domain.service import ProfilePatch
from tests.pages.conftest import HX, form_fields, soup

SUGGESTIONS = "webchat.starter_suggestions@v1"
XSS = "<script>alert('x')</script>"


class Editor:
    """Drives the editor like a browser: fill fields, press buttons, follow the response."""

    def __init__(self, client, registry: str, profile: str, *, htmx: bool = False):
        self.client = client
        self.url = f"/registries/{registry}/profiles/{profile}/edit"
        self.htmx = htmx
        self.response = client.get(self.url)
        assert self.response.status_code == 200, self.response.get_data(as_text=True)
        self.form = soup(self.response).find("form", id="profile-editor")

    def field(self, name: str):
        el = self.form.find(attrs={"name": name})
        assert el is not None, f"no field {name}"
        return el

    def fill(self, name: str, value) -> Editor:
        el = self.field(name)
        if el.name == "textarea":
            el.string = "\n" + value
        elif el.name == "select":
            for option in el.find_all("option"):
                if option.get("value") == value:
                    option["selected"] = ""
                elif option.has_attr("selected"):
                    del option["selected"]
        elif el.get("type") == "checkbox":
            if value:
                el["checked"] = ""
            elif el.has_attr("checked"):
                del el["checked"]
        else:
            el["value"] = value
        return self

    def fields(self, submitter=None) -> MultiDict:
        return MultiDict(form_fields(self.form, submitter))

    def press(self, name: str = "", value: str | None = None, *, data: MultiDict | None = None):
        """Click the button `name`(=`value`), or submit the form (Save) when no name."""
        submitter = None
        if name:
            matches = self.form.find_all("button", attrs={"name": name})
            submitter = next(b for b in matches if value is None or b.get("value") == value)
            assert not submitter.has_attr("disabled")
        body = data if data is not None else self.fields(submitter)
        self.response = self.client.post(self.url, data=body, headers=HX if self.htmx else {})
        page = soup(self.response)
        form = page.find("form", id="profile-editor")
        if form is not None:
            self.form = form
        return self.response

    def errors_beside(self, name: str) -> list[str]:
        """The error messages in the field wrapper of input `name`."""
        el = self.field(name)
        wrapper = el.find_parent(class_="field") or el.find_parent(class_="section")
        return [p.get_text() for p in wrapper.find_all(class_="error")]


def content(profile: Profile) -> dict:
    data = profile_to_data(profile)
    data.pop("metadata")
    data.pop("display_name", None)
    return data


@pytest.fixture
def rich(seeded):
    """A profile with everything: middleware configs (by id and by position, one disabled),
    unknown extension keys, suggestions, step settings, policy lists, a multi-line prompt."""
    profile = Profile(
        slug="rich",
        display_name="Rich",
        description="Has everything.",
        runtime=RuntimeSpec(
            system_prompt="\nFirst line after a blank one.\n  indented\n",
            tools=["search", "calc"],
            step_settings_patch={"ai-chat": {"ai-engine": "m-5", "ai-temperature": 0.5}},
            middlewares=[
                MiddlewareUse("agentmode", id="primary", config={"default_mode": "act"}),
                MiddlewareUse("sqlite", config={"dsn": "file:db.sqlite", "max_rows": 7}),
                MiddlewareUse("agentmode", id="second", enabled=False),
                MiddlewareUse("sqlite", id="wh", enabled=True, config={"dsn": "wh.db"}),
            ],
        ),
        policy=PolicySpec(
            allow_overrides=True,
            allowed_override_keys=["system_prompt"],
            denied_override_keys=["tools"],
        ),
        extensions={
            SUGGESTIONS: {"items": ["One", "Two"]},
            "thirdparty.ui_hints@v2": {"z": 1, "a": [1.0, 2, True], "nested": {"note": None}},
            "acme.flags@v1": ["x", {"y": 2.5}],
            "acme.scalar@v3": "just a string",
        },
    )
    profile.metadata.tags = ["one", "two"]
    seeded.create_profile("default", profile, actor="seed")
    return seeded


# --- rendering ---------------------------------------------------------------------------------


def test_editor_shows_every_section_with_current_values(client, seeded):
    ed = Editor(client, "default", "inventory")
    page = soup(ed.response)
    assert ed.field("display_name")["value"] == "Inventory"
    assert "inventory assistant" in ed.field("system_prompt").get_text()
    assert [ed.field(f"tools/{i}")["value"] for i in (0, 1)] == ["stock_lookup", "reorder"]
    assert ed.field("mw/0/name")["value"] == "agentmode"
    assert ed.field("mw/0/id")["value"] == "primary"
    mode = ed.field("mw/0/config/default_mode").find("option", selected=True)
    assert mode["value"] == "plan"
    assert ed.field(f"ext/{SUGGESTIONS}/items/1")["value"] == "Which suppliers are late this week?"
    raw = json.loads(ed.field("xraw/inventory.capabilities@v1").get_text())
    assert raw == {"panels": ["stock_alerts", "reorder", "suppliers"]}
    assert ed.field("policy/allow_overrides").has_attr("checked")
    assert ed.field("tags/0")["value"] == "ops"
    assert ed.field("expected_version")["value"] == "1"
    # middleware configs are edited on the middleware, not again as an extension
    assert page.find(attrs={"name": "xraw/middleware.agentmode_config@v1"}) is None
    assert page.find(attrs={"name": "ext/middleware.agentmode_config@v1@present"}) is None
    # the only other known key is present already: nothing to add
    assert page.find(attrs={"name": "new_extension"}) is None
    alt = page.find("link", rel="alternate")
    assert alt["href"] == "/api/chat/profiles/inventory?registry=default"
    assert client.get(alt["href"]).get_json()["slug"] == "inventory"


def test_htmx_get_and_op_posts_return_only_the_form(client, seeded):
    r = client.get("/registries/default/profiles/inventory/edit", headers=HX)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<form id="profile-editor"')
    assert "HX-Request" in r.headers.get("Vary", "")
    ed = Editor(client, "default", "inventory", htmx=True)
    r = ed.press("op", "add:tools")
    assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
    assert ed.field("tools/2")["value"] == ""


def test_post_without_csrf_is_rejected(client, seeded):
    ed = Editor(client, "default", "inventory")
    data = ed.fields()
    data.pop("csrf_token")
    data["display_name"] = "Changed"
    r = client.post(ed.url, data=data)
    assert r.status_code == 400
    assert seeded.get_profile("default", "inventory").display_name == "Inventory"
    r = client.post(ed.url.replace("/edit", "/edit/validate?field=display_name"), data=data)
    assert r.status_code == 400


# --- round trip --------------------------------------------------------------------------------


def test_changing_only_the_display_name_keeps_everything_else_byte_for_byte(client, rich):
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("display_name", "Renamed")
    r = ed.press()
    assert r.status_code == 303, r.get_data(as_text=True)
    after = rich.get_profile("default", "rich")
    assert after.display_name == "Renamed"
    assert after.metadata.version == before.metadata.version + 1
    assert json.dumps(content(after)) == json.dumps(content(before))
    assert after.metadata.tags == before.metadata.tags


@pytest.mark.parametrize("slug", ["inventory", "default"])
def test_round_trip_of_the_seeded_profiles(client, seeded, slug):
    before = seeded.get_profile("default", slug)
    ed = Editor(client, "default", slug)
    ed.fill("display_name", "Renamed")
    assert ed.press().status_code == 303
    after = seeded.get_profile("default", slug)
    assert json.dumps(content(after)) == json.dumps(content(before))


def test_saving_with_htmx_redirects_the_browser(client, seeded):
    ed = Editor(client, "default", "inventory", htmx=True)
    ed.fill("description", "New description")
    r = ed.press()
    assert r.status_code == 200
    assert r.headers["HX-Redirect"] == "/registries/default/profiles/inventory"
    assert seeded.get_profile("default", "inventory").description == "New description"
    assert "Saved Inventory (version 2)" in client.get(r.headers["HX-Redirect"]).get_data(
        as_text=True
    )


def test_unknown_extension_keys_are_never_dropped_by_other_edits(client, rich):
    """Even a post that lacks the JSON textareas (stale or hand-made form) keeps them."""
    ed = Editor(client, "default", "rich")
    data = ed.fields()
    for key in [k for k in data if k.startswith("xraw/")]:
        data.pop(key)
    data["description"] = "Edited"
    assert client.post(ed.url, data=data).status_code == 303
    after = rich.get_profile("default", "rich")
    assert after.description == "Edited"
    assert after.extensions["acme.flags@v1"] == ["x", {"y": 2.5}]
    assert after.extensions["thirdparty.ui_hints@v2"]["nested"] == {"note": None}


def test_an_unknown_extension_is_removed_only_by_its_button(client, rich):
    ed = Editor(client, "default", "rich")
    r = ed.press("op", "remove-extension:acme.flags@v1")
    assert r.status_code == 200
    assert ed.form.find(attrs={"name": "xraw/acme.flags@v1"}) is None
    assert rich.get_profile("default", "rich").extensions["acme.flags@v1"]  # not saved yet
    assert ed.press().status_code == 303
    after = rich.get_profile("default", "rich")
    assert "acme.flags@v1" not in after.extensions
    assert after.extensions["acme.scalar@v3"] == "just a string"


def test_editing_an_unknown_extension_as_json(client, rich):
    ed = Editor(client, "default", "rich")
    ed.fill("xraw/acme.scalar@v3", '{"now": ["an", "object"]}')
    assert ed.press().status_code == 303
    assert rich.get_profile("default", "rich").extensions["acme.scalar@v3"] == {
        "now": ["an", "object"]
    }


def test_invalid_json_in_an_unknown_extension_is_shown_and_nothing_stored(client, rich):
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("xraw/acme.flags@v1", '{"broken": ')
    ed.fill("display_name", "Not saved")
    r = ed.press()
    assert r.status_code == 422
    assert any(e.startswith("JSON: ") for e in ed.errors_beside("xraw/acme.flags@v1"))
    assert ed.field("xraw/acme.flags@v1").get_text().strip() == '{"broken":'
    assert ed.field("display_name")["value"] == "Not saved"  # redisplayed
    assert rich.get_profile("default", "rich") == before
    ed.fill("xraw/acme.flags@v1", "NaN")
    assert ed.press().status_code == 422
    assert rich.get_profile("default", "rich") == before


def test_a_codec_form_keeps_properties_its_schema_does_not_describe(client, seeded):
    from registry.domain.extensions import Codec

    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "size": {"type": "integer"}},
    }
    seeded.codecs.register(Codec(key="acme.card@v1", schema=schema, display_name="Card"))
    seeded.update_profile(
        "default",
        "default",
        ProfilePatch(extensions={"acme.card@v1": {"title": "T", "extra": {"kept": [1]}}}),
    )
    ed = Editor(client, "default", "default")
    assert ed.field("ext/acme.card@v1/title")["value"] == "T"
    ed.fill("ext/acme.card@v1/size", "3")
    assert ed.press().status_code == 303
    stored = seeded.get_profile("default", "default").extensions["acme.card@v1"]
    assert stored == {"title": "T", "size": 3, "extra": {"kept": [1]}}


# --- arrays ------------------------------------------------------------------------------------


def test_starter_suggestions_add_three_remove_one_then_save(client, seeded):
    ed = Editor(client, "default", "default")
    assert ed.press("op", "add-extension").status_code == 200  # the first choice: suggestions
    items = f"ext/{SUGGESTIONS}/items"
    for i, text in enumerate(["Alpha", "Beta", "Gamma"]):
        r = ed.press("op", f"add:{items}")
        assert r.status_code == 200
        ed.fill(f"{items}/{i}", text)
    assert seeded.get_profile("default", "default").extensions == {}  # ops never save
    r = ed.press("op", f"remove:{items}/1")
    assert r.status_code == 200
    assert [ed.field(f"{items}/{i}")["value"] for i in (0, 1)] == ["Alpha", "Gamma"]
    assert ed.form.find(attrs={"name": f"{items}/2"}) is None
    assert ed.press().status_code == 303
    stored = seeded.get_profile("default", "default")
    assert stored.extensions == {SUGGESTIONS: {"items": ["Alpha", "Gamma"]}}


def test_empty_suggestion_error_is_beside_its_input(client, seeded):
    ed = Editor(client, "default", "inventory")
    ed.press("op", f"add:ext/{SUGGESTIONS}/items")
    r = ed.press()
    assert r.status_code == 422
    assert ed.errors_beside(f"ext/{SUGGESTIONS}/items/2") == [
        "Enter a suggestion or remove the empty row"
    ]  # was "'' should be non-empty"
    assert seeded.get_profile("default", "inventory").metadata.version == 1


def test_tools_add_reorder_remove(client, seeded):
    ed = Editor(client, "default", "inventory")
    ed.press("op", "add:tools")
    ed.fill("tools/2", "forecast")
    ed.press("op", "up:tools/2")
    ed.press("op", "remove:tools/0")
    assert ed.press().status_code == 303
    assert seeded.get_profile("default", "inventory").runtime.tools == ["forecast", "reorder"]


def test_empty_tool_is_reported_beside_it_with_the_api_message(client, seeded):
    ed = Editor(client, "default", "inventory")
    ed.press("op", "add:tools")
    assert ed.press().status_code == 422
    assert ed.errors_beside("tools/2") == ["Enter a tool name or remove the empty row"]
    assert not ed.errors_beside("tools/1")


def test_policy_lists_conflict_is_shown_on_the_policy_section(client, seeded):
    ed = Editor(client, "default", "inventory")
    ed.press("op", "add:policy/denied_override_keys")
    ed.fill("policy/denied_override_keys/0", "system_prompt")
    assert ed.press().status_code == 422
    policy = ed.form.find(id="sec-policy")
    assert 'Key "system_prompt" appears in both allow and deny lists' in policy.get_text()


# --- middlewares -------------------------------------------------------------------------------


def test_add_middleware_with_config_then_reorder(client, seeded):
    ed = Editor(client, "default", "inventory")
    ed.fill("new_middleware", "sqlite")
    assert ed.press("op", "add-middleware").status_code == 200
    assert ed.field("mw/1/name")["value"] == "sqlite"
    assert ed.field("mw/1/config/max_rows")["value"] == "100"  # the schema default
    ed.fill("mw/1/config/dsn", "file:stock.db")
    ed.fill("mw/1/config/max_rows", "25")
    ed.press("op", "up:mw/1")
    assert ed.field("mw/0/config/dsn")["value"] == "file:stock.db"
    assert ed.press().status_code == 303
    p = seeded.get_profile("default", "inventory")
    assert [m.name for m in p.runtime.middlewares] == ["sqlite", "agentmode"]
    sqlite = p.extensions["middleware.sqlite_config@v1"]["instances"]["index:0"]
    assert sqlite["dsn"] == "file:stock.db" and sqlite["max_rows"] == 25
    agent = p.extensions["middleware.agentmode_config@v1"]["instances"]
    assert agent == {"id:primary": {"default_mode": "plan"}}  # moved by id, untouched


def test_reordering_positional_middlewares_moves_their_configs(client, rich):
    ed = Editor(client, "default", "rich")
    ed.press("op", "remove:mw/0")  # agentmode#primary; sqlite (index:1) becomes index:0
    assert ed.field("mw/0/config/dsn")["value"] == "file:db.sqlite"
    assert ed.press().status_code == 303
    p = rich.get_profile("default", "rich")
    instances = p.extensions["middleware.sqlite_config@v1"]["instances"]
    assert instances["index:0"]["dsn"] == "file:db.sqlite"
    assert "index:1" not in instances  # the slot of the old position is gone
    # agentmode#primary was the only stored agentmode config: the key goes with it
    assert "middleware.agentmode_config@v1" not in p.extensions
    resolved = rich.resolve("default", "rich")
    configs = {m["slot"]: m["config"] for m in resolved.to_data()["middleware_configs"]}
    assert configs["index:0"]["max_rows"] == 7


def test_enable_toggle(client, rich):
    ed = Editor(client, "default", "rich")
    assert not ed.field("mw/2/enabled").has_attr("checked")
    ed.fill("mw/2/enabled", True)
    ed.fill("mw/0/enabled", False)
    assert ed.press().status_code == 303
    uses = rich.get_profile("default", "rich").runtime.middlewares
    assert [u.enabled for u in uses] == [False, None, True, True]


def test_invalid_middleware_config_is_shown_beside_the_field_and_not_stored(client, rich):
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("mw/1/config/max_rows", "0")
    ed.fill("mw/3/config/dsn", "")
    ed.fill("display_name", "Not saved")
    r = ed.press()
    assert r.status_code == 422
    assert ed.errors_beside("mw/1/config/max_rows") == ["Must be at least 1"]
    assert ed.errors_beside("mw/3/config/dsn") == ["Required"]
    assert not ed.errors_beside("mw/1/config/dsn")
    assert ed.field("mw/1/config/max_rows")["value"] == "0"
    assert ed.field("display_name")["value"] == "Not saved"
    assert rich.get_profile("default", "rich") == before


def test_a_word_in_a_number_field_is_redisplayed_with_its_error(client, rich):
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("mw/1/config/max_rows", "many")
    assert ed.press().status_code == 422
    assert ed.field("mw/1/config/max_rows")["value"] == "many"
    assert ed.errors_beside("mw/1/config/max_rows") == ["Must be a whole number"]
    assert rich.get_profile("default", "rich") == before


def test_new_sqlite_middleware_without_dsn_reports_required(client, seeded):
    ed = Editor(client, "default", "default")
    ed.fill("new_middleware", "sqlite")
    ed.press("op", "add-middleware")
    assert ed.press().status_code == 422
    assert ed.errors_beside("mw/0/config/dsn") == ["Required"]


def test_duplicate_instance_id_is_shown_on_the_id_field(client, rich):
    ed = Editor(client, "default", "rich")
    ed.fill("mw/2/id", "primary")
    assert ed.press().status_code == 422
    [message] = ed.errors_beside("mw/2/id")
    assert message.startswith('Duplicate middleware instance id "primary"')


# --- step settings -----------------------------------------------------------------------------


def test_step_settings_json_is_checked_like_the_api(client, rich):
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("step_settings_patch", '{"ai-chat": 3}')
    assert ed.press().status_code == 422
    assert ed.errors_beside("step_settings_patch") == ["ai-chat: Must be an object"]
    ed.fill("step_settings_patch", "[1")
    assert ed.press().status_code == 422
    assert rich.get_profile("default", "rich") == before
    ed.fill("step_settings_patch", '{"ai-chat": {"ai-engine": "m-6"}}')
    assert ed.press().status_code == 303
    patch = rich.get_profile("default", "rich").runtime.step_settings_patch
    assert patch == {"ai-chat": {"ai-engine": "m-6"}}


def test_step_settings_form_when_a_schema_is_configured(make_app, tmp_path):
    from registry.domain.importer import import_yaml
    from tests.conftest import FIXTURES

    schema = {
        "type": "object",
        "properties": {
            "ai-chat": {
                "type": "object",
                "properties": {
                    "ai-engine": {"type": "string"},
                    "ai-temperature": {"type": "number"},
                },
            }
        },
    }
    app = make_app(REGISTRY_STEP_SETTINGS_SCHEMA=schema)
    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())
    client = app.test_client()
    app.extensions["registry"].update_profile(
        "default",
        "default",
        ProfilePatch(runtime=RuntimeSpec(step_settings_patch={"ai-chat": {"ai-engine": "a"}})),
    )
    ed = Editor(client, "default", "default")
    assert ed.field("step/ai-chat/ai-engine")["value"] == "a"
    ed.fill("step/ai-chat/ai-temperature", "0.7")
    assert ed.press().status_code == 303
    patch = app.extensions["registry"].get_profile("default", "default").runtime
    assert patch.step_settings_patch == {"ai-chat": {"ai-engine": "a", "ai-temperature": 0.7}}


# --- inline validation -------------------------------------------------------------------------


def test_inline_validation_returns_the_field_fragment_with_its_errors(client, rich):
    ed = Editor(client, "default", "rich")
    ed.fill("mw/1/config/max_rows", "0")
    url = ed.url + "/validate?field=mw-1"
    r = client.post(url, data=ed.fields(), headers=HX)
    assert r.status_code == 200
    fragment = soup(r)
    body = r.get_data(as_text=True)
    assert "<html" not in body and "<form" not in body
    root = fragment.find(id="sec-mw-1")
    assert root is not None and root["hx-post"].endswith("field=mw-1")
    field = fragment.find(attrs={"name": "mw/1/config/max_rows"}).find_parent(class_="field")
    assert [e.get_text() for e in field.find_all(class_="error")] == ["Must be at least 1"]
    assert field.find("input")["aria-invalid"] == "true"
    # another section's fragment does not carry this error
    r = client.post(ed.url + "/validate?field=tools", data=ed.fields(), headers=HX)
    assert "minimum" not in r.get_data(as_text=True)
    # a clean field comes back without errors; nothing is ever stored
    ed.fill("mw/1/config/max_rows", "5")
    r = client.post(url, data=ed.fields(), headers=HX)
    assert not soup(r).find(class_="error")
    assert rich.get_profile("default", "rich").metadata.version == 1


@pytest.mark.parametrize(
    ("name", "value", "section", "message"),
    [
        ("display_name", "x" * 201, "display_name", "Must be at most 200 characters"),
        ("tools/0", "  ", "tools", "Enter a tool name or remove the empty row"),
        (
            "xraw/acme.flags@v1",
            "{",
            "ext-acme.flags@v1",
            "JSON: expected a quoted name at line 1, column 2",
        ),
        (
            f"ext/{SUGGESTIONS}/items/0",
            " ",
            f"ext-{SUGGESTIONS}",
            "Enter a suggestion or remove the empty row",
        ),
    ],
)
def test_inline_validation_per_section(client, rich, name, value, section, message):
    ed = Editor(client, "default", "rich")
    ed.fill(name, value)
    r = client.post(ed.url + f"/validate?field={section}", data=ed.fields(), headers=HX)
    assert r.status_code == 200
    assert message in " ".join(e.get_text() for e in soup(r).find_all(class_="error"))


def test_inline_validation_of_an_unknown_section_is_404(client, seeded):
    ed = Editor(client, "default", "inventory")
    r = client.post(ed.url + "/validate?field=nope", data=ed.fields(), headers=HX)
    assert r.status_code == 404


# --- conflicts ---------------------------------------------------------------------------------


def _panel_lists(panel) -> dict[str, list[str]]:
    return {
        cls: [li.find("code").get_text() for li in ul.find_all("li")]
        for cls in ("yours-list", "theirs-list")
        for ul in panel.find_all("ul", class_=cls)
    }


def test_conflict_shows_the_merge_and_overwrite_names_what_it_reverts(client, app, seeded):
    mine = Editor(client, "default", "inventory")
    other_client = app.test_client()
    theirs = Editor(other_client, "default", "inventory")
    theirs.fill("system_prompt", "Their prompt.")
    assert theirs.press().status_code == 303

    mine.fill("display_name", "Mine")
    r = mine.press()
    assert r.status_code == 409
    panel = mine.form.find(class_="conflict")
    assert panel is not None
    assert _panel_lists(panel) == {
        "yours-list": ["display_name"],
        "theirs-list": ["runtime.system_prompt"],
    }
    assert panel.find("table") is None  # nothing collides
    assert "version 1" in panel.get_text() and "version 2" in panel.get_text()
    assert mine.field("display_name")["value"] == "Mine"  # my values are kept
    reload = panel.find("a", string=lambda s: s and "Reload" in s)
    assert reload["href"] == mine.url
    overwrite = panel.find("button", attrs={"name": "overwrite"})
    assert overwrite.get_text() == (
        "Overwrite version 2, reverting their changes to runtime.system_prompt"
    )
    assert seeded.get_profile("default", "inventory").display_name == "Inventory"

    # Overwrite: my whole form wins, their prompt is reverted
    r = mine.press("overwrite", "2")
    assert r.status_code == 303, r.get_data(as_text=True)
    stored = seeded.get_profile("default", "inventory")
    assert stored.display_name == "Mine"
    assert stored.metadata.version == 3
    assert stored.runtime.system_prompt.startswith("You are an inventory assistant")


def test_apply_my_changes_on_top_keeps_theirs(client, app, seeded):
    mine = Editor(client, "default", "inventory")
    seeded.update_profile("default", "inventory", ProfilePatch(description="Theirs"), actor="ann")
    mine.fill("system_prompt", "My prompt.")
    assert mine.press().status_code == 409
    button = mine.form.find("button", string="Apply my changes on top")
    assert button["name"] == "merge" and button["value"] == "2"
    r = mine.press("merge", "2")
    assert r.status_code == 303, r.get_data(as_text=True)
    stored = seeded.get_profile("default", "inventory")
    assert (stored.description, stored.runtime.system_prompt) == ("Theirs", "My prompt.")
    assert stored.metadata.version == 3
    page = soup(client.get(r.headers["Location"]))
    assert "your changes applied on top of version 2" in page.find(class_="flash").get_text()


def test_collisions_are_side_by_side_and_need_a_choice(client, app, seeded):
    mine = Editor(client, "default", "inventory")
    seeded.update_profile(
        "default", "inventory", ProfilePatch(description="Theirs", display_name="Their name")
    )
    mine.fill("description", "Mine").fill("display_name", "My name")
    mine.fill("system_prompt", "My prompt.")
    assert mine.press().status_code == 409
    table = mine.form.find("table", class_="merge")
    heads = [th.get_text() for th in table.find("thead").find_all("th")]
    assert heads == ["Field", "Version 1 (where you started)", "Theirs (version 2)", "Yours"]
    rows = {
        tr.find("code").get_text(): [td.find("pre").get_text() for td in tr.find_all("td")]
        for tr in table.find("tbody").find_all("tr")
    }
    assert rows == {
        "description": ["Tool-first inventory assistant.", "Theirs", "Mine"],
        "display_name": ["Inventory", "Their name", "My name"],
    }
    assert _panel_lists(mine.form.find(class_="conflict"))["yours-list"] == [
        "runtime.system_prompt"
    ]

    # no choice made: still a conflict, nothing stored, told what to do
    r = mine.press("merge", "2")
    assert r.status_code == 409
    assert "Choose whose value to keep for the 2 fields" in r.get_data(as_text=True)
    assert seeded.get_profile("default", "inventory").metadata.version == 2

    data = mine.fields(mine.form.find("button", attrs={"name": "merge"}))
    data["choice:description"] = "yours"
    data["choice:display_name"] = "theirs"
    r = mine.press(data=data)
    assert r.status_code == 303, r.get_data(as_text=True)
    stored = seeded.get_profile("default", "inventory")
    assert (stored.description, stored.display_name) == ("Mine", "Their name")
    assert stored.runtime.system_prompt == "My prompt."


def test_choices_against_a_version_that_moved_again_are_shown_again(client, app, seeded):
    mine = Editor(client, "default", "inventory")
    seeded.update_profile("default", "inventory", ProfilePatch(description="Theirs"))
    mine.fill("description", "Mine")
    assert mine.press().status_code == 409
    seeded.update_profile("default", "inventory", ProfilePatch(description="Theirs again"))
    data = mine.fields(mine.form.find("button", attrs={"name": "merge"}))
    data["choice:description"] = "yours"
    r = mine.press(data=data)
    assert r.status_code == 409
    assert "It changed again" in r.get_data(as_text=True)
    assert mine.form.find("button", attrs={"name": "merge"})["value"] == "3"
    assert seeded.get_profile("default", "inventory").description == "Theirs again"


def test_saving_an_unchanged_form_is_nothing_to_save(client, seeded):
    ed = Editor(client, "default", "inventory")
    changes = len(seeded.list_changes(0, 1000))
    r = ed.press()
    assert r.status_code == 303
    assert seeded.get_profile("default", "inventory").metadata.version == 1
    assert len(seeded.list_changes(0, 1000)) == changes
    page = soup(client.get(r.headers["Location"]))
    assert page.find(class_="flash").get_text() == (
        "Nothing to save: Inventory is unchanged (still version 1)."
    )


def test_conflict_on_the_yaml_store_offers_reload_or_a_named_overwrite(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"yaml:{tmp_path / 'r.yaml'}")
    service = app.extensions["registry"]
    from registry.domain.model import Registry

    service.create_registry(Registry(slug="default"))
    service.create_profile(None, Profile(slug="p", description="one"))
    client = app.test_client()
    mine = Editor(client, "default", "p")
    service.update_profile(None, "p", ProfilePatch(description="two"))
    mine.fill("display_name", "Mine")
    assert mine.press().status_code == 409
    panel = mine.form.find(class_="conflict")
    assert "keeps no history" in panel.get_text()
    assert panel.find("button", attrs={"name": "merge"}) is None
    overwrite = panel.find("button", attrs={"name": "overwrite"})
    assert overwrite.get_text() == "Overwrite version 2, changing description, display_name"


def test_conflict_fragment_for_htmx(client, app, seeded):
    mine = Editor(client, "default", "inventory", htmx=True)
    seeded.update_profile("default", "inventory", ProfilePatch(description="Changed elsewhere"))
    r = mine.press()
    assert r.status_code == 409
    body = r.get_data(as_text=True)
    assert "<html" not in body and "Someone else saved this profile" in body


# --- read-only ---------------------------------------------------------------------------------


def test_read_only_profile_cannot_be_saved(client, seeded):
    r = client.get("/registries/default/profiles/analyst/edit")
    page = soup(r)
    form = page.find("form", id="profile-editor")
    assert "policy.read_only" in form.find(class_="readonly-note").get_text()
    assert not [b for b in form.find_all("button") if b.get_text().strip() == "Save"]
    assert form.find(attrs={"name": "display_name"}).has_attr("disabled")
    assert not form.has_attr("hx-post")
    data = MultiDict(form_fields(form))
    data["display_name"] = "Hacked"
    data["csrf_token"] = page.find(attrs={"name": "csrf_token"})["value"]
    r = client.post("/registries/default/profiles/analyst/edit", data=data)
    assert r.status_code == 403
    assert seeded.get_profile("default", "analyst").display_name == "Analyst"


def test_registry_managed_by_a_file_cannot_be_edited(make_app, tmp_path):
    from tests.conftest import FIXTURES

    seed = tmp_path / "managed.yaml"
    seed.write_text((FIXTURES / "canonical-bundle.yaml").read_text())
    app = make_app(REGISTRY_SEED_FILES=str(seed))
    client = app.test_client()
    ed = Editor(client, "default", "inventory")
    assert "managed.yaml" in ed.form.find(class_="readonly-note").get_text()
    data = ed.fields()
    data["display_name"] = "Hacked"
    assert client.post(ed.url, data=data).status_code == 403
    assert app.extensions["registry"].get_profile("default", "inventory").display_name == (
        "Inventory"
    )


# --- escaping ----------------------------------------------------------------------------------


def _no_script(response) -> None:
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    assert all(tag.has_attr("src") for tag in soup(response).find_all("script"))


def test_script_payloads_are_escaped_in_the_editor_and_its_fragments(client, seeded):
    profile = Profile(
        slug="xss",
        display_name=XSS,
        description=XSS,
        runtime=RuntimeSpec(
            system_prompt=XSS,
            tools=[XSS],
            middlewares=[MiddlewareUse("sqlite", config={"dsn": XSS})],
        ),
        extensions={SUGGESTIONS: {"items": [XSS]}, "acme.raw@v1": {"html": XSS}},
    )
    profile.metadata.tags = [XSS[:60]]
    seeded.create_profile("default", profile)
    ed = Editor(client, "default", "xss")
    _no_script(ed.response)
    assert ed.field("display_name")["value"] == XSS
    assert ed.field("mw/0/config/dsn")["value"] == XSS
    assert ed.field("system_prompt").get_text() == "\n" + XSS
    _no_script(client.get(ed.url, headers=HX))
    for section in ["display_name", "description", "system_prompt", "tools", "tags", "mw-0"]:
        _no_script(client.post(ed.url + f"/validate?field={section}", data=ed.fields(), headers=HX))
    for section in [f"ext-{SUGGESTIONS}", "ext-acme.raw@v1"]:
        _no_script(client.post(ed.url + f"/validate?field={section}", data=ed.fields(), headers=HX))
    _no_script(ed.press("op", "add:tools"))
    _no_script(ed.press("op", "remove:tools/1"))
    # an error response redisplays the payload, escaped
    ed.fill("xraw/acme.raw@v1", XSS)
    r = ed.press()
    assert r.status_code == 422
    _no_script(r)
    # and the round trip stores it unchanged
    ed.fill("xraw/acme.raw@v1", json.dumps({"html": XSS}))
    assert ed.press().status_code == 303
    stored = seeded.get_profile("default", "xss")
    assert stored.display_name == XSS and stored.runtime.tools == [XSS]
