"""No-op writes and three-way merges of stale edits, on every backend (SQLite, PostgreSQL,
and the YAML store where history is needed only for merges)."""

from __future__ import annotations

import pytest

from registry.domain.errors import (
    MergeConflict,
    MergeUnavailable,
    PolicyViolation,
    ValidationError,
    VersionConflict,
)
from registry.domain.model import MiddlewareUse, Profile, RuntimeSpec
from registry.domain.service import ProfilePatch

EXT = "webchat.starter_suggestions@v1"


def _agent(service) -> Profile:
    return service.create_profile(
        None,
        Profile(
            slug="agent",
            display_name="Agent",
            description="first",
            runtime=RuntimeSpec(system_prompt="be brief", tools=["search"]),
            extensions={EXT: {"items": ["hi"]}},
        ),
        actor="alice",
    )


def _feed(service) -> list:
    return service.list_changes(0, 1000) if service.supports_history else []


# --- no-op writes ------------------------------------------------------------------------------


def test_a_patch_that_changes_nothing_writes_nothing(backend_service):
    _agent(backend_service)
    feed = _feed(backend_service)
    revisions = (
        backend_service.list_revisions(None, "agent") if backend_service.supports_history else []
    )
    same = ProfilePatch(
        display_name="Agent",
        description=" first ",  # trimmed on write: the same stored value
        runtime=RuntimeSpec(system_prompt="be brief", tools=["search"]),
        extensions={EXT: {"items": ["hi"]}},
        tags=[],
    )
    answered = backend_service.update_profile(None, "agent", same, actor="bob")
    assert answered.metadata.version == 1
    assert answered.metadata.updated_by == "alice"  # nobody wrote
    assert backend_service.get_profile(None, "agent").metadata.version == 1
    assert _feed(backend_service) == feed
    if backend_service.supports_history:
        assert backend_service.list_revisions(None, "agent") == revisions
    # with the current expected_version it is the same no-op; an empty patch too
    assert (
        backend_service.update_profile(None, "agent", same, expected_version=1).metadata.version
        == 1
    )
    assert backend_service.update_profile(None, "agent", ProfilePatch()).metadata.version == 1
    assert _feed(backend_service) == feed


def test_a_stale_no_op_is_still_a_conflict(backend_service):
    _agent(backend_service)
    backend_service.update_profile(None, "agent", ProfilePatch(description="second"))
    with pytest.raises(VersionConflict):
        backend_service.update_profile(
            None, "agent", ProfilePatch(description="second"), expected_version=1
        )


def test_a_real_change_still_writes(backend_service):
    _agent(backend_service)
    feed = _feed(backend_service)
    updated = backend_service.update_profile(None, "agent", ProfilePatch(tags=["x"]))
    assert updated.metadata.version == 2
    if backend_service.supports_history:
        assert len(_feed(backend_service)) == len(feed) + 1


def test_a_no_op_with_set_default_still_sets_the_default(backend_service):
    _agent(backend_service)
    backend_service.create_profile(None, Profile(slug="other"))
    answered = backend_service.update_profile(None, "other", ProfilePatch(), set_default=True)
    assert answered.metadata.version == 1
    assert backend_service.get_registry(None).default_profile_slug == "other"


# --- merges ------------------------------------------------------------------------------------


@pytest.fixture
def history_service(sql_store):
    from registry.domain.model import Registry
    from registry.domain.service import RegistryService

    service = RegistryService(sql_store)
    service.create_registry(Registry(slug="default"), actor="alice")
    return service


def test_disjoint_changes_merge(history_service):
    s = history_service
    _agent(s)
    s.update_profile(None, "agent", ProfilePatch(description="A's words"), actor="a")  # v2
    feed = _feed(s)
    # B started from version 1 and changed only the prompt (the form posts every field)
    b = ProfilePatch(
        display_name="Agent",
        description="first",
        runtime=RuntimeSpec(system_prompt="be thorough", tools=["search"]),
        extensions={EXT: {"items": ["hi"]}},
    )
    plan = s.plan_merge(None, "agent", b, base_version=1)
    assert [c.path for c in plan.result.yours] == ["runtime.system_prompt"]
    assert [c.path for c in plan.result.theirs] == ["description"]
    assert plan.result.collisions == []
    assert len(_feed(s)) == len(feed)  # planning writes nothing

    merged = s.merge_update(None, "agent", b, base_version=1, actor="b")
    assert merged.metadata.version == 3
    assert merged.description == "A's words"  # theirs kept
    assert merged.runtime.system_prompt == "be thorough"  # yours applied
    assert merged.metadata.updated_by == "b"


def test_merge_works_per_key_inside_objects(history_service):
    s = history_service
    _agent(s)
    s.update_profile(
        None, "agent", ProfilePatch(extensions={EXT: {"items": ["hi"]}, "x.a@v1": {"p": 1}})
    )
    # A adds key q; B (from v2) changes p
    s.update_profile(
        None, "agent", ProfilePatch(extensions={EXT: {"items": ["hi"]}, "x.a@v1": {"p": 1, "q": 2}})
    )
    merged = s.merge_update(
        None,
        "agent",
        ProfilePatch(extensions={EXT: {"items": ["hi"]}, "x.a@v1": {"p": 5}}),
        base_version=2,
    )
    assert merged.extensions["x.a@v1"] == {"p": 5, "q": 2}


