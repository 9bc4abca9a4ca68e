"""Selection precedence, override canonicalization, policy, application."""

import pytest

from registry.domain.errors import PolicyViolation, ValidationError
from registry.domain.model import MiddlewareUse, PolicySpec, RuntimeSpec
from registry.domain.resolution import (
    Selection,
    apply_overrides,
    canonical_override_key,
    enforce_policy,
    merge_step_settings_patches,
    normalize_overrides,
    parse_cookie,
    select_profile,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("systemPrompt", "system_prompt"),
        ("SystemPrompt", "system_prompt"),
        ("step-settings-patch", "step_settings_patch"),
        ("stepSettingsPatch", "step_settings_patch"),
        ("Tools", "tools"),
        ("SYSTEM_PROMPT", "s_y_s_t_e_m__p_r_o_m_p_t"),
        ("System-Prompt", "system__prompt"),
        ("  ", ""),
    ],
)
def test_canonical_override_key(raw, canonical):
    assert canonical_override_key(raw) == canonical


def test_duplicate_keys_after_canonicalization():
    with pytest.raises(ValidationError) as exc:
        normalize_overrides({"system_prompt": "a", "systemPrompt": "b"})
    assert exc.value.field == "request_overrides.system_prompt"
    assert exc.value.reason == "duplicate override key after canonicalization"


def test_empty_override_key():
    with pytest.raises(ValidationError, match="override keys must not be empty"):
        normalize_overrides({" ": 1})


def test_overrides_must_be_an_object():
    with pytest.raises(ValidationError) as exc:
        normalize_overrides(["x"])
    assert exc.value.field == "request_overrides"


def test_policy_disabled():
    with pytest.raises(PolicyViolation) as exc:
        enforce_policy(PolicySpec(), ["tools"])
    assert str(exc.value) == "policy violation: request overrides are disabled for this profile"


def test_policy_no_keys_needs_no_permission():
    enforce_policy(PolicySpec(), [])


def test_policy_allow_and_deny_lists():
    policy = PolicySpec(
        allow_overrides=True,
        allowed_override_keys=["systemPrompt", "tools"],
        denied_override_keys=["tools"],
    )
    enforce_policy(policy, ["system_prompt"])
    with pytest.raises(PolicyViolation, match='override key "tools" is denied'):
        enforce_policy(policy, ["tools"])
    with pytest.raises(PolicyViolation, match='override key "middlewares" is not allowed'):
        enforce_policy(policy, ["middlewares"])


def test_policy_runs_before_unsupported_key_check():
    policy = PolicySpec(allow_overrides=True, allowed_override_keys=["system_prompt"])
    with pytest.raises(PolicyViolation):
        enforce_policy(policy, ["s_y_s_t_e_m__p_r_o_m_p_t"])
    enforce_policy(PolicySpec(allow_overrides=True), ["foo"])
    with pytest.raises(ValidationError) as exc:
        apply_overrides(RuntimeSpec(), {"foo": 1})
    assert (exc.value.field, exc.value.reason) == (
        "request_overrides.foo",
        "unsupported override key",
    )


def test_apply_replaces_and_merges():
    rt = RuntimeSpec(
        step_settings_patch={"ai-chat": {"ai-engine": "profile", "t": 1}, "other": {"k": 1}},
        system_prompt="profile",
        middlewares=[MiddlewareUse("agentmode")],
        tools=["a"],
    )
    out = apply_overrides(
        rt,
        {
            "system_prompt": "",
            "tools": [" search "],
            "middlewares": [],
            "step_settings_patch": {"ai-chat": {"ai-engine": "request"}, "new": {"x": 2}},
        },
    )
    assert out.system_prompt == ""
    assert out.tools == ["search"]
    assert out.middlewares == []
    assert out.step_settings_patch == {
        "ai-chat": {"ai-engine": "request", "t": 1},
        "other": {"k": 1},
        "new": {"x": 2},
    }
    assert rt.system_prompt == "profile"  # input untouched


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"system_prompt": 1}, "request_overrides.system_prompt", "must be a string"),
        ({"tools": "x"}, "request_overrides.tools", "must be an array"),
        ({"tools": [1]}, "request_overrides.tools[0]", "must be a string"),
        ({"tools": [" "]}, "request_overrides.tools[0]", "must not be empty"),
        ({"middlewares": {}}, "request_overrides.middlewares", "must be an array"),
        ({"middlewares": [1]}, "request_overrides.middlewares[0]", "must be an object"),
        (
            {"middlewares": [{"name": " "}]},
            "request_overrides.middlewares[0].name",
            "must not be empty",
        ),
        (
            {"middlewares": [{"name": "a", "id": 5}]},
            "request_overrides.middlewares[0].id",
            "must not be empty",
        ),
        (
            {"middlewares": [{"name": "a", "enabled": "yes"}]},
            "request_overrides.middlewares[0].enabled",
            "must be a boolean",
        ),
        ({"step_settings_patch": []}, "request_overrides.step_settings_patch", "must be an object"),
        (
            {"step_settings_patch": {"s": 1}},
            "request_overrides.step_settings_patch.s",
            "must be an object",
        ),
    ],
)
def test_apply_errors(overrides, field, reason):
    with pytest.raises(ValidationError) as exc:
        apply_overrides(RuntimeSpec(), overrides)
    assert (exc.value.field, exc.value.reason) == (field, reason)


