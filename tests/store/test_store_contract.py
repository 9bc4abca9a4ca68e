"""The store contract: one suite for every backend, against the `Store` protocol of
`registry/domain/ports.py` (README, Architecture).

Where this store differs from the reference system's on purpose, the test says so (README,
"Differences from the reference system"): explicit create/update instead of upsert, missing
targets raise instead of no-op, the registry version moves only on header writes, and the
default profile is the service's business (the store never rewrites it).
"""

from __future__ import annotations

import copy
import time

import pytest

from registry.domain.errors import (
    AlreadyExists,
    ProfileNotFound,
    RegistryNotFound,
    StoreClosed,
    VersionConflict,
)
from registry.domain.model import (
    Metadata,
    MiddlewareUse,
    Profile,
    Registry,
    RuntimeSpec,
    profile_from_data,
)
from registry.domain.ports import ProfileQuery, Store, WriteOptions

FULL_PROFILE = {
    "slug": "agent",
    "display_name": "Agent ✨",
    "description": "Line one\nline two <script>alert(1)</script> 100% _done_",
    "stack": [{"profile_slug": "base"}, {"registry_slug": "shared", "profile_slug": "mw"}],
    "runtime": {
        "step_settings_patch": {
            "ai-chat": {"ai-engine": "gpt-4.1-mini", "ai-max-response-tokens": 2048},
            "ai-client": {"timeout": 2.5, "organization": None},
        },
        "system_prompt": "You are an agent.\n\tBe brief.",
        "middlewares": [
            {"name": "agentmode", "id": "primary", "enabled": True},
            {"name": "sqlite", "enabled": False},
            {"name": "logging"},
        ],
        "tools": ["calculator", "search"],
    },
    "policy": {
        "allow_overrides": True,
        "allowed_override_keys": ["system_prompt"],
        "denied_override_keys": ["tools"],
        "read_only": False,
    },
    "metadata": {"tags": ["prod", "team-a"]},
    "extensions": {
        "webchat.starter_suggestions@v1": {"items": ["Hi", "Help me"]},
        "vendor.custom@v1": {
            "flags": [{"enabled": True, "weights": [1, 2.5, None]}, {"enabled": False}],
            "nested": {"deep": {"deeper": ["x", {"y": "z"}]}},
            "empty": {},
            "unicode": "naïve 日本語 \ufffe \u202e end",
        },
    },
}


def opts(**kwargs) -> WriteOptions:
    return WriteOptions(**kwargs)


def full_profile() -> Profile:
    return profile_from_data(copy.deepcopy(FULL_PROFILE))


def new_registry(store: Store, slug: str = "default", **kwargs) -> Registry:
    return store.create_registry(Registry(slug=slug, **kwargs), opts(actor="seed"))


def new_profile(store: Store, slug: str, registry: str = "default", **kwargs) -> Profile:
    return store.create_profile(registry, Profile(slug=slug, **kwargs), opts(actor="seed"))


def must_get(store: Store, registry: str, slug: str) -> Profile:
    profile = store.get_profile(registry, slug)
    assert profile is not None, f"{registry}/{slug} missing"
    return profile


def must_get_registry(store: Store, slug: str) -> Registry:
    registry = store.get_registry(slug)
    assert registry is not None, f"registry {slug} missing"
    return registry


def slugs(profiles) -> list[str]:
    return [p.slug for p in profiles]


# --- registries ------------------------------------------------------------------------------


def test_registry_lifecycle(store: Store) -> None:
    """D1, F1: create, read, list sorted, copies, update, delete."""
    created = store.create_registry(
        Registry(slug="zeta", display_name="Zeta", default_profile_slug="x"),
        opts(actor="alice", source="seed"),
    )
    assert created.metadata.version == 1
    assert created.profiles == {}
    new_registry(store, "alpha")

    assert [r.slug for r in store.list_registries()] == ["alpha", "zeta"]  # G13
    got = must_get_registry(store, "zeta")
    assert got == created
    assert (got.display_name, got.default_profile_slug) == ("Zeta", "x")
    assert got.metadata.created_by == got.metadata.updated_by == "alice"
    assert got.metadata.source == "seed"

    got.display_name = "mutated"
    got.metadata.version = 42
    got.extensions["x"] = 1
    store.list_registries()[1].display_name = "mutated too"
    assert must_get_registry(store, "zeta") == created

    got = must_get_registry(store, "zeta")
    got.description = "Last letter"
    updated = store.update_registry(got, opts(expected_version=1, actor="bob"))
    assert updated.metadata.version == 2
    assert must_get_registry(store, "zeta").description == "Last letter"

    store.delete_registry("zeta", opts(expected_version=2))
    assert store.get_registry("zeta") is None
    assert [r.slug for r in store.list_registries()] == ["alpha"]
    assert store.get_registry("missing") is None