def test_colliding_changes_refuse_then_resolve(history_service):
    s = history_service
    _agent(s)
    s.update_profile(None, "agent", ProfilePatch(description="A", tags=["a"]))  # v2
    feed = _feed(s)
    b = ProfilePatch(description="B", runtime=RuntimeSpec(system_prompt="new", tools=["search"]))
    with pytest.raises(MergeConflict) as exc:
        s.merge_update(None, "agent", b, base_version=1)
    err = exc.value
    assert (err.base_version, err.current_version) == (1, 2)
    [c] = err.collisions
    assert (c.path, c.base, c.theirs, c.yours) == ("description", "first", "A", "B")
    assert len(_feed(s)) == len(feed)  # nothing written
    assert s.get_profile(None, "agent").description == "A"

    kept = s.merge_update(None, "agent", b, base_version=1, resolutions={"description": "theirs"})
    assert (kept.description, kept.runtime.system_prompt, kept.metadata.tags) == ("A", "new", ["a"])
    s2 = s.merge_update(
        None,
        "agent",
        ProfilePatch(description="C"),
        base_version=2,
        resolutions={"description": "yours"},
    )
    assert s2.description == "C"


def test_both_changing_one_list_collides(history_service):
    s = history_service
    _agent(s)
    s.update_profile(
        None,
        "agent",
        ProfilePatch(runtime=RuntimeSpec(tools=["search", "a"], system_prompt="be brief")),
    )
    with pytest.raises(MergeConflict) as exc:
        s.merge_update(
            None,
            "agent",
            ProfilePatch(runtime=RuntimeSpec(tools=["b", "search"], system_prompt="be brief")),
            base_version=1,
        )
    assert [c.path for c in exc.value.collisions] == ["runtime.tools"]


def test_merge_with_middleware_uses(history_service):
    s = history_service
    name = s.middlewares.all()[0].name
    _agent(s)
    s.update_profile(None, "agent", ProfilePatch(description="A"))  # v2
    rt = RuntimeSpec(system_prompt="be brief", tools=["search"], middlewares=[MiddlewareUse(name)])
    merged = s.merge_update(None, "agent", ProfilePatch(runtime=rt), base_version=1)
    assert [u.name for u in merged.runtime.middlewares] == [name]
    assert merged.description == "A"


def test_a_newer_version_than_seen_is_a_version_conflict(history_service):
    s = history_service
    _agent(s)
    s.update_profile(None, "agent", ProfilePatch(description="A"))
    s.update_profile(None, "agent", ProfilePatch(description="A2"))
    with pytest.raises(VersionConflict):
        s.merge_update(None, "agent", ProfilePatch(tags=["b"]), base_version=1, theirs_version=2)


def test_bad_base_versions(history_service):
    s = history_service
    _agent(s)
    for bad in (0, -1):
        with pytest.raises(ValidationError) as exc:
            s.merge_update(None, "agent", ProfilePatch(tags=["b"]), base_version=bad)
        assert exc.value.field == "merge"
    with pytest.raises(MergeUnavailable, match="has no version 2"):
        s.merge_update(None, "agent", ProfilePatch(tags=["b"]), base_version=2)
    # the base is the current version: a plain update
    assert (
        s.merge_update(None, "agent", ProfilePatch(tags=["b"]), base_version=1).metadata.version
        == 2
    )


def test_merge_needs_history(tmp_path):
    from registry.domain.model import Registry
    from registry.domain.service import RegistryService
    from registry.store import open_store

    s = RegistryService(open_store(f"yaml:{tmp_path / 'registry.yaml'}"))
    s.create_registry(Registry(slug="default"))
    _agent(s)
    s.update_profile(None, "agent", ProfilePatch(description="A"))
    with pytest.raises(MergeUnavailable, match="keeps no history"):
        s.merge_update(None, "agent", ProfilePatch(tags=["b"]), base_version=1)
    # a base that is the current version needs no history
    assert (
        s.merge_update(None, "agent", ProfilePatch(tags=["b"]), base_version=2).metadata.version
        == 3
    )
    s.close()


def test_merge_respects_read_only(history_service):
    s = history_service
    _agent(s)
    from registry.domain.model import PolicySpec

    s.update_profile(None, "agent", ProfilePatch(policy=PolicySpec(read_only=True)))
    with pytest.raises(PolicyViolation):
        s.merge_update(None, "agent", ProfilePatch(tags=["b"]), base_version=1)


def test_a_no_op_write_takes_no_write_lock(tmp_path):
    """A no-op opens no transaction: on SQLite it answers while another process holds the
    database's write lock (a write would wait for it, then fail as unavailable)."""
    import sqlite3

    from registry.domain.service import RegistryService
    from registry.store import open_store

    path = tmp_path / "locked.db"
    service = RegistryService(open_store(f"sqlite:///{path}"))
    try:
        service.ensure_default_registry(actor="alice", source="")
        _agent(service)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer, outside this process's locks
        try:
            same = service.update_profile(None, "agent", ProfilePatch(description="first"))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert same.metadata.version == 1
    finally:
        service.close()
