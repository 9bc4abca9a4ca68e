"""`errors[].message` reads as plain sentences (registry/domain/messages.py), one per kind of
problem, while `detail` keeps the reference wording."""

from __future__ import annotations

import pytest

SUGGESTIONS = "webchat.starter_suggestions@v1"


def messages(response) -> dict[str, str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    return {e["field"]: e["message"] for e in response.get_json()["errors"]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"slug": "ok", "runtime": {"tools": ["a", " "]}},
            "profile.runtime.tools[1]",
            "Enter a tool name or remove the empty row",
        ),
        (
            {"slug": "ok", "extensions": {SUGGESTIONS: {"items": ["a", ""]}}},
            f"profile.extensions[{SUGGESTIONS}].items[1]",
            "Enter a suggestion or remove the empty row",
        ),
        (
            {
                "slug": "ok",
                "runtime": {
                    "middlewares": [{"name": "sqlite", "config": {"dsn": "x", "max_rows": "lots"}}]
                },
            },
            "runtime.middlewares[0].config.max_rows",
            "Must be a whole number",
        ),
        (
            {
                "slug": "ok",
                "runtime": {
                    "middlewares": [{"name": "sqlite", "config": {"dsn": "x", "max_rows": 0}}]
                },
            },
            "runtime.middlewares[0].config.max_rows",
            "Must be at least 1",
        ),
        (
            {"slug": "Bad Slug!"},
            "profile.slug",
            'Profile slug "Bad Slug!" is invalid: spaces and "!" are not allowed (use lower-case '
            'letters, digits, ".", "_" and "-"); try "bad-slug"',
        ),
        ({"slug": "  "}, "profile.slug", "Must not be empty"),
    ],
)
def test_each_kind_of_problem_reads_as_a_sentence(client, seeded, body, field, message):
    found = messages(client.post("/api/chat/profiles", json=body))
    assert any(
        f.endswith(field.removeprefix("profile.")) and m == message for f, m in found.items()
    ), found


def test_json_syntax_errors_name_line_and_column(client, seeded):
    response = client.post("/api/chat/profiles", data=b"{bad", content_type="application/json")
    found = messages(response)
    assert list(found.values()) == ["JSON: expected a quoted name at line 1, column 2"]


def test_detail_keeps_the_reference_wording(client, seeded):
    body = client.post("/api/chat/profiles", json={"slug": "  "}).get_json()
    assert body["detail"] == "validation error (profile.slug): must not be empty"
    assert body["errors"][0]["message"] == "Must not be empty"
