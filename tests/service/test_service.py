"""Service use cases on every store backend."""

import pytest

from registry.domain.errors import (
    AlreadyExists,
    DefaultProfileInUse,
    PolicyViolation,
    ProfileNotFound,
    ReadOnlyStore,
    RegistryNotFound,
    ValidationError,
    VersionConflict,
)
from registry.domain.model import (
    MiddlewareUse,
    PolicySpec,
    Profile,
    Registry,
    RuntimeSpec,
)
from registry.domain.service import ProfilePatch, RegistryPatch, RegistryService


def test_first_profile_becomes_the_default(backend_service):
    backend_service.create_profile(
        None, Profile(slug="Agent", display_name=" Agent "), actor="alice"
    )
    backend_service.create_profile(None, Profile(slug="other"), actor="alice")
    reg = backend_service.get_registry(None)
    assert reg.default_profile_slug == "agent"
    agent = backend_service.get_profile("default", "AGENT")
    assert (agent.slug, agent.display_name, agent.metadata.version) == ("agent", "Agent", 1)
    assert agent.metadata.created_by == agent.metadata.updated_by == "alice"


def test_create_duplicate_and_missing_registry(backend_service):
    backend_service.create_profile(None, Profile(slug="a"))
    with pytest.raises(AlreadyExists, match='profile "a" already exists'):
        backend_service.create_profile(None, Profile(slug="a"))
    with pytest.raises(RegistryNotFound):
        backend_service.create_profile("nope", Profile(slug="a"))
    with pytest.raises(AlreadyExists, match='registry "default" already exists'):
        backend_service.create_registry(Registry(slug="Default"))


def test_create_with_expected_version_on_new_profile_conflicts(backend_service):
    with pytest.raises(VersionConflict):
        backend_service.create_profile(None, Profile(slug="a"), expected_version=3)
    assert backend_service.list_profiles(None).items == []


def test_invalid_profile_is_not_stored_and_reports_every_problem(backend_service):
    bad = Profile(
        slug="a",
        runtime=RuntimeSpec(tools=[""], middlewares=[MiddlewareUse("nope")]),
        policy=PolicySpec(allowed_override_keys=["x"], denied_override_keys=["x"]),
        extensions={"bad key": 1, "webchat.starter_suggestions@v1": {"items": [""]}},
    )
    with pytest.raises(ValidationError) as exc:
        backend_service.create_profile(None, bad)
    assert [e.field for e in exc.value.errors] == [
        "runtime.tools[0]",
        "policy.override_keys",
        "runtime.middlewares[0].name",
        "profile.extensions[bad key]",
        "profile.extensions[webchat.starter_suggestions@v1].items[0]",
    ]
    assert backend_service.list_profiles(None).items == []
    assert backend_service.get_registry(None).default_profile_slug == ""


def test_patch_semantics(backend_service):
    backend_service.create_profile(
        None,
        Profile(
            slug="a",
            description="keep me",
            runtime=RuntimeSpec(system_prompt="p", tools=["t"]),
            extensions={"vendor.x@v1": {"deep": [1, {"n": None}]}},
        ),
    )
    updated = backend_service.update_profile(
        None, "a", ProfilePatch(display_name=" New "), actor="bob"
    )
    assert updated.display_name == "New"
    assert updated.description == "keep me"
    assert updated.runtime.tools == ["t"]
    assert updated.extensions == {"vendor.x@v1": {"deep": [1, {"n": None}]}}
    assert (updated.metadata.version, updated.metadata.updated_by) == (2, "bob")
    updated = backend_service.update_profile(
        None, "a", ProfilePatch(runtime=RuntimeSpec(tools=["u"]))
    )
    assert updated.runtime.system_prompt == "" and updated.runtime.tools == ["u"]
    cleared = backend_service.update_profile(None, "a", ProfilePatch(extensions={}))
    assert cleared.extensions == {}


def test_unknown_extensions_survive_partial_update_and_reopen(backend_service, store, reopen):
    backend_service.create_profile(
        None, Profile(slug="a", extensions={"Vendor.Custom@V1": {"flags": [{"on": True}]}})
    )
    backend_service.update_profile(None, "a", ProfilePatch(display_name="x"))
    again = RegistryService(reopen(store))
    assert again.get_profile(None, "a").extensions == {
        "vendor.custom@v1": {"flags": [{"on": True}]}
    }
    again.close()


def test_update_checks_versions(backend_service):
    backend_service.create_profile(None, Profile(slug="a"))
    backend_service.update_profile(None, "a", ProfilePatch(description="x"), expected_version=1)
    with pytest.raises(VersionConflict, match=r'profile "a" version conflict: expected=1 actual=2'):
        backend_service.update_profile(None, "a", ProfilePatch(description="y"), expected_version=1)
    with pytest.raises(VersionConflict):
        backend_service.update_profile(
            None, "a", ProfilePatch(description="y"), expected_version=999
        )
    assert backend_service.get_profile(None, "a").description == "x"


