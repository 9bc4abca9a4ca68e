"""YAML file store specifics; the shared behaviour is in the contract suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from registry.domain.errors import StoreClosed, ValidationError, VersionConflict
from registry.domain.model import MiddlewareUse, Profile, Registry, RuntimeSpec
from registry.domain.ports import ProfileQuery, WriteOptions
from registry.domain.yaml_codec import decode_registries
from registry.store import open_store
from registry.store.yaml_store import YAMLFileStore

FIXTURES = Path(__file__).parent.parent / "fixtures"
ROOT = Path(__file__).parent.parent.parent


def opts(**kwargs) -> WriteOptions:
    return WriteOptions(actor="tester", **kwargs)


def seed(store: YAMLFileStore, registry: str = "default", *profiles: str) -> None:
    store.create_registry(Registry(slug=registry), opts())
    for slug in profiles:
        store.create_profile(registry, Profile(slug=slug), opts())


def dir_entries(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def test_missing_file_and_directory_start_empty_until_first_write(tmp_path: Path) -> None:  # E8
    path = tmp_path / "a" / "b" / "registry.yaml"
    store = YAMLFileStore(path)
    assert store.list_registries() == []
    assert store.profile_counts() == {}
    assert store.latest_change_id() == 0
    assert not (tmp_path / "a").exists()
    seed(store)
    assert path.is_file()
    assert decode_registries(path.read_text()).registries[0].slug == "default"


def test_open_store_url_reopens_the_same_file(tmp_path: Path) -> None:
    store = open_store(f"yaml:{tmp_path / 'r.yaml'}")
    assert isinstance(store, YAMLFileStore)
    assert (store.kind, store.supports_history) == ("yaml", False)
    assert store.url == f"yaml:{tmp_path / 'r.yaml'}"
    with pytest.raises(ValueError, match="required"):
        YAMLFileStore("")


def test_persist_and_reload(tmp_path: Path) -> None:  # E6
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store, "default", "agent", "analyst")
    again = YAMLFileStore(path)
    assert [p.slug for p in again.iter_profiles("default")] == ["agent", "analyst"]
    assert again.get_profile("default", "agent").metadata.version == 1


def test_multiple_registries_survive_a_reload(tmp_path: Path) -> None:  # E10
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store, "team", "helper")
    seed(store, "default")
    planner = MiddlewareUse(name="agentmode", id="p", config={"mode": "planner"})
    store.create_profile(
        "default", Profile(slug="agent", runtime=RuntimeSpec(middlewares=[planner])), opts()
    )
    again = YAMLFileStore(path)
    assert [r.slug for r in again.list_registries()] == ["default", "team"]
    assert again.get_profile("default", "agent").runtime.middlewares == [planner]


def test_deployment_state_is_kept_in_the_store_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    store.create_registry(
        Registry(slug="seeded", read_only=True, managed_by="profiles.yaml"), opts()
    )
    reg = YAMLFileStore(path).get_registry("seeded")
    assert (reg.read_only, reg.managed_by) == (True, "profiles.yaml")


def test_a_second_instance_sees_changes_on_its_next_read(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    writer, reader = YAMLFileStore(path), YAMLFileStore(path)
    assert reader.list_registries() == []
    seed(writer, "default", "agent")
    assert reader.get_profile("default", "agent") is not None
    assert reader.latest_change_id() == writer.latest_change_id() > 0

    before = reader.latest_change_id()
    agent = writer.get_profile("default", "agent")
    agent.display_name = "Agent"
    writer.update_profile("default", agent, opts())
    assert reader.get_profile("default", "agent").display_name == "Agent"
    assert reader.latest_change_id() > before

    # the reader's own write starts from the writer's latest state: nothing is lost
    reader.create_profile("default", Profile(slug="second"), opts())
    assert [p.slug for p in writer.iter_profiles("default")] == ["agent", "second"]


def test_every_write_moves_the_change_id_forward(tmp_path: Path) -> None:
    store = YAMLFileStore(tmp_path / "registry.yaml")
    seed(store, "default", "agent")
    seen = [store.latest_change_id()]
    for i in range(20):  # faster than a coarse filesystem clock
        agent = store.get_profile("default", "agent")
        agent.description = f"v{i}"
        store.update_profile("default", agent, opts())
        seen.append(store.latest_change_id())
    assert seen == sorted(set(seen))


def test_a_hand_edited_file_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store, "default", "agent")
    path.write_text((FIXTURES / "single-registry.yaml").read_text())
    assert [r.slug for r in store.list_registries()] == ["support"]
    assert store.get_profile("default", "agent") is None


def test_writes_replace_the_file_atomically(tmp_path: Path) -> None:  # E11
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store, "default", "agent")
    inode = path.stat().st_ino
    for i in range(5):
        agent = store.get_profile("default", "agent")
        agent.description = f"v{i}"
        store.update_profile("default", agent, opts())
        assert dir_entries(tmp_path) == ["registry.yaml", "registry.yaml.lock"]
        assert decode_registries(path.read_bytes()).format == "bundle"
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_a_failed_persist_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store, "default", "agent")
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.create_profile("default", Profile(slug="new"), opts())
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert store.get_profile("default", "new") is None  # memory was not changed either
    assert dir_entries(tmp_path) == ["registry.yaml", "registry.yaml.lock"]


def test_a_failure_inside_atomic_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store, "default", "agent")
    before, stat = path.read_bytes(), path.stat()
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.create_profile("default", Profile(slug="new"), opts())
            store.delete_profile("default", "agent", opts())
            assert store.get_profile("default", "new") is not None  # reads see the group
            raise RuntimeError("boom")
    assert path.read_bytes() == before
    assert path.stat().st_ino == stat.st_ino
    assert [p.slug for p in YAMLFileStore(path).iter_profiles("default")] == ["agent"]


def test_atomic_persists_once_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store)
    other = YAMLFileStore(path)
    with store.atomic():
        for slug in ("a", "b", "c"):
            store.create_profile("default", Profile(slug=slug), opts())
        assert other.profile_counts() == {"default": 0}  # nothing on disk yet
    assert other.profile_counts() == {"default": 3}


def test_legacy_file_loads_and_first_write_rewrites_it_canonically(tmp_path: Path) -> None:  # E7
    path = tmp_path / "profiles.yaml"
    path.write_text((FIXTURES / "legacy-profiles.yaml").read_text())
    store = YAMLFileStore(path)
    [reg] = store.list_registries()
    assert (reg.slug, reg.default_profile_slug, reg.metadata.version) == ("default", "default", 0)
    assert store.profile_counts() == {"default": 4}
    assert store.get_profile("default", "fast").runtime.step_settings_patch["ai-client"] == {
        "timeout": 20
    }
    store.create_profile("default", Profile(slug="new"), opts())
    text = path.read_text()
    assert text.startswith("registries:\n")
    assert decode_registries(text).registries[0].profiles.keys() == {
        "careful",
        "default",
        "fast",
        "local-llama",
        "new",
    }


def test_legacy_file_uses_the_configured_registry_slug(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text("agent:\n  ai-chat:\n    ai-engine: m\nother:\n  ai-chat: {}\n")
    store = YAMLFileStore(path, default_registry="legacy")
    assert store.profile_counts() == {"legacy": 2}


def test_malformed_file_fails_at_open_with_yaml_in_the_message(tmp_path: Path) -> None:  # E9
    path = tmp_path / "registry.yaml"
    path.write_text("registries:\n  : bad")
    with pytest.raises(ValidationError, match="yaml"):
        YAMLFileStore(path)


def test_unknown_extensions_survive_a_display_name_update(tmp_path: Path) -> None:  # E12
    path = tmp_path / "registry.yaml"
    store = YAMLFileStore(path)
    seed(store)
    payload = {"nested": {"items": [1, "two", None, {"x": []}]}, "flag": True}
    store.create_profile(
        "default", Profile(slug="agent", extensions={"vendor.custom@v1": payload}), opts()
    )
    agent = store.get_profile("default", "agent")
    agent.display_name = "Agent"
    store.update_profile("default", agent, opts())
    again = YAMLFileStore(path).get_profile("default", "agent")
    assert again.extensions == {"vendor.custom@v1": payload}
    assert again.display_name == "Agent"


def test_unnormalized_slugs_are_refused_so_the_file_stays_readable(tmp_path: Path) -> None:
    store = YAMLFileStore(tmp_path / "registry.yaml")
    with pytest.raises(ValidationError):
        store.create_registry(Registry(slug="Bad Slug"), opts())
    seed(store)
    with pytest.raises(ValidationError):
        store.create_profile("default", Profile(slug="Agent"), opts())
    assert store.profile_counts() == {"default": 0}


def test_close_guards_every_method(tmp_path: Path) -> None:  # E13
    store = YAMLFileStore(tmp_path / "registry.yaml")
    seed(store, "default", "agent")
    store.close()
    store.close()
    calls = [
        store.list_registries,
        lambda: store.get_registry("default"),
        lambda: store.list_profiles("default", ProfileQuery()),
        lambda: store.get_profile("default", "agent"),
        lambda: store.create_profile("default", Profile(slug="x"), opts()),
        lambda: store.delete_registry("default", opts()),
        store.latest_change_id,
        store.atomic,
    ]
    for call in calls:
        with pytest.raises(StoreClosed, match="yaml profile store closed"):
            call()


# --- several processes ------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, sys
    from registry.domain.errors import VersionConflict
    from registry.domain.model import Profile
    from registry.domain.ports import WriteOptions
    from registry.store.yaml_store import YAMLFileStore

    path, worker, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = YAMLFileStore(path)
    results = []
    for i in range(count):
        if mode == "distinct":
            slug = f"{worker}-{i}"
            store.create_profile("default", Profile(slug=slug), WriteOptions(actor=worker))
            p = store.get_profile("default", slug)
            p.description = f"updated by {worker}"
            store.update_profile("default", p, WriteOptions(actor=worker))
        else:
            p = store.get_profile("default", "shared")
            p.description = f"{worker}-{i}"
            try:
                new = store.update_profile(
                    "default", p, WriteOptions(actor=worker, expected_version=p.metadata.version)
                )
                results.append(new.metadata.version)
            except VersionConflict:
                results.append(0)
    print(json.dumps(results))
    """
)


