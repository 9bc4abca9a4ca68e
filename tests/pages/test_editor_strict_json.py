"""The editor's JSON textareas use the API's strict parser: hostile nesting, repeated keys and
refused characters are a 422 with the problem beside the field, never a 500, nothing stored."""

from __future__ import annotations

import pytest

from tests.pages.conftest import HX, soup
from tests.pages.test_profile_editor import Editor, rich  # noqa: F401 (fixture)

DEEP = "[" * 100_000
TEXTAREAS = ["step_settings_patch", "xraw/acme.flags@v1"]


@pytest.mark.parametrize("name", TEXTAREAS)
@pytest.mark.parametrize("text", [DEEP, '{"a": ' * 70 + "1" + "}" * 70], ids=["100000", "70"])
def test_deep_json_in_a_textarea_is_422_beside_the_field(client, rich, name, text):  # noqa: F811
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill(name, text)
    assert ed.press().status_code == 422
    assert ed.errors_beside(name) == ["JSON is nested deeper than 64 levels"]
    assert rich.get_profile("default", "rich") == before


@pytest.mark.parametrize("section", ["step", "ext-acme.flags@v1"])
def test_inline_validation_of_deep_json_answers_the_fragment(client, rich, section):  # noqa: F811
    ed = Editor(client, "default", "rich")
    name = "step_settings_patch" if section == "step" else "xraw/acme.flags@v1"
    ed.fill(name, DEEP)
    r = client.post(ed.url + f"/validate?field={section}", data=ed.fields(), headers=HX)
    assert r.status_code == 200
    errors = " ".join(e.get_text() for e in soup(r).find_all(class_="error"))
    assert "nested deeper than 64 levels" in errors


def test_a_repeated_key_in_a_textarea_is_named_beside_the_field(client, rich):  # noqa: F811
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("step_settings_patch", '{"ai-chat": {"ai-engine": "a", "ai-engine": "b"}}')
    assert ed.press().status_code == 422
    assert ed.errors_beside("step_settings_patch") == [
        'ai-chat.ai-engine: Duplicate key "ai-engine"'
    ]
    ed.fill("step_settings_patch", "{}")
    ed.fill("xraw/acme.flags@v1", '[{"y": 1, "y": 2}]')
    assert ed.press().status_code == 422
    assert ed.errors_beside("xraw/acme.flags@v1") == ['[0].y: Duplicate key "y"']
    assert rich.get_profile("default", "rich") == before


@pytest.mark.parametrize("escaped", ["\\ud800", "\\u0000", "\\udfff"])
def test_refused_characters_in_a_textarea_are_named(client, rich, escaped):  # noqa: F811
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("xraw/acme.flags@v1", f'["ok", {{"k{escaped}": "v"}}, "x{escaped}"]')
    assert ed.press().status_code == 422
    errors = ed.errors_beside("xraw/acme.flags@v1")
    assert len(errors) == 2
    assert errors[0].startswith(f"[1][k{escaped.lower()}]: Key contains")
    assert errors[1].startswith("[2]: Contains")
    assert rich.get_profile("default", "rich") == before


def test_nul_in_a_text_field_is_422_beside_it(client, rich):  # noqa: F811
    before = rich.get_profile("default", "rich")
    ed = Editor(client, "default", "rich")
    ed.fill("display_name", "a\x00b")
    assert ed.press().status_code == 422
    [message] = ed.errors_beside("display_name")
    assert message.startswith("Contains NUL (U+0000) at character 1")
    assert rich.get_profile("default", "rich") == before
