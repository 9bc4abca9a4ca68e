"""Stack topology, expansion, merge and provenance: pure domain rules (README, "Stacks")."""

from __future__ import annotations

import json

import pytest

from registry.domain.errors import PolicyViolation, ValidationError
from registry.domain.model import (
    Metadata,
    MiddlewareUse,
    PolicySpec,
    Profile,
    ProfileRef,
    RuntimeSpec,
)
from registry.domain.stacks import (
    EffectivePolicy,
    Layer,
    check_topology,
    collect_graph,
    enforce,
    expand_stack,
    height,
    lineage,
    merge_layers,
    merge_policies,
    trace_layers,
)


def ref(slug: str, registry: str = "") -> ProfileRef:
    return ProfileRef(profile_slug=slug, registry_slug=registry)


def graph(*items: tuple[str, str, list[ProfileRef]]) -> dict[tuple[str, str], Profile]:
    return {(r, p): Profile(slug=p, stack=stack) for r, p, stack in items}


def known(*registries: str):
    return lambda slug: slug in registries


def slugs(layers: list[Layer]) -> list[str]:
    return [f"{layer.registry_slug}/{layer.profile_slug}" for layer in layers]


# --- expansion (reference: stack resolver tests) -------------------------------------------------


def test_linear_stack_is_base_to_leaf():
    g = graph(
        ("default", "agent", [ref("model-gpt4o")]),
        ("default", "model-gpt4o", [ref("provider-openai")]),
        ("default", "provider-openai", []),
    )
    layers = expand_stack(("default", "agent"), g, registry_exists=known("default"))
    assert slugs(layers) == ["default/provider-openai", "default/model-gpt4o", "default/agent"]


def test_fan_in_dedupes_by_first_completed_visit():
    g = graph(
        ("default", "agent", [ref("model-a"), ref("model-b"), ref("provider-openai")]),
        ("default", "model-a", [ref("provider-openai")]),
        ("default", "model-b", [ref("provider-openai")]),
        ("default", "provider-openai", []),
    )
    layers = expand_stack(("default", "agent"), g, registry_exists=known("default"))
    assert slugs(layers) == [
        "default/provider-openai",
        "default/model-a",
        "default/model-b",
        "default/agent",
    ]


def test_cross_registry_refs():
    g = graph(
        ("default", "agent", [ref("provider-openai", "shared")]),
        ("shared", "provider-openai", []),
    )
    layers = expand_stack(("default", "agent"), g, registry_exists=known("default", "shared"))
    assert slugs(layers) == ["shared/provider-openai", "default/agent"]


def test_cycle_names_the_chain():
    g = graph(("default", "a", [ref("b")]), ("default", "b", [ref("a")]))
    with pytest.raises(ValidationError) as exc:
        expand_stack(("default", "a"), g, registry_exists=known("default"))
    assert exc.value.field == "registries[default].profiles[b].stack[0]"
    assert exc.value.reason == "stack cycle detected: default/a -> default/b -> default/a"


def test_missing_registry_and_missing_profile():
    g = graph(("default", "agent", [ref("provider-openai", "missing")]))
    with pytest.raises(ValidationError) as exc:
        expand_stack(("default", "agent"), g, registry_exists=known("default"))
    assert exc.value.reason == 'referenced registry "missing" not found'
    assert exc.value.field == "registries[default].profiles[agent].stack[0]"

    g = graph(("default", "agent", [ref("provider-openai")]))
    with pytest.raises(ValidationError) as exc:
        expand_stack(("default", "agent"), g, registry_exists=known("default"))
    assert exc.value.reason == (
        'referenced profile "provider-openai" not found in registry "default"'
    )


def test_max_depth_breach():
    g = graph(("default", "a", [ref("b")]), ("default", "b", [ref("c")]), ("default", "c", []))
    with pytest.raises(ValidationError) as exc:
        expand_stack(("default", "a"), g, registry_exists=known("default"), max_depth=2)
    assert exc.value.field == "registries[default].profiles[b].stack[0]"
    assert "max_depth=2" in exc.value.reason
    assert "default/a -> default/b -> default/c" in exc.value.reason
    # two profiles fit in max_depth 2
    layers = expand_stack(("default", "b"), g, registry_exists=known("default"), max_depth=2)
    assert slugs(layers) == ["default/c", "default/b"]


