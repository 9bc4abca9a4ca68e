"""Mirror imports say what they delete and apply deletions only when confirmed.

The store of these tests holds the canonical bundle: `default` (3 profiles) and `team` (1).
"""

from __future__ import annotations

import pytest

from registry.domain.errors import ConfirmationRequired, FieldError
from registry.domain.importer import export_yaml, import_yaml
from tests.conftest import FIXTURES

BUNDLE = (FIXTURES / "canonical-bundle.yaml").read_text()
ONE_REGISTRY = (FIXTURES / "single-registry.yaml").read_text()  # only `support` (2 profiles)
EMPTY_DOCUMENTS = ["---\n", "# nothing here\n", "~\n", "{}\n", "registries: {}\n", "registries:\n"]


@pytest.fixture
def stocked(empty_backend_service):
    import_yaml(empty_backend_service, BUNDLE, actor="seed")
    return empty_backend_service


def test_a_dry_run_counts_the_profiles_inside_deleted_registries(stocked):
    plan = import_yaml(stocked, ONE_REGISTRY, mode="mirror", dry_run=True)
    assert plan.counts()["deleted"] == 4
    assert plan.deleted_registries == ["default", "team"]
    assert plan.deletions == 6
    assert plan.deletions_data() == {"total": 6, "registries": ["default", "team"], "profiles": 4}
    assert plan.deletion_summary() == "2 registries (default, team) and 4 profiles"
    deleted = sorted((i.registry, i.profile) for i in plan.items if i.action == "deleted")
    assert deleted == [
        ("default", ""),
        ("default", "analyst"),
        ("default", "default"),
        ("default", "inventory"),
        ("team", ""),
        ("team", "analyst"),
    ]
    # each deleted profile shows what goes (its fields, stored -> nothing)
    inventory = next(i for i in plan.items if i.profile == "inventory")
    assert {"path": "display_name", "before": "Inventory", "after": None} in inventory.diff
    assert plan.to_data()["deletions"]["total"] == 6
    assert plan.to_data()["counts"]["deleted"] == 4


def test_a_deleting_mirror_is_refused_without_the_count_and_writes_nothing(stocked):
    before, change = export_yaml(stocked), stocked.latest_change_id()
    for confirm in (None, 2, 5, 7):
        with pytest.raises(ConfirmationRequired) as exc:
            import_yaml(stocked, ONE_REGISTRY, mode="mirror", confirm=confirm)
        assert exc.value.deletions == 6
        assert "deletes 2 registries (default, team) and 4 profiles" in str(exc.value)
        assert exc.value.errors == [
            FieldError("registries[default]", "would be deleted with its 3 profiles"),
            FieldError("registries[team]", "would be deleted with its 1 profile"),
        ]
    assert export_yaml(stocked) == before and stocked.latest_change_id() == change

    plan = import_yaml(stocked, ONE_REGISTRY, mode="mirror", confirm=6)
    assert plan.applied
    assert [s.registry.slug for s in stocked.list_registries()] == ["support"]


def test_profiles_deleted_from_a_registry_that_stays_are_listed_one_by_one(stocked):
    only_inventory = (  # `default` keeps inventory only; `team` goes
        "registries:\n  default:\n    default_profile_slug: inventory\n"
        "    profiles:\n      inventory: {}\n"
    )
    plan = import_yaml(stocked, only_inventory, mode="mirror", dry_run=True)
    assert plan.deleted_registries == ["team"]
    with pytest.raises(ConfirmationRequired) as exc:
        import_yaml(stocked, only_inventory, mode="mirror")
    fields = [e.field for e in exc.value.errors]
    assert "registries[team]" in fields
    assert "registries[default].profiles[analyst]" in fields
    assert "registries[default].profiles[default]" in fields
    assert "registries[team].profiles[analyst]" not in fields  # counted with its registry
    assert len(fields) == 3 and exc.value.deletions == 4  # team + its analyst, 2 in default
    assert exc.value.deletions == plan.deletions


@pytest.mark.parametrize("text", EMPTY_DOCUMENTS)
def test_an_empty_document_mirror_deletes_everything_only_when_confirmed(stocked, text):
    plan = import_yaml(stocked, text, mode="mirror", dry_run=True)
    assert plan.empty_document and plan.deletions == 6
    before = export_yaml(stocked)
    with pytest.raises(ConfirmationRequired, match="the document holds no registries"):
        import_yaml(stocked, text, mode="mirror")
    assert export_yaml(stocked) == before
    import_yaml(stocked, text, mode="mirror", confirm=6)
    assert stocked.list_registries() == []


def test_mirrors_that_delete_nothing_and_other_modes_need_no_confirmation(stocked):
    assert import_yaml(stocked, BUNDLE, mode="mirror").deletions == 0
    assert import_yaml(stocked, ONE_REGISTRY, mode="upsert").applied
    assert import_yaml(stocked, ONE_REGISTRY, mode="create-only").deletions == 0


def test_an_empty_document_on_an_empty_store_deletes_nothing(empty_backend_service):
    plan = import_yaml(empty_backend_service, "---\n", mode="mirror")
    assert plan.empty_document and plan.deletions == 0 and plan.changes == 0


def test_seeding_a_managed_file_is_exempt(stocked):
    stocked_seed = ONE_REGISTRY
    import_yaml(stocked, stocked_seed, mode="mirror", managed_by="seed.yaml", seed=True)
    smaller = ONE_REGISTRY.replace("escalation", "escalation2")
    plan = import_yaml(stocked, smaller, mode="mirror", managed_by="seed.yaml", seed=True)
    assert plan.applied and plan.deletions == 1
    assert [s.registry.slug for s in stocked.list_registries()] == ["default", "support", "team"]