def test_registry_metadata_version_and_attribution(store: Store) -> None:
    """D5: v1 (alice/seed), v2 (bob/api, expected v1), v3 (carol/cli, expected v2)."""
    r1 = store.create_registry(Registry(slug="default"), opts(actor="alice", source="seed"))
    assert (r1.metadata.version, r1.metadata.created_by, r1.metadata.source) == (1, "alice", "seed")
    new_profile(store, "agent")

    header = must_get_registry(store, "default")
    header.default_profile_slug = "agent"
    r2 = store.update_registry(header, opts(expected_version=1, actor="bob", source="api"))
    assert r2.default_profile_slug == "agent"
    assert r2.metadata.version == 2
    assert r2.metadata.created_at_ms == r1.metadata.created_at_ms
    assert r2.metadata.created_by == "alice"
    assert r2.metadata.updated_by == "bob"
    assert r2.metadata.source == "api"
    assert r2.metadata.updated_at_ms >= r1.metadata.updated_at_ms

    r3 = store.update_registry(r2, opts(expected_version=2, actor="carol", source="cli"))
    assert (r3.metadata.version, r3.metadata.updated_by, r3.metadata.source) == (3, "carol", "cli")
    assert r3.metadata.created_by == "alice"
    assert r3.metadata.updated_at_ms >= r2.metadata.updated_at_ms
    assert must_get_registry(store, "default") == r3


def test_registry_header_ignores_client_metadata_except_tags(store: Store) -> None:
    header = Registry(
        slug="default", metadata=Metadata(version=9, created_by="mallory", tags=["team"])
    )
    created = store.create_registry(header, opts(actor="alice"))
    assert (created.metadata.version, created.metadata.created_by) == (1, "alice")
    assert created.metadata.tags == ["team"]
    created.metadata = Metadata(version=50, created_at_ms=1, created_by="mallory", tags=["x"])
    updated = store.update_registry(created, opts(actor="bob"))
    assert updated.metadata.version == 2
    assert updated.metadata.created_by == "alice"
    assert updated.metadata.created_at_ms > 1
    assert updated.metadata.tags == ["x"]


def test_registry_version_moves_only_on_header_writes(store: Store) -> None:
    """Deliberate deviation from Go: profile writes leave the registry version alone."""
    new_registry(store)
    p = new_profile(store, "agent")
    p.display_name = "Agent v2"
    store.update_profile("default", p, opts())
    store.delete_profile("default", "agent", opts())
    assert must_get_registry(store, "default").metadata.version == 1


def test_delete_registry_deletes_its_profiles(store: Store) -> None:
    new_registry(store)
    new_registry(store, "other")
    new_profile(store, "agent")
    new_profile(store, "agent", registry="other")
    store.delete_registry("default", opts())
    assert store.get_profile("default", "agent") is None
    assert store.profile_counts() == {"other": 1}

    new_registry(store)  # a recreated registry starts empty
    assert store.list_profiles("default", ProfileQuery()).items == []
    assert must_get_registry(store, "default").metadata.version == 1


def test_registry_ignores_embedded_profiles(store: Store) -> None:
    """Registries are headers in the protocol: profiles go through create_profile."""
    reg = Registry(slug="default", profiles={"agent": Profile(slug="agent")})
    assert store.create_registry(reg, opts()).profiles == {}
    assert store.get_profile("default", "agent") is None
    assert must_get_registry(store, "default").profiles == {}


# --- profiles --------------------------------------------------------------------------------


def test_profile_lifecycle(store: Store) -> None:
    """D2 and G31: create, list, set default, update, delete the old default."""
    new_registry(store)
    default = new_profile(store, "default", display_name="Default")
    agent = new_profile(store, "agent", display_name="Agent")
    assert default.metadata.version == agent.metadata.version == 1
    assert slugs(store.list_profiles("default", ProfileQuery()).items) == ["agent", "default"]

    agent.display_name = "Agent v2"
    assert store.update_profile("default", agent, opts(expected_version=1)).metadata.version == 2

    header = must_get_registry(store, "default")
    header.default_profile_slug = "agent"
    store.update_registry(header, opts(expected_version=header.metadata.version))

    store.delete_profile("default", "default", opts(expected_version=1))
    assert store.get_profile("default", "default") is None
    assert must_get_registry(store, "default").default_profile_slug == "agent"
    page = store.list_profiles("default", ProfileQuery())
    assert [(p.slug, p.display_name) for p in page.items] == [("agent", "Agent v2")]
    assert page.total == 1


def test_profile_metadata_version_and_attribution(store: Store) -> None:
    """D6: v1 (alice/seed), v2 (bob/api), v3 (carol/cli); created_* stay alice's."""
    new_registry(store)
    p1 = store.create_profile("default", Profile(slug="agent"), opts(actor="alice", source="seed"))
    m1 = p1.metadata
    assert (m1.version, m1.created_by, m1.updated_by, m1.source) == (1, "alice", "alice", "seed")
    assert m1.created_at_ms > 0 and m1.updated_at_ms == m1.created_at_ms

    p2 = store.update_profile("default", p1, opts(expected_version=1, actor="bob", source="api"))
    m2 = p2.metadata
    assert (m2.version, m2.created_by, m2.updated_by, m2.source) == (2, "alice", "bob", "api")
    assert m2.created_at_ms == m1.created_at_ms
    assert m2.updated_at_ms >= m1.updated_at_ms

    p3 = store.update_profile("default", p2, opts(expected_version=2, actor="carol", source="cli"))
    m3 = p3.metadata
    assert (m3.version, m3.created_by, m3.updated_by, m3.source) == (3, "alice", "carol", "cli")
    assert m3.created_at_ms == m1.created_at_ms
    assert m3.updated_at_ms >= m2.updated_at_ms
    assert must_get(store, "default", "agent") == p3


