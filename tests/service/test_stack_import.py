"""Stacks in YAML: byte-stable round trips and import plans that check the whole file."""

from __future__ import annotations

import textwrap

import pytest

from registry.domain.errors import ValidationError
from registry.domain.importer import export_yaml, import_yaml
from registry.domain.model import Profile, ProfileRef, Registry
from registry.domain.service import RegistryService
from registry.domain.yaml_codec import decode_registries, encode_registry

# default/agent -> shared/provider -> default/base: refs across registries in both directions,
# the referencing registry sorted first, so a one-pass import would meet the ref first.
BUNDLE = textwrap.dedent(
    """\
    registries:
      default:
        slug: default
        default_profile_slug: agent
        profiles:
          agent:
            slug: agent
            stack:
            - registry_slug: shared
              profile_slug: provider
            runtime:
              tools:
              - search
          base:
            slug: base
            runtime:
              system_prompt: base prompt
      shared:
        slug: shared
        default_profile_slug: provider
        profiles:
          provider:
            slug: provider
            stack:
            - registry_slug: default
              profile_slug: base
            runtime:
              step_settings_patch:
                ai-chat:
                  ai-engine: gpt-4o
    """
)


def test_cross_registry_refs_inside_one_file_resolve(empty_backend_service):
    s = empty_backend_service
    plan = import_yaml(s, BUNDLE)
    assert plan.counts()["created"] == 3
    r = s.resolve("default", "agent")
    assert [x["profile_slug"] for x in r.stack_lineage] == ["base", "provider", "agent"]
    assert r.effective_runtime.system_prompt == "base prompt"
    assert r.effective_runtime.step_settings_patch == {"ai-chat": {"ai-engine": "gpt-4o"}}


def test_bundle_round_trip_is_byte_stable(empty_backend_service, tmp_path):
    from registry.store import open_store

    s = empty_backend_service
    import_yaml(s, BUNDLE)
    first = export_yaml(s)
    assert "registry_slug: shared" in first
    assert import_yaml(s, first).changes == 0
    other = RegistryService(open_store(f"sqlite:///{tmp_path / 'other.db'}"))
    import_yaml(other, first)
    assert export_yaml(other) == first
    other.close()


def test_single_registry_document_round_trip_keeps_blank_registry(empty_backend_service):
    s = empty_backend_service
    s.create_registry(Registry(slug="team"))
    s.create_profile("team", Profile(slug="base"))
    s.create_profile("team", Profile(slug="agent", stack=[ProfileRef("base")]))
    reg = s.get_registry("team").clone()
    reg.profiles = {p.slug: p for p in s.iter_profiles("team")}
    text = encode_registry(reg)
    assert "- profile_slug: base" in text and "registry_slug" not in text
    doc = decode_registries(text)
    assert doc.format == "registry"
    assert doc.registries[0].profiles["agent"].stack == [ProfileRef("base")]
    assert encode_registry(doc.registries[0]) == text


def test_yaml_store_file_keeps_stacks(tmp_path):
    from registry.store import open_store

    path = tmp_path / "store.yaml"
    s = RegistryService(open_store(f"yaml:{path}"))
    import_yaml(s, BUNDLE)
    before = path.read_text()
    assert "registry_slug: default" in before
    s.close()
    again = RegistryService(open_store(f"yaml:{path}"))
    assert again.get_profile("shared", "provider").stack == [ProfileRef("base", "default")]
    assert again.resolve("default", "agent").stack_lineage[0]["profile_slug"] == "base"
    again.close()
    assert path.read_text() == before


def plan_error(service, text, **kw):
    before = export_yaml(service)
    with pytest.raises(ValidationError) as exc:
        import_yaml(service, text, **kw)
    assert export_yaml(service) == before  # nothing written
    return {e.field: e.message for e in exc.value.errors}


def test_a_cycle_across_registries_in_the_file_is_refused(empty_backend_service):
    cyclic = BUNDLE.replace(
        "      base:\n        slug: base\n",
        "      base:\n        slug: base\n        stack:\n        - profile_slug: agent\n",
    )
    errors = plan_error(empty_backend_service, cyclic)
    assert errors["registries[default].profiles[agent].stack[0]"] == (
        "stack cycle detected: default/agent -> shared/provider -> default/base -> default/agent"
    )


def test_a_missing_target_in_the_file_is_refused(empty_backend_service):
    missing = BUNDLE.replace("profile_slug: base", "profile_slug: nowhere")
    errors = plan_error(empty_backend_service, missing)
    assert errors == {
        "registries[shared].profiles[provider].stack[0]": (
            'referenced profile "nowhere" not found in registry "default"'
        )
    }


def test_refs_to_registries_neither_file_nor_store_has_are_kept(empty_backend_service):
    later = BUNDLE.replace("registry_slug: default", "registry_slug: later")
    import_yaml(empty_backend_service, later)
    with pytest.raises(ValidationError, match='referenced registry "later" not found'):
        empty_backend_service.resolve("default", "agent")


def test_mirror_may_not_delete_a_base_that_stays_stacked_on(empty_backend_service):
    s = empty_backend_service
    import_yaml(s, BUNDLE)
    without_base = BUNDLE.replace(
        "      base:\n        slug: base\n        runtime:\n          system_prompt: base prompt\n",
        "",
    )
    errors = plan_error(s, without_base, mode="mirror")
    assert errors == {
        "registries[shared].profiles[provider].stack[0]": (
            "stacks on default/base, which the import deletes"
        )
    }
    # deleting the dependant in the same file is fine
    only_default = without_base.split("  shared:")[0].replace(
        "        stack:\n        - registry_slug: shared\n          profile_slug: provider\n",
        "",
    )
    import_yaml(s, only_default, mode="mirror", confirm=3)  # a registry and two profiles
    assert [r.registry.slug for r in s.list_registries()] == ["default"]
