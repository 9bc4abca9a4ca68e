"""The event lane of the YAML loader (values built from libyaml's events) against the composed
lane (PyYAML's composer and constructors over the same parser): same values, same errors."""

from __future__ import annotations

import datetime
import math
import random

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.composer import Composer
from yaml.nodes import ScalarNode

from registry.domain import yaml_safe
from registry.domain.errors import ValidationError
from registry.domain.yaml_codec import decode_registries
from registry.domain.yaml_safe import node_budget, safe_load
from registry.domain.yaml_scalars import construct, resolve_plain

pytestmark = pytest.mark.skipif(yaml_safe._CParser is None, reason="PyYAML without libyaml")


class ComposedC(yaml_safe._NodeBudget, yaml_safe._DepthLimit, Composer, yaml.CSafeLoader):
    """The composed lane over libyaml's parser (what `safe_load` ran before the event lane):
    the same syntax errors and marks as the event lane, so whole outcomes compare."""

    yaml_implicit_resolvers = yaml_safe._IMPLICIT_RESOLVERS
    yaml_constructors = yaml_safe.SafeLoader.yaml_constructors
    flatten_mapping = yaml_safe.SafeLoader.flatten_mapping

    def __init__(self, stream: str) -> None:
        yaml.CSafeLoader.__init__(self, stream)
        Composer.__init__(self)


def outcome(monkeypatch, text: str, loader: type, **kwargs) -> tuple[str, object]:
    """("ok", repr of the value) or ("error", [(field, message), ...]) of `safe_load`."""
    with monkeypatch.context() as patch:
        patch.setattr(yaml_safe, "_LOADER", loader)
        try:
            return "ok", repr(safe_load(text, **kwargs))
        except ValidationError as exc:
            return "error", [(e.field, e.message) for e in exc.errors]


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True)
)
ALIAS_DEPTH = "l0: &l0 [x]\n" + "\n".join(
    f"l{i}: &l{i} [[[[[[[[[[*l{i - 1}]]]]]]]]]]" for i in range(1, 12)
)

