"""Regressions for what fuzzing the API turned up (each was a 500 or an invalid JSON answer).

- revision ids past the SQL integer range overflowed the driver (500) instead of a 404;
- `1e400` in a JSON body parsed to infinity and came back as `Infinity` (not JSON);
- JSON integers past the interpreter's digit limit raised ValueError (500);
- the same in a YAML import (500), and metadata versions past BIGINT overflowed SQLite (500).
"""

from __future__ import annotations

import pytest

HUGE = 10**30
DIGITS = "9" * 5000


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("get", "/diff"), ("post", "/restore")],
)
def test_a_revision_id_past_the_integer_range_is_404(client, seeded, method, suffix):
    url = f"/api/registries/default/profiles/inventory/revisions/{HUGE}{suffix}"
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert response.json["detail"] == "revision not found"


def test_the_change_feed_after_the_integer_range_is_empty(service, seeded):
    assert service.list_changes(2**63 + 5, 10) == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/chat/resolve", b'{"profile": "inventory", "request_overrides": {"x": 1e400}}'),
        ("/api/chat/profiles", b'{"slug": "x", "extensions": {"vendor.x@v1": -1E999}}'),
        (
            "/api/chat/profiles",
            b'{"slug": "x", "extensions": {"vendor.x@v1": ' + DIGITS.encode() + b"}}",
        ),
    ],
    ids=["inf-resolve", "inf-create", "digits-create"],
)
def test_numbers_json_cannot_carry_are_400(client, seeded, service, path, body):
    before = service.latest_change_id()
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "body"
    assert service.latest_change_id() == before


def test_yaml_integers_past_the_digit_limit_are_400(client, seeded):
    text = f"registries:\n  big:\n    default_profile_slug: p\n    profiles:\n      p:\n        extensions:\n          vendor.x@v1: {DIGITS}\n"
    response = client.post("/api/import?dry_run=true", data=text, content_type="application/yaml")
    assert response.status_code == 400
    assert response.json["errors"] == [
        {"field": "document", "message": "Invalid yaml: a number is too large"}
    ]


def test_imported_metadata_versions_must_fit_bigint(client, seeded, service):
    text = (
        "registries:\n  big:\n    default_profile_slug: p\n    profiles:\n      p:\n"
        f"        metadata: {{version: {HUGE}}}\n"
    )
    before = service.latest_change_id()
    response = client.post("/api/import", data=text, content_type="application/yaml")
    assert response.status_code == 400
    assert "must be at most 9223372036854775807" in response.json["detail"]
    assert service.latest_change_id() == before
