"""The chat-client contract over HTTP: shapes, CRUD, errors, registries, schemas (README,
JSON API).

Every failed write also checks that nothing was stored (the change feed did not move).
"""

from __future__ import annotations

import pytest

from registry.domain.model import Registry
from tests.conftest import FIXTURES

LIST_KEYS = {
    "registry",
    "slug",
    "display_name",
    "description",
    "default_prompt",
    "extensions",
    "is_default",
    "version",
}
DOCUMENT_KEYS = {
    "registry",
    "slug",
    "display_name",
    "stack",
    "description",
    "runtime",
    "policy",
    "metadata",
    "extensions",
    "is_default",
}
PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}


def assert_problem(resp, status: int, detail: str | None = None, *, contains: str = "", field=""):
    """A problem+json error with the exact envelope; `field` must be among `errors[].field`."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"]
    if detail is not None:
        assert body["detail"] == detail
    assert contains in body["detail"]
    for err in body["errors"]:
        assert set(err) == {"field", "message"}
    if field:
        assert field in [e["field"] for e in body["errors"]], body["errors"]
    return body


class Unchanged:
    """`with Unchanged(service):` asserts the block stored nothing (no change-feed entry)."""

    def __init__(self, service):
        self.service = service

    def __enter__(self):
        self.before = self.service.latest_change_id()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            assert self.service.latest_change_id() == self.before, "a failed write stored data"


def listing(client, query: str = ""):
    resp = client.get(f"/api/chat/profiles{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    return resp.get_json()


def pairs(items):
    return [(i["slug"], i["registry"]) for i in items]


@pytest.fixture
def fresh(service):
    """Registry `default` with one profile `default` (its default), created over HTTP."""
    service.create_registry(Registry(slug="default"))
    return service


# --- 1, 15, 16, 21: list contract -----------------------------------------------------------


def test_list_items_keep_the_allow_list_and_sort_by_slug_then_registry(client, seeded):
    items = listing(client)
    assert isinstance(items, list)
    assert pairs(items) == [
        ("analyst", "default"),
        ("analyst", "team"),
        ("default", "default"),
        ("inventory", "default"),
    ]
    for item in items:
        assert set(item) <= LIST_KEYS
        assert item["registry"] and item["slug"]
        assert item.get("is_default", True) is True  # present only when true
    by_key = {(i["slug"], i["registry"]): i for i in items}
    inventory = by_key[("inventory", "default")]
    assert inventory["is_default"] is True
    assert inventory["default_prompt"].startswith("You are an inventory assistant")
    assert inventory["extensions"]["webchat.starter_suggestions@v1"]["items"]
    assert inventory["version"] == 1
    assert by_key[("analyst", "team")] == {
        "registry": "team",
        "slug": "analyst",
        "display_name": "Team analyst",
        "default_prompt": "You are the team's analyst.",
        "is_default": True,
        "version": 7,
    }
    assert "is_default" not in by_key[("default", "default")]
    assert "extensions" not in by_key[("default", "default")]


def test_list_is_an_empty_array_when_there_is_nothing(client, service):
    assert listing(client) == []
    service.create_registry(Registry(slug="default"))
    assert listing(client, "?registry=default") == []


def test_list_filters_by_registry(client, seeded):
    assert pairs(listing(client, "?registry=team")) == [("analyst", "team")]
    assert pairs(listing(client, "?registry=Team")) == [("analyst", "team")]
    assert {i["registry"] for i in listing(client, "?registry=default")} == {"default"}
    assert len(listing(client, "?registry=")) == 4  # blank means all registries
    assert_problem(client.get("/api/chat/profiles?registry=missing"), 404, "registry not found")
    assert_problem(
        client.get("/api/chat/profiles?registry=invalid registry!"),
        400,
        "invalid registry",
        field="registry",
    )


# --- 2, 6, 17: document contract and multi-registry ------------------------------------------


def test_document_keeps_the_allow_list(client, seeded):
    resp = client.get("/api/chat/profiles/inventory")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert set(doc) <= DOCUMENT_KEYS
    assert {"registry", "slug", "stack", "runtime", "policy", "metadata", "is_default"} <= set(doc)
    assert (doc["registry"], doc["slug"], doc["is_default"]) == ("default", "inventory", True)
    assert doc["policy"]["allow_overrides"] is True and doc["policy"]["read_only"] is False
    assert doc["runtime"]["middlewares"] == [{"name": "agentmode", "id": "primary"}]
    assert doc["metadata"]["tags"] == ["ops", "inventory"]
    ext = doc["extensions"]["middleware.agentmode_config@v1"]
    assert ext["instances"]["id:primary"]["default_mode"] == "plan"

    plain = client.get("/api/chat/profiles/default").get_json()
    assert plain["is_default"] is False
    assert "extensions" not in plain
    assert plain["policy"] == {"allow_overrides": False, "read_only": False}


def test_path_slug_is_normalized(client, seeded):
    doc = client.get("/api/chat/profiles/%20Inventory%20").get_json()
    assert doc["slug"] == "inventory"


def test_get_without_registry_searches_registries_in_slug_order(client, seeded, service):
    # analyst is in both: `default` sorts first
    doc = client.get("/api/chat/profiles/analyst").get_json()
    assert (doc["registry"], doc["metadata"]["version"]) == ("default", 1)
    team = client.get("/api/chat/profiles/analyst?registry=team").get_json()
    assert (team["registry"], team["metadata"]["version"], team["is_default"]) == (
        "team",
        7,
        True,
    )
    resp = client.post("/api/chat/profiles?registry=team", json={"slug": "helper"})
    assert resp.status_code == 201
    assert client.get("/api/chat/profiles/helper").get_json()["registry"] == "team"
    assert_problem(client.get("/api/chat/profiles/nobody"), 404, "profile not found")
    assert_problem(
        client.get("/api/chat/profiles/helper?registry=default"), 404, "profile not found"
    )
    assert_problem(
        client.get("/api/chat/profiles/helper?registry=missing"), 404, "registry not found"
    )
    assert_problem(
        client.get("/api/chat/profiles/helper?registry=bad reg!"), 400, "invalid registry"
    )


def test_duplicate_slugs_appear_once_per_registry(client, seeded):
    analysts = [i for i in listing(client) if i["slug"] == "analyst"]
    assert [i["registry"] for i in analysts] == ["default", "team"]


# --- 3, 14, 17, 21: CRUD lifecycle ----------------------------------------------------------


def test_crud_lifecycle(client, fresh):
    assert client.post("/api/chat/profiles", json={"slug": "default"}).status_code == 201
    resp = client.post(
        "/api/chat/profiles",
        json={
            "slug": "Analyst",
            "display_name": " Analyst ",
            "runtime": {
                "system_prompt": "You are analyst",
                "middlewares": [
                    {"name": "agentmode", "id": "primary", "config": {"default_mode": "chat"}}
                ],
            },
            "extensions": {"Vendor.Custom@V1": {"flags": [1]}},
            "set_default": True,
        },
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.headers["Location"] == "/api/chat/profiles/analyst?registry=default"
    assert resp.headers["ETag"]
    doc = resp.get_json()
    assert set(doc) <= DOCUMENT_KEYS
    assert (doc["registry"], doc["slug"], doc["is_default"]) == ("default", "analyst", True)
    assert doc["display_name"] == "Analyst"
    assert doc["metadata"]["version"] == 1
    assert doc["extensions"]["vendor.custom@v1"] == {"flags": [1]}
    instances = doc["extensions"]["middleware.agentmode_config@v1"]["instances"]
    assert instances["id:primary"]["default_mode"] == "chat"
    assert doc["runtime"]["middlewares"] == [{"name": "agentmode", "id": "primary"}]

    got = client.get("/api/chat/profiles/analyst").get_json()
    assert got["runtime"]["system_prompt"] == "You are analyst"
    assert got == doc

    items = listing(client)
    assert items[0]["slug"] == "analyst" and "extensions" in items[0]
    assert items[0]["is_default"] is True
    assert "is_default" not in items[1]

    resp = client.patch(
        "/api/chat/profiles/analyst",
        json={"expected_version": 1, "extensions": {"vendor.other@v1": {"x": True}}},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    patched = resp.get_json()
    assert patched["metadata"]["version"] == 2
    assert patched["extensions"] == {"vendor.other@v1": {"x": True}}  # replaced wholesale
    assert patched["runtime"]["system_prompt"] == "You are analyst"  # absent: unchanged

    resp = client.post("/api/chat/profiles/default/default", json={})
    assert resp.status_code == 200
    assert (resp.get_json()["slug"], resp.get_json()["is_default"]) == ("default", True)
    defaults = {i["slug"]: i.get("is_default", False) for i in listing(client)}
    assert defaults == {"analyst": False, "default": True}

    resp = client.delete("/api/chat/profiles/analyst?expected_version=2")
    assert resp.status_code == 204 and resp.get_data() == b""
    assert_problem(client.get("/api/chat/profiles/analyst"), 404, "profile not found")
    assert pairs(listing(client)) == [("default", "default")]


def test_created_profile_is_usable_immediately_and_patches_bump_the_version(client, seeded):
    resp = client.post("/api/chat/profiles", json={"slug": "agent", "policy": {"read_only": True}})
    assert resp.status_code == 201  # creating a read-only profile is allowed
    assert ("agent", "default") in pairs(listing(client))
    resolved = client.post("/api/chat/resolve", json={"profile": "agent"}).get_json()
    assert (resolved["profile"], resolved["version"]) == ("agent", 1)
    client.patch("/api/chat/profiles/default", json={"description": "changed"})
    resolved = client.post("/api/chat/resolve", json={"profile": "default"}).get_json()
    assert resolved["version"] == 2


def test_create_uses_body_then_query_then_default_registry(client, seeded):
    resp = client.post(
        "/api/chat/profiles?registry=default", json={"slug": "a", "registry": "team"}
    )
    assert resp.get_json()["registry"] == "team"
    assert client.post("/api/chat/profiles?registry=team", json={"slug": "b"}).get_json()[
        "registry"
    ] == ("team")
    assert client.post("/api/chat/profiles", json={"slug": "c"}).get_json()["registry"] == (
        "default"
    )


def test_create_keeps_only_client_tags_of_metadata(client, seeded):
    resp = client.post(
        "/api/chat/profiles",
        json={
            "slug": "tagged",
            "metadata": {"version": 40, "created_by": "mallory", "tags": ["a", "b"]},
        },
    )
    meta = resp.get_json()["metadata"]
    assert (meta["version"], meta["tags"], meta["created_by"]) == (1, ["a", "b"], "local")


def test_first_profile_of_a_registry_becomes_its_default(client, fresh):
    doc = client.post("/api/chat/profiles", json={"slug": "first"}).get_json()
    assert doc["is_default"] is True
    doc = client.post("/api/chat/profiles", json={"slug": "second"}).get_json()
    assert doc["is_default"] is False


# --- PATCH semantics ------------------------------------------------------------------------


def test_patch_present_fields_replace_absent_and_null_fields_stay(client, seeded):
    before = client.get("/api/chat/profiles/inventory").get_json()
    resp = client.patch(
        "/api/chat/profiles/inventory",
        json={
            "display_name": "Stock",
            "description": None,
            "runtime": None,
            "policy": None,
            "extensions": None,
            "metadata": None,
        },
    )
    doc = resp.get_json()
    assert resp.status_code == 200
    assert doc["display_name"] == "Stock"
    for key in ("description", "runtime", "policy", "extensions"):
        assert doc[key] == before[key], key
    assert doc["metadata"]["tags"] == before["metadata"]["tags"]
    assert doc["metadata"]["version"] == before["metadata"]["version"] + 1

    doc = client.patch(
        "/api/chat/profiles/inventory", json={"runtime": {"system_prompt": "only this"}}
    ).get_json()
    assert doc["runtime"] == {"system_prompt": "only this"}  # wholesale: tools are gone

    doc = client.patch(
        "/api/chat/profiles/inventory", json={"metadata": {"version": 99}}
    ).get_json()
    assert doc["metadata"]["tags"] == ["ops", "inventory"]  # no `tags`: unchanged
    # nothing else changed either: a no-op, same version (README, Concepts: "No-op writes")
    assert doc["metadata"]["version"] == before["metadata"]["version"] + 2

    doc = client.patch("/api/chat/profiles/inventory", json={"metadata": {"tags": []}}).get_json()
    assert "tags" not in doc["metadata"]

    doc = client.patch("/api/chat/profiles/inventory", json={"extensions": {}}).get_json()
    assert "extensions" not in doc  # `{}` clears


def test_patch_policy_replaces_the_whole_policy(client, seeded):
    doc = client.patch(
        "/api/chat/profiles/inventory", json={"policy": {"read_only": True}}
    ).get_json()
    assert doc["policy"] == {"allow_overrides": False, "read_only": True}


def test_patch_set_default_and_registry_from_query(client, seeded):
    doc = client.patch(
        "/api/chat/profiles/default", json={"set_default": True, "description": "d"}
    ).get_json()
    assert doc["is_default"] is True
    assert listing(client, "?registry=default")[-1].get("is_default") is None  # inventory
    doc = client.patch("/api/chat/profiles/analyst?registry=team", json={"description": "t"})
    assert doc.get_json()["registry"] == "team"
    assert doc.get_json()["metadata"]["version"] == 8


def test_patch_without_registry_uses_the_default_registry(client, seeded):
    client.post("/api/chat/profiles?registry=team", json={"slug": "helper"})
    assert_problem(
        client.patch("/api/chat/profiles/helper", json={"description": "x"}),
        404,
        "profile not found",
    )


# --- 4, 5: error mappings ------------------------------------------------------------------


def test_reference_error_mappings(client, seeded, service):
    with Unchanged(service):
        assert_problem(
            client.post("/api/chat/profiles", json={"slug": "bad slug!"}),
            400,
            'validation error (profile.slug): profile slug "bad slug!" is invalid: spaces and '
            '"!" are not allowed (use lower-case letters, digits, ".", "_" and "-"); '
            'try "bad-slug"',
            field="profile.slug",
        )
        assert_problem(
            client.patch("/api/chat/profiles/analyst", json={"description": "x"}),
            403,
            'policy violation for profile "analyst": profile is read-only',
        )
        assert_problem(
            client.patch(
                "/api/chat/profiles/inventory", json={"expected_version": 999, "description": "x"}
            ),
            409,
            'profile "inventory" version conflict: expected=999 actual=1',
        )
        assert_problem(
            client.post(
                "/api/chat/profiles", json={"slug": "k", "extensions": {"bad key": {"a": 1}}}
            ),
            400,
            contains='extension key "bad key" is invalid (expected namespace.feature@vN)',
            field="profile.extensions[bad key]",
        )
        assert_problem(
            client.post(
                "/api/chat/profiles",
                json={"slug": "m", "runtime": {"middlewares": [{"name": "unknown_middleware"}]}},
            ),
            400,
            'validation error (runtime.middlewares[0].name): unknown middleware "unknown_middleware"',
            field="runtime.middlewares[0].name",
        )
        body = assert_problem(
            client.post(
                "/api/chat/profiles",
                json={
                    "slug": "m",
                    "runtime": {"middlewares": [{"name": "agentmode", "config": {"unknown": "x"}}]},
                },
            ),
            400,
            contains="runtime.middlewares[0].config",
        )
        assert body["errors"][0]["field"].startswith("runtime.middlewares[0].config")
        assert_problem(client.get("/api/chat/profiles?registry=missing"), 404, "registry not found")
        assert_problem(
            client.delete("/api/chat/profiles/inventory?expected_version=abc"),
            400,
            "invalid expected_version",
            field="expected_version",
        )
        assert_problem(
            client.delete("/api/chat/profiles/inventory?expected_version=-1"),
            400,
            "invalid expected_version",
        )
        assert_problem(
            client.delete("/api/chat/profiles/analyst"),
            403,
            contains="policy violation",
        )
    assert client.get("/api/chat/profiles/analyst").status_code == 200


def test_read_only_is_checked_before_the_version(client, seeded, service):
    with Unchanged(service):
        assert_problem(
            client.patch("/api/chat/profiles/analyst", json={"expected_version": 999}),
            403,
            contains="profile is read-only",
        )
        assert_problem(
            client.delete("/api/chat/profiles/analyst?expected_version=999"),
            403,
            contains="profile is read-only",
        )


def test_version_conflicts_on_delete_and_create(client, seeded, service):
    with Unchanged(service):
        assert_problem(
            client.delete("/api/chat/profiles/default?expected_version=5"),
            409,
            'profile "default" version conflict: expected=5 actual=1',
        )
        assert_problem(
            client.post("/api/chat/profiles", json={"slug": "new", "expected_version": 3}),
            409,
            'profile "new" version conflict: expected=3 actual=0',
        )
        assert_problem(
            client.post("/api/chat/profiles", json={"slug": "Inventory"}),
            409,
            'profile "inventory" already exists',
        )


def test_create_reports_every_problem_with_its_field(client, seeded, service):
    with Unchanged(service):
        body = assert_problem(
            client.post(
                "/api/chat/profiles",
                json={
                    "slug": "ok",
                    "display_name": 5,
                    "runtime": {"tools": ["a", 3], "bogus": 1},
                    "policy": "open",
                    "extra": True,
                    "stack": "base",
                },
            ),
            400,
        )
        fields = {e["field"]: e["message"] for e in body["errors"]}
        assert fields == {
            "display_name": "Must be a string",
            "runtime.tools[1]": "Must be a string",
            "runtime.bogus": "Unknown field",
            "policy": "Must be an object",
            "extra": "Unknown field",
            "profile.stack": "Must be an array",
        }
        assert body["detail"].startswith("validation error (")
        assert body["detail"].endswith("(and 5 more)")


@pytest.mark.parametrize(
    ("payload", "field", "detail"),
    [
        ({}, "profile.slug", "validation error (profile.slug): must not be empty"),
        ({"slug": "  "}, "profile.slug", "validation error (profile.slug): must not be empty"),
        ({"slug": 7}, "profile.slug", "validation error (profile.slug): must be a string"),
        ({"slug": "a" * 129}, "profile.slug", None),
        ({"slug": "-a"}, "profile.slug", None),
        ({"slug": "ok", "registry": "bad reg!"}, "registry", "invalid registry"),
        (
            {"slug": "ok", "registry": 5},
            "registry",
            "validation error (registry): must be a string",
        ),
        ({"slug": "ok", "set_default": "yes"}, "set_default", None),
        ({"slug": "ok", "expected_version": "1"}, "expected_version", "invalid expected_version"),
        ({"slug": "ok", "expected_version": -1}, "expected_version", "invalid expected_version"),
        ({"slug": "ok", "expected_version": True}, "expected_version", None),
        ({"slug": "ok", "runtime": "x"}, "runtime", None),
        ({"slug": "ok", "runtime": {"middlewares": {}}}, "runtime.middlewares", None),
        ({"slug": "ok", "runtime": {"tools": [" "]}}, "runtime.tools[0]", None),
        ({"slug": "ok", "extensions": []}, "profile.extensions", None),
        ({"slug": "ok", "metadata": {"tags": "x"}}, "metadata.tags", None),
        (
            {
                "slug": "ok",
                "policy": {"allowed_override_keys": ["a"], "denied_override_keys": ["a"]},
            },
            "policy.override_keys",
            None,
        ),
        (
            {"slug": "ok", "extensions": {"webchat.starter_suggestions@v1": {"items": [""]}}},
            None,
            None,
        ),
    ],
)
def test_invalid_create_bodies_are_400_and_store_nothing(
    client, seeded, service, payload, field, detail
):
    with Unchanged(service):
        body = assert_problem(client.post("/api/chat/profiles", json=payload), 400, detail)
    if field:
        assert field in [e["field"] for e in body["errors"]], body
    assert len(listing(client)) == 4


def test_create_in_an_unknown_registry_is_404(client, seeded, service):
    with Unchanged(service):
        assert_problem(
            client.post("/api/chat/profiles", json={"slug": "x", "registry": "missing"}),
            404,
            "registry not found",
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/chat/profiles/bad%20slug!"),
        ("patch", "/api/chat/profiles/bad%20slug!"),
        ("delete", "/api/chat/profiles/bad%20slug!"),
        ("post", "/api/chat/profiles/bad%20slug!/default"),
        ("get", "/api/chat/profiles/-x"),
    ],
)
def test_invalid_path_slugs_are_400(client, seeded, service, method, path):
    with Unchanged(service):
        resp = getattr(client, method)(path, json={"description": "x"})
    assert_problem(resp, 400, "invalid profile slug", field="slug")


def test_patch_errors(client, seeded, service):
    with Unchanged(service):
        assert_problem(
            client.patch("/api/chat/profiles/inventory", data=b"", content_type="application/json"),
            400,
            "bad request: request body must be a JSON object",
            field="body",
        )
        assert_problem(
            client.patch("/api/chat/profiles/inventory", json={"slug": "renamed"}),
            400,
            field="slug",
        )
        assert_problem(
            client.patch("/api/chat/profiles/ghost", json={"description": "x"}),
            404,
            "profile not found",
        )
        assert_problem(
            client.patch(
                "/api/chat/profiles/inventory?registry=missing", json={"description": "x"}
            ),
            404,
            "registry not found",
        )
        assert_problem(
            client.patch("/api/chat/profiles/inventory", json={"runtime": {"tools": "x"}}),
            400,
            "validation error (runtime.tools): must be an array",
            field="runtime.tools",
        )
        assert_problem(
            client.patch(
                "/api/chat/profiles/inventory",
                json={"runtime": {"middlewares": [{"name": "nope"}]}},
            ),
            400,
            contains='unknown middleware "nope"',
        )
    assert client.get("/api/chat/profiles/inventory").get_json()["metadata"]["version"] == 1


def test_delete_errors_and_default_rule(client, seeded, service):
    with Unchanged(service):
        assert_problem(client.delete("/api/chat/profiles/ghost"), 404, "profile not found")
        assert_problem(
            client.delete("/api/chat/profiles/default?registry=missing"), 404, "registry not found"
        )
        # a well-formed request the registry's state refuses: 409, like a stale version
        assert_problem(
            client.delete("/api/chat/profiles/inventory"), 409, contains="set another default first"
        )
    # the last profile of a registry may go, and the registry loses its default
    assert client.delete("/api/chat/profiles/analyst?registry=team").status_code == 204
    assert listing(client, "?registry=team") == []
    # registry from the query only: a body is ignored
    resp = client.delete("/api/chat/profiles/default", json={"registry": "team"})
    assert resp.status_code == 204
    assert ("default", "default") not in pairs(listing(client))


# --- set default -----------------------------------------------------------------------------


def test_set_default(client, seeded, service):
    # read-only profiles may become the default (only PATCH/DELETE are blocked)
    resp = client.post("/api/chat/profiles/analyst/default")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert set(doc) <= DOCUMENT_KEYS
    assert (doc["registry"], doc["slug"], doc["is_default"]) == ("default", "analyst", True)
    assert client.get("/api/chat/profiles/inventory").get_json()["is_default"] is False
    # a malformed optional body is ignored
    resp = client.post(
        "/api/chat/profiles/inventory/default", data=b"{not json", content_type="application/json"
    )
    assert resp.status_code == 200 and resp.get_json()["is_default"] is True


def test_set_default_registry_body_then_query(client, seeded):
    client.post("/api/chat/profiles?registry=team", json={"slug": "helper"})
    resp = client.post(
        "/api/chat/profiles/helper/default?registry=default", json={"registry": "team"}
    )
    assert (resp.status_code, resp.get_json()["registry"]) == (200, "team")
    resp = client.post("/api/chat/profiles/analyst/default?registry=team")
    assert (resp.status_code, resp.get_json()["registry"]) == (200, "team")
    assert_problem(client.post("/api/chat/profiles/helper/default"), 404, "profile not found")


def test_set_default_checks_the_registry_version(client, seeded, service):
    version = service.get_registry("default").metadata.version
    with Unchanged(service):
        assert_problem(
            client.post("/api/chat/profiles/default/default", json={"expected_version": 999}),
            409,
            f'registry "default" version conflict: expected=999 actual={version}',
        )
        assert_problem(
            client.post("/api/chat/profiles/default/default?expected_version=999", json={}),
            409,
            contains="version conflict",
        )
        assert_problem(
            client.post("/api/chat/profiles/default/default?expected_version=x"),
            400,
            "invalid expected_version",
        )
        assert_problem(client.post("/api/chat/profiles/ghost/default"), 404, "profile not found")
        assert_problem(
            client.post("/api/chat/profiles/default/default", json={"registry": "missing"}),
            404,
            "registry not found",
        )
        assert_problem(
            client.post("/api/chat/profiles/default/default", json={"registry": "bad reg!"}),
            400,
            "invalid registry",
        )
    # body wins over the query when non-zero
    resp = client.post(
        "/api/chat/profiles/default/default?expected_version=999",
        json={"expected_version": version},
    )
    assert resp.status_code == 200 and resp.get_json()["is_default"] is True
    assert service.get_registry("default").metadata.version == version + 1


# --- read-only registries (config as code) -------------------------------------------------


def test_registries_managed_by_a_file_refuse_writes(make_app):
    app = make_app(REGISTRY_SEED_FILES=str(FIXTURES / "single-registry.yaml"))
    client, service = app.test_client(), app.extensions["registry"]
    detail = 'store is read-only: registry "support" is managed by single-registry.yaml'
    with Unchanged(service):
        assert_problem(
            client.post("/api/chat/profiles?registry=support", json={"slug": "x"}), 403, detail
        )
        assert_problem(
            client.patch("/api/chat/profiles/triage?registry=support", json={"description": "x"}),
            403,
            detail,
        )
        assert_problem(client.delete("/api/chat/profiles/escalation?registry=support"), 403, detail)
        assert_problem(
            client.post("/api/chat/profiles/escalation/default?registry=support"), 403, detail
        )
    assert client.get("/api/chat/profiles/triage?registry=support").status_code == 200


# --- 7, 18: schema endpoints ----------------------------------------------------------------


def test_middleware_schemas(client):
    resp = client.get("/api/chat/schemas/middlewares")
    assert resp.status_code == 200
    items = resp.get_json()
    assert [i["name"] for i in items] == sorted(i["name"] for i in items)
    assert {i["name"] for i in items} == {"agentmode", "sqlite"}
    for item in items:
        assert set(item) <= {"name", "version", "display_name", "description", "schema"}
        assert item["version"] == 1
        assert isinstance(item["display_name"], str) and item["display_name"]
        assert isinstance(item["schema"], dict) and item["schema"]


def test_extension_schemas(client):
    resp = client.get("/api/chat/schemas/extensions")
    assert resp.status_code == 200
    items = resp.get_json()
    keys = [i["key"] for i in items]
    assert keys == sorted(keys)
    assert {
        "webchat.starter_suggestions@v1",
        "middleware.agentmode_config@v1",
        "middleware.sqlite_config@v1",
    } <= set(keys)
    for item in items:
        assert set(item) <= {"key", "schema", "display_name", "description"}
        assert isinstance(item["schema"], dict) and item["schema"]
    config = next(i for i in items if i["key"] == "middleware.agentmode_config@v1")
    assert config["schema"]["required"] == ["instances"]