def test_duplicate_middleware_override_ids():
    with pytest.raises(ValidationError) as exc:
        apply_overrides(
            RuntimeSpec(), {"middlewares": [{"name": "a", "id": "x"}, {"name": "b", "id": "x"}]}
        )
    assert exc.value.field == "request_overrides.middlewares[1].id"


def test_merge_step_settings_patches():
    assert merge_step_settings_patches({}, {}) == {}
    assert merge_step_settings_patches({"a": {"x": 1}}, {"a": {"y": 2}}) == {"a": {"x": 1, "y": 2}}


def test_cookie_forms():
    assert parse_cookie("team/agent") == ("team", "agent", False)
    assert parse_cookie("Agent") == (None, "agent", True)
    assert parse_cookie("bad slug/x") == (None, None, False)
    assert parse_cookie("") == (None, None, False)


def test_selection_precedence():
    cookie = "cookiereg/cookieprof"
    assert select_profile(
        path_profile="path", body={"profile": "body"}, query={"profile": "q"}, cookie=cookie
    ) == Selection("cookiereg", "path")
    assert select_profile(
        body={"profile": "body"}, query={"profile": "q"}, cookie=cookie
    ) == Selection("cookiereg", "body")
    assert select_profile(query={"profile": "q", "registry": "qr"}, cookie=cookie) == Selection(
        "qr", "q"
    )
    assert select_profile(body={"registry": "br"}, query={"registry": "qr"}) == Selection(
        "br", None
    )
    assert select_profile(cookie=cookie) == Selection("cookiereg", "cookieprof")
    assert select_profile(cookie="legacy") == Selection(None, None, legacy_cookie_profile="legacy")
    assert select_profile() == Selection(None, None)


@pytest.mark.parametrize(
    ("body", "query", "name"),
    [
        ({"runtime_key": "a"}, {}, "runtime_key"),
        ({}, {"registry_slug": "default"}, "registry_slug"),
    ],
)
def test_legacy_selectors_are_rejected(body, query, name):
    with pytest.raises(ValidationError, match=f"^unsupported legacy selector: {name}$"):
        select_profile(body=body, query=query)


def test_empty_legacy_selectors_are_ignored():
    assert select_profile(body={"runtime_key": ""}) == Selection(None, None)


def test_invalid_selector_slugs():
    with pytest.raises(ValidationError) as exc:
        select_profile(body={"registry": "invalid registry!"})
    assert exc.value.field == "registry"
    with pytest.raises(ValidationError) as exc:
        select_profile(query={"profile": "Bad Slug"})
    assert exc.value.field == "profile"


def _resolved():
    from registry.domain.resolution import ResolvedProfile

    return ResolvedProfile(
        registry="team",
        profile="agent",
        version=3,
        runtime_key="agent",
        effective_runtime=RuntimeSpec(step_settings_patch={"ai-chat": {"ai-engine": "x"}}),
        middleware_configs=[{"name": "agentmode", "config": {"mode": "a"}}],
        extensions={"app.starter_suggestions@v1": {"items": ["hi"]}},
        stack_trace={"paths": [{"path": "runtime.system_prompt", "layers": [0]}]},
    )


def test_resolved_data_is_a_copy_unless_shared_for_serializing():
    resolved = _resolved()
    data = resolved.to_data()
    assert resolved.to_data(shared=True) == data
    data["extensions"]["app.starter_suggestions@v1"]["items"].append("changed")
    data["middleware_configs"][0]["config"]["mode"] = "changed"
    data["metadata"]["profile.stack.trace"]["paths"].clear()
    data["effective_step_settings_patch"]["ai-chat"]["ai-engine"] = "changed"
    assert resolved.to_data() == _resolved().to_data()
    shared = resolved.to_data(shared=True)
    assert shared["extensions"] is resolved.extensions  # no copy: serialized at once