def test_profile_write_takes_only_tags_from_client_metadata(store: Store) -> None:
    new_registry(store)
    declared = Metadata(
        version=7, created_at_ms=5, updated_at_ms=6, created_by="m", updated_by="m", tags=["a"]
    )
    created = store.create_profile(
        "default", Profile(slug="agent", metadata=declared), opts(actor="alice")
    )
    assert created.metadata.version == 1
    assert created.metadata.created_by == created.metadata.updated_by == "alice"
    assert created.metadata.created_at_ms > 6
    assert created.metadata.tags == ["a"]

    created.metadata = Metadata(version=99, created_at_ms=1, created_by="mallory", tags=["b", "c"])
    updated = store.update_profile("default", created, opts(actor="bob"))
    assert updated.metadata.version == 2
    assert updated.metadata.created_by == "alice"
    assert updated.metadata.created_at_ms > 6
    assert updated.metadata.tags == ["b", "c"]

    updated.metadata.tags = []
    assert store.update_profile("default", updated, opts()).metadata.tags == []


def test_keep_metadata_on_create(store: Store) -> None:
    """Imports keep the declared metadata of what they create; later writes continue it."""
    declared = Metadata(
        source="file",
        version=7,
        created_at_ms=1_700_000_000_000,
        updated_at_ms=1_700_000_000_500,
        created_by="origin",
        updated_by="editor",
        tags=["imported"],
    )
    reg = store.create_registry(
        Registry(slug="default", metadata=copy.deepcopy(declared)), opts(keep_metadata=True)
    )
    assert reg.metadata == declared
    p = store.create_profile(
        "default",
        Profile(slug="agent", metadata=copy.deepcopy(declared)),
        opts(keep_metadata=True, actor="importer"),
    )
    assert p.metadata == declared
    assert must_get(store, "default", "agent").metadata == declared

    later = store.update_profile("default", p, opts(expected_version=7, actor="bob"))
    assert later.metadata.version == 8
    assert later.metadata.created_by == "origin"
    assert later.metadata.created_at_ms == declared.created_at_ms
    assert later.metadata.updated_by == "bob"
    assert later.metadata.updated_at_ms > declared.updated_at_ms

    bare = store.create_profile("default", Profile(slug="bare"), opts(keep_metadata=True))
    assert bare.metadata.version == 1
    assert bare.metadata.created_at_ms > 0


# --- version conflicts -----------------------------------------------------------------------


def assert_conflict(exc: pytest.ExceptionInfo, resource: str, slug: str, exp: int, act: int):
    err = exc.value
    assert (err.resource, err.slug, err.expected, err.actual) == (resource, slug, exp, act)
    assert f"expected={exp} actual={act}" in str(err)


def test_profile_version_conflicts(store: Store) -> None:
    """D3, F2, G12: stale and too-high versions fail and change nothing."""
    new_registry(store)
    p = new_profile(store, "agent", display_name="Agent")
    p.display_name = "Agent v2"
    v2 = store.update_profile("default", p, opts(expected_version=1))
    assert v2.metadata.version == 2
    change = store.latest_change_id()

    stale = p.clone()
    stale.display_name = "stale"
    with pytest.raises(VersionConflict) as exc:
        store.update_profile("default", stale, opts(expected_version=1))
    assert_conflict(exc, "profile", "agent", 1, 2)
    with pytest.raises(VersionConflict) as exc:
        store.update_profile("default", stale, opts(expected_version=999))
    assert_conflict(exc, "profile", "agent", 999, 2)
    with pytest.raises(VersionConflict) as exc:
        store.delete_profile("default", "agent", opts(expected_version=102))
    assert_conflict(exc, "profile", "agent", 102, 2)
    with pytest.raises(VersionConflict):
        store.delete_profile("default", "agent", opts(expected_version=1))

    assert must_get(store, "default", "agent") == v2
    assert store.latest_change_id() == change

    store.delete_profile("default", "agent", opts(expected_version=2))
    assert store.get_profile("default", "agent") is None


def test_registry_version_conflicts(store: Store) -> None:
    """F2: the registry version +100 and a stale one conflict; the right one works."""
    new_registry(store)
    header = must_get_registry(store, "default")
    with pytest.raises(VersionConflict) as exc:
        store.update_registry(header, opts(expected_version=101))
    assert_conflict(exc, "registry", "default", 101, 1)
    header.default_profile_slug = "agent"
    assert store.update_registry(header, opts(expected_version=1)).metadata.version == 2
    with pytest.raises(VersionConflict) as exc:
        store.update_registry(header, opts(expected_version=1))
    assert_conflict(exc, "registry", "default", 1, 2)
    with pytest.raises(VersionConflict) as exc:
        store.delete_registry("default", opts(expected_version=1))
    assert_conflict(exc, "registry", "default", 1, 2)
    assert must_get_registry(store, "default").metadata.version == 2
    store.delete_registry("default", opts(expected_version=2))
    assert store.get_registry("default") is None


