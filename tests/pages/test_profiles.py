"""The profile page: what it shows, its links (JSON twin first), fragments, escaping."""

from __future__ import annotations

import json

from registry.domain.model import MiddlewareUse, Profile, RuntimeSpec
from tests.pages.conftest import HX, csrf_token, soup

URL = "/registries/default/profiles/inventory"
XSS = "<script>alert('x')</script>"


def test_profile_page_shows_the_profile(client, seeded):
    r = client.get(URL)
    assert r.status_code == 200
    page = soup(r)
    text = page.get_text(" ")
    assert page.find("h1").get_text() == "Inventory"
    assert "Tool-first inventory assistant." in text
    assert "You are an inventory assistant." in page.find("pre", class_="prompt").get_text()
    assert {c.get_text() for c in page.select("#h-runtime ~ ul.chips code")} >= {
        "stock_lookup",
        "reorder",
    }
    # middlewares with their effective configs (stored config over schema defaults)
    row = page.find("td", string="1").find_parent("tr")
    assert "Agent Mode" in row.get_text() and "primary" in row.get_text()
    assert json.loads(row.find("pre").get_text()) == {"default_mode": "plan"}
    # policy, tags, extensions (known, middleware config, unknown), metadata
    policy = page.find(id="h-policy").find_parent("section").get_text(" ")
    assert "system_prompt" in policy and "step_settings_patch" in policy
    tags = [t.get_text() for t in page.select("section .badge.tag")]
    assert tags == ["ops", "inventory"]
    # the summary strip first: prompt excerpt, counts, tags, last update
    summary = {
        div.dt.get_text(): div.dd.get_text(" ", strip=True)
        for div in page.select("dl.profile-summary > div")
    }
    assert summary["Prompt"].startswith("You are an inventory assistant")
    assert (summary["Tools"], summary["Middlewares"], summary["Suggestions"]) == ("2", "1", "2")
    assert summary["Tags"] == "ops inventory" and summary["Updated"].endswith("by seed")
    extensions = page.find(id="h-ext").find_parent("section")
    keys = [c.get_text() for c in extensions.select("h3 code")]
    assert keys == [
        "inventory.capabilities@v1",
        "middleware.agentmode_config@v1",
        "webchat.starter_suggestions@v1",
    ]
    assert "unknown key" in extensions.find("code", string="inventory.capabilities@v1").parent.text
    meta = page.find(id="h-meta").find_parent("section").get_text(" ")
    assert "seed" in meta and "UTC" in meta
    assert page.find(id="h-meta").find_parent("section").find("dd").get_text() == "1"


def test_profile_page_links_its_json_twin_and_actions(client, app, seeded):
    r = client.get(URL)
    page = soup(r)
    twin = "/api/chat/profiles/inventory?registry=default"
    assert page.find("link", rel="alternate", type="application/json")["href"] == twin
    assert twin in r.headers["Link"]
    assert client.get(twin).get_json()["display_name"] == "Inventory"
    hrefs = {a.get_text().strip(): a["href"] for a in page.select(".page-head .actions a")}
    assert hrefs["JSON"] == twin
    assert hrefs["Edit"] == URL + "/edit"
    assert hrefs["Resolve preview"].startswith("/resolve?")
    assert "profile=inventory" in hrefs["Resolve preview"]
    if "pages.history.history" in app.view_functions:
        assert "History" in hrefs
    else:
        assert "History" not in hrefs


def test_htmx_request_gets_the_fragment(client, seeded):
    r = client.get(URL, headers=HX)
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "<html" not in body and "<header" not in body
    assert soup(r).find(id="profile-view").find("h1").get_text() == "Inventory"
    assert "HX-Request" in r.headers["Vary"]


def test_unknown_profile_or_registry_is_404(client, seeded):
    assert client.get("/registries/default/profiles/nope").status_code == 404
    assert client.get("/registries/nope/profiles/inventory").status_code == 404
    assert client.get("/registries/default/profiles/nope/edit").status_code == 404


def test_read_only_profile_says_why_and_offers_no_edit(client, seeded):
    page = soup(client.get("/registries/default/profiles/analyst"))
    assert "policy.read_only" in page.find(class_="readonly-note").get_text()
    labels = [a.get_text().strip() for a in page.select(".page-head .actions a")]
    assert "Edit" not in labels and "JSON" in labels
    # step settings and unknown extensions are shown as JSON
    pres = [p.get_text() for p in page.find_all("pre")]
    assert any('"ai-engine": "large-model-5"' in p for p in pres)
    assert any('"accent": "#335577"' in p for p in pres)


def test_reader_sees_no_edit_link(make_app, tmp_path):
    from registry.domain import tokens as tk
    from registry.domain.importer import import_yaml
    from tests.conftest import FIXTURES

    app = make_app(REGISTRY_AUTH="on", REGISTRY_BOOTSTRAP_ADMIN="off")
    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())
    secret = tk.issue(app.extensions["tokens"], "viewer", tk.READER).secret
    client = app.test_client()
    assert client.get(URL).status_code == 302  # log in first
    client.post("/login", data={"token": secret, "csrf_token": csrf_token(client, "/login")})
    page = soup(client.get(URL))
    labels = [a.get_text().strip() for a in page.select(".page-head .actions a")]
    assert "Edit" not in labels
    assert client.get(URL + "/edit").status_code == 403


def test_script_payloads_are_escaped_on_the_profile_page(client, seeded):
    profile = Profile(
        slug="xss",
        display_name=XSS,
        description=XSS,
        runtime=RuntimeSpec(
            system_prompt=XSS,
            tools=[XSS],
            middlewares=[MiddlewareUse("sqlite", id="db", config={"dsn": XSS})],
        ),
        extensions={"webchat.starter_suggestions@v1": {"items": [XSS]}, "acme.x@v1": XSS},
    )
    profile.metadata.tags = [XSS[:60]]
    seeded.create_profile("default", profile)
    for headers in ({}, HX):
        r = client.get("/registries/default/profiles/xss", headers=headers)
        assert r.status_code == 200
        body = r.get_data(as_text=True)
        assert "<script>alert" not in body
        assert all(s.has_attr("src") for s in soup(r).find_all("script"))
    page = soup(client.get("/registries/default/profiles/xss"))
    assert page.find("h1").get_text() == XSS
    assert page.find("pre", class_="prompt").get_text() == XSS
    assert page.select_one(".badge.tag").get_text() == XSS[:60]