# Documents with at most one problem each (with several, the first in document order is
# reported, where the composed lane walked its graph last child first).
DOCUMENTS = [
    "a: 1",
    "a: [1, 2, {b: c}]",
    "- 0x1F\n- 017\n- 0o17\n- 0b101\n- 1:30\n- 1_000\n- 1.5\n- 1:30.5\n- .5\n- 1e3\n- 1.0e+3\n"
    "- yes\n- No\n- on\n- OFF\n- ~\n- null\n- ''\n-\n- 2024-01-01\n- 2024-01-01 10:00:00\n",
    "a: |\n  text\n  more\nb: >\n  folded\nc: 'it''s'\nd: \"tab\\there\"\n",
    "",
    "---\n",
    "--- 1\n...\n",
    "# only a comment\n",
    # tags
    "a: !!int '12'\nb: !!float 1\nc: !!bool yes\nd: !!null x\ne: !!str 12\nf: ! 12\ng: ! [1]\n",
    "a: !!int abc",
    "a: !!int 0x_",
    "a: 0b_",
    "a: !!float abc",
    "a: !!bool maybe",
    "a: !!int ''",
    "a: !!str [1]",
    "a: !!seq x",
    "a: !!map [1]",
    "a: !!seq {a: 1}",
    "a: !!null [1]",
    "a: !!merge x",
    "a: <<",
    "- <<",
    "a: =",
    "a: !x 1",
    "a: !!binary aGk=",
    "a: !!set {a, b}",
    "a: !!timestamp 2024-01-01",
    "a: !!python/object/apply:os.system ['x']",
    "x: " + "9" * 5000,
    # numbers and keys JSON cannot hold
    "a: .nan",
    "a: [1, -.Inf]",
    "a: [{b: {c: {d: .inf}}}]",
    "a: {<<: {b: .nan}}",
    "1: a",
    "a: {true: 1}",
    "~: a",
    "a: {.nan: 1}",
    "? [a]\n: b",
    "? {a: 1}\n: b",
    "{a: 1}: b",
    "1: a\n0x1: b",
    # duplicate keys
    "a: 1\na: 2",
    "a: 1\n'a': 2",
    "a: {b: 1, b: 2}\nc: {b: 1, b: 2, b: 3}",
    "l:\n- x: 1\n  x: 2\n",
    "1: a\n1: b",
    "? |\n  k\n: 1\n'k\n\n': 2\n",
    "a.b: 1\na.b: 2\n",
    # merge keys
    "b: &b {x: 1}\nc:\n  <<: [*b, {x: 2, y: 3}]\n  y: 4\n",
    "a: &a {xx: 1, y: 2}\nb:\n  <<: *a\n  <<: {z: 1, xx: 5}\n",
    "a: {<<: [{name: a, x: 1}, {name: b, x: 2}]}",
    "b: &b {x: 1}\nc: {<<: *b, x: 2}",
    "c: {'<<': {a: 1}}",
    "!!merge x: {a: 1}",
    "<<: 1",
    "<<: [1]",
    "<<: [{a: 1}, [2]]",
    "b: &b [1]\nc: {<<: *b}",
    "b: &b [{a: 1}, {a: 2, c: 3}]\nc: {<<: *b}",
    "a: &m {<<: {x: 1}, y: 2}\nb: {<<: *m, z: 3}",
    "{<<: !!map []}",
    "{<<: !!seq {}}",
    "{<<: [!!map []]}",
    # anchors and aliases
    "a: &x 1\nb: *x",
    "a: &x [1]\nb: *x",
    "a: &a !!str 12\nb: *a",
    "- &a x\n- *a\n- {*a : 1}",
    "a: &k b\n*k : c",
    "a: &k b\n*k : c\nb: d",
    "a: &a [*a]",
    "a: &a {b: *a}",
    "&r [1, *r]",
    "a: *nowhere",
    "*a",
    "a: &x 1\nb: &x 2",
    "a: &x [1]\nb: &x [2]",
    BOMB,
    BOMB + "h: !!bad x\n",
    BOMB + "h: [\n",
    BOMB + "h: *nowhere\n",
    ALIAS_DEPTH,
    # the stream and the text
    "a: 1\n---\nb: 2",
    "a: 1\n---\n",
    'a: "x\\0"',
    '"k\\0": 1',
    'a: "\\ud800"',
    'a: ["ok", "b\\x00"]\n"c\\u0000d": [1]',
    "a: b\x00c",
    "a: [",
    "registries:\n  : bad",
    "a: - b",
    "a:\n\t- b",
    "a: " + "[" * 101 + "]" * 101,
    "a: " + "[" * 1001 + "]" * 1001,
    "a: !!python/name:os.system\nb: [",
    "a: !!binary x\nb: *nowhere",
    "a: !unknown [1, 2\n",
]
# Syntax errors that PyYAML's parser words apart from libyaml's (libyaml also refuses a
# surrogate escape as syntax and stops flow nesting at 1,000 levels while scanning ahead).
PARSER_WORDING = {
    BOMB + "h: [\n",
    'a: "\\ud800"',
    "a: b\x00c",
    "a: [",
    "registries:\n  : bad",
    "a: - b",
    "a:\n\t- b",
    "a: " + "[" * 1001 + "]" * 1001,
    "a: !!python/name:os.system\nb: [",
    "a: !unknown [1, 2\n",
}
LIMITS = [{}, {"max_nodes": 3}, {"max_nodes": 5}, {"max_depth": 3}, {"repair": True}]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_event_lane_gives_what_the_composed_lane_gives(monkeypatch, text: str) -> None:
    for limits in LIMITS:
        composed = outcome(monkeypatch, text, ComposedC, **limits)
        events = outcome(monkeypatch, text, yaml_safe._CParser, **limits)
        assert events == composed, limits


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!int abc\n", 'invalid yaml (line 1, column 4): "abc" is not a valid !!int'),
        ("a: !!float x\n", 'invalid yaml (line 1, column 4): "x" is not a valid !!float'),
        ("a: !!bool maybe\n", 'invalid yaml (line 1, column 4): "maybe" is not a valid !!bool'),
        ("a: 0x_\n", 'invalid yaml (line 1, column 4): "0x_" is not a valid !!int'),
        ("a: !!int " + "9" * 5000, "invalid yaml: a number is too large"),
    ],
)
def test_a_value_its_tag_cannot_hold_is_a_validation_error_on_both_lanes(
    monkeypatch, text: str, message: str
) -> None:
    for loader in (yaml_safe._CParser, yaml_safe.SafeLoader):
        assert outcome(monkeypatch, text, loader) == ("error", [("document", message)]), loader


def test_the_pure_python_lane_gives_the_same_values_and_checks(monkeypatch) -> None:
    """Without libyaml: PyYAML's own parser, whose syntax errors are worded differently."""
    for text in DOCUMENTS:
        events = outcome(monkeypatch, text, yaml_safe._CParser)
        if text in PARSER_WORDING:
            assert events[0] == "error"
            continue
        assert outcome(monkeypatch, text, yaml_safe.SafeLoader) == events, text


def test_aliases_give_the_anchored_object_itself() -> None:
    value = safe_load("a: &x {k: [1]}\nb: *x\nc: [*x]\n")
    assert value["b"] is value["a"] and value["c"][0] is value["a"]