def test_expected_version_on_create_conflicts_against_zero(store: Store) -> None:
    with pytest.raises(VersionConflict) as exc:
        store.create_registry(Registry(slug="default"), opts(expected_version=3))
    assert_conflict(exc, "registry", "default", 3, 0)
    assert store.get_registry("default") is None

    new_registry(store)
    with pytest.raises(VersionConflict) as exc:
        store.create_profile("default", Profile(slug="agent"), opts(expected_version=1))
    assert_conflict(exc, "profile", "agent", 1, 0)
    assert store.get_profile("default", "agent") is None


def test_unconditional_writes_always_apply(store: Store) -> None:
    new_registry(store)
    p = new_profile(store, "agent")
    for n in range(2, 5):
        p = store.update_profile("default", p, opts())
        assert p.metadata.version == n


# --- duplicates and missing targets ----------------------------------------------------------


def test_already_exists(store: Store) -> None:
    new_registry(store, display_name="first")
    with pytest.raises(AlreadyExists) as exc:
        store.create_registry(Registry(slug="default", display_name="second"), opts())
    assert (exc.value.resource, exc.value.slug) == ("registry", "default")
    assert str(exc.value) == 'registry "default" already exists'
    assert must_get_registry(store, "default").display_name == "first"

    new_profile(store, "agent", display_name="first")
    with pytest.raises(AlreadyExists) as exc:
        store.create_profile("default", Profile(slug="agent", display_name="second"), opts())
    assert (exc.value.resource, exc.value.slug) == ("profile", "agent")
    assert str(exc.value) == 'profile "agent" already exists'
    assert must_get(store, "default", "agent").display_name == "first"
    # existence wins over a version check
    with pytest.raises(AlreadyExists):
        store.create_profile("default", Profile(slug="agent"), opts(expected_version=5))


def test_missing_targets(store: Store) -> None:
    """Reads signal absence with None; writes and listings raise not-found."""
    assert store.get_registry("nope") is None
    assert store.get_profile("nope", "agent") is None
    with pytest.raises(RegistryNotFound):
        store.update_registry(Registry(slug="nope"), opts())
    with pytest.raises(RegistryNotFound):
        store.delete_registry("nope", opts())
    with pytest.raises(RegistryNotFound):
        store.create_profile("nope", Profile(slug="agent"), opts())
    with pytest.raises(RegistryNotFound):
        store.update_profile("nope", Profile(slug="agent"), opts())
    with pytest.raises(RegistryNotFound):
        store.delete_profile("nope", "agent", opts())
    with pytest.raises(RegistryNotFound):
        store.list_profiles("nope", ProfileQuery())
    with pytest.raises(RegistryNotFound):
        list(store.iter_profiles("nope"))

    new_registry(store)
    assert store.get_profile("default", "agent") is None
    with pytest.raises(ProfileNotFound):
        store.update_profile("default", Profile(slug="agent"), opts())
    with pytest.raises(ProfileNotFound):
        store.update_profile("default", Profile(slug="agent"), opts(expected_version=1))
    with pytest.raises(ProfileNotFound):
        store.delete_profile("default", "agent", opts())
    assert store.list_profiles("default", ProfileQuery()).items == []
    assert list(store.iter_profiles("default")) == []


# --- copies ----------------------------------------------------------------------------------


def test_reads_and_writes_are_copies(store: Store) -> None:
    """Mutating an input after a write, or anything a read returned, changes nothing."""
    new_registry(store)
    source = full_profile()
    created = store.create_profile("default", source, opts())
    expected = must_get(store, "default", "agent")
    assert created == expected

    source.display_name = "changed"
    source.runtime.tools.append("rm -rf")
    source.runtime.step_settings_patch["ai-chat"]["ai-engine"] = "evil"
    source.extensions["vendor.custom@v1"]["nested"]["deep"]["deeper"].append("more")
    source.metadata.tags.append("sneaky")
    assert must_get(store, "default", "agent") == expected

    for returned in (
        created,
        must_get(store, "default", "agent"),
        store.list_profiles("default", ProfileQuery()).items[0],
        next(iter(store.iter_profiles("default"))),
    ):
        returned.runtime.middlewares.append(MiddlewareUse(name="x"))
        returned.extensions["vendor.custom@v1"]["flags"][0]["enabled"] = False
        returned.policy.denied_override_keys.clear()
        returned.stack.clear()
        assert must_get(store, "default", "agent") == expected

    update = expected.clone()
    update.description = "new"
    result = store.update_profile("default", update, opts())
    update.extensions.clear()
    result.extensions.clear()
    assert must_get(store, "default", "agent").extensions == expected.extensions

    a, b = must_get(store, "default", "agent"), must_get(store, "default", "agent")
    assert a == b and a is not b and a.extensions is not b.extensions


# --- persistence -----------------------------------------------------------------------------