def test_collect_graph_reads_a_level_at_a_time():
    g = graph(
        ("r", "leaf", [ref("m1"), ref("m2")]),
        ("r", "m1", [ref("base")]),
        ("r", "m2", [ref("base")]),
        ("r", "base", []),
    )
    calls = []

    def fetch(keys):
        calls.append(sorted(keys))
        return {k: g[k] for k in keys if k in g}

    out = collect_graph({("r", "leaf"): g[("r", "leaf")]}, fetch)
    assert out == g
    assert calls == [[("r", "m1"), ("r", "m2")], [("r", "base")]]


def test_collect_graph_stops_on_cycles_and_missing_targets():
    g = graph(("r", "a", [ref("b"), ref("gone")]), ("r", "b", [ref("a")]))
    calls = []

    def fetch(keys):
        calls.append(keys)
        return {k: g[k] for k in keys if k in g}

    out = collect_graph({("r", "a"): g[("r", "a")]}, fetch)
    assert set(out) == {("r", "a"), ("r", "b")}
    assert len(calls) == 1


# --- topology of a write (reference: stack topology validation tests) ---------------------------


def field_of(i: int) -> str:
    return f"profile.stack[{i}]"


def test_topology_rejects_missing_same_registry_target():
    g = graph(("r", "agent", [ref("nope")]))
    errors = check_topology(("r", "agent"), g, registry_exists=known("r"), field_of=field_of)
    assert [(e.field, e.message) for e in errors] == [
        ("profile.stack[0]", 'referenced profile "nope" not found in registry "r"')
    ]


def test_topology_allows_a_ref_to_a_registry_that_does_not_exist_yet():
    g = graph(("r", "agent", [ref("base", "later")]))
    assert check_topology(("r", "agent"), g, registry_exists=known("r"), field_of=field_of) == []


def test_topology_does_not_bypass_missing_ref_in_known_registry():
    g = graph(("r", "agent", [ref("base", "shared")]))
    errors = check_topology(
        ("r", "agent"), g, registry_exists=known("r", "shared"), field_of=field_of
    )
    assert errors[0].message == 'referenced profile "base" not found in registry "shared"'


def test_topology_rejects_cycles_self_refs_and_duplicates():
    g = graph(("r", "a", [ref("b")]), ("r", "b", [ref("a")]))
    errors = check_topology(("r", "a"), g, registry_exists=known("r"), field_of=field_of)
    assert [(e.field, e.message) for e in errors] == [
        ("profile.stack[0]", "stack cycle detected: r/a -> r/b -> r/a")
    ]
    g = graph(("r", "a", [ref("a")]))
    errors = check_topology(("r", "a"), g, registry_exists=known("r"), field_of=field_of)
    assert errors[0].message == "stack cycle detected: r/a -> r/a"
    g = graph(("r", "a", [ref("b"), ref("b", "r")]), ("r", "b", []))
    errors = check_topology(("r", "a"), g, registry_exists=known("r"), field_of=field_of)
    assert [(e.field, e.message) for e in errors] == [("profile.stack[1]", "duplicate of stack[0]")]


def test_topology_depth_counts_the_profile_itself():
    chain = [("r", f"p{i}", [ref(f"p{i + 1}")] if i < 32 else []) for i in range(33)]
    g = graph(*chain)
    errors = check_topology(("r", "p0"), g, registry_exists=known("r"), field_of=field_of)
    assert errors and errors[0].field == "profile.stack[0]"
    assert errors[0].message.startswith("stack depth exceeds max_depth=32 while traversing r/p0")
    assert check_topology(("r", "p1"), g, registry_exists=known("r"), field_of=field_of) == []


def test_height_counts_the_longest_chain_of_dependants():
    above = {("r", "base"): [("r", "mid"), ("r", "x")], ("r", "mid"): [("r", "top")]}
    assert height(("r", "base"), lambda k: above.get(k, [])) == 2
    assert height(("r", "top"), lambda k: above.get(k, [])) == 0


# --- merge rules (reference: stack merge tests) --------------------------------------------------


def layer(slug: str, version: int = 1, **kw) -> Layer:
    return Layer("default", slug, Profile(slug=slug, metadata=Metadata(version=version), **kw))


