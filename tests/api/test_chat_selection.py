"""The current-profile cookie and `POST /api/chat/resolve` (README, Concepts and decisions:
"Resolution"): selection precedence, legacy cookies and selectors,
overrides and policy, fingerprints."""

from __future__ import annotations

import pytest

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}
RESOLVED_KEYS = {
    "registry",
    "profile",
    "version",
    "runtime_key",
    "effective_runtime",
    "effective_step_settings_patch",
    "middleware_configs",
    "extensions",
    "fingerprint",
    "metadata",
}


def assert_problem(resp, status: int, detail: str | None = None, *, contains: str = "", field=""):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert set(body) == PROBLEM_KEYS and body["status"] == status
    if detail is not None:
        assert body["detail"] == detail
    assert contains in body["detail"]
    if field:
        assert field in [e["field"] for e in body["errors"]], body["errors"]
    return body


def send(client, method: str, path: str, cookie: str | None = None, **kwargs):
    """A request carrying exactly `cookie` as `chat_profile` (None: no cookie). The test
    client drops raw Cookie headers, so this goes through its cookie jar."""
    client.delete_cookie("chat_profile")
    if cookie is not None:
        client.set_cookie("chat_profile", cookie)
    return getattr(client, method)(path, **kwargs)


def set_cookie_parts(resp) -> tuple[str, set[str]]:
    """(`name=value`, {attributes}) of the one Set-Cookie header."""
    headers = resp.headers.getlist("Set-Cookie")
    assert len(headers) == 1, headers
    first, *attrs = [p.strip() for p in headers[0].split(";")]
    return first, set(attrs)


# --- 8, 22: current profile round trip -----------------------------------------------------


def test_set_and_get_current_profile(client, seeded):
    resp = client.post("/api/chat/profile", json={"profile": "analyst", "registry": "team"})
    assert resp.status_code == 200
    assert resp.get_json() == {"profile": "analyst", "registry": "team", "slug": "analyst"}
    value, attrs = set_cookie_parts(resp)
    assert value == "chat_profile=team/analyst"  # the `/` is neither quoted nor encoded
    assert attrs == {"Path=/", "HttpOnly", "SameSite=Lax", "Secure"}

    resp = send(client, "get", "/api/chat/profile", "team/analyst")
    assert resp.status_code == 200
    assert resp.get_json() == {"profile": "analyst", "registry": "team", "slug": "analyst"}
    assert "Set-Cookie" not in resp.headers  # GET never touches the cookie


def test_secure_can_be_turned_off_for_plain_http(make_app):
    from registry.domain.importer import import_yaml
    from tests.conftest import FIXTURES

    app = make_app(REGISTRY_COOKIE_SECURE=False)
    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())
    resp = app.test_client().post("/api/chat/profile", json={"profile": "default"})
    value, attrs = set_cookie_parts(resp)
    assert value == "chat_profile=default/default"
    assert attrs == {"Path=/", "HttpOnly", "SameSite=Lax"}


def test_post_current_profile_accepts_slug_and_profile_wins(client, seeded):
    resp = client.post("/api/chat/profile", json={"slug": "Analyst"})
    assert resp.get_json() == {"profile": "analyst", "registry": "default", "slug": "analyst"}
    resp = client.post("/api/chat/profile", json={"profile": "default", "slug": "analyst"})
    assert resp.get_json()["profile"] == "default"
    resp = client.post("/api/chat/profile", json={"profile": "", "slug": "analyst"})
    assert resp.get_json()["profile"] == "analyst"
    resp = client.post("/api/chat/profile?registry=team", json={"profile": "analyst"})
    assert resp.get_json()["registry"] == "team"
    resp = client.post(
        "/api/chat/profile?registry=missing", json={"profile": "analyst", "registry": "team"}
    )
    assert resp.get_json()["registry"] == "team"  # body wins over the query