def test_everything_survives_a_reopen(store: Store, reopen) -> None:
    """F1, F6, F8, F11 and E5: every field, unknown extension keys with nested values, stack
    refs, registry state, in a second store opened on the same data."""
    registry = Registry(
        slug="default",
        display_name="Default registry",
        description="All the profiles",
        default_profile_slug="agent",
        extensions={"vendor.registry@v1": {"owners": ["ops", {"team": "ai"}], "n": 3}},
        read_only=True,
        managed_by="profiles.yaml",
        metadata=Metadata(tags=["core"]),
    )
    reg = store.create_registry(registry, opts(actor="alice", source="seed"))
    agent = store.create_profile("default", full_profile(), opts(actor="alice"))
    other = new_profile(store, "other", runtime=RuntimeSpec(system_prompt="hi"))
    new_registry(store, "empty")

    second = reopen(store)
    try:
        assert second.get_registry("default") == reg
        assert second.get_profile("default", "agent") == agent
        assert second.get_profile("default", "other") == other
        assert [r.slug for r in second.list_registries()] == ["default", "empty"]
        assert second.profile_counts() == {"default": 2, "empty": 0}
        assert list(second.iter_profiles("default")) == [agent, other]
        vendor = second.get_profile("default", "agent").extensions["vendor.custom@v1"]
        assert vendor["flags"][0]["weights"] == [1, 2.5, None]
        assert vendor["unicode"] == "naïve 日本語 \ufffe \u202e end"
    finally:
        second.close()


def test_writes_of_one_store_are_seen_by_another(store: Store, reopen) -> None:
    """F6: create, update, set default in one store; a second store on the same data sees
    them (a second process would too)."""
    new_registry(store)
    second = reopen(store)
    try:
        agent = new_profile(store, "agent", display_name="Agent")
        agent.display_name = "Agent v2"
        store.update_profile("default", agent, opts(expected_version=1))
        header = must_get_registry(store, "default")
        header.default_profile_slug = "agent"
        store.update_registry(header, opts())
        assert must_get(second, "default", "agent").display_name == "Agent v2"
        assert must_get_registry(second, "default").default_profile_slug == "agent"
        with pytest.raises(VersionConflict):
            second.update_profile("default", agent, opts(expected_version=1))
    finally:
        second.close()


def test_deleting_the_only_profile_with_its_default_persists(store: Store, reopen) -> None:
    """F7: the service deletes the last profile and clears the default in one group."""
    new_registry(store)
    new_profile(store, "agent")
    header = must_get_registry(store, "default")
    header.default_profile_slug = "agent"
    store.update_registry(header, opts())
    with store.atomic():
        store.delete_profile("default", "agent", opts(expected_version=1))
        header = must_get_registry(store, "default")
        header.default_profile_slug = ""
        store.update_registry(header, opts(expected_version=header.metadata.version))
    second = reopen(store)
    try:
        assert must_get_registry(second, "default").default_profile_slug == ""
        assert second.list_profiles("default", ProfileQuery()).items == []
    finally:
        second.close()


def test_unknown_extensions_survive_a_partial_update(store: Store, reopen) -> None:
    """F9, E12, G32: a display-name-only edit keeps an unknown extension intact."""
    new_registry(store)
    payload = {"items": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "meta": {"k": None}}]}
    store.create_profile(
        "default",
        Profile(slug="agent", extensions={"vendor.custom@v1": copy.deepcopy(payload)}),
        opts(),
    )
    edit = must_get(store, "default", "agent")
    edit.display_name = "Renamed"
    store.update_profile("default", edit, opts(expected_version=1))
    second = reopen(store)
    try:
        got = must_get(second, "default", "agent")
        assert got.display_name == "Renamed"
        assert got.extensions == {"vendor.custom@v1": payload}
    finally:
        second.close()


# --- listing ---------------------------------------------------------------------------------


def test_list_profiles_pages_in_slug_byte_order(store: Store) -> None:
    new_registry(store)
    names = ["b-2", "b.2", "b0", "b_2", "ba", "a", "z9", "c"]
    names += [f"p{i:02d}" for i in range(17)]
    for name in names:
        new_profile(store, name)
    expected = sorted(names)  # byte order: - . 0-9 _ a-z
    assert expected[:5] == ["a", "b-2", "b.2", "b0", "b_2"]

    seen, cursor, pages = [], "", 0
    while True:
        page = store.list_profiles("default", ProfileQuery(limit=10, after=cursor))
        assert page.total == len(names)
        seen += slugs(page.items)
        pages += 1
        if not page.next_cursor:
            break
        assert page.next_cursor == page.items[-1].slug
        cursor = page.next_cursor
    assert seen == expected
    assert pages == 3

    exact = store.list_profiles("default", ProfileQuery(limit=len(names)))
    assert len(exact.items) == len(names) and exact.next_cursor == ""
    past = store.list_profiles("default", ProfileQuery(after="zzz"))
    assert (past.items, past.next_cursor, past.total) == ([], "", len(names))
    assert slugs(store.iter_profiles("default")) == expected


