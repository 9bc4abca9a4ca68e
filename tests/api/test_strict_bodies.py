"""Strict JSON bodies: repeated keys and refused characters are a 400 naming the field path,
nothing stored (README "Concepts and decisions": Text, Strict JSON and YAML)."""

from __future__ import annotations

import pytest

from tests.api.test_chat_hostile import assert_problem

CASES = [
    ('{"slug": "x", "display_name": "a\\ud800b"}', ["display_name"]),
    ('{"slug": "x", "description": "a\\u0000"}', ["description"]),
    ('{"slug": "x", "runtime": {"tools": ["\\udfff"]}}', ["runtime.tools[0]"]),
    (
        '{"slug": "x", "extensions": {"webchat.starter_suggestions@v1": '
        '{"items": ["a", "b", "c\\ud800"]}}}',
        ["extensions[webchat.starter_suggestions@v1].items[2]"],
    ),
    (
        '{"slug": "x", "extensions": {"acme.x@v1": {"k\\u0000": 1}}}',
        ["extensions[acme.x@v1][k\\u0000]"],
    ),
    ('{"slug": "a", "slug": "b"}', ["slug"]),
    ('{"slug": "x", "runtime": {"tools": [], "tools": ["t"]}}', ["runtime.tools"]),
    (
        '{"slug": "x", "extensions": {"acme.x@v1": [{"a": 1, "a": 2}]}}',
        ["extensions[acme.x@v1][0].a"],
    ),
]


@pytest.mark.parametrize(("body", "fields"), CASES)
def test_create_refuses_and_stores_nothing(client, seeded, service, body, fields):
    before = service.latest_change_id()
    resp = client.post("/api/chat/profiles", data=body, content_type="application/json")
    problem = assert_problem(resp, 400)
    assert [e["field"] for e in problem["errors"]] == fields
    assert service.latest_change_id() == before


def test_duplicate_key_message_names_the_key(client, seeded):
    resp = client.post(
        "/api/chat/profiles", data=b'{"slug":"a","slug":"b"}', content_type="application/json"
    )
    assert assert_problem(resp, 400)["errors"] == [
        {"field": "slug", "message": 'Duplicate key "slug"'}
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("patch", "/api/chat/profiles/inventory", '{"display_name": "\\ud800"}', "display_name"),
        ("patch", "/api/registries/default", '{"description": "x\\u0000"}', "description"),
        ("post", "/api/registries", '{"slug": "r", "display_name": "\\udc00"}', "display_name"),
        (
            "post",
            "/api/chat/resolve",
            '{"request_overrides": {"system_prompt": "\\ud800"}}',
            "request_overrides.system_prompt",
        ),
    ],
)
def test_other_writes_refuse_too(client, seeded, service, method, path, body, field):
    before = service.latest_change_id()
    resp = getattr(client, method)(path, data=body, content_type="application/json")
    assert [e["field"] for e in assert_problem(resp, 400)["errors"]] == [field]
    assert service.latest_change_id() == before


def test_allowed_unusual_text_is_stored_and_read_back(client, seeded):
    text = "\ufffe \u202e rtl \U0001f600"
    resp = client.post("/api/chat/profiles", json={"slug": "odd", "display_name": text})
    assert resp.status_code == 201
    assert client.get("/api/chat/profiles/odd").get_json()["display_name"] == text.strip()
    assert client.get("/api/chat/profiles").status_code == 200


def test_service_refuses_python_callers_too(seeded):
    from registry.domain.errors import ValidationError
    from registry.domain.model import Profile

    with pytest.raises(ValidationError) as info:
        seeded.create_profile("default", Profile(slug="p", extensions={"acme.x@v1": ["\x00"]}))
    assert [e.field for e in info.value.errors] == ["profile.extensions[acme.x@v1][0]"]