@pytest.mark.parametrize(
    ("payload", "query", "status", "detail", "field"),
    [
        ({"profile": "not a valid slug!", "registry": "default"}, "", 400, None, "profile"),
        ({"slug": "not a valid slug!"}, "", 400, None, "slug"),
        ({}, "", 400, "bad request: profile is required", "profile"),
        ({"profile": "  "}, "", 400, "bad request: profile is required", "profile"),
        ({"profile": 5}, "", 400, None, "profile"),
        (
            {"profile": "analyst", "registry": "invalid registry!"},
            "",
            400,
            "invalid registry",
            "registry",
        ),
        ({"profile": "analyst"}, "?registry=bad reg!", 400, "invalid registry", "registry"),
        ({"profile": "ghost"}, "", 404, "profile not found", ""),
        ({"profile": "analyst", "registry": "missing"}, "", 404, "registry not found", ""),
    ],
)
def test_post_current_profile_errors_set_no_cookie(
    client, seeded, payload, query, status, detail, field
):
    resp = client.post(f"/api/chat/profile{query}", json=payload)
    body = assert_problem(resp, status, detail, field=field)
    if status == 400 and detail is None:
        assert body["detail"].startswith("bad request: profile slug")
    assert "Set-Cookie" not in resp.headers


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        (None, ("default", "inventory")),  # the default registry's default
        ("default/analyst", ("default", "analyst")),
        ("team/analyst", ("team", "analyst")),
        ("Team/Analyst", ("team", "analyst")),
        ("analyst", ("default", "analyst")),  # legacy bare slug of the default registry
        ("missing", ("default", "inventory")),  # legacy, unknown: fallback
        ("default/ghost", ("default", "inventory")),  # stale
        ("team/ghost", ("default", "inventory")),  # stale, other registry
        ("ghost/analyst", ("default", "inventory")),  # unknown registry: still no 404
        ("not a slug!", ("default", "inventory")),
        ("a/b/c", ("default", "inventory")),
        ("", ("default", "inventory")),
    ],
)
def test_current_profile_from_cookie_never_fails(client, seeded, cookie, expected):
    resp = send(client, "get", "/api/chat/profile", cookie)
    assert resp.status_code == 200
    registry, profile = expected
    assert resp.get_json() == {"profile": profile, "registry": registry, "slug": profile}


def test_current_profile_on_an_empty_store_is_the_literal_default(client):
    resp = client.get("/api/chat/profile")
    assert resp.status_code == 200
    assert resp.get_json() == {"profile": "default", "registry": "default", "slug": "default"}


def test_current_profile_follows_set_default_and_delete(client, seeded):
    client.post("/api/chat/profiles/default/default")
    assert client.get("/api/chat/profile").get_json()["profile"] == "default"
    resp = send(client, "get", "/api/chat/profile", "default/inventory")
    assert resp.get_json()["profile"] == "inventory"
    client.delete("/api/chat/profiles/inventory")
    resp = send(client, "get", "/api/chat/profile", "default/inventory")
    assert resp.get_json()["profile"] == "default"


# --- 9, 10: selection precedence through /api/chat/resolve ---------------------------------


@pytest.fixture
def choices(client, seeded):
    for slug in ("body", "query", "cookie"):
        assert client.post("/api/chat/profiles", json={"slug": slug}).status_code == 201
    return seeded