def test_list_profiles_search_and_tags(store: Store) -> None:
    new_registry(store)
    new_profile(store, "alpha", display_name="Alpha Agent", metadata=Metadata(tags=["prod"]))
    new_profile(store, "beta", description="An AGENT for beta", metadata=Metadata(tags=["Prod"]))
    new_profile(store, "gamma", display_name="Élan vital", metadata=Metadata(tags=["prod-eu"]))
    new_profile(store, "delta", display_name="100% sure", metadata=Metadata(tags=["a_b"]))
    new_profile(store, "agent-x", display_name="x_y", metadata=Metadata(tags=["axb", "prod"]))
    new_profile(store, "omega", display_name="100 percent", description="xzy")

    def find(**kwargs) -> tuple[list[str], int]:
        page = store.list_profiles("default", ProfileQuery(**kwargs))
        return slugs(page.items), page.total

    # q: case-insensitive substring of slug, display name or description
    assert find(q="agent") == (["agent-x", "alpha", "beta"], 3)
    assert find(q="AGENT", limit=2) == (["agent-x", "alpha"], 3)
    assert find(q="agent", after="alpha") == (["beta"], 3)
    assert find(q="élan") == (["gamma"], 1)
    assert find(q="ÉLAN") == (["gamma"], 1)
    # LIKE wildcards are literal characters
    assert find(q="%") == (["delta"], 1)
    assert find(q="x_y") == (["agent-x"], 1)
    assert find(q="_") == (["agent-x", "delta"], 2)  # delta's tag a_b
    # q also matches tags, in any case
    assert find(q="PROD-E") == (["gamma"], 1)
    assert find(q="nothing") == ([], 0)
    # tag: one whole tag, case-insensitively (`Beta` finds `beta`)
    assert find(tag="prod") == (["agent-x", "alpha", "beta"], 3)
    assert find(tag="PROD") == (["agent-x", "alpha", "beta"], 3)
    assert find(tag="pro") == ([], 0)
    assert find(tag="a_b") == (["delta"], 1)
    assert find(tag="a%b") == ([], 0)
    assert find(q="alpha", tag="prod") == (["alpha"], 1)
    assert find(q="beta", tag="prod") == (["beta"], 1)
    assert find(q="gamma", tag="prod") == ([], 0)
    assert store.list_tags("default") == ["a_b", "axb", "prod", "prod-eu"]  # `prod` used twice


def _walk(store: Store, **kwargs) -> list[list[str]]:
    """Every page from the first, following next_cursor; checks offsets on the way."""
    pages: list[list[str]] = []
    after = ""
    while True:
        page = store.list_profiles("default", ProfileQuery(after=after, **kwargs))
        assert page.offset == sum(map(len, pages))
        assert bool(page.prev_cursor) == bool(pages)
        pages.append(slugs(page.items))
        if not page.next_cursor:
            return pages
        after = page.next_cursor


def test_keyset_pages_in_every_sort_match_the_reference(store: Store) -> None:
    """Sorted keyset pages walk every profile once, forwards and backwards, in the order of
    `paging.page_of`; ties in the sort value are broken by slug."""
    import random

    from registry.domain.paging import SORTS, page_of

    rng = random.Random(7)
    new_registry(store)
    names = ["Zed", "alpha", "Alpha", "", "beta", "Émile", "émile", "  ", "delta"]
    for i in range(23):
        new_profile(store, f"p{i:02d}", display_name=rng.choice(names))
    profiles = list(store.iter_profiles("default"))
    for sort in SORTS:
        for descending in (False, True):
            for limit in (1, 5, 23, 50):
                query = {"sort": sort, "descending": descending, "limit": limit}
                pages = _walk(store, **query)
                flat = [s for page in pages for s in page]
                expected = slugs(
                    page_of(
                        profiles, ProfileQuery(limit=100, sort=sort, descending=descending)
                    ).items
                )
                assert flat == expected, query
                # backwards from the last page gives the same pages
                page = store.list_profiles("default", ProfileQuery(last=True, **query))
                back = [slugs(page.items)]
                assert page.offset == 23 - len(page.items) and not page.next_cursor
                while page.prev_cursor:
                    page = store.list_profiles(
                        "default", ProfileQuery(before=page.prev_cursor, **query)
                    )
                    back.insert(0, slugs(page.items))
                assert [s for p in back for s in p] == expected, query
                assert page.offset == 0
    # updated: the newest write first when descending (a later millisecond than the creations)
    time.sleep(0.003)
    store.update_profile(
        "default", profiles[5].clone(), WriteOptions(expected_version=1, actor="t")
    )
    newest = store.list_profiles("default", ProfileQuery(sort="updated", descending=True, limit=1))
    assert slugs(newest.items) == ["p05"]


def test_a_cursor_from_another_sort_is_refused(store: Store) -> None:
    from registry.domain.errors import ValidationError
    from registry.domain.paging import cursor_of

    new_registry(store)
    for slug in ("a", "b", "c"):
        new_profile(store, slug, display_name=slug.upper())
    first = store.list_profiles("default", ProfileQuery(sort="display_name", limit=1))
    assert first.next_cursor == cursor_of(first.items[0], "display_name")
    for bad in ("a", first.next_cursor[:-2] + "!!", "bm90IGpzb24"):
        with pytest.raises(ValidationError) as caught:
            store.list_profiles("default", ProfileQuery(sort="updated", after=bad))
        assert caught.value.errors[0].field == "cursor"


def test_profile_counts(store: Store) -> None:
    assert store.profile_counts() == {}
    new_registry(store)
    new_registry(store, "empty")
    for slug in ("a", "b", "c"):
        new_profile(store, slug)
    assert store.profile_counts() == {"default": 3, "empty": 0}


# --- atomic groups ---------------------------------------------------------------------------