def test_tags_are_client_owned(backend_service):
    p = Profile(slug="a")
    p.metadata.tags = [" ops "]
    p.metadata.version = 99
    created = backend_service.create_profile(None, p)
    assert (created.metadata.tags, created.metadata.version) == (["ops"], 1)
    updated = backend_service.update_profile(None, "a", ProfilePatch(tags=["a", "b"]))
    assert updated.metadata.tags == ["a", "b"]


def test_read_only_profiles(backend_service):
    backend_service.create_profile(None, Profile(slug="a", policy=PolicySpec(read_only=True)))
    backend_service.create_profile(None, Profile(slug="b"))
    with pytest.raises(
        PolicyViolation, match='policy violation for profile "a": profile is read-only'
    ):
        backend_service.update_profile(None, "a", ProfilePatch(policy=PolicySpec(read_only=False)))
    backend_service.set_default_profile(None, "b")
    with pytest.raises(PolicyViolation):
        backend_service.delete_profile(None, "a")
    # set-default has no read-only check (as the reference)
    assert backend_service.set_default_profile(None, "a").default_profile_slug == "a"


def test_deleting_the_default_profile(backend_service):
    backend_service.create_profile(None, Profile(slug="default"))
    backend_service.create_profile(None, Profile(slug="agent"))
    with pytest.raises(DefaultProfileInUse, match="set another default first"):
        backend_service.delete_profile(None, "default")
    assert backend_service.get_profile(None, "default")
    backend_service.set_default_profile(None, "agent")
    backend_service.delete_profile(None, "default")
    with pytest.raises(ProfileNotFound):
        backend_service.get_profile(None, "default")
    assert backend_service.get_registry(None).default_profile_slug == "agent"
    backend_service.delete_profile(None, "agent")
    assert backend_service.get_registry(None).default_profile_slug == ""


def test_delete_missing_profile_is_not_found(backend_service):
    with pytest.raises(ProfileNotFound):
        backend_service.delete_profile(None, "ghost")


def test_set_default_requires_existing_profile_and_checks_registry_version(backend_service):
    backend_service.create_profile(None, Profile(slug="a"))
    backend_service.create_profile(None, Profile(slug="b"))
    with pytest.raises(ProfileNotFound):
        backend_service.set_default_profile(None, "ghost")
    version = backend_service.get_registry(None).metadata.version
    with pytest.raises(VersionConflict):
        backend_service.set_default_profile(None, "b", expected_version=version + 100)
    reg = backend_service.set_default_profile(None, "b", expected_version=version, actor="bob")
    assert (reg.default_profile_slug, reg.metadata.version, reg.metadata.updated_by) == (
        "b",
        version + 1,
        "bob",
    )


def test_registry_crud(backend_service):
    created = backend_service.create_registry(
        Registry(slug="Team", display_name="Team"), actor="alice"
    )
    assert (created.slug, created.metadata.version, created.metadata.created_by) == (
        "team",
        1,
        "alice",
    )
    with pytest.raises(ValidationError) as exc:
        backend_service.create_registry(Registry(slug="bad slug"))
    assert exc.value.field == "registry.slug"
    with pytest.raises(ValidationError):
        backend_service.create_registry(Registry(slug="x", default_profile_slug="ghost"))
    updated = backend_service.update_registry(
        "team", RegistryPatch(description="d"), expected_version=1
    )
    assert (updated.description, updated.metadata.version) == ("d", 2)
    with pytest.raises(VersionConflict):
        backend_service.update_registry("team", RegistryPatch(description="e"), expected_version=1)
    backend_service.create_profile("team", Profile(slug="p"))
    summaries = {s.registry.slug: s.profile_count for s in backend_service.list_registries()}
    assert summaries == {"default": 0, "team": 1}
    backend_service.delete_registry("team")
    with pytest.raises(RegistryNotFound):
        backend_service.get_profile("team", "p")
    assert [s.registry.slug for s in backend_service.list_registries()] == ["default"]


def test_managed_registries_are_read_only(backend_service, store):
    from registry.domain.ports import WriteOptions

    store.create_registry(
        Registry(slug="seeded", read_only=True, managed_by="profiles.yaml"), WriteOptions()
    )
    with pytest.raises(
        ReadOnlyStore, match='store is read-only: registry "seeded" is managed by profiles.yaml'
    ):
        backend_service.create_profile("seeded", Profile(slug="a"))
    with pytest.raises(ReadOnlyStore):
        backend_service.update_registry("seeded", RegistryPatch(description="x"))
    with pytest.raises(ReadOnlyStore):
        backend_service.delete_registry("seeded")


