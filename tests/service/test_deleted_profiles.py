"""Deleted profiles stay restorable: the service lists them with the revision to restore,
on every backend (the YAML store keeps no history: an empty list)."""

from __future__ import annotations

from registry.domain.model import Profile, Registry
from registry.domain.service import ProfilePatch


def test_deleted_profiles_are_listed_until_recreated_or_restored(backend_service):
    service = backend_service
    service.create_profile("default", Profile(slug="keep", display_name="Keep"), actor="a")
    service.create_profile("default", Profile(slug="gone", display_name="Gone"), actor="a")
    service.update_profile("default", "gone", ProfilePatch(display_name="Gone v2"), actor="a")
    service.create_profile("default", Profile(slug="back", display_name="Back"), actor="a")
    service.delete_profile("default", "gone", actor="bob")
    service.delete_profile("default", "back", actor="carol")

    deleted = service.list_deleted_profiles("default")
    if not service.supports_history:
        assert deleted == []
        return
    assert [(d.slug, d.display_name, d.version, d.deleted_by) for d in deleted] == [
        ("back", "Back", 1, "carol"),  # newest deletion first
        ("gone", "Gone v2", 2, "bob"),
    ]
    assert all(d.deleted_at_ms > 0 and d.restore_revision for d in deleted)
    assert [d.slug for d in service.list_deleted_profiles("default", limit=1)] == ["back"]

    # restoring brings it back as it was when deleted, and it leaves the list
    gone = deleted[1]
    restored = service.restore_revision("default", "gone", gone.restore_revision, actor="dan")
    assert restored.display_name == "Gone v2"
    # a new profile with the slug of a deleted one ends its listing too
    service.create_profile("default", Profile(slug="back"), actor="a")
    assert service.list_deleted_profiles("default") == []


def test_deleted_profiles_of_a_recreated_registry_are_not_listed(backend_service):
    service = backend_service
    service.create_profile("default", Profile(slug="x"), actor="a")
    service.create_registry(Registry(slug="other"), actor="a")
    service.create_profile("other", Profile(slug="y"), actor="a")
    service.delete_profile("other", "y", actor="a")
    assert [d.slug for d in service.list_deleted_profiles("other")] == (
        ["y"] if service.supports_history else []
    )
    service.delete_registry("other", actor="a")
    service.create_registry(Registry(slug="other"), actor="a")
    assert service.list_deleted_profiles("other") == []
    assert service.list_deleted_profiles("default") == []
