"""Stacks in the admin pages: the editor's stack list (no JS), the lineage, the effective
profile panel with provenance, dependants and the editor's warning."""

from __future__ import annotations

import pytest

from registry.domain.model import PolicySpec, Profile, ProfileRef, RuntimeSpec
from tests.pages.conftest import soup
from tests.pages.test_profile_editor import Editor


@pytest.fixture
def layers(service):
    from registry.domain.model import Registry

    service.create_registry(Registry(slug="default"))
    service.create_profile(
        "default",
        Profile(
            slug="provider",
            runtime=RuntimeSpec(
                system_prompt="provider prompt",
                step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o", "ai-api-type": "openai"}},
            ),
            policy=PolicySpec(allow_overrides=True),
        ),
    )
    service.create_profile(
        "default",
        Profile(
            slug="model",
            stack=[ProfileRef("provider")],
            runtime=RuntimeSpec(step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o-mini"}}),
        ),
    )
    service.create_profile("default", Profile(slug="agent", runtime=RuntimeSpec(tools=["x"])))
    return service


def test_the_editor_builds_a_stack_without_javascript(client, layers):
    ed = Editor(client, "default", "agent")
    ed.press("op", "add:stack")
    ed.fill("stack/0", "default/model")
    ed.press("op", "add:stack")
    ed.fill("stack/1", "default/provider")
    ed.press("op", "up:stack/1")  # provider first (lowest precedence)
    assert [o.get("value") for o in ed.field("stack/0").find_all("option") if o.get("value")] == [
        "default/agent",
        "default/model",
        "default/provider",
    ]
    r = ed.press()
    assert r.status_code == 303, r.get_data(as_text=True)
    assert layers.get_profile("default", "agent").stack == [
        ProfileRef("provider", "default"),
        ProfileRef("model", "default"),
    ]
    # reorder and remove round trip
    ed = Editor(client, "default", "agent")
    ed.press("op", "remove:stack/0")
    assert ed.press().status_code == 303
    assert layers.get_profile("default", "agent").stack == [ProfileRef("model", "default")]


def test_a_cycle_is_reported_beside_the_stack_and_nothing_saved(client, layers):
    ed = Editor(client, "default", "provider")
    ed.press("op", "add:stack")
    ed.fill("stack/0", "default/model")
    r = ed.press()
    assert r.status_code == 422
    messages = ed.errors_beside("stack/0")
    assert any(
        "stack cycle detected: default/provider -> default/model" in m.lower() for m in messages
    ), messages
    assert layers.get_profile("default", "provider").stack == []


def test_the_profile_page_shows_lineage_and_provenance(client, layers):
    layers.create_profile(
        "default", Profile(slug="top", stack=[ProfileRef("model")], runtime=RuntimeSpec())
    )
    page = soup(client.get("/registries/default/profiles/top"))
    lineage = [li.get_text(" ", strip=True) for li in page.select("ol.lineage li")]
    assert lineage == ["default/provider", "default/model", "default/top (this profile)"]
    rows = {
        tr.select("td")[0].get_text(strip=True): tr.select("td")
        for tr in page.select("table.provenance tbody tr")
    }
    engine = rows["/runtime/step_settings_patch/ai-chat/ai-engine"]
    assert engine[1].get_text(strip=True) == "gpt-4o-mini"
    assert engine[2].find("a")["href"] == "/registries/default/profiles/model"
    assert "default/provider" in engine[3].get_text() and "gpt-4o" in engine[3].get_text()
    prompt = rows["/runtime/system_prompt"]
    assert prompt[2].get_text(strip=True) == "default/provider"
    assert prompt[3].get_text(strip=True) == "—"
    assert "restrictive merge" in rows["/policy/allow_overrides"][2].get_text()


def test_a_base_lists_its_dependants_and_its_editor_warns(client, layers):
    page = soup(client.get("/registries/default/profiles/provider"))
    deps = [li.get_text(" ", strip=True) for li in page.select("ul.dependants li")]
    assert deps == ["default/model"]
    editor = soup(client.get("/registries/default/profiles/provider/edit"))
    warning = editor.find(id="stack-dependants-warning")
    assert warning is not None and "1 profile stacks on this one" in warning.get_text()
    assert (
        soup(client.get("/registries/default/profiles/agent/edit")).find(
            id="stack-dependants-warning"
        )
        is None
    )


def test_an_unresolvable_stack_is_shown_not_a_crash(client, layers):
    layers.create_profile("default", Profile(slug="orphan", stack=[ProfileRef("p", "later")]))
    r = client.get("/registries/default/profiles/orphan")
    assert r.status_code == 200
    assert 'referenced registry "later" not found' in soup(r).get_text()


def test_the_resolve_preview_shows_the_same_provenance(client, layers, csrf):
    r = client.post(
        "/resolve",
        data={"csrf_token": csrf(), "registry": "default", "profile": "model"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    panel = soup(r).find(id="resolve-provenance")
    assert [li.get_text(strip=True) for li in panel.select("ol.lineage li")] == [
        "default/provider",
        "default/model",
    ]
    rows = {
        tr.select("td")[0].get_text(strip=True): tr.select("td")
        for tr in panel.select("table.provenance tbody tr")
    }
    engine = rows["/runtime/step_settings_patch/ai-chat/ai-engine"]
    assert engine[1].get_text(strip=True) == "gpt-4o-mini"
    assert engine[2].get_text(strip=True) == "default/model"
    assert "gpt-4o" in engine[3].get_text()
    # a profile without a stack shows no stack panel
    r = client.post(
        "/resolve", data={"csrf_token": csrf(), "registry": "default", "profile": "agent"}
    )
    assert soup(r).find(id="resolve-provenance") is None
