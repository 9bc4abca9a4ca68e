"""Middleware definitions and config projection."""

import pytest

from registry.domain.middleware import (
    MiddlewareDefinition,
    MiddlewareRegistry,
    config_extension_key,
    effective_configs,
    load_definitions,
    orphan_slots,
    parse_definitions,
    project_configs,
    remap_configs,
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
    assert [d.name for d in reg.all()] == ["alpha", "zeta"]
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


SQLITE = "middleware.sqlite_config@v1"
AGENT = "middleware.agentmode_config@v1"


def uses(*items: str) -> list[MiddlewareUse]:
    """`uses("agentmode#primary", "sqlite")`: names with an optional `#id`."""
    out = []
    for item in items:
        name, _, use_id = item.partition("#")
        out.append(MiddlewareUse(name, id=use_id))
    return out


def test_remap_positional_configs_follow_their_uses_and_orphans_go(registry):
    stored = {
        SQLITE: {"instances": {"index:1": {"dsn": "a.db"}, "index:3": {"dsn": "b.db"}}},
        AGENT: {"instances": {"id:primary": {"default_mode": "plan"}, "index:9": {}}},
        "vendor.x@v1": {"keep": True},
    }
    extensions = {k: dict(v) for k, v in stored.items()}
    before = uses("agentmode#primary", "sqlite", "agentmode", "sqlite")
    after = uses("sqlite", "sqlite", "agentmode#primary")  # first agentmode use removed
    remap_configs(before, after, extensions, stored, registry)
    assert extensions == {
        # the k-th sqlite use without id keeps its config wherever it moved
        SQLITE: {"instances": {"index:0": {"dsn": "a.db"}, "index:1": {"dsn": "b.db"}}},
        # configs by id follow the id; index:9 never had a use: dropped
        AGENT: {"instances": {"id:primary": {"default_mode": "plan"}}},
        "vendor.x@v1": {"keep": True},
    }


def test_remap_drops_a_config_extension_left_without_slots(registry):
    stored = {SQLITE: {"instances": {"index:0": {"dsn": "a.db"}}}}
    extensions = {SQLITE: stored[SQLITE]}
    remap_configs(uses("sqlite"), uses("agentmode"), extensions, stored, registry)
    assert extensions == {}
    # a removed use whose key also carries other data keeps that data
    stored = {SQLITE: {"instances": {"index:0": {"dsn": "a.db"}}, "note": "x"}}
    extensions = {SQLITE: stored[SQLITE]}
    remap_configs(uses("sqlite"), [], extensions, stored, registry)
    assert extensions == {SQLITE: {"instances": {}, "note": "x"}}


def test_remap_takes_a_replaced_config_extension_as_given(registry):
    """A client that sends the config extension with the new list means its slots as sent."""
    stored = {SQLITE: {"instances": {"index:1": {"dsn": "old.db"}}}}
    sent = {SQLITE: {"instances": {"index:0": {"dsn": "new.db"}, "index:5": {"dsn": "x"}}}}
    remap_configs(uses("agentmode", "sqlite"), uses("sqlite"), sent, stored, registry)
    assert sent == {SQLITE: {"instances": {"index:0": {"dsn": "new.db"}}}}


def test_remap_keeps_the_default_slot_while_a_use_without_id_reads_it(registry):
    stored = {SQLITE: {"instances": {"default": {"dsn": "d.db"}, "id:wh": {"dsn": "w.db"}}}}
    extensions = {SQLITE: stored[SQLITE]}
    remap_configs(uses("sqlite#wh"), uses("sqlite", "sqlite#wh"), extensions, stored, registry)
    assert extensions == stored
    remap_configs(uses("sqlite", "sqlite#wh"), uses("sqlite#wh"), extensions, stored, registry)
    assert extensions == {SQLITE: {"instances": {"id:wh": {"dsn": "w.db"}}}}


def test_orphan_slots_lists_what_no_use_reads(registry):
    p = Profile(
        slug="a",
        runtime=RuntimeSpec(middlewares=uses("sqlite", "agentmode#primary")),
        extensions={
            SQLITE: {"instances": {"index:0": {}, "index:1": {}, "id:gone": {}}},
            AGENT: {"instances": {"id:primary": {}, "default": {}}},
        },
    )
    assert orphan_slots(p, registry) == {SQLITE: ["id:gone", "index:1"], AGENT: ["default"]}