def resolved(client, path="/api/chat/resolve", *, cookie=None, **kwargs):
    resp = send(client, "post", path, cookie, **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert set(data) == RESOLVED_KEYS
    return data["registry"], data["profile"]


def test_profile_precedence(client, choices):
    body = {"profile": "body"}
    assert resolved(
        client, "/api/chat/resolve?profile=query", json=body, cookie="default/cookie"
    ) == (
        "default",
        "body",
    )
    assert resolved(
        client, "/api/chat/resolve?profile=query", json={}, cookie="default/cookie"
    ) == (
        "default",
        "query",
    )
    assert resolved(client, json={}, cookie="default/cookie") == ("default", "cookie")
    assert resolved(client) == ("default", "inventory")  # no body at all: registry default
    assert resolved(client, json={}) == ("default", "inventory")
    assert resolved(client, cookie="cookie") == ("default", "cookie")  # legacy bare cookie
    assert resolved(client, cookie="missing") == ("default", "inventory")
    assert resolved(client, cookie="not a slug!") == ("default", "inventory")


def test_profile_falls_back_to_a_profile_named_default(client, service):
    from registry.domain.model import Registry

    service.create_registry(Registry(slug="default"))
    client.post("/api/chat/profiles", json={"slug": "default"})
    assert resolved(client) == ("default", "default")


def test_stale_registry_cookie_is_used_as_is_by_resolve(client, choices):
    # unlike GET /api/chat/profile, chat resolution does not second-guess the cookie
    assert_problem(
        send(client, "post", "/api/chat/resolve", "default/ghost"),
        404,
        "profile not found",
    )


def test_registry_precedence(client, choices):
    team = {"registry": "team", "profile": "analyst"}
    data = client.post("/api/chat/resolve", json=team).get_json()
    assert (data["registry"], data["profile"], data["version"]) == ("team", "analyst", 7)
    assert data["metadata"]["profile.version"] == 7
    assert resolved(client, "/api/chat/resolve?registry=team&profile=analyst") == (
        "team",
        "analyst",
    )
    assert resolved(client, "/api/chat/resolve?registry=default", json=team) == ("team", "analyst")
    # the query registry wins over the cookie's registry; the cookie's profile still applies
    resp = send(client, "post", "/api/chat/resolve?registry=team", "team/ghost")
    assert_problem(resp, 404, "profile not found")
    assert resolved(client, "/api/chat/resolve?registry=team", cookie="default/analyst") == (
        "team",
        "analyst",
    )
    assert resolved(client, cookie="team/analyst") == ("team", "analyst")
    assert resolved(client, json={"registry": "team"}) == ("team", "analyst")  # team default
    assert resolved(client, json={"registry": "team"}, cookie="team/analyst") == (
        "team",
        "analyst",
    )


def test_profile_and_registry_are_resolved_independently(client, choices):
    # body registry + cookie profile: profile `cookie` looked up in `team`, which lacks it
    assert_problem(
        send(client, "post", "/api/chat/resolve", "default/cookie", json={"registry": "team"}),
        404,
        "profile not found",
    )
    # a legacy bare cookie only ever means the default registry
    assert resolved(client, json={"registry": "team"}, cookie="cookie") == ("team", "analyst")


@pytest.mark.parametrize(
    ("path", "payload", "status", "detail", "field"),
    [
        ("/api/chat/resolve", {"registry": "invalid registry!"}, 400, None, "registry"),
        ("/api/chat/resolve?registry=missing", {}, 404, "registry not found", ""),
        ("/api/chat/resolve", {"profile": "bad profile!"}, 400, None, "profile"),
        ("/api/chat/resolve?profile=bad profile!", {}, 400, None, "profile"),
        ("/api/chat/resolve", {"profile": 5}, 400, None, "profile"),
        ("/api/chat/resolve", {"profile": "ghost"}, 404, "profile not found", ""),
        (
            "/api/chat/resolve?registry_slug=default",
            {},
            400,
            "unsupported legacy selector: registry_slug",
            "registry_slug",
        ),
        (
            "/api/chat/resolve",
            {"runtime_key": "analyst"},
            400,
            "unsupported legacy selector: runtime_key",
            "runtime_key",
        ),
        (
            "/api/chat/resolve?runtime_key=analyst",
            {},
            400,
            "unsupported legacy selector: runtime_key",
            "runtime_key",
        ),
        (
            "/api/chat/resolve",
            {"registry_slug": "team", "profile": "analyst"},
            400,
            "unsupported legacy selector: registry_slug",
            "registry_slug",
        ),
        ("/api/chat/resolve", {"prompt": "hi"}, 400, None, "prompt"),
    ],
)
def test_resolve_selection_errors(client, choices, path, payload, status, detail, field):
    assert_problem(client.post(path, json=payload), status, detail, field=field)


# --- overrides, policy, fingerprint ---------------------------------------------------------


def test_overrides_apply_when_the_policy_allows_them(client, seeded):
    plain = client.post("/api/chat/resolve", json={"profile": "inventory"}).get_json()
    resp = client.post(
        "/api/chat/resolve",
        json={
            "profile": "inventory",
            "request_overrides": {
                "systemPrompt": "be brief",
                "step-settings-patch": {"ai-chat": {"ai-engine": "small"}},
            },
        },
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert data["effective_runtime"]["system_prompt"] == "be brief"
    assert data["effective_runtime"]["tools"] == ["stock_lookup", "reorder"]
    assert data["effective_step_settings_patch"] == {"ai-chat": {"ai-engine": "small"}}
    assert data["fingerprint"] != plain["fingerprint"]
    assert data["middleware_configs"] == plain["middleware_configs"]
    again = client.post(
        "/api/chat/resolve",
        json={
            "profile": "inventory",
            "request_overrides": {
                "system_prompt": "be brief",
                "step_settings_patch": {"ai-chat": {"ai-engine": "small"}},
            },
        },
    ).get_json()
    assert again["fingerprint"] == data["fingerprint"]


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        (
            {"profile": "analyst", "request_overrides": {"system_prompt": "x"}},
            403,
            "policy violation: request overrides are disabled for this profile",
        ),
        (
            {"profile": "inventory", "request_overrides": {"tools": ["x"]}},
            403,
            'policy violation: override key "tools" is not allowed',
        ),
        (
            {"profile": "inventory", "request_overrides": {"system_prompt": 5}},
            400,
            "validation error (request_overrides.system_prompt): must be a string",
        ),
        (
            {"profile": "inventory", "request_overrides": ["system_prompt"]},
            400,
            "validation error (request_overrides): must be an object",
        ),
        (
            {
                "profile": "inventory",
                "request_overrides": {"systemPrompt": "a", "system_prompt": "b"},
            },
            400,
            None,
        ),
    ],
)
def test_override_policy_and_validation(client, seeded, payload, status, detail):
    assert_problem(client.post("/api/chat/resolve", json=payload), status, detail)


