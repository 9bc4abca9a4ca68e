"""Middleware definitions and config projection (reference 6.6-6.7, tests G28-G30, H16)."""

import pytest

from registry.domain.middleware import (
    MiddlewareDefinition,
    MiddlewareRegistry,
    config_extension_key,
    effective_configs,
    load_definitions,
    parse_definitions,
    project_configs,
)
from registry.domain.model import MiddlewareUse, Profile, RuntimeSpec
from tests.conftest import FIXTURES


@pytest.fixture
def registry():
    return MiddlewareRegistry(load_definitions())


def test_shipped_defaults_are_the_fixture_definitions():
    shipped = [d.describe() for d in load_definitions()]
    fixture = [d.describe() for d in load_definitions(FIXTURES / "middleware-definitions.yaml")]
    assert shipped == fixture
    assert [d["name"] for d in shipped] == ["agentmode", "sqlite"]


def test_registry_rejects_duplicates_and_lists_sorted():
    reg = MiddlewareRegistry()
    reg.register(MiddlewareDefinition("zeta", {"type": "object"}))
    reg.register(MiddlewareDefinition("alpha", {"type": "object"}))
    assert [d.name for d in reg.list()] == ["alpha", "zeta"]
    with pytest.raises(ValueError, match="already registered: alpha"):
        reg.register(MiddlewareDefinition("alpha", {"type": "object"}))
    with pytest.raises(ValueError, match="must not be empty"):
        MiddlewareDefinition("  ", {"type": "object"})


def test_definitions_file_errors_are_clear():
    with pytest.raises(ValueError, match="top-level 'middlewares' list"):
        parse_definitions("foo: 1")
    with pytest.raises(ValueError, match=r"middlewares\[0\].*invalid JSON Schema"):
        parse_definitions("middlewares:\n  - name: x\n    schema: {type: 12}\n")


def test_config_extension_key():
    assert config_extension_key(" AgentMode ") == "middleware.agentmode_config@v1"
    with pytest.raises(ValueError, match="invalid for typed-key extension mapping"):
        config_extension_key("not valid!")


def test_projection_by_id_moves_config_and_keeps_other_keys(registry):
    p = Profile(
        slug="a",
        runtime=RuntimeSpec(
            middlewares=[MiddlewareUse("agentmode", id="primary", config={"default_mode": "plan"})]
        ),
        extensions={"vendor.x@v1": {"keep": True}},
    )
    assert project_configs(p, registry) == []
    assert p.runtime.middlewares[0].config is None
    assert p.extensions == {
        "vendor.x@v1": {"keep": True},
        "middleware.agentmode_config@v1": {"instances": {"id:primary": {"default_mode": "plan"}}},
    }


def test_projection_by_index_fills_defaults_and_coerces(registry):
    p = Profile(
        slug="a",
        runtime=RuntimeSpec(
            middlewares=[
                MiddlewareUse("sqlite", config={"dsn": "a.db", "max_rows": "7"}),
                MiddlewareUse("sqlite", config={"dsn": "b.db"}),
            ]
        ),
    )
    assert project_configs(p, registry) == []
    assert p.extensions["middleware.sqlite_config@v1"]["instances"] == {
        "index:0": {"dsn": "a.db", "max_rows": 7, "execution_timeout_ms": 2000},
        "index:1": {"dsn": "b.db", "max_rows": 100, "execution_timeout_ms": 2000},
    }


def test_projection_errors(registry):
    p = Profile(
        slug="a",
        runtime=RuntimeSpec(
            middlewares=[
                MiddlewareUse("nope"),
                MiddlewareUse("sqlite", config={"max_rows": 0, "extra": 1}),
                MiddlewareUse("agentmode", config={"default_mode": "fly"}),
                MiddlewareUse("agentmode", id="x", config=[1]),
                MiddlewareUse("sqlite", id="noconf"),
            ]
        ),
    )
    errors = project_configs(p, registry)
    assert [(e.field, e.message) for e in errors][:1] == [
        ("runtime.middlewares[0].name", 'unknown middleware "nope"')
    ]
    assert [e.field for e in errors] == [
        "runtime.middlewares[0].name",
        "runtime.middlewares[1].config.dsn",
        "runtime.middlewares[1].config.extra",
        "runtime.middlewares[1].config.max_rows",
        "runtime.middlewares[2].config.default_mode",
        "runtime.middlewares[3].config",
        "runtime.middlewares[4].config.dsn",
    ]
    assert "middleware.sqlite_config@v1" not in p.extensions


def test_effective_configs_merge_defaults_and_slots(registry):
    uses = [MiddlewareUse("agentmode"), MiddlewareUse("agentmode", id="p", enabled=False)]
    ext = {"middleware.agentmode_config@v1": {"instances": {"id:p": {"default_mode": "act"}}}}
    assert effective_configs(uses, ext, registry) == [
        {
            "name": "agentmode",
            "enabled": True,
            "slot": "index:0",
            "config": {"default_mode": "chat"},
        },
        {
            "name": "agentmode",
            "id": "p",
            "enabled": False,
            "slot": "id:p",
            "config": {"default_mode": "act"},
        },
    ]


def test_effective_configs_fall_back_to_default_slot_without_id(registry):
    ext = {"middleware.agentmode_config@v1": {"instances": {"default": {"default_mode": "plan"}}}}
    [cfg] = effective_configs([MiddlewareUse("agentmode")], ext, registry)
    assert cfg["config"] == {"default_mode": "plan"}
