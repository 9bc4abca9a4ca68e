"""Stacks through the JSON API (responses checked against the OpenAPI document)."""

from __future__ import annotations

import pytest

from tests.api.test_chat_contract import Unchanged, assert_problem


def create(client, slug, stack=(), registry=None, **fields):
    body = {"slug": slug, "stack": list(stack), **fields}
    if registry:
        body["registry"] = registry
    resp = client.post("/api/chat/profiles", json=body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.fixture
def layered(client, seeded):
    create(
        client,
        "provider",
        runtime={"system_prompt": "provider prompt", "step_settings_patch": {"ai-chat": {"e": 1}}},
        policy={"allow_overrides": True},
    )
    create(
        client,
        "model",
        [{"profile_slug": "provider"}],
        runtime={"step_settings_patch": {"ai-chat": {"e": 2}}},
        policy={"allow_overrides": True},
    )
    return create(
        client,
        "agent",
        [{"profile_slug": "model", "registry_slug": "default"}],
        runtime={"tools": ["search"]},
        policy={"allow_overrides": True, "denied_override_keys": ["middlewares"]},
    )


def test_documents_carry_the_stack(client, layered):
    assert layered["stack"] == [{"registry_slug": "default", "profile_slug": "model"}]
    doc = client.get("/api/chat/profiles/provider").get_json()
    assert doc["stack"] == []
    admin = client.get("/api/registries/default/profiles/model").get_json()
    assert admin["stack"] == [{"profile_slug": "provider"}]
    # PATCH replaces it; [] clears
    resp = client.patch("/api/chat/profiles/agent", json={"stack": []})
    assert resp.status_code == 200 and resp.get_json()["stack"] == []
    resp = client.patch("/api/chat/profiles/agent", json={"stack": [{"profile_slug": "Model"}]})
    assert resp.get_json()["stack"] == [{"profile_slug": "model"}]


def test_resolve_reports_lineage_and_trace(client, layered):
    resp = client.post(
        "/api/chat/resolve", json={"profile": "agent", "request_overrides": {"tools": ["x"]}}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert data["effective_runtime"]["system_prompt"] == "provider prompt"
    assert data["effective_runtime"]["tools"] == ["x"]
    assert data["effective_step_settings_patch"] == {"ai-chat": {"e": 2}}
    lineage = data["metadata"]["profile.stack.lineage"]
    assert [x["profile_slug"] for x in lineage] == ["provider", "model", "agent"]
    paths = {p["path"]: p for p in data["metadata"]["profile.stack.trace"]["paths"]}
    steps = paths["/runtime/step_settings_patch/ai-chat/e"]["steps"]
    assert [(s["profile_slug"], s["value"]) for s in steps] == [("provider", 1), ("model", 2)]
    denied = client.post(
        "/api/chat/resolve", json={"profile": "agent", "request_overrides": {"middlewares": []}}
    )
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("stack", "field", "detail"),
    [
        ([{"profile_slug": "agent"}], "profile.stack[0]", "stack cycle detected"),
        ([{"profile_slug": "Not a slug"}], "profile.stack[0].profile_slug", "is invalid"),
        (
            [{"profile_slug": "x", "registry_slug": "bad slug!"}],
            "profile.stack[0].registry_slug",
            "is invalid",
        ),
        ([{"profile_slug": "gone"}], "profile.stack[0]", 'referenced profile "gone" not found'),
        ([{"registry_slug": "default"}], "profile.stack[0].profile_slug", "must not be empty"),
        (
            [{"profile_slug": "inventory"}, {"profile_slug": "inventory"}],
            "profile.stack[1]",
            "duplicate",
        ),
        ("inventory", "profile.stack", "must be an array"),
        ([None], "profile.stack[0]", "must be an object"),
        ([{"profile_slug": "inventory", "x": 1}], "profile.stack[0].x", "unknown field"),
    ],
)
def test_bad_stacks_are_400_and_store_nothing(client, service, layered, stack, field, detail):
    with Unchanged(service):
        body = assert_problem(
            client.patch("/api/chat/profiles/provider", json={"stack": stack}), 400, field=field
        )
        assert detail in body["detail"]
        if "cycle" not in detail:
            assert_problem(
                client.post("/api/chat/profiles", json={"slug": "newcomer", "stack": stack}),
                400,
                field=field,
            )
    assert client.get("/api/chat/profiles/provider").get_json()["stack"] == []


def test_deleting_a_base_is_409_naming_dependants(client, service, layered):
    with Unchanged(service):
        body = assert_problem(client.delete("/api/chat/profiles/provider"), 409)
    assert "default/model" in body["detail"]
    assert client.delete("/api/chat/profiles/agent").status_code == 204


def test_dependants_endpoints(client, layered):
    for url in (
        "/api/chat/profiles/provider/dependants",
        "/api/chat/profiles/provider/dependants?registry=default",
        "/api/registries/default/profiles/provider/dependants",
    ):
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        items = resp.get_json()["items"]
        assert [(i["slug"], i["depth"]) for i in items] == [("model", 1), ("agent", 2)]
        assert items[0]["stack"] == [{"profile_slug": "provider"}]
    assert client.get("/api/chat/profiles/agent/dependants").get_json() == {"items": []}
    assert client.get("/api/chat/profiles/nope/dependants").status_code == 404
    assert client.get("/api/registries/nope/profiles/provider/dependants").status_code == 404
