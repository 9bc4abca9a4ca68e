"""The use cases that let the web layer, the CLI and the server go through the service only
(never its store), on every backend."""

from __future__ import annotations

import pytest

from registry.domain.errors import (
    RegistryNotFound,
    StoreClosed,
    ValidationError,
    VersionConflict,
)
from registry.domain.model import Profile, Registry
from registry.domain.ports import WriteOptions
from registry.domain.service import (
    SOURCE_CLI,
    ProfilePatch,
    RegistryService,
    redacted_url,
)


def _corrupt_registry_header(store, slug: str) -> None:
    """Store an extension key the service refuses, past its rules: any later registry write
    through the service then fails validation (how a failing second step is provoked)."""
    reg = store.get_registry(slug)
    reg.extensions = {"not a key!": {}}
    store.update_registry(reg, WriteOptions(actor="test"))


# --- create/update with set_default --------------------------------------------------------


def test_create_with_set_default_makes_the_new_profile_the_default(backend_service):
    backend_service.create_profile(None, Profile(slug="first"))
    created = backend_service.create_profile(
        None, Profile(slug="Second"), set_default=True, actor="bob"
    )
    reg = backend_service.get_registry(None)
    assert (created.slug, reg.default_profile_slug) == ("second", "second")
    assert reg.metadata.updated_by == "bob"


def test_create_without_set_default_keeps_the_default(backend_service):
    backend_service.create_profile(None, Profile(slug="first"))
    backend_service.create_profile(None, Profile(slug="second"))
    assert backend_service.get_registry(None).default_profile_slug == "first"


def test_set_default_on_the_profile_already_default_writes_no_registry_change(backend_service):
    backend_service.create_profile(None, Profile(slug="first"))
    version = backend_service.get_registry(None).metadata.version
    backend_service.update_profile(None, "first", ProfilePatch(display_name="F"), set_default=True)
    assert backend_service.get_registry(None).metadata.version == version


def test_create_with_set_default_is_all_or_nothing(backend_service, store):
    backend_service.create_profile(None, Profile(slug="first"))
    _corrupt_registry_header(store, "default")
    with pytest.raises(ValidationError):
        backend_service.create_profile(None, Profile(slug="second"), set_default=True)
    assert backend_service.find_profile(None, "second") is None  # the create was rolled back
    assert store.get_registry("default").default_profile_slug == "first"


def test_update_with_set_default_makes_it_the_default(backend_service):
    backend_service.create_profile(None, Profile(slug="first"))
    backend_service.create_profile(None, Profile(slug="second"))
    updated = backend_service.update_profile(
        None, "second", ProfilePatch(display_name="Two"), set_default=True
    )
    assert updated.display_name == "Two"
    assert backend_service.get_registry(None).default_profile_slug == "second"


def test_update_with_set_default_is_all_or_nothing(backend_service, store):
    backend_service.create_profile(None, Profile(slug="first"))
    backend_service.create_profile(None, Profile(slug="second"))
    _corrupt_registry_header(store, "default")
    with pytest.raises(ValidationError):
        backend_service.update_profile(
            None, "second", ProfilePatch(display_name="Two"), set_default=True
        )
    kept = backend_service.get_profile(None, "second")
    assert (kept.display_name, kept.metadata.version) == ("", 1)
    assert store.get_registry("default").default_profile_slug == "first"


def test_update_with_set_default_and_a_stale_version_changes_nothing(backend_service):
    backend_service.create_profile(None, Profile(slug="first"))
    backend_service.create_profile(None, Profile(slug="second"))
    with pytest.raises(VersionConflict):
        backend_service.update_profile(
            None, "second", ProfilePatch(display_name="x"), expected_version=9, set_default=True
        )
    assert backend_service.get_registry(None).default_profile_slug == "first"


# --- summaries and find-if-exists ------------------------------------------------------------


def test_registry_summary_counts_one_registry(backend_service):
    backend_service.create_registry(Registry(slug="team"))
    for slug in ("a", "b", "c"):
        backend_service.create_profile(None, Profile(slug=slug))
    backend_service.create_profile("team", Profile(slug="x"))
    summary = backend_service.registry_summary("Default")
    assert (summary.registry.slug, summary.registry.display_name) == ("default", "Default")
    assert summary.profile_count == 3
    assert backend_service.registry_summary("team").profile_count == 1
    backend_service.create_registry(Registry(slug="empty"))
    assert backend_service.registry_summary("empty").profile_count == 0
    assert backend_service.registry_summary(None).registry.slug == "default"


