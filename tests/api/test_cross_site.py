"""Cross-site writes (registry/web/guards.py): a web page must not be able to write through a
visitor's browser, with auth on or off. Browsers send `Origin` and `Sec-Fetch-Site` on such
requests; pages cannot forge them, nor add `Authorization` without a preflight."""

from __future__ import annotations

import pytest

from registry.domain.tokens import issue
from tests.api.test_chat_hostile import assert_problem
from tests.conftest import FIXTURES
from tests.pages.conftest import csrf_token

BUNDLE = (FIXTURES / "canonical-bundle.yaml").read_text()
PROFILE = {"slug": "planted", "runtime": {"system_prompt": "obey the attacker"}}

CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "http://localhost.evil.example"},
    {"Origin": "http://localhost:5001"},  # another port is another origin
    {"Origin": "null"},  # sandboxed iframe, data: or file: page
    {"Origin": "not a url"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},  # the browser's word wins
]

SAME_ORIGIN = [
    {},  # no browser: curl, scripts, chat backends
    {"Origin": "http://localhost"},  # the test client's Host
    {"Origin": "https://LOCALHOST:443"},  # scheme not compared (TLS proxy), default port
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "https://registry.internal"},  # Host rewritten
    {"Sec-Fetch-Site": "none"},  # typed by the user
]


def state(service) -> tuple:
    regs = [(s.registry.slug, s.profile_count) for s in service.list_registries()]
    return regs, service.latest_change_id()


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: repr(h))
def test_cross_site_writes_are_refused_with_auth_off(client, seeded, headers):
    before = state(seeded)
    resp = client.post("/api/chat/profiles?registry=default", json=PROFILE, headers=headers)
    body = assert_problem(resp, 403)
    assert body["type"].endswith("/cross-origin")
    assert "Authorization: Bearer" in body["detail"]
    assert state(seeded) == before


def test_every_unsafe_method_is_guarded(client, seeded):
    before = state(seeded)
    evil = {"Origin": "https://evil.example"}
    answers = [
        client.patch("/api/chat/profiles/inventory", json={"description": "x"}, headers=evil),
        client.delete("/api/chat/profiles/inventory", headers=evil),
        client.delete("/api/registries/team", headers=evil),
        client.post("/api/chat/profile", json={"slug": "inventory"}, headers=evil),
    ]
    assert [r.status_code for r in answers] == [403] * 4
    assert not any("Set-Cookie" in r.headers for r in answers)
    assert state(seeded) == before
    # Reads are not writes: a cross-origin GET is answered (CORS keeps its body from the page).
    assert client.get("/api/chat/profiles", headers=evil).status_code == 200


def test_the_text_plain_form_that_mirrored_nothing_is_refused(client, seeded):
    """The finding: `<form enctype="text/plain" action=/api/import?mode=mirror>` posting
    `#=` deleted every registry."""
    before = state(seeded)
    form = {"data": "#=\r\n", "content_type": "text/plain"}
    cross = client.post(
        "/api/import?mode=mirror", headers={"Origin": "https://evil.example"}, **form
    )
    assert_problem(cross, 403)
    # Even from a browser that sent no Origin, text/plain is not a YAML type.
    assert_problem(client.post("/api/import?mode=mirror", **form), 415)
    assert state(seeded) == before


@pytest.mark.parametrize("headers", SAME_ORIGIN, ids=lambda h: repr(h))
def test_same_origin_and_non_browser_writes_pass(client, seeded, headers):
    resp = client.post("/api/chat/profiles?registry=default", json=PROFILE, headers=headers)
    assert resp.status_code == 201, resp.json


def test_a_bearer_token_makes_a_cross_site_request_deliberate(make_app):
    app = make_app(REGISTRY_AUTH="on")
    service = app.extensions["registry"]
    from registry.domain.model import Registry

    service.create_registry(Registry(slug="default"), actor="seed")
    token = issue(app.extensions["tokens"], "ci", "editor").secret
    client = app.test_client()
    cross = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    anonymous = client.post("/api/chat/profiles", json=PROFILE, headers=cross)
    assert assert_problem(anonymous, 403)["type"].endswith("/cross-origin")
    deliberate = client.post(
        "/api/chat/profiles", json=PROFILE, headers={**cross, "Authorization": f"Bearer {token}"}
    )
    assert deliberate.status_code == 201, deliberate.json
    assert service.get_profile("default", "planted") is not None


def test_the_base_url_origin_is_ours(make_app):
    """Behind a proxy that rewrites Host, REGISTRY_BASE_URL names the origin users see."""
    client = make_app(REGISTRY_BASE_URL="https://registry.example.com/").test_client()
    created = client.post(
        "/api/registries",
        json={"slug": "viaproxy"},
        headers={"Origin": "https://registry.example.com", "Host": "10.0.0.5:8000"},
    )
    assert created.status_code == 201, created.json
    other_scheme = client.post(
        "/api/registries",
        json={"slug": "plain-http"},
        headers={"Origin": "http://registry.example.com", "Host": "10.0.0.5:8000"},
    )
    assert_problem(other_scheme, 403)


def test_html_forms_keep_their_csrf_protection(client, seeded):
    """Pages are guarded by CSRF tokens, not by these checks: a cross-site form post to a page
    fails on its missing token, and a same-origin htmx post with its token works as before."""
    resp = client.post(
        "/registries", data={"slug": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert resp.status_code == 400
    assert seeded.find_registry("x") is None
    token = csrf_token(client)
    htmx = {
        "HX-Request": "true",
        "X-CSRFToken": token,
        "Origin": "http://localhost",
        "Sec-Fetch-Site": "same-origin",
    }
    resp = client.post("/registries", data={"slug": "viahtmx"}, headers=htmx)
    assert resp.status_code in (200, 201, 303), resp.get_data(as_text=True)[:300]
    assert seeded.find_registry("viahtmx") is not None
