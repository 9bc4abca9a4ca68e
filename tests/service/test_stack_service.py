"""Stacks through the service, on every backend: resolution, writes, deletes, dependants."""

from __future__ import annotations

import pytest

from registry.domain.errors import (
    PolicyViolation,
    ProfileNotFound,
    StackedOn,
    ValidationError,
)
from registry.domain.model import (
    MiddlewareUse,
    PolicySpec,
    Profile,
    ProfileRef,
    Registry,
    RuntimeSpec,
)
from registry.domain.service import ProfilePatch, RegistryService


def ref(slug: str, registry: str = "") -> ProfileRef:
    return ProfileRef(profile_slug=slug, registry_slug=registry)


def add(service, slug, registry="default", stack=(), **kw):
    return service.create_profile(registry, Profile(slug=slug, stack=list(stack), **kw))


OPEN = PolicySpec(allow_overrides=True)


@pytest.fixture
def stacked(backend_service):
    """provider <- model <- agent, plus an unrelated profile."""
    s = backend_service
    add(s, "unrelated", runtime=RuntimeSpec(system_prompt="alone"))  # the default
    add(
        s,
        "provider",
        runtime=RuntimeSpec(
            system_prompt="provider prompt",
            step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o", "ai-api-type": "openai"}},
        ),
        policy=OPEN,
    )
    add(
        s,
        "model",
        stack=[ref("provider")],
        runtime=RuntimeSpec(step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o-mini"}}),
        policy=OPEN,
    )
    add(
        s,
        "agent",
        stack=[ref("model")],
        runtime=RuntimeSpec(tools=["search"]),
        policy=PolicySpec(allow_overrides=True, denied_override_keys=["middlewares"]),
    )
    return s


def test_resolve_merges_the_stack_with_lineage_and_trace(stacked):
    r = stacked.resolve(None, "agent")
    assert r.effective_runtime.system_prompt == "provider prompt"
    assert r.effective_runtime.step_settings_patch == {
        "ai-chat": {"ai-engine": "gpt-4o-mini", "ai-api-type": "openai"}
    }
    assert r.effective_runtime.tools == ["search"]
    data = r.to_data()
    lineage = data["metadata"]["profile.stack.lineage"]
    assert [(x["profile_slug"], x["version"]) for x in lineage] == [
        ("provider", 1),
        ("model", 1),
        ("agent", 1),
    ]
    trace = {p["path"]: p for p in data["metadata"]["profile.stack.trace"]["paths"]}
    engine = trace["/runtime/step_settings_patch/ai-chat/ai-engine"]
    assert engine["value"] == "gpt-4o-mini"
    assert [s["profile_slug"] for s in engine["steps"]] == ["provider", "model"]


def test_overrides_apply_last_under_the_merged_policy(stacked):
    r = stacked.resolve(None, "agent", {"tools": ["calc"]})
    assert r.effective_runtime.tools == ["calc"]  # the request wins
    assert r.effective_runtime.system_prompt == "provider prompt"  # inherited
    assert r.effective_runtime.step_settings_patch["ai-chat"]["ai-api-type"] == "openai"
    with pytest.raises(PolicyViolation, match="denied"):
        stacked.resolve(None, "agent", {"middlewares": []})


def test_stack_policy_restrictive_merge(backend_service):
    s = backend_service
    add(s, "base", policy=PolicySpec(True, ["tools", "system_prompt"]))
    add(s, "agent", stack=[ref("base")], policy=PolicySpec(True, ["system_prompt"], ["tools"]))
    with pytest.raises(PolicyViolation, match="denied"):
        s.resolve(None, "agent", {"tools": ["x"]})
    with pytest.raises(PolicyViolation, match="not allowed"):
        s.resolve(None, "agent", {"step_settings_patch": {"a": {"b": 1}}})
    assert s.resolve(None, "agent", {"system_prompt": "hi"}).effective_runtime.system_prompt == (
        "hi"
    )


def test_empty_allow_intersection_locks_down(backend_service):
    """The tri-state decision: two allow lists with no key in common allow nothing."""
    s = backend_service
    add(s, "base", policy=PolicySpec(True, ["tools"]))
    add(s, "agent", stack=[ref("base")], policy=PolicySpec(True, ["system_prompt"]))
    for overrides in ({"system_prompt": "x"}, {"tools": ["x"]}, {"middlewares": []}):
        with pytest.raises(PolicyViolation, match="not allowed"):
            s.resolve(None, "agent", overrides)
    assert s.resolve(None, "agent").profile == "agent"


def test_base_allow_overrides_false_wins(backend_service):
    s = backend_service
    add(s, "base", policy=PolicySpec(allow_overrides=False))
    add(s, "agent", stack=[ref("base")], policy=OPEN)
    with pytest.raises(PolicyViolation, match="disabled"):
        s.resolve(None, "agent", {"system_prompt": "x"})


def test_middleware_configs_come_from_the_layer_that_declared_them(backend_service):
    s = backend_service
    add(
        s,
        "base",
        runtime=RuntimeSpec(
            middlewares=[MiddlewareUse(name="agentmode", config={"default_mode": "plan"})]
        ),
    )
    add(
        s,
        "agent",
        stack=[ref("base")],
        runtime=RuntimeSpec(
            middlewares=[
                MiddlewareUse(name="agentmode", id="extra", config={"default_mode": "act"})
            ]
        ),
    )
    configs = s.resolve(None, "agent").middleware_configs
    assert [(c["slot"], c["config"]["default_mode"]) for c in configs] == [
        ("index:0", "plan"),
        ("id:extra", "act"),
    ]


def test_a_base_change_bumps_dependants_fingerprints_only(stacked):
    before = {p: stacked.resolve(None, p).fingerprint for p in ("agent", "model", "unrelated")}
    stacked.update_profile(None, "provider", ProfilePatch(description="touched"))
    after = {p: stacked.resolve(None, p).fingerprint for p in ("agent", "model", "unrelated")}
    assert after["agent"] != before["agent"]
    assert after["model"] != before["model"]
    assert after["unrelated"] == before["unrelated"]
    # stable for the same input
    assert stacked.resolve(None, "agent").fingerprint == after["agent"]


def test_fingerprint_changes_with_layer_order(backend_service):
    s = backend_service
    add(s, "a", runtime=RuntimeSpec(tools=["x"]))
    add(s, "b", runtime=RuntimeSpec(tools=["x"]))
    add(s, "agent", stack=[ref("a"), ref("b")])
    first = s.resolve(None, "agent")
    s.update_profile(None, "agent", ProfilePatch(stack=[ref("b"), ref("a")]))
    second = s.resolve(None, "agent")
    assert first.effective_runtime == second.effective_runtime
    assert first.fingerprint != second.fingerprint


def test_cross_registry_ref_may_precede_its_registry(backend_service):
    s = backend_service
    add(s, "agent", stack=[ref("provider", "shared")])
    with pytest.raises(ValidationError) as exc:
        s.resolve(None, "agent")
    assert exc.value.field == "registries[default].profiles[agent].stack[0]"
    assert exc.value.reason == 'referenced registry "shared" not found'
    s.create_registry(Registry(slug="shared"))
    with pytest.raises(ValidationError) as exc:
        s.resolve(None, "agent")
    assert exc.value.reason == 'referenced profile "provider" not found in registry "shared"'
    add(s, "provider", registry="shared", runtime=RuntimeSpec(system_prompt="shared prompt"))
    r = s.resolve(None, "agent")
    assert r.effective_runtime.system_prompt == "shared prompt"
    assert [x["registry_slug"] for x in r.to_data()["metadata"]["profile.stack.lineage"]] == [
        "shared",
        "default",
    ]


# --- bad writes: a 400 with the field path, nothing stored ---------------------------------------


def assert_refused(call, field, message_part):
    with pytest.raises(ValidationError) as exc:
        call()
    assert (exc.value.field, message_part in exc.value.reason) == (field, True), exc.value.errors


def test_bad_stacks_are_refused_and_nothing_is_stored(stacked):
    s = stacked
    # a cycle through an update
    assert_refused(
        lambda: s.update_profile(None, "provider", ProfilePatch(stack=[ref("agent")])),
        "profile.stack[0]",
        "stack cycle detected: default/provider -> default/agent -> default/model -> "
        "default/provider",
    )
    assert s.get_profile(None, "provider").stack == []
    assert s.get_profile(None, "provider").metadata.version == 1
    # a self-ref
    assert_refused(
        lambda: s.update_profile(None, "agent", ProfilePatch(stack=[ref("agent")])),
        "profile.stack[0]",
        "stack cycle detected: default/agent -> default/agent",
    )
    assert_refused(
        lambda: add(s, "selfish", stack=[ref("selfish")]),
        "profile.stack[0]",
        "stack cycle detected",
    )
    # bad slugs
    assert_refused(
        lambda: add(s, "bad", stack=[ref("Not A Slug!")]),
        "profile.stack[0].profile_slug",
        "invalid",
    )
    assert_refused(
        lambda: add(s, "bad", stack=[ref("model", "bad registry")]),
        "profile.stack[0].registry_slug",
        "invalid",
    )
    assert_refused(lambda: add(s, "bad", stack=[ref("")]), "profile.stack[0].profile_slug", "empty")
    # a missing or deleted profile
    add(s, "doomed")
    s.delete_profile(None, "doomed")
    assert_refused(
        lambda: add(s, "bad", stack=[ref("model"), ref("doomed")]),
        "profile.stack[1]",
        'referenced profile "doomed" not found in registry "default"',
    )
    with pytest.raises(ProfileNotFound):
        s.get_profile(None, "bad")
    with pytest.raises(ProfileNotFound):
        s.get_profile(None, "selfish")


def test_chains_deeper_than_32_are_refused(backend_service):
    s = backend_service
    add(s, "p1")
    for i in range(2, 33):
        add(s, f"p{i}", stack=[ref(f"p{i - 1}")])
    assert len(s.resolve(None, "p32").stack_lineage) == 32
    assert_refused(lambda: add(s, "p33", stack=[ref("p32")]), "profile.stack[0]", "max_depth=32")
    # from below: p1 getting a base of its own would make p32's chain 33 deep
    add(s, "p0")
    assert_refused(
        lambda: s.update_profile(None, "p1", ProfilePatch(stack=[ref("p0")])),
        "profile.stack",
        "max_depth=32",
    )
    assert s.get_profile(None, "p1").stack == []


def test_restoring_a_revision_checks_the_stack(sql_store):
    s = RegistryService(sql_store)
    s.create_registry(Registry(slug="default"))
    add(s, "base")
    add(s, "agent", stack=[ref("base")])
    first = s.list_revisions(None, "agent")[-1].id
    s.update_profile(None, "agent", ProfilePatch(stack=[]))
    s.update_profile(None, "base", ProfilePatch(stack=[]))
    s.update_profile(None, "base", ProfilePatch(stack=[ref("agent")]))
    assert_refused(lambda: s.restore_revision(None, "agent", first), "profile.stack[0]", "cycle")


# --- deletes and dependants ----------------------------------------------------------------------


def test_deleting_a_base_is_refused_naming_its_dependants(stacked):
    with pytest.raises(StackedOn) as exc:
        stacked.delete_profile(None, "provider")
    assert exc.value.dependants == ["default/model"]
    assert "default/model" in str(exc.value)
    assert stacked.get_profile(None, "provider")
    stacked.delete_profile(None, "agent")  # nothing stacks on the leaf
    stacked.update_profile(None, "model", ProfilePatch(stack=[]))
    stacked.delete_profile(None, "provider")


def test_deleting_a_registry_others_stack_on_is_refused(backend_service):
    s = backend_service
    s.create_registry(Registry(slug="shared"))
    add(s, "provider", registry="shared")
    add(s, "inner", registry="shared", stack=[ref("provider")])
    add(s, "agent", stack=[ref("provider", "shared")])
    with pytest.raises(StackedOn) as exc:
        s.delete_registry("shared")
    assert exc.value.dependants == ["default/agent"]
    s.update_profile(None, "agent", ProfilePatch(stack=[]))
    s.delete_registry("shared")  # refs inside the registry go with it


def test_dependants_direct_and_transitive(stacked):
    s = stacked
    s.create_registry(Registry(slug="other"))
    add(s, "far", registry="other", stack=[ref("agent", "default")])
    deps = s.dependants(None, "provider")
    assert [(d.registry, d.profile.slug, d.depth) for d in deps] == [
        ("default", "model", 1),
        ("default", "agent", 2),
        ("other", "far", 3),
    ]
    assert s.dependants(None, "unrelated") == []


def test_clone_into_another_registry_keeps_pointing_at_the_same_bases(stacked):
    stacked.create_registry(Registry(slug="other"))
    clone = stacked.clone_profile(None, "agent", "agent-copy", target_registry="other")
    assert clone.stack == [ref("model", "default")]
    assert stacked.resolve("other", "agent-copy").effective_runtime.system_prompt == (
        "provider prompt"
    )


class CountingStore:
    """A store proxy counting profile reads."""

    def __init__(self, store):
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if name in (
            "get_profile",
            "get_registry_profile",
            "get_profiles",
            "iter_profiles",
            "list_profiles",
        ):

            def counted(*args, **kw):
                self.calls.append(name)
                return attr(*args, **kw)

            return counted
        return attr


def test_resolving_a_wide_stack_reads_each_level_once(backend_service, store):
    s = backend_service
    for i in range(4):
        add(s, f"base{i}")
    add(s, "agent", stack=[ref(f"base{i}") for i in range(4)])
    counting = CountingStore(store)
    RegistryService(counting).resolve(None, "agent")
    assert counting.calls == ["get_registry_profile", "get_profiles"]


def test_resolving_a_five_layer_stack_reads_a_level_per_query(backend_service, store):
    s = backend_service
    add(s, "l1")
    for i in range(2, 6):
        add(s, f"l{i}", stack=[ref(f"l{i - 1}")])
    counting = CountingStore(store)
    r = RegistryService(counting).resolve(None, "l5")
    assert len(r.stack_lineage) == 5
    assert counting.calls == ["get_registry_profile"] + ["get_profiles"] * 4