def run_workers(path: Path, workers: int, count: int, mode: str) -> list[list[int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), f"w{n}", str(count), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(workers)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


@pytest.mark.slow
def test_concurrent_processes_lose_no_unconditional_write(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    seed(YAMLFileStore(path))
    run_workers(path, workers=4, count=15, mode="distinct")
    store = YAMLFileStore(path)
    profiles = list(store.iter_profiles("default"))
    assert len(profiles) == 60
    for p in profiles:
        assert p.metadata.version == 2
        assert p.description == f"updated by {p.slug.split('-')[0]}"
    assert dir_entries(tmp_path) == ["registry.yaml", "registry.yaml.lock"]


@pytest.mark.slow
def test_concurrent_conditional_writes_succeed_once_per_version(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    seed(YAMLFileStore(path), "default", "shared")
    results = run_workers(path, workers=3, count=15, mode="conditional")
    versions = [v for worker in results for v in worker if v]
    assert len(versions) == len(set(versions))  # no two writers got the same version
    final = YAMLFileStore(path).get_profile("default", "shared").metadata.version
    assert final == 1 + len(versions)
    assert sorted(versions) == list(range(2, final + 1))


def test_conflicts_are_checked_against_the_file_not_a_stale_copy(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    first, second = YAMLFileStore(path), YAMLFileStore(path)
    seed(first, "default", "agent")
    stale = second.get_profile("default", "agent")
    fresh = first.get_profile("default", "agent")
    first.update_profile("default", fresh, opts(expected_version=1))
    with pytest.raises(VersionConflict, match="expected=1 actual=2"):
        second.update_profile("default", stale, opts(expected_version=1))
