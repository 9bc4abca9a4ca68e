"""YAML import (modes, dry run, all-or-nothing) and export round trips (README, Concepts and
decisions: "Imports")."""

import pytest

from registry.domain.errors import ReadOnlyStore, ValidationError
from registry.domain.importer import export_yaml, import_yaml
from registry.domain.model import Profile, Registry
from registry.domain.ports import WriteOptions
from registry.domain.service import ProfilePatch, RegistryService
from tests.conftest import FIXTURES

FIXTURE_FILES = ["canonical-bundle.yaml", "legacy-profiles.yaml", "single-registry.yaml"]


def read(name):
    return (FIXTURES / name).read_text()


def snapshot(empty_backend_service):
    """Everything a store holds, for before/after comparisons."""
    return export_yaml(empty_backend_service)


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_every_fixture_imports(empty_backend_service, name):
    plan = import_yaml(empty_backend_service, read(name), actor="ci")
    assert plan.applied and plan.counts()["created"] > 0
    for item in plan.items:
        if item.kind == "profile":
            empty_backend_service.get_profile(item.registry, item.profile)


def test_canonical_bundle_contents(empty_backend_service):
    import_yaml(empty_backend_service, read("canonical-bundle.yaml"))
    inv = empty_backend_service.get_profile("default", "inventory")
    assert inv.extensions["inventory.capabilities@v1"] == {
        "panels": ["stock_alerts", "reorder", "suppliers"]
    }
    assert inv.extensions["middleware.agentmode_config@v1"] == {
        "instances": {"id:primary": {"default_mode": "plan"}}
    }
    assert inv.metadata.tags == ["ops", "inventory"]
    analyst = empty_backend_service.get_profile("default", "analyst")
    assert analyst.extensions["thirdparty.ui_hints@v2"]["nested"] == {
        "levels": [1, 2, 3],
        "note": None,
    }
    assert (
        empty_backend_service.get_profile("team", "analyst").metadata.version == 7
    )  # declared metadata kept
    assert empty_backend_service.get_registry("default").default_profile_slug == "inventory"


def test_single_registry_projects_inline_middleware_config(empty_backend_service):
    import_yaml(empty_backend_service, read("single-registry.yaml"))
    triage = empty_backend_service.get_profile("support", "triage")
    assert triage.runtime.middlewares[0].config is None
    assert triage.extensions["middleware.sqlite_config@v1"]["instances"]["index:0"] == {
        "dsn": "file:tickets.db",
        "max_rows": 50,
        "execution_timeout_ms": 2000,
    }


def test_legacy_fixture(empty_backend_service):
    import_yaml(empty_backend_service, read("legacy-profiles.yaml"))
    reg = empty_backend_service.get_registry("default")
    assert reg.default_profile_slug == "default"
    local = empty_backend_service.get_profile("default", "local-llama")
    assert local.runtime.step_settings_patch["ollama-chat"] == {
        "ollama-base-url": "http://127.0.0.1:11434"
    }


def test_export_import_export_is_byte_identical(store, tmp_path, empty_backend_service):
    from registry.store import open_store

    import_yaml(empty_backend_service, read("canonical-bundle.yaml"))
    import_yaml(empty_backend_service, read("single-registry.yaml"))
    first = export_yaml(empty_backend_service)
    # into the same store: nothing changes
    plan = import_yaml(empty_backend_service, first)
    assert plan.changes == 0
    assert export_yaml(empty_backend_service) == first
    # into a fresh store of another backend: the same bytes come back
    other = RegistryService(open_store(f"yaml:{tmp_path / 'other.yaml'}"))
    import_yaml(other, first)
    assert export_yaml(other) == first
    other.close()


def test_dry_run_writes_nothing_and_returns_the_plan(empty_backend_service):
    before = snapshot(empty_backend_service)
    change_id = empty_backend_service.latest_change_id()
    plan = import_yaml(empty_backend_service, read("canonical-bundle.yaml"), dry_run=True)
    assert not plan.applied and plan.dry_run
    assert plan.counts()["created"] == 4
    assert snapshot(empty_backend_service) == before
    assert empty_backend_service.latest_change_id() == change_id
    data = plan.to_data()
    created = [
        i for i in data["items"] if i["action"] == "created" and i.get("profile") == "default"
    ]
    assert created[0]["diff"][0]["before"] is None


