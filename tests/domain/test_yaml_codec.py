"""The YAML codec: format detection, canonical encoding, hostile input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from registry.domain.errors import ValidationError
from registry.domain.model import (
    Metadata,
    MiddlewareUse,
    PolicySpec,
    Profile,
    Registry,
    RuntimeSpec,
)
from registry.domain.yaml_codec import decode_registries, encode_registries, encode_registry
from registry.domain.yaml_safe import MAX_NODES, safe_load

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def roundtrip(registries: list[Registry]) -> list[Registry]:
    return decode_registries(encode_registries(registries)).registries


def one_profile_registry(profile: Profile, slug: str = "default") -> Registry:
    return Registry(slug=slug, default_profile_slug=profile.slug, profiles={profile.slug: profile})


# --- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("canonical-bundle.yaml", "bundle"),
        ("single-registry.yaml", "registry"),
        ("legacy-profiles.yaml", "legacy"),
    ],
)
def test_every_registry_fixture_decodes(name: str, fmt: str) -> None:
    doc = decode_registries(fixture(name))
    assert doc.format == fmt
    assert doc.registries
    for reg in doc.registries:
        assert reg.default_profile_slug in reg.profiles
        for slug, profile in reg.profiles.items():
            assert profile.slug == slug


def test_legacy_fixture_is_one_registry_with_default_profile() -> None:  # E1
    doc = decode_registries(fixture("legacy-profiles.yaml"))
    [reg] = doc.registries
    assert reg.slug == "default"
    assert reg.default_profile_slug == "default"
    assert sorted(reg.profiles) == ["careful", "default", "fast", "local-llama"]
    fast = reg.profiles["fast"]
    assert fast.runtime.step_settings_patch == {
        "ai-chat": {"ai-engine": "small-model-2", "ai-api-type": "openai"},
        "ai-client": {"timeout": 20},
    }
    assert fast.policy == PolicySpec()
    assert fast.metadata == Metadata()
    assert fast.display_name == ""


def test_legacy_registry_takes_the_default_registry_slug() -> None:
    doc = decode_registries(fixture("legacy-profiles.yaml"), default_registry="Team")
    assert [r.slug for r in doc.registries] == ["team"]


def test_legacy_default_is_first_sorted_slug_without_default() -> None:
    text = """
gpt-mini:
  ai-chat:
    ai-engine: gpt-4o-mini
  ai-client:
    timeout: 30
claude-fast:
  ai-chat:
    ai-engine: claude-3-5-haiku
    ai-api-type: claude