def test_merge_keys_first_map_wins_and_explicit_keys_override() -> None:
    text = (
        "one: &one {name: first, only_one: 1}\n"
        "two: &two {name: second, only_two: 2}\n"
        "both: {<<: [*one, *two], extra: 3}\n"
        "twice:\n  <<: *one\n  <<: *two\n"
        "mine: {<<: [*one, *two], name: mine}\n"
    )
    value = safe_load(text)
    assert value["both"] == {"name": "first", "only_one": 1, "only_two": 2, "extra": 3}
    assert value["twice"] == {"name": "first", "only_one": 1, "only_two": 2}
    assert value["mine"]["name"] == "mine"
    assert value["one"] == {"name": "first", "only_one": 1}  # sources stay as they were


def test_merge_errors_name_the_node_that_cannot_merge() -> None:
    with pytest.raises(ValidationError) as info:
        safe_load("m:\n  <<: [{a: 1}, x]\n")
    assert info.value.errors[0].message == (
        "invalid yaml (line 2, column 16): while constructing a mapping,"
        " expected a mapping for merging, but found scalar"
    )


def test_streamed_checks_keep_their_positions() -> None:
    cases = {
        "[1, 2, 3]\n": ("document has more than 3 YAML nodes (line 1, column 8)", 3, 100),
        "a: [[[1]]]\n": ("nesting is deeper than 3 levels (line 1, column 6)", 100, 3),
        "x: &x [[1]]\na: [*x]\n": ("nesting is deeper than 4 levels (line 1, column 4)", 100, 4),
        "a: &a [b, *a]\n": ("recursive alias (line 1, column 4)", 100, 100),
        "a: !!python/tuple [1]\n": ("unsupported YAML tag !!python/tuple (line 1, column 4)", 9, 9),
    }
    for text, (message, max_nodes, max_depth) in cases.items():
        with pytest.raises(ValidationError) as info:
            safe_load(text, max_nodes=max_nodes, max_depth=max_depth)
        assert [(e.field, e.message) for e in info.value.errors] == [("document", message)]


def test_the_alias_expansion_budget_is_twice_the_distinct_nodes_or_the_node_budget() -> None:
    # 13 nodes (4 of them aliases), 9 distinct; expanded, `b` has 21 nodes and the whole 29
    text = "a: &a [1, 2, 3, 4]\nb: [*a, *a, *a, *a]\n"
    assert len(safe_load(text, max_nodes=29)["b"]) == 4
    with pytest.raises(ValidationError) as info:
        safe_load(text, max_nodes=28)
    assert info.value.errors[0].message == (
        "aliases expand the document beyond 28 nodes (line 1, column 1)"
    )
    with pytest.raises(ValidationError) as info:
        safe_load(text, max_nodes=13)  # 2 x 9 distinct nodes
    assert info.value.errors[0].message == (
        "aliases expand the document beyond 18 nodes (line 2, column 4)"
    )


def test_the_default_node_budget_scales_with_the_size_limit() -> None:
    assert node_budget(16 * 1024 * 1024) == yaml_safe.MAX_NODES == 1_048_576
    assert node_budget(64 * 1024 * 1024) == 4_194_304
    assert node_budget(1024) == 500_000
    text = "[" + "1," * 600_000 + "1]"  # 600,002 nodes in 1.2 MB
    with pytest.raises(ValidationError, match="more than 524288 YAML nodes"):
        decode_registries(text, max_bytes=8 * 1024 * 1024)
    with pytest.raises(ValidationError, match="must be a mapping"):  # read, then refused
        decode_registries(text, max_bytes=16 * 1024 * 1024)


# --- plain scalars: resolution and construction as PyYAML's SafeLoader -------------------------

TRICKY_SCALARS = [
    *[
        "0",
        "1",
        "-1",
        "+1",
        "00",
        "07",
        "08",
        "09",
        "010",
        "0o10",
        "0x",
        "0x1F",
        "0X1F",
        "0xg",
        "0b",
        "0b1",
        "0b2",
        "-0b11",
        "+0x_1",
        "1_0",
        "_1",
        "1_",
    ],
    *["1:30", "1:60", "-1:30:05", "1:3", "1:30.5", "190:20:30.15", "0:0", "1:x"],
    *[
        "1.5",
        "1.",
        ".5",
        "-.5",
        "+.5",
        "1.0e+3",
        "1.0e3",
        "1e3",
        "1.0E-3",
        "6.8523015e+5",
        "685.230_15e+03",
        "._",
        "1._",
        "1.5.5",
    ],
    *[".inf", "-.inf", "+.Inf", ".INF", ".iNf", ".nan", ".NaN", ".NAN", "nan", "inf", "-inf"],
    *[
        "yes",
        "Yes",
        "YES",
        "yEs",
        "no",
        "No",
        "NO",
        "y",
        "n",
        "true",
        "True",
        "TRUE",
        "tRue",
        "false",
        "off",
        "Off",
        "OFF",
        "on",
        "On",
        "ON",
    ],
    *["~", "null", "Null", "NULL", "nULL", "none", "None"],
    "",
    *["2024-01-01", "2024-1-1", "2001-12-14t21:59:43.10-05:00", "12:30:45", "<"],
    *[
        "abc",
        "-a",
        "a-b",
        "1a",
        "a1",
        "0_0",
        "--1",
        "++1",
        "+-1",
        "-0",
        "+0",
        "-0.0",
        "0.0",
        "1e",
        "1e+",
        "0x1F_",
        "0b1_0",
    ],
]