def test_modes(empty_backend_service):
    import_yaml(empty_backend_service, read("canonical-bundle.yaml"))
    empty_backend_service.update_profile("default", "default", ProfilePatch(description="edited"))
    empty_backend_service.create_profile("default", Profile(slug="extra"))
    text = read("canonical-bundle.yaml")

    plan = import_yaml(empty_backend_service, text, mode="create-only", dry_run=True)
    actions = {(i.registry, i.profile): i.action for i in plan.items if i.kind == "profile"}
    assert actions[("default", "default")] == "skipped"
    assert actions[("default", "inventory")] == "unchanged"
    assert ("default", "extra") not in actions

    plan = import_yaml(empty_backend_service, text, mode="upsert", dry_run=True)
    upd = [i for i in plan.items if i.profile == "default" and i.registry == "default"][0]
    assert upd.action == "updated"
    assert upd.diff == [{"path": "description", "before": "edited", "after": None}]

    plan = import_yaml(empty_backend_service, text, mode="mirror", confirm=1)
    actions = {(i.registry, i.profile): i.action for i in plan.items if i.kind == "profile"}
    assert actions[("default", "extra")] == "deleted"
    assert empty_backend_service.get_profile("default", "default").description == ""
    assert (
        empty_backend_service.get_profile("default", "default").metadata.version == 3
    )  # stored + 1
    assert [p.slug for p in empty_backend_service.list_profiles("default").items] == [
        "analyst",
        "default",
        "inventory",
    ]


def test_mirror_deletes_registries_the_file_lacks(empty_backend_service):
    import_yaml(empty_backend_service, read("canonical-bundle.yaml"))
    # default (3 profiles) and team (1 profile) go: 2 registries + 4 profiles
    import_yaml(empty_backend_service, read("single-registry.yaml"), mode="mirror", confirm=6)
    assert [s.registry.slug for s in empty_backend_service.list_registries()] == ["support"]


def test_unknown_extensions_survive_every_mode(empty_backend_service):
    text = read("canonical-bundle.yaml")
    for mode in ("create-only", "upsert", "mirror"):
        import_yaml(empty_backend_service, text, mode=mode)
        ext = empty_backend_service.get_profile("default", "analyst").extensions
        assert ext["thirdparty.ui_hints@v2"] == {
            "accent": "#335577",
            "compact": True,
            "nested": {"levels": [1, 2, 3], "note": None},
        }


def test_invalid_import_is_all_or_nothing_and_lists_every_problem(empty_backend_service):
    import_yaml(empty_backend_service, read("single-registry.yaml"))
    before = snapshot(empty_backend_service)
    bad = """
registries:
  support:
    default_profile_slug: triage
    profiles:
      triage:
        runtime:
          system_prompt: changed
      escalation:
        runtime:
          tools: [""]
  other:
    default_profile_slug: a
    profiles:
      a:
        extensions:
          "bad key": 1
        runtime:
          middlewares:
            - name: nope
"""
    with pytest.raises(ValidationError) as exc:
        import_yaml(empty_backend_service, bad)
    assert [e.field for e in exc.value.errors] == [
        "registries[other].profiles[a].runtime.middlewares[0].name",
        "registries[other].profiles[a].extensions[bad key]",
        "registries[support].profiles[escalation].runtime.tools[0]",
    ]
    assert snapshot(empty_backend_service) == before


def test_failure_in_the_middle_of_apply_rolls_back(empty_backend_service, store, monkeypatch):
    import_yaml(empty_backend_service, read("single-registry.yaml"))
    before = snapshot(empty_backend_service)
    calls = {"n": 0}
    original = store.create_profiles  # one batch per registry: the second one fails

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "create_profiles", flaky)
    with pytest.raises(RuntimeError):
        import_yaml(empty_backend_service, read("canonical-bundle.yaml"), mode="mirror", confirm=3)
    monkeypatch.undo()
    assert calls["n"] == 2
    assert snapshot(empty_backend_service) == before


def test_default_must_exist(empty_backend_service):
    with pytest.raises(ValidationError) as exc:
        import_yaml(
            empty_backend_service, "slug: r\ndefault_profile_slug: ghost\nprofiles:\n  a: {}\n"
        )
    assert exc.value.field == "registries[r].default_profile_slug"
    with pytest.raises(ValidationError, match="must be set when profiles are present"):
        import_yaml(empty_backend_service, "registries:\n  r:\n    profiles:\n      a: {}\n")


def test_bad_mode(empty_backend_service):
    with pytest.raises(ValidationError) as exc:
        import_yaml(empty_backend_service, read("legacy-profiles.yaml"), mode="replace")
    assert exc.value.field == "mode"


def test_import_refuses_registries_managed_by_another_file(empty_backend_service, store):
    store.create_registry(
        Registry(slug="support", read_only=True, managed_by="seed.yaml"), WriteOptions()
    )
    with pytest.raises(ReadOnlyStore):
        import_yaml(empty_backend_service, read("single-registry.yaml"))


