"""The admin API (see README, JSON API): registries, profile listing, clone, revisions, import and
export, the change feed; bad input, 404s, conflicts, 412 and 304; actors."""

from __future__ import annotations

import time

import pytest

from registry.domain.importer import import_yaml
from registry.domain.model import Profile, Registry, RuntimeSpec
from registry.domain.service import ProfilePatch
from registry.domain.tokens import issue
from tests.conftest import FIXTURES

BUNDLE = (FIXTURES / "canonical-bundle.yaml").read_text()
YAML = "application/yaml"


def fields(response) -> list[str]:
    return [e["field"] for e in response.json["errors"]]


def snapshot(service) -> tuple:
    """Everything a failed write must leave unchanged."""
    regs = [
        (s.registry.slug, s.registry.metadata.version, s.profile_count)
        for s in service.list_registries()
    ]
    return regs, service.latest_change_id()


def make_profiles(service, registry: str, count: int, *, tag_every: int = 0) -> None:
    for i in range(count):
        p = Profile(slug=f"p{i:02d}", display_name=f"Profile {i}")
        if tag_every and i % tag_every == 0:
            p.metadata.tags = ["gold"]
        service.create_profile(registry, p, actor="seed")


# --- registries ------------------------------------------------------------------------------


def test_list_registries_with_counts_etag_and_304(client, seeded):
    response = client.get("/api/registries")
    assert response.status_code == 200
    items = response.json["items"]
    assert [(r["slug"], r["profile_count"]) for r in items] == [("default", 3), ("team", 1)]
    default = items[0]
    assert set(default) == {
        "slug",
        "display_name",
        "description",
        "default_profile_slug",
        "read_only",
        "managed_by",
        "metadata",
        "extensions",
        "profile_count",
    }
    assert default["default_profile_slug"] == "inventory" and default["read_only"] is False
    etag = response.headers["ETag"]
    cached = client.get("/api/registries", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""
    seeded.create_profile("team", Profile(slug="new"), actor="x")
    fresh = client.get("/api/registries", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert fresh.json["items"][1]["profile_count"] == 2


def test_create_and_get_a_registry(client, service):
    body = {
        "slug": " Ops ",
        "display_name": "Operations",
        "description": "On-call helpers",
        "extensions": {"vendor.note@v1": {"x": 1}},
        "tags": ["infra"],
    }
    response = client.post("/api/registries", json=body)
    assert response.status_code == 201, response.json
    data = response.json
    assert data["slug"] == "ops" and data["profile_count"] == 0
    assert data["metadata"]["version"] == 1 and data["metadata"]["tags"] == ["infra"]
    assert data["extensions"] == {"vendor.note@v1": {"x": 1}}
    assert response.headers["Location"].endswith("/api/registries/ops")
    got = client.get("/api/registries/ops")
    assert got.status_code == 200 and got.json == data
    assert got.headers["ETag"] == response.headers["ETag"]
    again = client.get("/api/registries/ops", headers={"If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304
    assert service.get_registry("ops").display_name == "Operations"


def test_create_registry_bad_input_reports_every_field_and_stores_nothing(client, seeded):
    before = snapshot(seeded)
    response = client.post(
        "/api/registries",
        json={"slug": "ok", "display_name": 5, "tags": "x", "profiles": {}, "read_only": True},
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert fields(response) == [
        "registry.profiles",
        "registry.read_only",
        "registry.display_name",
        "registry.tags",
    ]
    bad_slug = client.post("/api/registries", json={"slug": "Not a slug!"})
    assert bad_slug.status_code == 400 and fields(bad_slug) == ["registry.slug"]
    assert 'Registry slug "Not a slug!" is invalid' in bad_slug.json["errors"][0]["message"]
    no_slug = client.post("/api/registries", json={})
    assert no_slug.status_code == 400 and fields(no_slug) == ["registry.slug"]
    bad_ext = client.post("/api/registries", json={"slug": "x", "extensions": {"bad key": 1}})
    assert bad_ext.status_code == 400
    assert fields(bad_ext)[0].startswith("registry.extensions")
    not_json = client.post("/api/registries", data="{", content_type="application/json")
    assert not_json.status_code == 400 and fields(not_json) == ["body"]
    assert snapshot(seeded) == before


def test_create_duplicate_registry_is_409(client, seeded):
    response = client.post("/api/registries", json={"slug": "default"})
    assert response.status_code == 409
    assert response.json["detail"] == 'registry "default" already exists'


def test_patch_registry_fields_versions_and_preconditions(client, seeded):
    current = client.get("/api/registries/default")
    etag = current.headers["ETag"]
    version = current.json["metadata"]["version"]
    response = client.patch(
        "/api/registries/default",
        json={
            "display_name": "Main",
            "description": "d",
            "default_profile_slug": "analyst",
            "tags": ["a"],
            "extensions": {"vendor.x@v1": True},
            "expected_version": version,
        },
    )
    assert response.status_code == 200, response.json
    data = response.json
    assert (data["display_name"], data["default_profile_slug"]) == ("Main", "analyst")
    assert data["metadata"]["version"] == version + 1 and data["metadata"]["tags"] == ["a"]
    assert response.headers["ETag"] != etag
    # absent fields stay
    kept = client.patch("/api/registries/default", json={"description": "e"}).json
    assert kept["display_name"] == "Main" and kept["extensions"] == {"vendor.x@v1": True}

    stale = client.patch(
        "/api/registries/default", json={"display_name": "X", "expected_version": 1}
    )
    assert stale.status_code == 409
    assert "version conflict: expected=1" in stale.json["detail"]
    precondition = client.patch(
        "/api/registries/default", json={"display_name": "X"}, headers={"If-Match": etag}
    )
    assert precondition.status_code == 412
    latest = client.get("/api/registries/default")
    assert latest.json["display_name"] == "Main"
    ok = client.patch(
        "/api/registries/default",
        json={"display_name": "Y"},
        headers={"If-Match": latest.headers["ETag"]},
    )
    assert ok.status_code == 200 and ok.json["display_name"] == "Y"


def test_patch_registry_bad_input_and_missing_things(client, seeded):
    before = snapshot(seeded)
    bad = client.patch(
        "/api/registries/default", json={"slug": "renamed", "tags": [1], "extensions": []}
    )
    assert bad.status_code == 400
    assert fields(bad) == ["registry.slug", "registry.extensions", "registry.tags[0]"]
    missing_default = client.patch("/api/registries/default", json={"default_profile_slug": "nope"})
    assert missing_default.status_code == 404
    # the registry's state refuses it (an empty registry accepts it): 409, like deleting the
    # default profile
    clear = client.patch("/api/registries/default", json={"default_profile_slug": ""})
    assert clear.status_code == 409
    assert fields(clear) == ["registry.default_profile_slug"]
    assert client.patch("/api/registries/nope", json={}).status_code == 404
    bad_path = client.patch("/api/registries/Bad!", json={})
    assert bad_path.status_code == 400 and fields(bad_path) == ["registry"]
    assert snapshot(seeded) == before


def test_managed_registries_are_read_only(make_app):
    app = make_app(REGISTRY_SEED_FILES=str(FIXTURES / "single-registry.yaml"))
    client = app.test_client()
    summary = client.get("/api/registries/support").json
    assert summary["read_only"] is True and summary["managed_by"] == "single-registry.yaml"
    response = client.patch("/api/registries/support", json={"display_name": "x"})
    assert response.status_code == 403
    assert "managed by single-registry.yaml" in response.json["detail"]
    assert client.delete("/api/registries/support").status_code == 403
    clone = client.post("/api/registries/support/profiles/triage/clone", json={"slug": "t2"})
    assert clone.status_code == 403


def test_delete_registry(client, seeded):
    stale = client.delete("/api/registries/team?expected_version=99")
    assert stale.status_code == 409
    assert client.get("/api/registries/team").status_code == 200
    etag = client.get("/api/registries/team").headers["ETag"]
    assert client.delete("/api/registries/team", headers={"If-Match": '"nope"'}).status_code == 412
    version = seeded.get_registry("team").metadata.version
    assert client.delete(f"/api/registries/team?expected_version={version}").status_code == 204
    assert client.get("/api/registries/team").status_code == 404
    assert client.get("/api/registries/team/profiles/analyst").status_code == 404
    assert client.delete("/api/registries/team", headers={"If-Match": etag}).status_code == 404
    assert client.delete("/api/registries/default?expected_version=x").status_code == 400


# --- profiles --------------------------------------------------------------------------------


def test_profile_listing_paginates_filters_and_caches(client, service):
    client.post("/api/registries", json={"slug": "big"})
    make_profiles(service, "big", 7, tag_every=3)
    first = client.get("/api/registries/big/profiles?limit=3")
    assert first.status_code == 200
    page = first.json
    assert [p["slug"] for p in page["items"]] == ["p00", "p01", "p02"]
    assert page["total"] == 7 and page["next_cursor"] == "p02"
    assert page["items"][0]["is_default"] is True and page["items"][0]["registry"] == "big"
    assert page["items"][0]["metadata"]["version"] == 1
    slugs, cursor = [], ""
    while True:
        data = client.get(f"/api/registries/big/profiles?limit=3&cursor={cursor}").json
        slugs += [p["slug"] for p in data["items"]]
        if data["next_cursor"] is None:
            break
        cursor = data["next_cursor"]
    assert slugs == [f"p{i:02d}" for i in range(7)]

    gold = client.get("/api/registries/big/profiles?tag=gold").json
    assert [p["slug"] for p in gold["items"]] == ["p00", "p03", "p06"] and gold["total"] == 3
    found = client.get("/api/registries/big/profiles?q=PROFILE%205").json
    assert [p["slug"] for p in found["items"]] == ["p05"]
    none = client.get("/api/registries/big/profiles?q=zzz").json
    assert none == {"items": [], "next_cursor": None, "prev_cursor": None, "offset": 0, "total": 0}

    etag = first.headers["ETag"]
    same = client.get("/api/registries/big/profiles?limit=3", headers={"If-None-Match": etag})
    assert same.status_code == 304
    other_query = client.get(
        "/api/registries/big/profiles?limit=4", headers={"If-None-Match": etag}
    )
    assert other_query.status_code == 200
    service.update_profile("big", "p01", ProfilePatch(display_name="changed"), actor="x")
    changed = client.get("/api/registries/big/profiles?limit=3", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["items"][1]["display_name"] == "changed"


def test_profile_listing_sorts_and_pages_both_ways(client, service):
    client.post("/api/registries", json={"slug": "big"})
    make_profiles(service, "big", 7, tag_every=3)
    time.sleep(0.003)  # a later millisecond than the creations, so "newest" is unambiguous
    service.update_profile("big", "p03", ProfilePatch(display_name="aardvark"), actor="x")
    url = "/api/registries/big/profiles"
    by_name = client.get(f"{url}?sort=display_name&limit=2").json
    assert [p["slug"] for p in by_name["items"]][0] == "p03"
    assert by_name["offset"] == 0 and by_name["prev_cursor"] is None
    second = client.get(f"{url}?sort=display_name&limit=2&cursor={by_name['next_cursor']}").json
    assert second["offset"] == 2 and second["prev_cursor"]
    back = client.get(f"{url}?sort=display_name&limit=2&before={second['prev_cursor']}").json
    assert back["items"] == by_name["items"]
    newest = client.get(f"{url}?sort=updated&order=desc&limit=1").json
    assert newest["items"][0]["slug"] == "p03"
    last = client.get(f"{url}?limit=3&last=true").json
    assert [p["slug"] for p in last["items"]] == ["p04", "p05", "p06"]
    assert last["offset"] == 4 and last["next_cursor"] is None and last["prev_cursor"] == "p04"
    # tag filter and the tag list ignore case
    assert client.get(f"{url}?tag=GOLD").json["total"] == 3
    assert client.get("/api/registries/big/tags").json == {"items": ["gold"]}
    # a profile's slug is a cursor in any sort; a string that is neither is an unknown id
    after_p03 = client.get(f"{url}?sort=display_name&limit=2&cursor=p03").json
    assert [p["slug"] for p in after_p03["items"]] == ["p00", "p01"]
    assert client.get(f"{url}?sort=updated&cursor=nope").status_code == 404
    assert client.get(f"{url}?sort=display_name&before=%25%25").status_code == 404
    # several positions: cursor wins over before, either over last
    both = client.get(f"{url}?limit=3&cursor=p02&before=p05&last=true").json
    assert [p["slug"] for p in both["items"]] == ["p03", "p04", "p05"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=size", "sort"),
        ("order=up", "order"),
        ("last=maybe", "last"),
    ],
)
def test_profile_listing_rejects_bad_positions(client, service, query, field):
    client.post("/api/registries", json={"slug": "big"})
    make_profiles(service, "big", 3)
    response = client.get(f"/api/registries/big/profiles?{query}")
    assert response.status_code == 400, response.json
    assert [e["field"] for e in response.json["errors"]] == [field]


@pytest.mark.parametrize("limit", ["0", "501", "x", "-1"])
def test_profile_listing_rejects_bad_limits(client, seeded, limit):
    response = client.get(f"/api/registries/default/profiles?limit={limit}")
    assert response.status_code == 400 and fields(response) == ["limit"]


def test_profile_listing_of_an_unknown_registry_is_404(client, seeded):
    response = client.get("/api/registries/nope/profiles")
    assert response.status_code == 404 and response.json["detail"] == "registry not found"


def test_get_one_profile_with_etag(client, seeded):
    response = client.get("/api/registries/team/profiles/analyst")
    assert response.status_code == 200
    assert response.json["registry"] == "team" and response.json["metadata"]["version"] == 7
    etag = response.headers["ETag"]
    cached = client.get("/api/registries/team/profiles/Analyst", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    missing = client.get("/api/registries/team/profiles/nope")
    assert missing.status_code == 404 and missing.json["detail"] == "profile not found"
    assert client.get("/api/registries/team/profiles/bad!slug").status_code == 400


def test_clone_a_profile(client, seeded):
    response = client.post(
        "/api/registries/team/profiles/analyst/clone",
        json={"slug": "analyst-copy", "display_name": "Copy"},
    )
    assert response.status_code == 201, response.json
    doc = response.json
    source = seeded.get_profile("team", "analyst")
    assert (doc["registry"], doc["slug"], doc["display_name"]) == ("team", "analyst-copy", "Copy")
    assert doc["metadata"]["version"] == 1 and doc["metadata"]["created_by"] == "local"
    assert doc["runtime"] == client.get("/api/registries/team/profiles/analyst").json["runtime"]
    assert response.headers["Location"].endswith("/api/registries/team/profiles/analyst-copy")
    assert response.headers["ETag"]
    revisions = client.get("/api/registries/team/profiles/analyst-copy/revisions").json["items"]
    assert [(r["version"], r["operation"]) for r in revisions] == [(1, "clone")]
    assert seeded.get_profile("team", "analyst").metadata.version == source.metadata.version

    across = client.post(
        "/api/registries/team/profiles/analyst/clone", json={"slug": "a2", "registry": "default"}
    )
    assert across.status_code == 201 and across.json["registry"] == "default"
    assert across.json["display_name"] == source.display_name


def test_clone_bad_input_conflicts_and_404s(client, seeded):
    before = snapshot(seeded)
    url = "/api/registries/team/profiles/analyst/clone"
    bad = client.post(url, json={"slug": "Bad Slug!", "display_name": 3, "x": 1})
    assert bad.status_code == 400 and fields(bad) == ["x", "display_name"]
    bad_slug = client.post(url, json={"slug": "Bad Slug!"})
    assert bad_slug.status_code == 400 and fields(bad_slug) == ["slug"]
    no_slug = client.post(url, json={})
    assert no_slug.status_code == 400 and fields(no_slug) == ["slug"]
    not_text = client.post(url, json={"slug": 5})
    assert not_text.status_code == 400 and fields(not_text) == ["slug"]
    duplicate = client.post(url, json={"slug": "analyst"})
    assert duplicate.status_code == 409
    assert duplicate.json["detail"] == 'profile "analyst" already exists'
    assert client.post(url, json={"slug": "x", "registry": "nope"}).status_code == 404
    bad_target = client.post(url, json={"slug": "x", "registry": "No!"})
    assert bad_target.status_code == 400 and fields(bad_target) == ["registry"]
    missing = client.post("/api/registries/team/profiles/nope/clone", json={"slug": "x"})
    assert missing.status_code == 404
    assert snapshot(seeded) == before


# --- revisions -------------------------------------------------------------------------------


@pytest.fixture
def bot_revisions(service):
    """`default/bot` at version 3: created, then two prompt changes."""
    service.create_registry(Registry(slug="default"), actor="seed")
    service.create_profile(
        "default", Profile(slug="bot", runtime=RuntimeSpec(system_prompt="one")), actor="alice"
    )
    for prompt in ("two", "three"):
        patch = ProfilePatch(runtime=RuntimeSpec(system_prompt=prompt))
        service.update_profile("default", "bot", patch, actor="bob")
    return [r.id for r in reversed(service.list_revisions("default", "bot"))]


def test_revisions_list_get_and_diff(client, bot_revisions):
    base = "/api/registries/default/profiles/bot/revisions"
    listed = client.get(base)
    assert listed.status_code == 200
    items = listed.json["items"]
    assert [(r["version"], r["operation"], r["actor"]) for r in items] == [
        (3, "update", "bob"),
        (2, "update", "bob"),
        (1, "create", "alice"),
    ]
    assert set(items[0]) == {"id", "version", "operation", "actor", "at_ms"}
    assert client.get(base, headers={"If-None-Match": listed.headers["ETag"]}).status_code == 304
    assert [r["version"] for r in client.get(f"{base}?limit=1").json["items"]] == [3]

    first = client.get(f"{base}/{bot_revisions[0]}")
    assert first.status_code == 200
    assert first.json["snapshot"]["runtime"]["system_prompt"] == "one"
    assert first.json["snapshot"]["metadata"]["version"] == 1
    assert first.json["version"] == 1 and first.json["actor"] == "alice"
    assert (
        client.get(
            f"{base}/{bot_revisions[0]}", headers={"If-None-Match": first.headers["ETag"]}
        ).status_code
        == 304
    )

    diff = client.get(f"{base}/{bot_revisions[0]}/diff?against={bot_revisions[1]}")
    assert diff.status_code == 200
    assert diff.json == {
        "revision": bot_revisions[0],
        "against": bot_revisions[1],
        "changes": [{"path": "runtime.system_prompt", "before": "one", "after": "two"}],
    }
    to_current = client.get(f"{base}/{bot_revisions[0]}/diff").json
    assert to_current["against"] == "current"
    assert to_current["changes"] == [
        {"path": "runtime.system_prompt", "before": "one", "after": "three"}
    ]
    assert client.get(f"{base}/{bot_revisions[2]}/diff?against=current").json["changes"] == []


def test_revision_errors(client, bot_revisions, service):
    base = "/api/registries/default/profiles/bot/revisions"
    assert client.get(f"{base}/999999").status_code == 404
    assert client.get(f"{base}/999999").json["detail"] == "revision not found"
    assert client.get(f"{base}/abc").status_code == 404
    bad_against = client.get(f"{base}/{bot_revisions[0]}/diff?against=yesterday")
    assert bad_against.status_code == 400 and fields(bad_against) == ["against"]
    assert client.get(f"{base}/{bot_revisions[0]}/diff?against=999999").status_code == 404
    assert client.get("/api/registries/default/profiles/nope/revisions").status_code == 404
    # a revision id of another profile is not found under this one
    service.create_profile("default", Profile(slug="other"), actor="x")
    other_id = service.list_revisions("default", "other")[0].id
    assert client.get(f"{base}/{other_id}").status_code == 404
    assert client.get(f"{base}?limit=0").status_code == 400


def test_restore_a_revision(client, bot_revisions, service):
    base = "/api/registries/default/profiles/bot/revisions"
    response = client.post(f"{base}/{bot_revisions[0]}/restore", json={"expected_version": 3})
    assert response.status_code == 200, response.json
    assert response.json["runtime"]["system_prompt"] == "one"
    assert response.json["metadata"]["version"] == 4
    latest = client.get(base).json["items"][0]
    assert (latest["version"], latest["operation"], latest["actor"]) == (4, "restore", "local")

    stale = client.post(f"{base}/{bot_revisions[1]}/restore", json={"expected_version": 3})
    assert stale.status_code == 409
    etag = client.get("/api/registries/default/profiles/bot").headers["ETag"]
    precondition = client.post(f"{base}/{bot_revisions[1]}/restore", headers={"If-Match": '"old"'})
    assert precondition.status_code == 412
    assert service.get_profile("default", "bot").metadata.version == 4
    ok = client.post(f"{base}/{bot_revisions[1]}/restore", headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json["runtime"]["system_prompt"] == "two"
    bad = client.post(f"{base}/{bot_revisions[1]}/restore", json={"expected_version": "3", "x": 1})
    assert bad.status_code == 400 and fields(bad) == ["x"]
    assert client.post(f"{base}/999999/restore").status_code == 404


def test_restore_recreates_a_deleted_profile(client, bot_revisions, service):
    service.create_profile("default", Profile(slug="spare"), actor="x")
    service.set_default_profile("default", "spare", actor="x")
    service.delete_profile("default", "bot", actor="x")
    base = "/api/registries/default/profiles/bot/revisions"
    items = client.get(base).json["items"]
    assert items[0]["operation"] == "delete"
    deleted = client.get(f"{base}/{items[0]['id']}").json
    assert deleted["snapshot"] is None
    refused = client.post(f"{base}/{items[0]['id']}/restore")
    assert refused.status_code == 400 and fields(refused) == ["revision"]
    restored = client.post(f"{base}/{bot_revisions[2]}/restore")
    assert restored.status_code == 200 and restored.json["runtime"]["system_prompt"] == "three"


def test_deleted_profiles_are_listed_with_the_revision_to_restore(client, bot_revisions, service):
    url = "/api/registries/default/deleted-profiles"
    assert client.get(url).json == {"items": []}
    service.create_profile("default", Profile(slug="other"), actor="alice")
    service.set_default_profile("default", "other", actor="alice")
    deleted = client.delete("/api/chat/profiles/bot?registry=default")
    assert deleted.status_code in (200, 204)
    listed = client.get(url)
    assert listed.status_code == 200
    [item] = listed.json["items"]
    assert item["slug"] == "bot" and item["version"] == 3
    assert item["restore_revision"] == bot_revisions[-1]
    assert set(item) == {
        "slug",
        "display_name",
        "version",
        "deleted_at_ms",
        "deleted_by",
        "restore_revision",
    }
    assert client.get(url, headers={"If-None-Match": listed.headers["ETag"]}).status_code == 304
    assert client.get(f"{url}?limit=0").status_code == 400
    assert client.get("/api/registries/nope/deleted-profiles").status_code == 404
    restore = f"/api/registries/default/profiles/bot/revisions/{item['restore_revision']}/restore"
    restored = client.post(restore)
    assert restored.status_code == 200 and restored.json["runtime"]["system_prompt"] == "three"
    assert client.get(url).json == {"items": []}


def test_history_routes_on_the_yaml_store_are_404_no_history(make_app, tmp_path):
    app = make_app(
        REGISTRY_STORE=f"yaml:{tmp_path / 'store.yaml'}",
        REGISTRY_TOKEN_STORE=f"sqlite:///{tmp_path / 'tokens.db'}",
    )
    import_yaml(app.extensions["registry"], BUNDLE, actor="seed")
    client = app.test_client()
    base = "/api/registries/team/profiles/analyst/revisions"
    for response in (
        client.get(base),
        client.get(f"{base}/1"),
        client.get(f"{base}/1/diff"),
        client.post(f"{base}/1/restore"),
        client.get("/api/registries/team/deleted-profiles"),
    ):
        assert response.status_code == 404
        assert response.json["type"].endswith("/no-history")
        assert (
            response.json["detail"] == "history is not available: the yaml store keeps no revisions"
        )
    # everything else works on the YAML store
    assert client.get("/api/registries/team/profiles").json["total"] == 1
    assert client.get("/api/changes").json["items"] == []


# --- import / export -------------------------------------------------------------------------


def test_import_dry_run_writes_nothing_then_apply(client, service):
    latest = service.latest_change_id()
    dry = client.post("/api/import?dry_run=true&mode=upsert", data=BUNDLE, content_type=YAML)
    assert dry.status_code == 200, dry.json
    plan = dry.json
    assert plan["dry_run"] is True and plan["applied"] is False and plan["mode"] == "upsert"
    assert plan["counts"]["created"] == 4
    analyst = next(
        i for i in plan["items"] if i.get("profile") == "analyst" and i["registry"] == "team"
    )
    assert (analyst["kind"], analyst["registry"], analyst["action"]) == (
        "profile",
        "team",
        "created",
    )
    assert service.list_registries() == [] and service.latest_change_id() == latest

    applied = client.post("/api/import", data=BUNDLE, content_type="text/yaml")
    assert applied.status_code == 200
    assert applied.json["applied"] is True and applied.json["counts"]["created"] == 4
    assert service.get_profile("team", "analyst").metadata.version == 7
    again = client.post(
        "/api/import", data=BUNDLE, content_type="application/x-yaml; charset=utf-8"
    )
    assert again.json["counts"]["unchanged"] == 4 and again.json["applied"] is False


def test_import_takes_the_bundle_as_json(client, make_app, seeded):
    exported = client.get("/api/export?format=json").data
    other = make_app().test_client()
    dry = other.post("/api/import?dry_run=true", data=exported, content_type="application/json")
    assert dry.status_code == 200, dry.json
    assert dry.json["counts"]["created"] > 0 and dry.json["applied"] is False
    applied = other.post("/api/import", data=exported, content_type="application/json")
    assert applied.status_code == 200 and applied.json["applied"] is True
    assert other.get("/api/export").data == client.get("/api/export").data


def test_import_bad_input_writes_nothing(client, seeded):
    before = snapshot(seeded)
    cases = {
        "wrong type": ({"data": BUNDLE, "content_type": "application/xml"}, 415),
        "YAML sent as JSON": ({"data": BUNDLE, "content_type": "application/json"}, 400),
        "JSON duplicate key": (
            {"data": '{"registries": {"a": {}, "a": {}}}', "content_type": "application/json"},
            400,
        ),
        # text/plain is what a cross-site <form enctype="text/plain"> sends
        "text/plain": ({"data": BUNDLE, "content_type": "text/plain; charset=utf-8"}, 415),
        "no type": ({"data": BUNDLE}, 415),
        "bad mode": ({"data": BUNDLE, "content_type": YAML, "query": "mode=merge"}, 400),
        "bad dry_run": ({"data": BUNDLE, "content_type": YAML, "query": "dry_run=perhaps"}, 400),
        "empty": ({"data": "  \n", "content_type": YAML}, 400),
        "not yaml": ({"data": "registries: [", "content_type": YAML}, 400),
        "python tag": (
            {"data": "a: !!python/object/apply:os.system ['true']", "content_type": YAML},
            400,
        ),
        "not utf-8": ({"data": b"slug: \xff\xfe", "content_type": YAML}, 400),
        "invalid profile": (
            {
                "data": "slug: default\nprofiles:\n  x:\n    runtime:\n      tools: ['']\n",
                "content_type": YAML,
            },
            400,
        ),
        "too large": ({"data": "#" * (2 * 1024 * 1024 + 1), "content_type": YAML}, 413),
    }
    for label, (case, status) in cases.items():
        query = case.pop("query", "")
        response = client.post(f"/api/import?{query}", **case)
        assert response.status_code == status, (label, response.json)
        assert response.mimetype == "application/problem+json", label
    invalid = client.post(
        "/api/import",
        data="slug: default\nprofiles:\n  x:\n    runtime:\n      tools: ['']\n",
        content_type=YAML,
    )
    assert any("tools[0]" in f for f in fields(invalid)), invalid.json
    assert fields(client.post("/api/import?mode=merge", data=BUNDLE, content_type=YAML)) == ["mode"]
    assert snapshot(seeded) == before


def test_mirror_imports_need_an_admin(make_app):
    app = make_app(REGISTRY_AUTH="on")
    tokens = app.extensions["tokens"]
    editor = {"Authorization": f"Bearer {issue(tokens, 'ed', 'editor').secret}"}
    admin = {"Authorization": f"Bearer {issue(tokens, 'root', 'admin').secret}"}
    client = app.test_client()
    url = "/api/import?mode=mirror"
    for query in ("", "&dry_run=true"):
        denied = client.post(url + query, data=BUNDLE, content_type=YAML, headers=editor)
        assert denied.status_code == 403 and "needs admin" in denied.json["detail"]
    assert app.extensions["registry"].list_registries() == []
    upsert = client.post("/api/import", data=BUNDLE, content_type=YAML, headers=editor)
    assert upsert.status_code == 200
    # default (3 profiles) and team (1): 6 deletions, confirmed
    mirror = client.post(
        url + "&confirm=6", data="registries: {}\n", content_type=YAML, headers=admin
    )
    assert mirror.status_code == 200 and mirror.json["applied"] is True
    deleted = [
        (i["kind"], i["registry"], i["action"])
        for i in mirror.json["items"]
        if i["kind"] == "registry"
    ]
    assert deleted == [("registry", "default", "deleted"), ("registry", "team", "deleted")]
    assert app.extensions["registry"].list_registries() == []


def test_export_round_trip_is_byte_identical(client, make_app, seeded):
    response = client.get("/api/export")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.headers["Content-Disposition"] == 'attachment; filename="profiles.yaml"'
    exported = response.data
    cached = client.get("/api/export", headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304

    other = make_app()
    other_client = other.test_client()
    imported = other_client.post("/api/import", data=exported, content_type=YAML)
    assert imported.status_code == 200
    assert other_client.get("/api/export").data == exported

    one = client.get("/api/export?registry=team")
    assert one.headers["Content-Disposition"] == 'attachment; filename="team.yaml"'
    assert b"team:" in one.data and b"inventory" not in one.data
    assert client.get("/api/export?registry=nope").status_code == 404
    assert client.get("/api/export?registry=Bad!").status_code == 400


def test_json_export_imports_back_to_the_same_bundle(client, make_app, seeded):
    yaml_text = client.get("/api/export").data
    response = client.get("/api/export?format=json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="profiles.json"'
    assert response.headers["ETag"] != client.get("/api/export").headers["ETag"]
    other = make_app().test_client()
    imported = other.post("/api/import", data=response.data, content_type=YAML)
    assert imported.status_code == 200, imported.json
    assert other.get("/api/export").data == yaml_text
    bad = client.get("/api/export?format=xml")
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "format"


# --- change feed -----------------------------------------------------------------------------


def test_change_feed(client, seeded):
    response = client.get("/api/changes")
    assert response.status_code == 200
    data = response.json
    assert data["latest"] == seeded.latest_change_id() == data["items"][-1]["id"]
    assert set(data["items"][0]) == {
        "id",
        "registry",
        "profile",
        "operation",
        "version",
        "actor",
        "at_ms",
    }
    ids = [c["id"] for c in data["items"]]
    assert ids == sorted(ids)
    assert client.get("/api/changes?limit=2").json["items"] == data["items"][:2]
    after = client.get(f"/api/changes?after={ids[1]}").json["items"]
    assert [c["id"] for c in after] == ids[2:]
    empty = client.get(f"/api/changes?after={data['latest']}", headers={})
    assert empty.json == {"latest": data["latest"], "items": []}
    assert (
        client.get("/api/changes", headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )

    client.post("/api/registries/team/profiles/analyst/clone", json={"slug": "c"})
    new = client.get(f"/api/changes?after={data['latest']}").json["items"]
    assert [(c["registry"], c["profile"], c["operation"], c["actor"]) for c in new] == [
        ("team", "c", "clone", "local")
    ]
    for bad in ("after=-1", "after=x", "limit=0", "limit=1001"):
        assert client.get(f"/api/changes?{bad}").status_code == 400, bad


# --- actors ----------------------------------------------------------------------------------


def test_actor_is_the_token_name_in_metadata_revisions_and_changes(make_app):
    app = make_app(REGISTRY_AUTH="on")
    tokens = app.extensions["tokens"]
    alice = {"Authorization": f"Bearer {issue(tokens, 'alice', 'admin').secret}"}
    bob = {"Authorization": f"Bearer {issue(tokens, 'bob', 'editor').secret}"}
    client = app.test_client()
    assert (
        client.post("/api/import", data=BUNDLE, content_type=YAML, headers=bob).status_code == 200
    )
    created = client.post("/api/registries", json={"slug": "ops"}, headers=alice)
    assert created.json["metadata"]["created_by"] == "alice"
    patched = client.patch("/api/registries/ops", json={"description": "x"}, headers=bob)
    assert patched.json["metadata"]["updated_by"] == "bob"
    clone = client.post(
        "/api/registries/team/profiles/analyst/clone",
        json={"slug": "c", "registry": "ops"},
        headers=bob,
    )
    assert clone.json["metadata"]["created_by"] == "bob"
    revisions = client.get("/api/registries/ops/profiles/c/revisions", headers=alice).json["items"]
    assert revisions[0]["actor"] == "bob"
    imported = client.get("/api/registries/team/profiles/analyst/revisions", headers=bob).json
    assert imported["items"][0]["actor"] == "bob"
    restored = client.post(
        f"/api/registries/team/profiles/analyst/revisions/{imported['items'][0]['id']}/restore",
        headers=alice,
    )
    assert restored.status_code == 200 and restored.json["metadata"]["updated_by"] == "alice"
    actors = {c["actor"] for c in client.get("/api/changes", headers=bob).json["items"]}
    assert actors == {"alice", "bob"}


def test_a_blank_default_profile_slug_of_any_whitespace_unsets_it(client, service):
    """Blank means unset, whatever whitespace it is made of (the fuzzer sent vertical tabs)."""
    service.create_registry(Registry(slug="empty"), actor="seed")
    response = client.patch("/api/registries/empty", json={"default_profile_slug": " \x0b\t\f "})
    assert response.status_code == 200 and response.json["default_profile_slug"] == ""
