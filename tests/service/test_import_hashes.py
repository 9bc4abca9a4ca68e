"""The import's content-hash check (README, Import and export): a profile whose content hash
under today's rules equals the stored one is unchanged without being validated again; a rule
change, a changed field or a row without a hash takes the full path."""

from __future__ import annotations

import pytest

from registry.domain.errors import ValidationError
from registry.domain.extensions import Codec, CodecRegistry, builtin_codecs
from registry.domain.importer import export_yaml, import_yaml
from registry.domain.service import ProfilePatch, RegistryService

KEY = "acme.limits@v1"


def codecs(schema: dict) -> CodecRegistry:
    return CodecRegistry([*builtin_codecs(), Codec(KEY, schema)])


LOOSE = {"type": "object", "properties": {"rate": {"type": "integer"}}}
STRICT = {**LOOSE, "required": ["burst"]}  # a rule change: stored profiles now fail it


def bundle(n: int = 3, rate: int = 5, inline_config: bool = True) -> str:
    """Profiles in the form people write (inline middleware config, which validation moves
    into extensions), so the stored content differs from the file's."""
    lines = ["registries:", "  r:", "    default_profile_slug: p0", "    profiles:"]
    for i in range(n):
        lines += [
            f"      p{i}:",
            f"        display_name: P {i}",
            "        extensions:",
            f"          {KEY}: {{rate: {rate}}}",
        ]
        if inline_config:
            lines += [
                "        runtime:",
                "          middlewares:",
                "            - name: sqlite",
                "              config: {dsn: 'file:x.db'}",
            ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def counted(sql_store, monkeypatch):
    """A service on a SQL store, counting `prepare_profile` calls."""
    service = RegistryService(sql_store, codecs=codecs(LOOSE))
    calls: list[str] = []
    original = service.prepare_profile

    def prepare(profile, **kwargs):
        calls.append(profile.slug)
        return original(profile, **kwargs)

    monkeypatch.setattr(service, "prepare_profile", prepare)
    return service, calls


def actions(plan) -> dict[str, str]:
    return {i.profile: i.action for i in plan.items if i.kind == "profile"}


def test_the_same_file_again_is_unchanged_without_validation(counted):
    service, calls = counted
    import_yaml(service, bundle())
    assert len(calls) == 3
    calls.clear()
    plan = import_yaml(service, bundle(), dry_run=True)
    assert actions(plan) == {"p0": "unchanged", "p1": "unchanged", "p2": "unchanged"}
    assert calls == []


def test_an_export_imported_again_is_unchanged_without_validation(counted):
    service, calls = counted
    import_yaml(service, bundle())
    text = export_yaml(service)
    calls.clear()
    plan = import_yaml(service, text, dry_run=True)
    assert set(actions(plan).values()) == {"unchanged"}
    assert calls == []


def test_a_changed_field_is_validated_and_updated(counted):
    service, calls = counted
    import_yaml(service, bundle())
    calls.clear()
    changed = bundle().replace("display_name: P 1", "display_name: P one")
    plan = import_yaml(service, changed)
    assert actions(plan) == {"p0": "unchanged", "p1": "updated", "p2": "unchanged"}
    assert calls == ["p1"]
    assert service.get_profile("r", "p1").display_name == "P one"
    calls.clear()  # the update stored the new input's hash
    assert set(actions(import_yaml(service, changed, dry_run=True)).values()) == {"unchanged"}
    assert calls == []


def test_a_rule_change_takes_the_full_path_and_refuses(sql_store):
    import_yaml(RegistryService(sql_store, codecs=codecs(LOOSE)), bundle())
    stricter = RegistryService(sql_store, codecs=codecs(STRICT))
    with pytest.raises(ValidationError) as exc:
        import_yaml(stricter, bundle(), dry_run=True)
    assert [e.field for e in exc.value.errors] == [
        f"registries[r].profiles[p{i}].extensions[{KEY}].burst" for i in range(3)
    ]


def test_rows_without_a_hash_take_the_full_path(counted, sql_store):
    service, calls = counted
    import_yaml(service, bundle())
    sql_store.db.execute_sql("UPDATE profiles SET content_hash = '', input_hash = ''")
    calls.clear()
    plan = import_yaml(service, bundle(), dry_run=True)
    assert set(actions(plan).values()) == {"unchanged"}  # the diff still says so
    assert sorted(calls) == ["p0", "p1", "p2"]


def test_a_write_outside_imports_replaces_the_input_hash(counted):
    service, calls = counted
    import_yaml(service, bundle())
    service.update_profile("r", "p2", ProfilePatch(description="edited in the UI"))
    calls.clear()
    plan = import_yaml(service, bundle(), dry_run=True)
    assert actions(plan)["p2"] == "updated" and calls == ["p2"]


def test_a_bad_profile_next_to_unchanged_ones_is_still_refused(counted):
    service, calls = counted
    import_yaml(service, bundle())
    bad = bundle().replace("rate: 5}", "rate: five}", 1)
    with pytest.raises(ValidationError) as exc:
        import_yaml(service, bad, dry_run=True)
    assert [e.field for e in exc.value.errors] == [
        f"registries[r].profiles[p0].extensions[{KEY}].rate"
    ]
