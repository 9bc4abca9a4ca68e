"""Imports planned registry by registry with their profiles packed (README, Import and
export): a large bundle is never held whole as objects, and nothing about what is written,
shown or refused changes."""

from __future__ import annotations

import gc
import json

import pytest

from registry.domain.errors import ValidationError
from registry.domain.importer import export_yaml, import_yaml
from registry.domain.model import Profile


def bundle(registries: int = 3, profiles: int = 20, prompt: str = "Be brief.") -> str:
    return json.dumps(
        {
            "registries": {
                f"r{r}": {
                    "display_name": f"Registry {r}",
                    "default_profile_slug": "p00",
                    "profiles": {
                        f"p{i:02d}": {
                            "display_name": f"P {r}.{i}",
                            "runtime": {"system_prompt": prompt, "tools": ["search"]},
                        }
                        for i in range(profiles)
                    },
                }
                for r in range(registries)
            }
        },
        indent=1,
    )


def live_profiles() -> int:
    gc.collect()
    return sum(isinstance(o, Profile) for o in gc.get_objects())


def test_a_plan_keeps_its_profiles_packed_not_as_objects(empty_backend_service):
    before = live_profiles()
    plan = import_yaml(empty_backend_service, bundle(), dry_run=True)
    assert plan.counts()["created"] == 60
    assert live_profiles() == before  # 60 planned profiles, none of them as objects
    item = next(i for i in plan.items if i.kind == "profile")
    assert {"path": "display_name", "before": None, "after": "P 0.0"} in item.diff  # unpacked


def test_a_packed_plan_applies_and_diffs_as_before(empty_backend_service):
    service = empty_backend_service
    plan = import_yaml(service, bundle())
    assert plan.applied and plan.counts()["created"] == 60
    exported = json.loads(export_yaml(service, format="json"))
    assert sorted(exported["registries"]) == ["r0", "r1", "r2"]
    assert exported["registries"]["r1"]["profiles"]["p07"]["display_name"] == "P 1.7"

    plan = import_yaml(service, bundle(prompt="Be thorough."), dry_run=True)
    assert plan.counts()["updated"] == 60
    updated = next(i for i in plan.items if i.profile == "p03" and i.registry == "r2")
    changed = {(d["path"], d.get("before"), d.get("after")) for d in updated.diff}
    assert ("runtime.system_prompt", "Be brief.", "Be thorough.") in changed, updated.diff

    applied = import_yaml(service, bundle(prompt="Be thorough."))
    assert applied.counts()["updated"] == 60
    again = json.loads(export_yaml(service, format="json"))
    assert again["registries"]["r0"]["profiles"]["p00"]["runtime"]["system_prompt"] == (
        "Be thorough."
    )


def test_decoding_problems_anywhere_in_a_streamed_bundle_write_nothing(empty_backend_service):
    data = json.loads(bundle())
    data["registries"]["r2"]["profiles"]["p05"]["slug"] = "elsewhere"
    with pytest.raises(ValidationError) as caught:
        import_yaml(empty_backend_service, json.dumps(data))
    assert [e.field for e in caught.value.errors] == ["registries[r2].profiles[p05].slug"]
    assert empty_backend_service.list_registries() == []


def test_the_documents_own_problems_come_before_a_planning_refusal(empty_backend_service):
    data = json.loads(bundle())
    del data["registries"]["r0"]["default_profile_slug"]  # refused while planning r0
    data["registries"]["r2"]["profiles"]["p05"]["runtime"]["tools"] = [""]  # invalid
    with pytest.raises(ValidationError) as caught:
        import_yaml(empty_backend_service, json.dumps(data))
    assert [e.field for e in caught.value.errors] == [
        "registries[r2].profiles[p05].runtime.tools[0]"
    ]

    data["registries"]["r2"]["profiles"]["p05"]["runtime"]["tools"] = ["search"]
    with pytest.raises(ValidationError) as caught:
        import_yaml(empty_backend_service, json.dumps(data))
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("registries[r0].default_profile_slug", "must be set when profiles are present")
    ]
    assert empty_backend_service.list_registries() == []