def test_overrides_without_lists_and_denied_keys(client, seeded):
    client.post(
        "/api/chat/profiles",
        json={
            "slug": "open",
            "policy": {"allow_overrides": True, "denied_override_keys": ["tools"]},
        },
    )
    assert_problem(
        client.post(
            "/api/chat/resolve", json={"profile": "open", "request_overrides": {"tools": []}}
        ),
        403,
        'policy violation: override key "tools" is denied',
    )
    assert_problem(
        client.post(
            "/api/chat/resolve", json={"profile": "open", "request_overrides": {"temperature": 1}}
        ),
        400,
        "validation error (request_overrides.temperature): unsupported override key",
    )
    data = client.post(
        "/api/chat/resolve",
        json={"profile": "open", "request_overrides": {"middlewares": [{"name": "agentmode"}]}},
    ).get_json()
    assert data["effective_runtime"]["middlewares"] == [{"name": "agentmode"}]


def test_fingerprint_changes_after_a_patch(client, seeded):
    first = client.post("/api/chat/resolve", json={"profile": "default"}).get_json()
    assert first["fingerprint"].startswith("sha256:") and len(first["fingerprint"]) == 71
    again = client.post("/api/chat/resolve", json={"profile": "default"}).get_json()
    assert again["fingerprint"] == first["fingerprint"]
    client.patch("/api/chat/profiles/default", json={"runtime": {"system_prompt": "new"}})
    after = client.post("/api/chat/resolve", json={"profile": "default"}).get_json()
    assert after["fingerprint"] != first["fingerprint"]
    assert (after["version"], after["effective_runtime"]["system_prompt"]) == (2, "new")


def test_selection_via_the_cookie_route_affects_resolution(client, seeded):
    resp = client.post("/api/chat/profile", json={"profile": "analyst", "registry": "team"})
    cookie = resp.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert resolved(client, cookie=cookie) == ("team", "analyst")
