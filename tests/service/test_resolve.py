"""Resolution through the service, on every backend."""

import pytest

from registry.domain.errors import (
    PolicyViolation,
    ProfileNotFound,
    RegistryNotFound,
    ValidationError,
)
from registry.domain.model import MiddlewareUse, PolicySpec, Profile, Registry, RuntimeSpec
from registry.domain.resolution import select_profile
from registry.domain.service import ProfilePatch


def add(backend_service, slug, registry="default", **kw):
    return backend_service.create_profile(registry, Profile(slug=slug, **kw))


def test_default_profile_fallback_and_metadata(backend_service):
    add(
        backend_service,
        "agent",
        runtime=RuntimeSpec(step_settings_patch={"ai-chat": {"ai-engine": "gpt-4.1-mini"}}),
    )
    add(backend_service, "other")
    r = backend_service.resolve()
    assert (r.registry, r.profile, r.runtime_key, r.version) == ("default", "agent", "agent", 1)
    assert r.effective_runtime.step_settings_patch == {"ai-chat": {"ai-engine": "gpt-4.1-mini"}}
    data = r.to_data()
    assert data["fingerprint"].startswith("sha256:") and len(data["fingerprint"]) == 71
    assert data["metadata"]["profile.slug"] == "agent"
    assert len(data["metadata"]["profile.stack.lineage"]) == 1
    assert set(data) == {
        "registry",
        "profile",
        "version",
        "runtime_key",
        "effective_runtime",
        "effective_step_settings_patch",
        "middleware_configs",
        "extensions",
        "fingerprint",
        "metadata",
    }


def test_unknown_registry_and_profile(backend_service):
    with pytest.raises(RegistryNotFound):
        backend_service.resolve("missing")
    with pytest.raises(ProfileNotFound):
        backend_service.resolve(None, "missing")


def test_registry_without_default_needs_a_profile(backend_service):
    backend_service.create_registry(Registry(slug="empty"))
    with pytest.raises(ValidationError) as exc:
        backend_service.resolve("empty")
    assert (exc.value.field, exc.value.reason) == (
        "profile.slug",
        "profile slug is required and registry has no default",
    )


def test_precedence_and_policy(backend_service):
    add(
        backend_service,
        "open",
        runtime=RuntimeSpec(
            step_settings_patch={"ai-chat": {"ai-engine": "profile-engine", "t": 1}},
            system_prompt="profile",
            tools=["a"],
            middlewares=[MiddlewareUse("agentmode")],
        ),
        policy=PolicySpec(allow_overrides=True),
    )
    add(backend_service, "locked", runtime=RuntimeSpec(system_prompt="locked"))
    r = backend_service.resolve(
        None,
        "open",
        {
            "systemPrompt": "request",
            "tools": ["b"],
            "step-settings-patch": {"ai-chat": {"ai-engine": "request-engine"}},
            "middlewares": [{"name": "sqlite", "id": "db", "config": {"dsn": "r.db"}}],
        },
    )
    assert r.effective_runtime.system_prompt == "request"
    assert r.effective_runtime.tools == ["b"]
    assert r.effective_runtime.step_settings_patch == {
        "ai-chat": {"ai-engine": "request-engine", "t": 1}
    }
    assert r.middleware_configs == [
        {
            "name": "sqlite",
            "id": "db",
            "enabled": True,
            "slot": "id:db",
            "config": {"dsn": "r.db", "max_rows": 100, "execution_timeout_ms": 2000},
        }
    ]
    with pytest.raises(PolicyViolation, match="request overrides are disabled"):
        backend_service.resolve(None, "locked", {"system_prompt": "x"})
    # no overrides: policy is not consulted
    assert backend_service.resolve(None, "locked").effective_runtime.system_prompt == "locked"


def test_override_middleware_config_is_validated(backend_service):
    add(backend_service, "open", policy=PolicySpec(allow_overrides=True))
    with pytest.raises(ValidationError) as exc:
        backend_service.resolve(
            None,
            "open",
            {"middlewares": [{"name": "sqlite", "config": {"dsn": "x", "max_rows": 0}}]},
        )
    assert exc.value.field == "request_overrides.middlewares[0].config.max_rows"


def test_allowed_and_denied_keys(backend_service):
    add(
        backend_service,
        "agent",
        policy=PolicySpec(
            allow_overrides=True,
            allowed_override_keys=["system_prompt"],
            denied_override_keys=["tools"],
        ),
    )
    assert (
        backend_service.resolve(
            None, "agent", {"system_prompt": "x"}
        ).effective_runtime.system_prompt
        == "x"
    )
    with pytest.raises(PolicyViolation, match='"tools" is denied'):
        backend_service.resolve(None, "agent", {"tools": ["x"]})
    with pytest.raises(PolicyViolation, match='"middlewares" is not allowed'):
        backend_service.resolve(None, "agent", {"middlewares": []})


def test_read_only_does_not_block_resolution(backend_service):
    add(backend_service, "ro", policy=PolicySpec(read_only=True))
    assert backend_service.resolve(None, "ro").profile == "ro"


def test_fingerprint_is_stable_and_sensitive(backend_service):
    add(
        backend_service,
        "a",
        runtime=RuntimeSpec(system_prompt="x"),
        policy=PolicySpec(allow_overrides=True),
    )
    first = backend_service.resolve(None, "a").fingerprint
    assert backend_service.resolve(None, "a").fingerprint == first
    assert backend_service.resolve(None, "a", {"system_prompt": "y"}).fingerprint != first
    assert backend_service.resolve(None, "a", {"system_prompt": "x"}).fingerprint == first
    backend_service.update_profile(None, "a", ProfilePatch(description="only metadata-ish"))
    assert backend_service.resolve(None, "a").fingerprint != first  # any write bumps the version


def test_legacy_cookie_reads_a_profile_of_the_default_registry(backend_service):
    add(backend_service, "default")
    add(backend_service, "agent")
    backend_service.create_registry(Registry(slug="team"))
    add(backend_service, "helper", registry="team")
    assert backend_service.resolve_selection(select_profile(cookie="agent")).profile == "agent"
    # an unknown bare slug falls back to the default
    assert backend_service.resolve_selection(select_profile(cookie="ghost")).profile == "default"
    assert (
        backend_service.resolve_selection(select_profile(cookie="team/helper")).registry == "team"
    )


def test_current_profile_falls_back_from_stale_cookie(backend_service):
    add(backend_service, "default")
    assert backend_service.current_profile(select_profile(cookie="default/ghost")) == (
        "default",
        "default",
    )
