"""Resolve preview page: selection, overrides, result block, errors as 422."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup

from registry.domain.importer import import_yaml

HX = {"HX-Request": "true"}
XSS = "<script>alert(1)</script>"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def api_resolve(client, **body) -> dict:
    response = client.post("/api/chat/resolve", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_form_renders_with_registries_and_profiles(client, seeded):
    response = client.get("/resolve")
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    registries = [o["value"] for o in page.select("#resolve-registry option")]
    assert registries == ["default", "team"]
    profiles = [o["value"] for o in page.select("#resolve-profile option")]
    assert profiles == ["", "analyst", "default", "inventory"]
    assert "Nothing resolved yet" in page.select_one("#resolve-result").get_text()


def test_prefilled_link_resolves_at_once(client, seeded):
    response = client.get("/resolve?registry=default&profile=inventory")
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("#resolve-profile option[selected]")["value"] == "inventory"
    expected = api_resolve(client, registry="default", profile="inventory")
    result = page.select_one("#resolve-result")
    assert result.select_one(".fingerprint").get_text() == expected["fingerprint"]
    text = result.get_text()
    assert "stock_lookup" in text and "agentmode" in text
    assert '"default_mode": "plan"' in text  # the middleware's effective config
    assert "webchat.starter_suggestions@v1" in text
    assert "/api/chat/resolve" in result.select_one("details.twin pre").get_text()


def test_overrides_change_the_result_and_fingerprint(client, seeded, csrf):
    plain = api_resolve(client, registry="default", profile="inventory")
    overrides = {"step_settings_patch": {"ai-chat": {"ai-temperature": 0.5}}}
    response = client.post(
        "/resolve",
        data={
            "csrf_token": csrf(),
            "registry": "default",
            "profile": "inventory",
            "system_prompt": "Be brief.\r\nVery brief.",
            "request_overrides": json.dumps(overrides),
        },
    )
    assert response.status_code == 200
    expected = api_resolve(
        client,
        registry="default",
        profile="inventory",
        request_overrides={**overrides, "system_prompt": "Be brief.\nVery brief."},
    )
    page = soup(response)
    fingerprint = page.select_one(".fingerprint").get_text()
    assert fingerprint == expected["fingerprint"] != plain["fingerprint"]
    assert page.select_one("pre.prompt").get_text() == "Be brief.\nVery brief."
    assert '"ai-temperature": 0.5' in page.select_one("#resolve-result").get_text()
    assert "step_settings_patch" in page.select_one("#resolve-result dl").get_text()


def test_htmx_post_gets_only_the_result_block(client, seeded, csrf):
    response = client.post(
        "/resolve",
        data={"csrf_token": csrf(), "registry": "team", "profile": ""},
        headers=HX,
    )
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="resolve-result"')
    assert "<form" not in body.split("details")[0] and "<html" not in body
    assert "team/analyst" in body  # the registry's default profile


def test_post_without_csrf_is_400(client, seeded):
    response = client.post("/resolve", data={"registry": "default", "profile": "inventory"})
    assert response.status_code == 400


def test_policy_violation_is_shown_with_422(client, seeded, csrf):
    response = client.post(
        "/resolve",
        data={"csrf_token": csrf(), "registry": "default", "profile": "analyst", "tools": "x"},
        headers=HX,
    )
    assert response.status_code == 422
    text = soup(response).get_text()
    assert "policy violation: request overrides are disabled for this profile" in text
    response = client.post(
        "/resolve",
        data={"csrf_token": csrf(), "registry": "default", "profile": "inventory", "tools": "a, b"},
    )
    assert response.status_code == 422
    assert 'override key "tools" is not allowed' in soup(response).get_text()


def test_validation_errors_show_field_paths(client, seeded, csrf):
    def post(**data):
        data = {"csrf_token": csrf(), "registry": "default", "profile": "inventory", **data}
        return client.post("/resolve", data=data, headers=HX)

    response = post(request_overrides="{not json")
    assert response.status_code == 422
    items = [li.get_text(" ", strip=True) for li in soup(response).select(".errors li")]
    assert items[0].startswith("request_overrides : JSON: expected")

    response = post(request_overrides='{"system_prompt": 5}')
    assert response.status_code == 422
    items = [li.get_text(" ", strip=True) for li in soup(response).select(".errors li")]
    assert items == ["request_overrides.system_prompt : Must be a string"]

    response = post(request_overrides="[1]")
    assert response.status_code == 422
    assert "must be a JSON object" in response.get_data(as_text=True)

    response = post(request_overrides='{"systemPrompt": "x"}', system_prompt="y")
    assert response.status_code == 422
    assert "given both here and in the JSON" in response.get_data(as_text=True)

    response = post(request_overrides='{"a": NaN}')
    assert response.status_code == 422


def test_unknown_profile_or_registry_is_422_in_the_block(client, seeded):
    response = client.get("/resolve?registry=default&profile=nope", headers=HX)
    assert response.status_code == 422
    assert "profile not found" in response.get_data(as_text=True)
    response = client.get("/resolve?registry=nope&profile=x")
    assert response.status_code == 422
    assert "registry not found" in soup(response).select_one("#resolve-result").get_text()


def test_registry_change_reloads_profile_select(client, seeded):
    response = client.get("/resolve?part=profiles&registry=team", headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div class="field grow" id="profile-field"')
    options = [o["value"] for o in soup(response).select("option")]
    assert options == ["", "analyst"]


def test_script_payload_is_escaped_in_result(client, seeded, csrf):
    doc = f"""
registries:
  xss:
    display_name: '{XSS}'
    default_profile_slug: evil
    profiles:
      evil:
        display_name: '{XSS}'
        description: '{XSS}'
        runtime:
          system_prompt: '{XSS}'
          tools: ['{XSS}']
        policy:
          allow_overrides: true
        metadata:
          tags: ['{XSS}']
        extensions:
          thirdparty.note@v1: {{text: '{XSS}'}}
"""
    import_yaml(seeded, doc)
    response = client.get("/resolve?registry=xss&profile=evil")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    response = client.post(
        "/resolve",
        data={"csrf_token": csrf(), "registry": "xss", "profile": "evil", "tools": XSS},
    )
    assert response.status_code == 200
    assert "<script>alert" not in response.get_data(as_text=True)