def pyyaml_value(text: str) -> object:
    """The value PyYAML's stock SafeLoader gives the plain scalar `text`, dates as text."""
    value = yaml.load(f"- {text}\n" if text else "-\n", Loader=yaml.SafeLoader)[0]
    return text if isinstance(value, (datetime.date, datetime.datetime)) else value


def ours(text: str) -> object:
    return construct(resolve_plain(text), text)


def one_plain_scalar(text: str) -> bool:
    """`- text` is a list of one plain scalar `text` (not `- -`, a list in a list)."""
    node = yaml.compose(f"- {text}\n", Loader=yaml.SafeLoader)
    item = node.value[0] if node is not None and len(node.value) == 1 else None
    return isinstance(item, ScalarNode) and item.value == text and item.style is None


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("text", TRICKY_SCALARS)
def test_plain_scalars_read_as_pyyaml_reads_them(text: str) -> None:
    expected = pyyaml_value(text)
    assert same(ours(text), expected), (ours(text), expected)
    try:  # and through the whole loader, where JSON can hold the value
        loaded = safe_load(f"- {text}\n" if text else "-\n")[0]
    except ValidationError as exc:
        assert "NaN" in str(exc) or "!!value" in str(exc) or "merge" in str(exc), exc
    else:
        assert same(loaded, expected), (loaded, expected)


def test_quoted_scalars_stay_strings() -> None:
    assert safe_load("- '1'\n- \"yes\"\n- '~'\n- \".nan\"\n- '<<'\n") == [
        "1",
        "yes",
        "~",
        ".nan",
        "<<",
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789_:.+-eExXbBoOinfINFaNtrueyslo~", min_size=1, max_size=12))
def test_plain_scalar_resolution_matches_pyyaml_on_generated_text(text: str) -> None:
    try:
        if not one_plain_scalar(text):
            return  # `- -` is a list in a list
    except yaml.YAMLError:
        return  # not a plain scalar in a block list (`- :`)
    expected = pyyaml_value(text)
    assert same(ours(text), expected), (ours(text), expected)


# --- generated documents: the lanes agree on what they accept, and on its value ---------------

ATOMS = ["a", "'a'", "1", "0x1", ".nan", "~", "yes", "<<", "!!str 1", "!!int x", "!!bool no"]
ATOMS += ['"q\\0"', "=", "!x y", "2024-01-01", "1:30", "''"]
KEYS = ["a", "b", "c", "'a'", "1", "<<", "<<"]


def generated_document(rnd: random.Random) -> str:
    """A flow document of maps, lists, tags, anchors, aliases and merge keys."""
    anchors: list[str] = []

    def node(depth: int) -> str:
        roll = rnd.random()
        if anchors and roll < 0.15:
            return "*" + rnd.choice(anchors)
        anchor = ""
        if rnd.random() < 0.2:
            anchors.append(f"n{len(anchors)}{rnd.randint(0, 1)}")  # some names repeat
            anchor = f"&{anchors[-1]} "
        if depth > 3 or roll < 0.45:
            return anchor + rnd.choice(ATOMS)
        tag = rnd.choice(["", "", "", "!!map ", "!!seq ", "!!str ", "! "])
        if roll < 0.7:
            items = [node(depth + 1) for _ in range(rnd.randint(0, 3))]
            return f"{anchor}{tag}[{', '.join(items)}]"
        pairs = [
            f"{rnd.choice(KEYS) if rnd.random() < 0.85 else node(depth + 1)}: {node(depth + 1)}"
            for _ in range(rnd.randint(0, 3))
        ]
        return f"{anchor}{tag}{{{', '.join(pairs)}}}"

    return node(0)


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_generated_documents_are_accepted_alike_and_read_alike(seed: int) -> None:
    text = generated_document(random.Random(seed))
    with pytest.MonkeyPatch.context() as monkeypatch:
        for limits in ({}, {"max_nodes": 8}, {"max_depth": 3}, {"repair": True}):
            composed = outcome(monkeypatch, text, ComposedC, **limits)
            events = outcome(monkeypatch, text, yaml_safe._CParser, **limits)
            # with several problems the lanes may name different ones first
            assert events[0] == composed[0], (text, limits, composed, events)
            if events[0] == "ok":
                assert events == composed, (text, limits)