def test_hostile_yaml_is_rejected_before_anything_is_written(empty_backend_service):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    for text in (bomb, "!!python/object/apply:os.system ['echo hi']\n", "registries: [1, 2]\n"):
        with pytest.raises(ValidationError):
            import_yaml(empty_backend_service, text)
    assert empty_backend_service.list_registries() == []


# --- registries managed by a seed file ---------------------------------------------------------

SEEDED = read("single-registry.yaml")
OTHER = "registries:\n  team:\n    default_profile_slug: a\n    profiles:\n      a: {}\n"


def _seed(empty_backend_service):
    import_yaml(
        empty_backend_service,
        SEEDED,
        mode="mirror",
        actor="seed",
        managed_by="seed.yaml",
        seed=True,
    )
    import_yaml(empty_backend_service, OTHER, actor="ci")


@pytest.mark.parametrize("mode", ["create-only", "upsert", "mirror"])
def test_an_export_with_a_managed_registry_imports_again_unchanged(empty_backend_service, mode):
    _seed(empty_backend_service)
    export = snapshot(empty_backend_service)
    before = empty_backend_service.latest_change_id()
    for dry_run in (True, False):
        plan = import_yaml(empty_backend_service, export, mode=mode, dry_run=dry_run)
        items = {(i.registry, i.profile): i for i in plan.items}
        managed = items[("support", "")]
        assert managed.action == "unchanged"
        assert managed.reason == "managed by seed.yaml; left to its file"
        assert {items[("support", p)].action for p in ("triage", "escalation")} == {"unchanged"}
        assert plan.changes == 0 and not plan.applied
    assert empty_backend_service.latest_change_id() == before
    assert snapshot(empty_backend_service) == export


def test_a_changed_managed_registry_is_refused_and_nothing_is_written(empty_backend_service):
    _seed(empty_backend_service)
    before = snapshot(empty_backend_service)
    changed = before.replace("Support desk", "Changed").replace(
        "team:\n", "team:\n    description: new\n"
    )
    for dry_run in (True, False):
        with pytest.raises(ReadOnlyStore) as exc:
            import_yaml(empty_backend_service, changed, dry_run=dry_run)
        assert str(exc.value) == (
            'store is read-only: registry "support" is managed by seed.yaml; the import would change it '
            "(updated registry)"
        )
    assert snapshot(empty_backend_service) == before
    extra = before.replace("  team:\n", "  team:\n").replace(
        "    profiles:\n      escalation:", "    profiles:\n      new: {}\n      escalation:", 1
    )
    with pytest.raises(ReadOnlyStore, match=r"would change it \(created profile new\)"):
        import_yaml(empty_backend_service, extra)
    assert snapshot(empty_backend_service) == before


def test_mirror_keeps_a_managed_registry_the_file_lacks(empty_backend_service):
    _seed(empty_backend_service)
    only_other = OTHER.replace("a: {}", "b: {}").replace(
        "default_profile_slug: a", "default_profile_slug: b"
    )
    plan = import_yaml(empty_backend_service, only_other, mode="mirror", confirm=1)
    items = {(i.registry, i.profile): i for i in plan.items}
    kept = items[("support", "")]
    assert kept.action == "skipped"
    assert kept.reason == "managed by seed.yaml; mirror imports leave it to its file"
    assert [(i.registry, i.profile) for i in plan.items if i.registry == "support"] == [
        ("support", "")
    ]
    assert items[("team", "a")].action == "deleted" and plan.applied
    assert [p.slug for p in empty_backend_service.iter_profiles("support")] == [
        "escalation",
        "triage",
    ]
    assert [p.slug for p in empty_backend_service.iter_profiles("team")] == ["b"]
    assert kept.to_data()["reason"] == kept.reason


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_the_streamed_export_is_the_bundle_encoded_at_once(empty_backend_service, fmt):
    from registry.domain.importer import iter_export
    from registry.domain.yaml_codec import encode_registries, encode_registries_json

    service = empty_backend_service
    encode = encode_registries_json if fmt == "json" else encode_registries
    assert "".join(iter_export(service, format=fmt)) == encode([])
    import_yaml(service, read("canonical-bundle.yaml"))
    import_yaml(service, read("single-registry.yaml"))
    full = []
    for summary in service.list_registries():
        reg = summary.registry.clone()
        reg.profiles = {p.slug: p for p in service.iter_profiles(reg.slug)}
        full.append(reg)
    assert len(full) == 3
    pieces = list(iter_export(service, format=fmt))
    assert len(pieces) >= 3 and "".join(pieces) == encode(full)
    one = [r for r in full if r.slug == "support"]
    assert "".join(iter_export(service, "support", format=fmt)) == encode(one)