def test_atomic_group_rolls_back_on_exception(store: Store) -> None:
    new_registry(store)
    new_profile(store, "keep")
    change = store.latest_change_id()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with store.atomic():
            new_profile(store, "new")
            keep = must_get(store, "default", "keep")
            keep.display_name = "changed"
            store.update_profile("default", keep, opts())
            header = must_get_registry(store, "default")
            header.description = "changed"
            store.update_registry(header, opts())
            store.create_registry(Registry(slug="other"), opts())
            raise Boom

    assert store.get_profile("default", "new") is None
    assert must_get(store, "default", "keep").display_name == ""
    assert must_get(store, "default", "keep").metadata.version == 1
    assert must_get_registry(store, "default").metadata.version == 1
    assert store.get_registry("other") is None
    assert store.latest_change_id() == change

    with pytest.raises(VersionConflict):  # a failing write fails the whole group
        with store.atomic():
            new_profile(store, "new")
            store.update_profile("default", Profile(slug="keep"), opts(expected_version=9))
    assert store.get_profile("default", "new") is None


def test_atomic_groups_commit_and_nest(store: Store) -> None:
    new_registry(store)
    with store.atomic():
        new_profile(store, "a")
        with store.atomic():
            new_profile(store, "b")
        try:
            with store.atomic():
                new_profile(store, "c")
                raise KeyError("inner only")
        except KeyError:
            pass
        new_profile(store, "d")
    assert slugs(store.iter_profiles("default")) == ["a", "b", "d"]


# --- close -----------------------------------------------------------------------------------


def test_close_is_idempotent_and_guards_every_method(store: Store) -> None:
    """D4, E13, F10."""
    new_registry(store)
    new_profile(store, "agent")
    store.close()
    store.close()
    calls = [
        lambda: store.list_registries(),
        lambda: store.get_registry("default"),
        lambda: store.profile_counts(),
        lambda: store.create_registry(Registry(slug="x"), opts()),
        lambda: store.update_registry(Registry(slug="default"), opts()),
        lambda: store.delete_registry("default", opts()),
        lambda: store.list_profiles("default", ProfileQuery()),
        lambda: list(store.iter_profiles("default")),
        lambda: store.get_profile("default", "agent"),
        lambda: store.create_profile("default", Profile(slug="x"), opts()),
        lambda: store.update_profile("default", Profile(slug="agent"), opts()),
        lambda: store.delete_profile("default", "agent", opts()),
        lambda: store.list_revisions("default", "agent"),
        lambda: store.get_revision("default", "agent", 1),
        lambda: store.list_changes(),
        lambda: store.latest_change_id(),
        lambda: store.atomic().__enter__(),
    ]
    for call in calls:
        with pytest.raises(StoreClosed, match="closed"):
            call()


# --- history ---------------------------------------------------------------------------------


@pytest.fixture
def history_store(sql_store: Store) -> Store:
    """History is kept by the SQL backends; the YAML store has none (checked below)."""
    assert sql_store.supports_history
    return sql_store


def test_a_store_without_history_returns_none(tmp_path) -> None:
    from registry.store import open_store

    store = open_store(f"yaml:{tmp_path / 'h.yaml'}")
    assert not store.supports_history
    new_registry(store)
    new_profile(store, "agent")
    assert store.list_revisions("default", "agent") == []
    assert store.get_revision("default", "agent", 1) is None
    assert store.list_changes() == []
    store.close()


def test_revisions_record_every_profile_write(history_store: Store) -> None:
    store = history_store
    new_registry(store)
    v1 = store.create_profile("default", Profile(slug="agent", display_name="one"), opts(actor="a"))
    edit = v1.clone()
    edit.display_name = "two"
    v2 = store.update_profile("default", edit, opts(actor="b"))
    edit.display_name = "three"
    v3 = store.update_profile("default", edit, opts(actor="c", operation="restore"))
    new_profile(store, "other")

    revs = store.list_revisions("default", "agent")
    assert [(r.version, r.operation, r.actor) for r in revs] == [
        (3, "restore", "c"),
        (2, "update", "b"),
        (1, "create", "a"),
    ]
    assert [r.snapshot for r in revs] == [v3, v2, v1]
    assert revs[0].id > revs[1].id > revs[2].id
    assert all((r.registry, r.profile) == ("default", "agent") for r in revs)
    assert revs[0].at_ms == v3.metadata.updated_at_ms
    assert [r.version for r in store.list_revisions("default", "agent", limit=2)] == [3, 2]

    got = store.get_revision("default", "agent", revs[1].id)
    assert got == revs[1]
    assert store.get_revision("default", "other", revs[1].id) is None
    assert store.get_revision("other", "agent", revs[1].id) is None
    assert store.get_revision("default", "agent", 10**9) is None

    got.snapshot.display_name = "mutated"
    assert store.get_revision("default", "agent", revs[1].id).snapshot == v2


def test_history_restarts_after_delete_and_recreate(history_store: Store) -> None:
    store = history_store
    new_registry(store)
    p = new_profile(store, "agent")
    store.update_profile("default", p, opts())
    store.delete_profile("default", "agent", opts(actor="zed"))
    deleted = store.list_revisions("default", "agent")
    assert [(r.operation, r.actor, r.snapshot) for r in deleted[:1]] == [("delete", "zed", None)]
    assert [r.operation for r in deleted] == ["delete", "update", "create"]

    again = new_profile(store, "agent", display_name="again")
    assert [(r.version, r.operation) for r in store.list_revisions("default", "agent")] == [
        (1, "create")
    ]
    assert store.list_revisions("default", "agent")[0].snapshot == again

    # a clone (a create under another name, whatever the label) starts fresh too
    clone = again.clone()
    clone.slug = "copy"
    store.create_profile("default", clone, opts(operation="clone"))
    assert [(r.version, r.operation) for r in store.list_revisions("default", "copy")] == [
        (1, "clone")
    ]