"""
    [reg] = decode_registries(text).registries
    assert reg.default_profile_slug == "claude-fast"
    assert reg.profiles["gpt-mini"].runtime.step_settings_patch["ai-client"] == {"timeout": 30}


def test_legacy_keys_are_normalized_and_collisions_are_errors() -> None:
    [reg] = decode_registries("Zeta:\n  s: {a: 1}\nalpha:\n  s: {a: 2}\n").registries
    assert sorted(reg.profiles) == ["alpha", "zeta"]
    assert reg.default_profile_slug == "alpha"  # first *normalized* slug (a deviation)
    with pytest.raises(ValidationError, match='duplicate profile slug "agent"'):
        decode_registries("Agent:\n  s: {a: 1}\nagent:\n  s: {a: 2}\n")


def test_legacy_invalid_slug_key_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        decode_registries("Bad Key:\n  ai-chat: {ai-engine: x}\ngood:\n  ai-chat: {}\n")
    assert 'profile slug "Bad Key" is invalid' in str(info.value)
    assert info.value.field == "document[Bad Key]"


def test_legacy_value_must_be_section_settings() -> None:
    with pytest.raises(ValidationError, match='legacy profile "fast" must map to section'):
        decode_registries("fast: [1, 2]\n")
    with pytest.raises(ValidationError) as info:
        decode_registries("fast:\n  ai-chat: 3\n")
    assert info.value.field == "document[fast].runtime.step_settings_patch.ai-chat"


def test_bundle_fixture_slugs_fall_back_to_map_keys() -> None:  # E2, E3
    doc = decode_registries(fixture("canonical-bundle.yaml"))
    assert [r.slug for r in doc.registries] == ["default", "team"]
    default, team = doc.registries
    assert default.default_profile_slug == "inventory"
    assert sorted(default.profiles) == ["analyst", "default", "inventory"]
    assert team.profiles["analyst"].metadata.version == 7
    inventory = default.profiles["inventory"]
    assert inventory.runtime.middlewares == [MiddlewareUse(name="agentmode", id="primary")]
    assert inventory.extensions["middleware.agentmode_config@v1"] == {
        "instances": {"id:primary": {"default_mode": "plan"}}
    }


def test_bundle_registry_slug_falls_back_to_map_key() -> None:  # E3
    text = (
        "registries:\n  Team:\n    default_profile_slug: helper\n    profiles:\n      helper: {}\n"
    )
    [reg] = decode_registries(text).registries
    assert reg.slug == "team"
    assert reg.profiles["helper"].slug == "helper"


def test_bundle_errors() -> None:
    with pytest.raises(ValidationError, match="registries must be a mapping"):
        decode_registries("registries: [a]\n")
    with pytest.raises(ValidationError, match='registry "x" must be a mapping'):
        decode_registries("registries:\n  x: 3\n")
    with pytest.raises(ValidationError, match="map key and registry slug must match"):
        decode_registries("registries:\n  a: {slug: b}\n")
    with pytest.raises(ValidationError, match="map key and profile slug must match"):
        decode_registries("registries:\n  a:\n    profiles:\n      agent: {slug: other}\n")
    with pytest.raises(ValidationError) as info:
        decode_registries("registries:\n  a: {bogus: 1}\n  b: {profiles: {p: {runtime: 1}}}\n")
    fields = [e.field for e in info.value.errors]
    assert fields == ["registries[a].bogus", "registries[b].profiles[p].runtime"]
    assert decode_registries("registries:\n").registries == []


def test_single_registry_document() -> None:
    doc = decode_registries(fixture("single-registry.yaml"))
    [reg] = doc.registries
    assert (reg.slug, reg.display_name, reg.default_profile_slug) == (
        "support",
        "Support desk",
        "triage",
    )
    assert reg.profiles["triage"].runtime.middlewares[0].config == {
        "dsn": "file:tickets.db",
        "max_rows": 50,
    }


def test_single_registry_without_slug_takes_the_default_registry() -> None:
    text = "default_profile_slug: agent\nprofiles:\n  agent:\n    display_name: Agent\n"
    assert decode_registries(text).registries[0].slug == "default"
    assert decode_registries(text, default_registry="ops").registries[0].slug == "ops"


@pytest.mark.parametrize("text", ["", "  \n", "# only a comment\n", "{}\n", "~\n", b""])
def test_empty_documents(text: str | bytes) -> None:
    doc = decode_registries(text)
    assert (doc.format, doc.registries) == ("empty", [])


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ValidationError, match="must be a mapping"):
        decode_registries("- a\n- b\n")


def test_syntax_error_names_yaml_and_position() -> None:  # E9
    with pytest.raises(ValidationError) as info:
        decode_registries("registries:\n  : bad")
    message = str(info.value)
    assert "yaml" in message
    assert "line 2" in message and "column" in message
    assert info.value.field == "document"


# --- encoding ---------------------------------------------------------------------------------


def test_canonical_bundle_round_trip_is_byte_identical() -> None:
    first = encode_registries(decode_registries(fixture("canonical-bundle.yaml")).registries)
    second = encode_registries(decode_registries(first).registries)
    assert second == first
    assert first.startswith("registries:\n  default:\n    slug: default\n")
    assert "&" not in first and "*" not in first  # no anchors or aliases


def test_every_format_encodes_to_a_stable_bundle() -> None:
    for name in ("legacy-profiles.yaml", "single-registry.yaml"):
        first = encode_registries(decode_registries(fixture(name)).registries)
        assert decode_registries(first).format == "bundle"
        assert encode_registries(decode_registries(first).registries) == first


def test_encoding_is_sorted_whatever_the_input_order() -> None:
    regs = decode_registries(fixture("canonical-bundle.yaml")).registries
    ext = {"z.last@v1": {"b": 1, "a": {"d": 2, "c": 3}}, "a.first@v1": [{"y": 1, "x": 2}]}
    regs[0].profiles["default"].extensions = ext
    regs[0].profiles["default"].runtime.step_settings_patch = {"z": {"b": 1, "a": 2}, "a": {}}
    text = encode_registries(list(reversed(regs)))
    assert text == encode_registries(regs)
    assert text.index("a.first@v1") < text.index("z.last@v1")
    assert text.index("x: 2") < text.index("y: 1")
    assert text.index("\n              a: 2") < text.index("\n              b: 1")


def test_export_leaves_out_deployment_state() -> None:
    reg = Registry(slug="seeded", read_only=True, managed_by="profiles.yaml")
    assert "read_only" not in encode_registries([reg])
    kept = encode_registries([reg], with_state=True)
    assert "read_only: true" in kept and "managed_by: profiles.yaml" in kept
    [back] = decode_registries(kept).registries
    assert (back.read_only, back.managed_by) == (True, "profiles.yaml")


def test_shared_objects_are_written_in_full_not_as_aliases() -> None:
    shared = {"items": ["a", "b"]}
    profile = Profile(slug="p", extensions={"x.one@v1": shared, "x.two@v1": shared})
    text = encode_registries([one_profile_registry(profile)])
    assert "&id" not in text and "*id" not in text
    [reg] = decode_registries(text).registries
    assert reg.profiles["p"].extensions["x.two@v1"] == shared


def test_unknown_extension_keys_with_nested_values_survive() -> None:  # E4, E5
    extensions = {
        "app.custom@v1": {"items": ["one", 2]},
        "thirdparty.feature@v1": {"enabled": True, "levels": [1, [2, 3], {"deep": None}]},
        "vendor.extra@v2": {"nested": {"list": [], "map": {}, "null": None, "f": 0.25}},
        "vendor.scalar@v1": None,
    }
    profile = Profile(slug="p", extensions=extensions)
    [reg] = roundtrip([one_profile_registry(profile)])
    assert reg.profiles["p"].extensions == extensions


NUMBER_LIKE = [
    "123",
    "-1",
    "1.0",
    "1e3",
    "0x1F",
    "0o17",
    "1_000",
    "12:30:00",
    ".inf",
    "-.nan",
    "true",
    "False",
    "yes",
    "no",
    "on",
    "off",
    "null",
    "~",
    "",
    " ",
    "2024-01-01",
    "2024-01-01T10:00:00Z",
    "<<",
    "=",
    "-",
    "---",
    "...",
    "# not a comment",
    "a: b",
    "- item",
    "@at",
    "`tick",
    "!tag",
    "&anchor",
    "*alias",
    "'quoted'",
    '"double"',
]


def test_number_like_and_special_strings_stay_strings() -> None:
    profile = Profile(
        slug="p",
        display_name="123",
        description="true",
        runtime=RuntimeSpec(
            system_prompt="null",
            tools=NUMBER_LIKE,
            step_settings_patch={"ai-chat": {s or "empty": s for s in NUMBER_LIKE}},
        ),
        metadata=Metadata(tags=["1", "yes", "2024-01-01"]),
        extensions={"x.values@v1": {"list": NUMBER_LIKE, **{f"k{s}": s for s in NUMBER_LIKE}}},
    )
    [reg] = roundtrip([one_profile_registry(profile)])
    assert reg.profiles["p"] == profile


def test_text_round_trips_exactly() -> None:
    texts = [
        "line one\nline two\n",
        "no trailing newline\nsecond",
        "trailing blank lines\n\n\n",
        "\nleading newline",
        "  indented first line\nsecond",
        "tabs\tinside\nand\ttrailing\t",
        "trailing spaces  \nnext  ",
        "crlf\r\nline",
        "unicode: é € 😀 中文 \u00a0nbsp",
        "separators \x85 \u2028 \u2029 inside",
        "quotes ' \" and : # | > characters",
        "very long " + "x" * 500,
        "<script>alert(1)</script>",
    ]
    profiles = {
        f"p{i}": Profile(slug=f"p{i}", description=t, runtime=RuntimeSpec(system_prompt=t))
        for i, t in enumerate(texts)
    }
    reg = Registry(slug="texts", default_profile_slug="p0", profiles=profiles)
    text = encode_registries([reg])
    [back] = decode_registries(text).registries
    assert back.profiles == profiles
    assert "system_prompt: |\n            line one\n            line two\n" in text


def test_random_strings_round_trip() -> None:
    rng = random.Random(20240101)
    alphabet = "ab :#-?[]{},&*!|>'\"%@`\t\n\r\x85\u2028\u00a0é😀\\"
    words = ["yes", "null", "1.5", "2024-01-01", "- ", ": ", " ", "\n"]
    for _ in range(300):

        def word() -> str:
            prefix = rng.choice(words) if rng.random() < 0.3 else ""
            return prefix + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))

        ext = {"x.fuzz@v1": {word(): [word(), {word(): word()}] for _ in range(3)}}
        profile = Profile(slug="p", description=word(), extensions=ext)
        [reg] = roundtrip([one_profile_registry(profile)])
        assert reg.profiles["p"] == profile, repr(profile)


def test_numbers_keep_their_types() -> None:
    values = {"int": 3, "big": 2**62, "neg": -7, "float": 0.2, "whole": 1.0, "exp": 1e300}
    profile = Profile(slug="p", extensions={"x.n@v1": values})
    [reg] = roundtrip([one_profile_registry(profile)])
    back = reg.profiles["p"].extensions["x.n@v1"]
    assert back == values
    assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in values.items()}


def test_encode_registry_writes_a_single_registry_document() -> None:
    reg = decode_registries(fixture("single-registry.yaml")).registries[0]
    text = encode_registry(reg)
    assert text.startswith("slug: support\n")
    doc = decode_registries(text)
    assert doc.format == "registry"
    assert doc.registries == [reg]


def test_encode_rejects_duplicate_registry_slugs() -> None:
    with pytest.raises(ValidationError, match="duplicate registry slug"):
        encode_registries([Registry(slug="a"), Registry(slug="a")])


# --- hostile input ----------------------------------------------------------------------------


BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_python_tags_are_rejected_without_running_anything() -> None:
    for text in (
        "!!python/object/apply:os.system ['echo pwned']\n",
        "registries: !!python/object/new:builtins.dict {}\n",
        "x: !!python/name:os.system\n",
        "x: !custom 1\n",
    ):
        with pytest.raises(ValidationError, match="unsupported YAML tag"):
            decode_registries(text)


def test_billion_laughs_is_rejected_before_expansion() -> None:
    # Expanded, this document has 10^9 nodes; the refusal comes from the node graph check.
    with pytest.raises(ValidationError, match="aliases expand the document"):
        decode_registries(BILLION_LAUGHS)


def test_recursive_alias_is_rejected() -> None:
    for text in ("a: &a [*a]\n", "a: &a {b: *a}\n"):
        with pytest.raises(ValidationError, match="recursive alias"):
            decode_registries(text)


def test_moderate_aliases_and_merge_keys_still_work() -> None:
    text = """