def test_runtime_merge_rules():
    base = layer(
        "base",
        runtime=RuntimeSpec(
            step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o-mini", "temperature": 0.2}},
            system_prompt="base prompt",
            tools=["calc"],
            middlewares=[
                MiddlewareUse(name="agentmode", id="planner"),
                MiddlewareUse(name="logger"),
            ],
        ),
    )
    leaf = layer(
        "leaf",
        runtime=RuntimeSpec(
            step_settings_patch={"ai-chat": {"temperature": 0.8}, "summarize": {"max-tokens": 256}},
            system_prompt="   ",
            tools=["search"],
            middlewares=[
                MiddlewareUse(name="agentmode", id="planner", enabled=False),
                MiddlewareUse(name="logger", enabled=True),
                MiddlewareUse(name="telemetry", id="trace"),
            ],
        ),
    )
    merged = merge_layers([base, leaf])
    rt = merged.runtime
    assert rt.step_settings_patch == {
        "ai-chat": {"ai-engine": "gpt-4o-mini", "temperature": 0.8},
        "summarize": {"max-tokens": 256},
    }
    assert rt.system_prompt == "base prompt"
    assert rt.tools == ["search"]
    assert [(m.name, m.id, m.enabled) for m in rt.middlewares] == [
        ("agentmode", "planner", False),
        ("logger", "", True),
        ("telemetry", "trace", None),
    ]
    assert [(s.layer, s.index) for s in merged.middleware_sources] == [(1, 0), (1, 1), (1, 2)]


def test_tools_kept_when_a_later_layer_has_none():
    merged = merge_layers([layer("a", runtime=RuntimeSpec(tools=["x"])), layer("b")])
    assert merged.runtime.tools == ["x"]


def test_middleware_without_id_keys_by_position_in_its_own_layer():
    a = layer("a", runtime=RuntimeSpec(middlewares=[MiddlewareUse(name="logger")]))
    b = layer(
        "b",
        runtime=RuntimeSpec(
            middlewares=[MiddlewareUse(name="x", id="1"), MiddlewareUse(name="logger")]
        ),
    )
    merged = merge_layers([a, b])
    # logger[0] (a) and logger[1] (b) are different instances
    assert [m.name for m in merged.runtime.middlewares] == ["logger", "x", "logger"]
    assert [(s.layer, s.index) for s in merged.middleware_sources] == [(0, 0), (1, 0), (1, 1)]


def test_extension_merge_rules():
    base = layer(
        "base",
        extensions={
            "app.settings@v1": {"nested": {"foo": 1, "bar": 2}, "list": [1, 2], "scalar": "a"},
            "app.only_base@v1": {"x": 1},
            "app.mixed@v1": {"v": 1},
        },
    )
    leaf = layer(
        "leaf",
        extensions={
            "app.settings@v1": {"nested": {"foo": 9}, "list": [3], "scalar": "b"},
            "app.mixed@v1": {"v": [1, 2]},
        },
    )
    merged = merge_layers([base, leaf])
    assert merged.extensions == {
        "app.settings@v1": {"nested": {"foo": 9, "bar": 2}, "list": [3], "scalar": "b"},
        "app.only_base@v1": {"x": 1},
        "app.mixed@v1": {"v": [1, 2]},
    }
    # inputs untouched
    assert base.profile.extensions["app.settings@v1"]["nested"] == {"foo": 1, "bar": 2}


def test_policy_restrictive_rules():
    base = PolicySpec(
        allow_overrides=True,
        allowed_override_keys=["system_prompt", "tools"],
        denied_override_keys=["middlewares"],
    )
    leaf = PolicySpec(
        allow_overrides=True,
        allowed_override_keys=["tools", "step_settings_patch"],
        denied_override_keys=["tools"],
        read_only=True,
    )
    merged = merge_policies([base, leaf])
    assert merged.allow_overrides is True
    assert merged.read_only is True
    assert merged.denied_override_keys == ["middlewares", "tools"]
    # Our tri-state decision: the empty intersection is kept as "nothing allowed" (the
    # reference system dropped it, which let every non-denied key through).
    assert merged.allowed_override_keys == []
    for key in ("system_prompt", "step_settings_patch", "tools", "middlewares"):
        with pytest.raises(PolicyViolation):
            enforce(merged, [key])