def test_change_feed(history_store: Store) -> None:
    store = history_store
    assert store.latest_change_id() == 0
    assert store.list_changes() == []
    new_registry(store)
    first = store.latest_change_id()
    assert first > 0
    p = new_profile(store, "agent")
    store.update_profile("default", p, opts(actor="bob"))
    header = must_get_registry(store, "default")
    store.update_registry(header, opts(actor="carol"))
    store.delete_profile("default", "agent", opts(actor="dan"))
    with pytest.raises(VersionConflict):
        store.update_registry(header, opts(expected_version=1))
    store.delete_registry("default", opts(actor="erin"))

    changes = store.list_changes()
    assert [(c.registry, c.profile, c.operation, c.version, c.actor) for c in changes] == [
        ("default", "", "create", 1, "seed"),
        ("default", "agent", "create", 1, "seed"),
        ("default", "agent", "update", 2, "bob"),
        ("default", "", "update", 2, "carol"),
        ("default", "agent", "delete", 2, "dan"),
        ("default", "", "delete", 2, "erin"),
    ]
    ids = [c.id for c in changes]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] == first
    assert store.latest_change_id() == ids[-1]
    assert [c.id for c in store.list_changes(after=ids[2])] == ids[3:]
    assert [c.id for c in store.list_changes(after=ids[0], limit=2)] == ids[1:3]
    assert store.list_changes(after=ids[-1]) == []
    assert all(c.at_ms > 0 for c in changes)


# --- the protocol itself: lifecycle and identity ------------------------------------------


def test_every_backend_implements_the_whole_protocol(store: Store, reopen) -> None:
    """The service calls `url`, `release`, `disconnect` and `forget_inherited` on any store
    without duck typing, so every backend has them; they leave the store usable."""
    assert isinstance(store, Store)
    store.create_registry(Registry(slug="kept"), WriteOptions())
    store.release()
    store.disconnect()  # as before a fork: the next call connects again
    assert not store.forget_inherited()  # nothing was inherited in this process
    assert store.get_registry("kept") is not None
    other = reopen(store)  # `url` opens the same data
    try:
        assert other.get_registry("kept") is not None
    finally:
        other.close()


# --- stacks: several profiles at once, dependants ------------------------------------------------


def stacked_profile(slug: str, *refs: tuple[str, str]) -> Profile:
    from registry.domain.model import ProfileRef

    return Profile(slug=slug, stack=[ProfileRef(profile_slug=p, registry_slug=r) for r, p in refs])


def test_get_profiles_returns_those_that_exist(store):
    new_registry(store)
    new_registry(store, "shared")
    store.create_profile("default", Profile(slug="a"), opts())
    store.create_profile("shared", Profile(slug="a", description="shared a"), opts())
    found = store.get_profiles(
        [("default", "a"), ("shared", "a"), ("default", "missing"), ("nowhere", "a")]
    )
    assert sorted(found) == [("default", "a"), ("shared", "a")]
    assert found[("shared", "a")].description == "shared a"
    assert found[("default", "a")].metadata.version == 1
    found[("default", "a")].description = "changed"  # a copy
    assert store.get_profile("default", "a").description == ""
    assert store.get_profiles([]) == {}
    many = [("default", f"p{i}") for i in range(250)]
    for _, slug in many[:120]:
        store.create_profile("default", Profile(slug=slug), opts())
    assert len(store.get_profiles(many)) == 120
    for i in range(120):  # keys spread over many registries
        new_registry(store, f"r{i}")
    spread = [(f"r{i}", "a") for i in range(120)]
    store.create_profile("r7", Profile(slug="a"), opts())
    assert list(store.get_profiles(spread)) == [("r7", "a")]


def test_find_dependants_matches_refs_exactly(store):
    new_registry(store)
    new_registry(store, "shared")
    store.create_profile("shared", Profile(slug="base"), opts())
    store.create_profile("default", Profile(slug="base"), opts())
    store.create_profile("default", stacked_profile("same", ("", "base")), opts())
    store.create_profile("default", stacked_profile("explicit", ("default", "base")), opts())
    store.create_profile("default", stacked_profile("cross", ("shared", "base")), opts())
    store.create_profile("shared", stacked_profile("inner", ("", "base")), opts())
    # a payload mentioning the slug elsewhere is no dependant
    store.create_profile(
        "default",
        Profile(slug="decoy", extensions={"app.x@v1": {"profile_slug": "base"}}),
        opts(),
    )
    store.create_profile("default", stacked_profile("other", ("", "basement")), opts())

    def names(found):
        return [(r, p.slug) for r, p in found]

    assert names(store.find_dependants("default", "base")) == [
        ("default", "explicit"),
        ("default", "same"),
    ]
    assert names(store.find_dependants("shared", "base")) == [
        ("default", "cross"),
        ("shared", "inner"),
    ]
    assert names(store.find_dependants("shared", None)) == [
        ("default", "cross"),
        ("shared", "inner"),
    ]
    assert store.find_dependants("default", "nothing") == []
