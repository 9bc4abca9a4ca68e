"""Validation field paths and model parsing."""

import pytest

from registry.domain.errors import ValidationError
from registry.domain.model import (
    MiddlewareUse,
    PolicySpec,
    Profile,
    Registry,
    RuntimeSpec,
    profile_from_data,
    profile_to_data,
    registry_from_data,
)
from registry.domain.validation import (
    validate_policy,
    validate_profile,
    validate_registry_header,
    validate_runtime,
)


def fields(errors):
    return [e.field for e in errors]


def test_valid_profile_has_no_problems():
    p = Profile(
        slug="agent",
        runtime=RuntimeSpec(middlewares=[MiddlewareUse("agentmode", id="a")], tools=["calc"]),
        policy=PolicySpec(allow_overrides=True, allowed_override_keys=["system_prompt"]),
    )
    assert validate_profile(p) == []


def test_policy_overlap_fails():
    errors = validate_policy(
        PolicySpec(allowed_override_keys=["tools"], denied_override_keys=["tools"])
    )
    assert fields(errors) == ["policy.override_keys"]
    assert errors[0].message == 'key "tools" appears in both allow and deny lists'


def test_policy_blank_keys():
    errors = validate_policy(
        PolicySpec(allowed_override_keys=[" "], denied_override_keys=["", "x"])
    )
    assert fields(errors) == [
        "policy.allowed_override_keys[0]",
        "policy.denied_override_keys[0]",
    ]


def test_empty_profile_slug_field_path():
    assert fields(validate_profile(Profile(slug=""))) == ["profile.slug"]


def test_empty_registry_slug_field_path():
    assert fields(validate_registry_header(Registry(slug=""))) == ["registry.slug"]


def test_runtime_paths():
    rt = RuntimeSpec(
        middlewares=[
            MiddlewareUse(" "),
            MiddlewareUse("a", id="  "),
            MiddlewareUse("a", id="x"),
            MiddlewareUse("b", id="x"),
        ],
        tools=["ok", "  "],
    )
    errors = validate_runtime(rt)
    assert fields(errors) == [
        "runtime.middlewares[0].name",
        "runtime.middlewares[1].id",
        "runtime.middlewares[3].id",
        "runtime.tools[1]",
    ]
    assert errors[2].message == (
        'duplicate middleware instance id "x" (first seen at runtime.middlewares[2].id)'
    )


def test_repeated_names_with_unique_ids_are_fine():
    rt = RuntimeSpec(
        middlewares=[MiddlewareUse("a", id="1"), MiddlewareUse("a", id="2"), MiddlewareUse("a")]
    )
    assert validate_runtime(rt) == []


def test_all_problems_are_reported_in_a_deterministic_order():
    p = Profile(
        slug="Bad Slug",
        runtime=RuntimeSpec(tools=[""]),
        policy=PolicySpec(allowed_override_keys=["x"], denied_override_keys=["x"]),
    )
    first = fields(validate_profile(p))
    assert first == ["profile.slug", "runtime.tools[0]", "policy.override_keys"]
    assert fields(validate_profile(p)) == first


def test_profile_from_data_reports_every_shape_problem():
    with pytest.raises(ValidationError) as exc:
        profile_from_data(
            {
                "slug": "x",
                "display_name": 3,
                "runtime": {"tools": "calc", "middlewares": [{"name": "a", "enabled": "yes"}]},
                "policy": {"allow_overrides": "true"},
                "metadata": {"tags": [1]},
                "extensions": [],
                "bogus": 1,
            }
        )
    assert fields(exc.value.errors) == [
        "bogus",
        "display_name",
        "runtime.tools",
        "runtime.middlewares[0].enabled",
        "policy.allow_overrides",
        "metadata.tags[0]",
        "profile.extensions",
    ]


def test_profile_round_trips_through_data():
    data = {
        "slug": "agent",
        "display_name": "Agent",
        "runtime": {
            "step_settings_patch": {"ai-chat": {"ai-engine": "x"}},
            "system_prompt": "hi",
            "middlewares": [{"name": "agentmode", "id": "p", "enabled": False}],
            "tools": ["a"],
        },
        "policy": {"allow_overrides": True, "allowed_override_keys": ["tools"], "read_only": False},
        "metadata": {"version": 2, "tags": ["t"]},
        "extensions": {"vendor.x@v1": {"deep": [1, {"n": None}]}},
    }
    assert profile_to_data(profile_from_data(data)) == data


def test_json_form_always_has_runtime_policy_metadata():
    data = profile_to_data(Profile(slug="x"))
    assert data == {
        "slug": "x",
        "runtime": {},
        "policy": {"allow_overrides": False, "read_only": False},
        "metadata": {},
    }
    assert profile_to_data(Profile(slug="x"), compact=True) == {"slug": "x"}


def test_registry_profiles_fall_back_to_map_keys_and_errors_are_rooted():
    reg = registry_from_data({"slug": "r", "profiles": {"a": {}, "b": {"slug": "b"}}})
    assert sorted(reg.profiles) == ["a", "b"]
    assert reg.profiles["a"].slug == "a"
    with pytest.raises(ValidationError) as exc:
        registry_from_data({"slug": "r", "profiles": {"a": {"runtime": {"tools": [1]}}}})
    assert fields(exc.value.errors) == ["registry.profiles[a].runtime.tools[0]"]


def test_clone_is_deep():
    p = Profile(
        slug="a",
        runtime=RuntimeSpec(
            step_settings_patch={"s": {"f": [1]}},
            middlewares=[MiddlewareUse("m", id="i", enabled=True)],
            tools=["t"],
        ),
        policy=PolicySpec(allowed_override_keys=["x"], denied_override_keys=["y"]),
        extensions={"a.b@v1": {"nested": {"list": [1, 2]}}},
    )
    p.metadata.tags = ["tag"]
    c = p.clone()
    c.runtime.step_settings_patch["s"]["f"].append(2)
    c.runtime.middlewares[0].name = "other"
    c.runtime.tools.append("u")
    c.policy.allowed_override_keys.append("z")
    c.metadata.tags.append("z")
    c.extensions["a.b@v1"]["nested"]["list"].append(3)
    assert p.runtime.step_settings_patch == {"s": {"f": [1]}}
    assert p.runtime.middlewares[0].name == "m"
    assert p.runtime.tools == ["t"]
    assert p.policy.allowed_override_keys == ["x"]
    assert p.metadata.tags == ["tag"]
    assert p.extensions == {"a.b@v1": {"nested": {"list": [1, 2]}}}


def test_registry_clone_is_deep():
    r = Registry(slug="r", default_profile_slug="a", profiles={"a": Profile(slug="a")})
    c = r.clone()
    c.default_profile_slug = "b"
    del c.profiles["a"]
    assert r.default_profile_slug == "a" and "a" in r.profiles
    assert r.header().profiles == {} and r.profiles