def test_policy_tri_state():
    # no allow list anywhere: unrestricted except denied keys
    open_policy = merge_policies([PolicySpec(allow_overrides=True), PolicySpec(True)])
    assert open_policy.allowed_override_keys is None
    enforce(open_policy, ["tools", "system_prompt"])
    # one layer's list constrains the others
    one = merge_policies(
        [PolicySpec(True, ["systemPrompt"]), PolicySpec(True, denied_override_keys=["tools"])]
    )
    assert one.allowed_override_keys == ["system_prompt"]
    enforce(one, ["system_prompt"])
    with pytest.raises(PolicyViolation, match="not allowed"):
        enforce(one, ["step_settings_patch"])
    with pytest.raises(PolicyViolation, match="denied"):
        enforce(one, ["tools"])
    # allowed and denied cancelling out (after canonicalization) locks down too
    locked = merge_policies([PolicySpec(True, ["systemPrompt"], ["system_prompt"])])
    assert locked.allowed_override_keys == []
    with pytest.raises(PolicyViolation):
        enforce(locked, ["system_prompt"])
    with pytest.raises(PolicyViolation):
        enforce(locked, ["tools"])
    enforce(locked, [])  # no overrides: nothing to refuse


def test_policy_allow_overrides_becomes_false():
    merged = merge_policies([PolicySpec(allow_overrides=False), PolicySpec(allow_overrides=True)])
    assert merged.allow_overrides is False
    with pytest.raises(PolicyViolation, match="disabled"):
        enforce(merged, ["system_prompt"])
    assert merge_policies([]) == EffectivePolicy()


# --- provenance (reference: stack trace tests) ---------------------------------------------------


def two_layers() -> list[Layer]:
    provider = layer(
        "provider",
        version=3,
        runtime=RuntimeSpec(
            system_prompt="provider prompt",
            step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o", "temperature": 0.2}},
        ),
        policy=PolicySpec(allow_overrides=False),
        extensions={"app.a/b~c@v1": {"k": 1}},
    )
    agent = layer(
        "agent",
        version=7,
        runtime=RuntimeSpec(
            system_prompt="agent prompt", step_settings_patch={"ai-chat": {"temperature": 0.9}}
        ),
        policy=PolicySpec(allow_overrides=True),
    )
    return [provider, agent]


def test_trace_path_history_and_final_winner():
    layers = two_layers()
    trace = trace_layers(layers, merge_layers(layers))
    history = trace.history("/runtime/system_prompt")
    assert [(s.profile_slug, s.layer_index, s.value) for s in history] == [
        ("provider", 0, "provider prompt"),
        ("agent", 1, "agent prompt"),
    ]
    assert trace.latest_value("/runtime/system_prompt") == "agent prompt"
    # the merged AND wins over the leaf's own true
    assert [s.value for s in trace.history("/policy/allow_overrides")] == [False, True]
    assert trace.latest_value("/policy/allow_overrides") is False
    temp = "/runtime/step_settings_patch/ai-chat/temperature"
    assert [s.profile_slug for s in trace.history(temp)] == ["provider", "agent"]
    assert trace.latest_value(temp) == 0.9
    engine = "/runtime/step_settings_patch/ai-chat/ai-engine"
    assert [s.profile_slug for s in trace.history(engine)] == ["provider"]
    # JSON pointer escaping: "/" as ~1, "~" as ~0
    assert trace.latest_value("/extensions/app.a~1b~0c@v1/k") == 1


def test_trace_payload_is_sorted_and_deterministic():
    layers = two_layers()
    one = trace_layers(layers, merge_layers(layers))
    two = trace_layers(two_layers(), merge_layers(two_layers()))
    assert one.ordered_paths == sorted(one.ordered_paths)
    a = json.dumps(one.to_data(), sort_keys=False)
    b = json.dumps(two.to_data(), sort_keys=False)
    assert a == b
    payload = one.to_data()
    assert [p["path"] for p in payload["paths"]] == one.ordered_paths
    step = payload["paths"][0]["steps"][0]
    assert set(step) == {
        "registry_slug",
        "profile_slug",
        "profile_version",
        "layer_index",
        "path",
        "value",
    }


def test_lineage_base_to_leaf_with_versions():
    assert lineage(two_layers()) == [
        {"registry_slug": "default", "profile_slug": "provider", "version": 3, "source": ""},
        {"registry_slug": "default", "profile_slug": "agent", "version": 7, "source": ""},
    ]