registries:
  default:
    default_profile_slug: a
    profiles:
      a: &base
        runtime:
          system_prompt: shared
          step_settings_patch: {ai-chat: &chat {ai-engine: m}}
      b:
        <<: *base
        display_name: B
        extensions: {x.chat@v1: *chat}
"""
    [reg] = decode_registries(text).registries
    assert reg.profiles["b"].runtime.system_prompt == "shared"
    assert reg.profiles["b"].display_name == "B"
    assert reg.profiles["b"].extensions == {"x.chat@v1": {"ai-engine": "m"}}


def test_oversized_document_is_rejected_before_parsing() -> None:
    text = "a: b\n" * 100
    with pytest.raises(ValidationError, match="limit of 100"):
        decode_registries(text, max_bytes=100)
    with pytest.raises(ValidationError, match="limit of 100"):
        decode_registries(text.encode(), max_bytes=100)
    big = "x: '" + "y" * (16 * 1024 * 1024) + "'\n"
    with pytest.raises(ValidationError, match="more than the limit"):
        decode_registries(big)


@pytest.mark.parametrize("depth", [101, 999, 1001, 5000])
def test_deep_nesting_is_rejected(depth: int) -> None:
    # libyaml (PyYAML >= 6.0.4) refuses flow nesting past 1000 itself, with its own message:
    # the message must be ours on both sides of that limit.
    with pytest.raises(ValidationError, match="nesting is deeper than 100 levels") as info:
        decode_registries("a: " + "[" * depth + "]" * depth + "\n")
    assert info.value.errors[0].field == "document"


def test_deep_nesting_is_rejected_through_aliases() -> None:
    # aliases cannot stack depth past the limit either
    lines = ["l0: &l0 [x]"] + [f"l{i}: &l{i} [[[[[[[[[[*l{i - 1}]]]]]]]]]]" for i in range(1, 12)]
    with pytest.raises(ValidationError, match="nesting is deeper than"):
        safe_load("\n".join(lines))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x: !!binary aGVsbG8=\n", "unsupported YAML tag !!binary"),
        ("x: !!set {a, b}\n", "unsupported YAML tag !!set"),
        ("x: !!omap [{a: 1}]\n", "unsupported YAML tag !!omap"),
        ("x: !!timestamp 2024-01-01\n", "unsupported YAML tag !!timestamp"),
        ("x: .nan\n", "NaN and Infinity"),
        ("x: [-.inf]\n", "NaN and Infinity"),
        ("1: one\n", "keys must be strings"),
        ("x: {true: 1}\n", "keys must be strings"),
        ("? [a]\n: b\n", "unhashable"),
        ("a: 1\n---\nb: 2\n", "single document"),
        ("a: *nowhere\n", "undefined alias"),
    ],
)
def test_values_that_are_not_plain_json_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        decode_registries(text)


def test_invalid_utf8_and_control_characters_are_rejected() -> None:
    with pytest.raises(ValidationError, match="UTF-8"):
        decode_registries(b"a: \xff\xfe\n")
    with pytest.raises(ValidationError, match="yaml"):
        decode_registries("a: b\x00c\n")


def test_dates_stay_strings() -> None:
    assert safe_load("d: 2024-01-01\nt: 2024-01-01 10:00:00\n") == {
        "d": "2024-01-01",
        "t": "2024-01-01 10:00:00",
    }


def test_pure_python_fallbacks_behave_the_same(monkeypatch) -> None:
    """Without libyaml the pure-Python loader and dumper take over with the same checks."""
    from registry.domain import yaml_codec, yaml_safe

    monkeypatch.setattr(yaml_safe, "_LOADER", yaml_safe.SafeLoader)
    monkeypatch.setattr(yaml_codec, "_DUMPER", yaml_codec._PyDumper)
    first = encode_registries(decode_registries(fixture("canonical-bundle.yaml")).registries)
    assert encode_registries(decode_registries(first).registries) == first
    for text, message in [
        (BILLION_LAUGHS, "aliases expand"),
        ("a: &a [*a]\n", "recursive alias"),
        ("!!python/object/apply:os.system ['x']\n", "unsupported YAML tag"),
        ("a: " + "[" * 500 + "]" * 500, "nesting is deeper"),
        ("registries:\n  : bad", "yaml"),
    ]:
        with pytest.raises(ValidationError, match=message):
            decode_registries(text)


def test_a_node_budget_refuses_documents_with_too_many_nodes_while_composing():
    assert safe_load("[1, 2]", max_nodes=3) == [1, 2]  # the list and its two items
    with pytest.raises(ValidationError) as exc:
        safe_load("[1, 2, 3]", max_nodes=3)
    assert exc.value.field == "document"
    assert exc.value.errors[0].message == "document has more than 3 YAML nodes (line 1, column 8)"
    # aliases count as the work they are: one node each, not their expansion
    assert safe_load("a: &x [1]\nb: *x\n", max_nodes=6) == {"a": [1], "b": [1]}
    with pytest.raises(ValidationError, match="more than 5 YAML nodes"):
        safe_load("a: &x [1]\nb: *x\n", max_nodes=5)


def test_the_default_node_budget_stops_a_huge_list_before_building_it():
    text = "[" + "1," * MAX_NODES + "1]"
    with pytest.raises(ValidationError, match=f"more than {MAX_NODES} YAML nodes"):
        decode_registries(text)