def test_registry_summary_of_a_missing_or_malformed_registry(backend_service):
    with pytest.raises(RegistryNotFound):
        backend_service.registry_summary("nope")
    with pytest.raises(ValidationError):
        backend_service.registry_summary("not a slug!")


def test_find_registry_and_find_profile_return_none_when_missing(backend_service):
    backend_service.create_profile(None, Profile(slug="a", display_name="A"))
    assert backend_service.find_registry("DEFAULT").slug == "default"
    assert backend_service.find_registry(None).slug == "default"
    assert backend_service.find_registry("nope") is None
    assert backend_service.find_profile("default", "A").display_name == "A"
    assert backend_service.find_profile(None, "a").slug == "a"
    assert backend_service.find_profile("default", "b") is None
    assert backend_service.find_profile("nope", "a") is None
    with pytest.raises(ValidationError):
        backend_service.find_profile("default", "not a slug!")


# --- start-up, history, backend --------------------------------------------------------------


def test_ensure_default_registry_creates_it_once(store):
    backend_service = RegistryService(store, default_registry="main")
    created = backend_service.ensure_default_registry(actor="cli", source=SOURCE_CLI)
    assert created is not None and created.slug == "main"
    assert created.display_name == "Main"
    assert backend_service.ensure_default_registry(actor="cli", source=SOURCE_CLI) is None
    reg = backend_service.get_registry(None)
    assert (reg.metadata.version, reg.metadata.source) == (1, "cli")
    assert [s.registry.slug for s in backend_service.list_registries()] == ["main"]


def test_recent_changes_are_the_newest_first(backend_service, store):
    for i in range(6):
        backend_service.create_profile(None, Profile(slug=f"p{i}"))
    backend_service.update_profile(None, "p0", ProfilePatch(display_name="again"))
    recent = backend_service.recent_changes(3)
    if not store.supports_history:
        assert recent == [] and backend_service.supports_history is False
        return
    assert backend_service.supports_history is True
    assert [(c.profile, c.version) for c in recent] == [("p0", 2), ("p5", 1), ("p4", 1)]
    everything = backend_service.list_changes(0, 100)
    assert backend_service.recent_changes(100) == list(reversed(everything))


def test_backend_kind_and_description(backend_service, store):
    assert backend_service.backend_kind == store.kind
    assert backend_service.backend_description.startswith(f"{store.kind} (")
    assert "***" not in backend_service.backend_description  # no password in the test URLs


def test_redacted_url_hides_only_a_password():
    assert redacted_url("postgresql://u:secret@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert redacted_url("postgresql://u:p@ss@db/x") == "postgresql://u:***@db/x"
    assert redacted_url("postgresql://u@db/x") == "postgresql://u@db/x"
    assert redacted_url("sqlite:///tmp/a.db") == "sqlite:///tmp/a.db"


def test_close_closes_the_store(store):
    backend_service = RegistryService(store)
    backend_service.release()  # between requests: harmless, the store stays usable
    assert backend_service.list_registries() == []
    backend_service.close()
    with pytest.raises(StoreClosed):
        backend_service.list_registries()


def test_tag_list_follows_every_write(backend_service):
    """The tag list is cached by change id: a write anywhere shows in the next answer."""
    from registry.domain.model import Metadata, Profile

    service = backend_service
    assert service.list_tags("default") == []
    service.create_profile("default", Profile(slug="a", metadata=Metadata(tags=["Beta"])))
    assert service.list_tags("default") == ["Beta"]
    service.create_profile("default", Profile(slug="b", metadata=Metadata(tags=["beta", "x"])))
    service.create_profile("default", Profile(slug="c", metadata=Metadata(tags=["beta"])))
    assert service.list_tags("default") == ["beta", "x"]  # the most used spelling
    service.delete_profile("default", "b")
    service.delete_profile("default", "c")
    assert service.list_tags("default") == ["Beta"]