def test_clone_gets_a_fresh_history_and_is_isolated(backend_service):
    p = Profile(slug="a", runtime=RuntimeSpec(tools=["t"]), policy=PolicySpec(read_only=True))
    p.metadata.tags = ["x"]
    backend_service.create_profile(None, p)
    clone = backend_service.clone_profile(None, "a", "b", actor="bob")
    assert (clone.slug, clone.metadata.version, clone.metadata.tags) == ("b", 1, ["x"])
    assert clone.runtime.tools == ["t"] and not clone.policy.read_only
    backend_service.update_profile(None, "b", ProfilePatch(runtime=RuntimeSpec(tools=["u"])))
    assert backend_service.get_profile(None, "a").runtime.tools == ["t"]
    with pytest.raises(AlreadyExists):
        backend_service.clone_profile(None, "a", "b")


def test_list_profiles_search_tags_and_pages(backend_service):
    for i in range(7):
        p = Profile(
            slug=f"p{i}", display_name=f"Name {i}", description="Finance helper" if i % 2 else ""
        )
        p.metadata.tags = ["even"] if i % 2 == 0 else []
        backend_service.create_profile(None, p)
    page = backend_service.list_profiles(None, limit=3)
    assert [p.slug for p in page.items] == ["p0", "p1", "p2"]
    page2 = backend_service.list_profiles(None, limit=3, cursor=page.next_cursor)
    assert [p.slug for p in page2.items] == ["p3", "p4", "p5"]
    assert [p.slug for p in backend_service.list_profiles(None, q="FINANCE").items] == [
        "p1",
        "p3",
        "p5",
    ]
    assert [p.slug for p in backend_service.list_profiles(None, tag="even").items] == [
        "p0",
        "p2",
        "p4",
        "p6",
    ]
    with pytest.raises(ValidationError):
        backend_service.list_profiles(None, limit=0)


def test_middleware_configs_through_the_service(backend_service):
    created = backend_service.create_profile(
        None,
        Profile(
            slug="a",
            runtime=RuntimeSpec(
                middlewares=[
                    MiddlewareUse("sqlite", id="db", config={"dsn": "x.db", "max_rows": "5"})
                ]
            ),
        ),
    )
    assert created.runtime.middlewares[0].config is None
    assert created.extensions["middleware.sqlite_config@v1"] == {
        "instances": {"id:db": {"dsn": "x.db", "max_rows": 5, "execution_timeout_ms": 2000}}
    }
    with pytest.raises(ValidationError) as exc:
        backend_service.update_profile(
            None,
            "a",
            ProfilePatch(
                runtime=RuntimeSpec(
                    middlewares=[MiddlewareUse("sqlite", id="db", config={"dsn": ["x"]})]
                )
            ),
        )
    assert exc.value.field == "runtime.middlewares[0].config.dsn"
    # a stored slot that breaks its schema is reported at the extension path
    with pytest.raises(ValidationError) as exc:
        backend_service.update_profile(
            None,
            "a",
            ProfilePatch(
                extensions={
                    "middleware.sqlite_config@v1": {
                        "instances": {"id:db": {"dsn": "x", "bogus": 1}}
                    }
                }
            ),
        )
    assert (
        exc.value.field == "profile.extensions[middleware.sqlite_config@v1].instances.id:db.bogus"
    )


@pytest.fixture
def sql_service(sql_store):
    svc = RegistryService(sql_store)
    svc.create_registry(Registry(slug="default"))
    return svc


def test_revisions_and_restore_write_a_new_revision(sql_service):
    sql_service.create_profile(None, Profile(slug="a", description="one"), actor="alice")
    sql_service.update_profile(None, "a", ProfilePatch(description="two"), actor="bob")
    revs = sql_service.list_revisions(None, "a")
    assert [(r.version, r.operation, r.actor) for r in revs] == [
        (2, "update", "bob"),
        (1, "create", "alice"),
    ]
    restored = sql_service.restore_revision(
        None, "a", revs[1].id, expected_version=2, actor="carol"
    )
    assert (restored.description, restored.metadata.version) == ("one", 3)
    assert [r.operation for r in sql_service.list_revisions(None, "a")][:1] == ["restore"]
    with pytest.raises(VersionConflict):
        sql_service.restore_revision(None, "a", revs[0].id, expected_version=2)


def test_restore_recreates_a_deleted_profile(sql_service):
    sql_service.create_profile(None, Profile(slug="a", description="keep"))
    first = sql_service.list_revisions(None, "a")[0]
    sql_service.delete_profile(None, "a")
    deleted = sql_service.list_revisions(None, "a")[0]
    with pytest.raises(ValidationError, match="records a delete"):
        sql_service.restore_revision(None, "a", deleted.id)
    back = sql_service.restore_revision(None, "a", first.id)
    assert back.description == "keep"
    assert sql_service.get_registry(None).default_profile_slug == "a"


def test_unknown_revision_and_profile(sql_service):
    from registry.domain.errors import RevisionNotFound

    with pytest.raises(ProfileNotFound):
        sql_service.list_revisions(None, "ghost")
    sql_service.create_profile(None, Profile(slug="a"))
    with pytest.raises(RevisionNotFound):
        sql_service.get_revision(None, "a", 10**9)
