"""Hardened YAML loading: untrusted text -> plain JSON-like values, or a ValidationError.

README "Concepts and decisions" ("YAML"). Loading uses PyYAML's safe scalar rules only, with
dates kept as strings, and checks tags, nesting depth, alias expansion and a node budget
*before or while* building values, so tags such as `!!python/object`, alias bombs and
recursive aliases are refused without ever being expanded. Also refused: a document over the
size limit or not UTF-8, duplicate keys (merge keys aside), NaN/Infinity, non-string keys,
values a tag cannot hold (`!!int abc`), and text the store cannot hold (NUL, lone
surrogates; with `repair` they pass for the caller to repair).

With libyaml, values are built straight from its parser's events (`yaml_events.build`).
Measured on a 10,000-profile bundle (8.6 MB, `bench.bulk_data.write_bundle`) in one process,
best of 3: 0.83 s against 8.85 s for `yaml.load(text, Loader=yaml.CSafeLoader)` (0.09x).
Without libyaml, PyYAML's pure-Python parser, composer and constructors run, and the
composed node graph is checked before values are built (`_load_composed`): the same checks
and messages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import yaml_events
from .errors import FieldError, ValidationError
from .jsonutil import NotJSONText, parse_json
from .slugs import go_quote
from .text import child_path, refused_fields
from .yaml_events import LoadError as _LoadError
from .yaml_events import at as _at
from .yaml_events import budget_error, depth_error, expansion_error
from .yaml_events import short_tag as _short_tag
from .yaml_scalars import ALLOWED_TAGS as _ALLOWED_TAGS
from .yaml_scalars import IMPLICIT_RESOLVERS as _IMPLICIT_RESOLVERS
from .yaml_scalars import YAML_TAG as _YAML
from .yaml_scalars import ScalarError, construct

_MERGE_TAG = _YAML + "merge"

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
# Nodes (scalars, lists, maps, aliases) one document may hold, and the least alias expansion
# allowed: one node per 16 bytes of the size limit (a 10,000-profile bundle is 8.6 MB and
# 580,000 nodes), never below 500,000. Counting stops at the first node beyond it, before the
# document is built, so junk costs at most the budget's work.
BYTES_PER_NODE = 16
MIN_NODES = 500_000


def node_budget(max_bytes: int) -> int:
    """The default node budget of a document of at most `max_bytes` bytes."""
    return max(MIN_NODES, max_bytes // BYTES_PER_NODE)


MAX_NODES = node_budget(MAX_BYTES)  # 1,048,576: the budget at the default size limit


# --- safe loading ----------------------------------------------------------------------------


class _DepthLimit:
    """Composer mixin: a nesting limit, so deep documents fail before Python's recursion does."""

    max_depth = MAX_DEPTH
    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        depth = self._depth + 1
        if depth > self.max_depth:
            mark = self.peek_event().start_mark  # type: ignore[attr-defined]
            raise depth_error(self.max_depth, mark)
        self._depth = depth
        try:
            return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]
        finally:
            self._depth = depth - 1


class _NodeBudget:
    """Composer mixin: a node budget, so a document of millions of tiny nodes (a 2 MB list)
    is refused after `max_nodes` nodes instead of being built, then validated item by item."""

    max_nodes = MAX_NODES
    _nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._nodes += 1
        if self._nodes > self.max_nodes:
            mark = self.peek_event().start_mark  # type: ignore[attr-defined]
            raise budget_error(self.max_nodes, mark)
        return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]


def _strict_scalar(loader: yaml.SafeLoader, node: Node) -> Any:
    """The constructor of `!!int`, `!!float` and `!!bool`: a value its tag cannot hold
    (`!!int abc`, `!!bool maybe`) is a YAML error with its position, not a bare ValueError or
    KeyError (the same rule and words as `yaml_events`)."""
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    try:
        return construct(node.tag, value)
    except ScalarError as exc:
        raise ConstructorError(None, None, str(exc), node.start_mark) from None


class SafeLoader(_NodeBudget, _DepthLimit, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader without implicit timestamps and with a depth limit."""

    yaml_implicit_resolvers = _IMPLICIT_RESOLVERS

    def flatten_mapping(self, node: MappingNode) -> None:
        """Merge keys as `yaml_events` reads them: of the maps merged, the first that has a
        key gives it, keys compared by tag and text (PyYAML 6.0.4 compares the identity of
        the key strings, so its answer depends on string interning)."""
        merged: list[tuple[Node, Node]] = []
        seen: set[Any] = set()
        index = 0
        while index < len(node.value):
            key_node, value_node = node.value[index]
            if key_node.tag != _MERGE_TAG:
                index += 1
                continue
            del node.value[index]
            # built first, as every other node is: a wrong tag on it (`<<: !!map []`) is refused
            self.construct_object(value_node, deep=True)
            if isinstance(value_node, MappingNode):
                sources = [value_node]
            elif isinstance(value_node, SequenceNode):
                sources = value_node.value
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"expected a mapping for merging, but found {source.id}",
                            source.start_mark,
                        )
            else:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "expected a mapping or list of mappings for merging, but found"
                    f" {value_node.id}",
                    value_node.start_mark,
                )
            for source in sources:
                self.flatten_mapping(source)
                for pair in source.value:
                    ident = (pair[0].tag, pair[0].value) if pair[0].id == "scalar" else pair[0]
                    if ident not in seen:
                        seen.add(ident)
                        merged.append(pair)
        if merged:
            node.value = merged + node.value


for _tag in ("int", "float", "bool"):  # on SafeLoader's own copy of the table
    SafeLoader.add_constructor(_YAML + _tag, _strict_scalar)

# libyaml's parser (values built from its events, see `yaml_events`), or without libyaml the
# loader that composes a node graph first.
_CParser: type | None = None
if yaml.__with_libyaml__:
    from yaml import cyaml

    _CParser = cyaml.CParser  # type: ignore[attr-defined]
_LOADER: type = _CParser or SafeLoader


# libyaml's own nesting limit ("while increasing flow level, exceeded maximum nesting depth").
_LIBYAML_DEPTH_ERROR = "maximum nesting depth"


def load_document(
    text: str | bytes,
    *,
    max_bytes: int = MAX_BYTES,
    path: str = "document",
    repair: bool = False,
) -> Any:
    """A YAML document, or the same shapes as JSON (a subset of YAML 1.2) parsed by the
    standard library's C parser: about a hundred times faster for large bundles.

    A text whose first non-blank character is `{` is read as JSON, with the same rules as
    YAML here (size limit, UTF-8, duplicate keys, NaN/Infinity, refused characters, nesting);
    if it is not JSON at all (YAML flow style such as `{a: 1}`), it is read as YAML. A store
    reading its own file (`repair`) always goes through YAML."""
    head = text.lstrip()[:1]
    if not repair and head in ("{", b"{"):
        decoded = document_text(text, max_bytes=max_bytes, path=path)
        try:
            return parse_json(decoded, field=path, base=path, max_depth=MAX_DEPTH)
        except NotJSONText:
            pass  # YAML flow style, or broken: the YAML parser reports where
    return safe_load(text, max_bytes=max_bytes, path=path, repair=repair)


def document_text(text: str | bytes, *, max_bytes: int, path: str = "document") -> str:
    """`text` as a string if it is at most `max_bytes` of UTF-8, else a `ValidationError`
    on `path` saying which."""
    try:
        return _check_size(text, max_bytes)
    except _LoadError as exc:
        raise ValidationError(FieldError(path, str(exc))) from None


def safe_load(
    text: str | bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int | None = None,
    path: str = "document",
    repair: bool = False,
) -> Any:
    """Parse one YAML document into plain JSON values (dict/list/str/int/float/bool/None).

    Raises `ValidationError` on `path` for: a document over `max_bytes` (checked before
    parsing), invalid UTF-8, YAML syntax errors (message names the line and column), tags other
    than the JSON core ones (`!!python/...`, `!!binary`, `!!set`, `!!timestamp`, custom tags),
    values a tag cannot hold (`!!int abc`), more than `max_nodes` nodes (default
    `node_budget(max_bytes)`; counted while parsing, before the document is built), nesting
    deeper than `max_depth`, recursive aliases, aliases that would expand the document
    beyond `max(max_nodes, 2 x its own node count)` (alias bombs), a key given twice in one
    mapping, non-string mapping keys, NaN/Infinity, and strings or keys holding NUL or a lone
    surrogate (`text`; with `repair` those are left for the caller to repair: a store reading
    its own file must not fail on data written before the rule). An empty document gives None.
    """
    if max_nodes is None:
        max_nodes = node_budget(max_bytes)
    try:
        text = _check_size(text, max_bytes)
        if _LOADER is _CParser:
            return yaml_events.build(_CParser(text), text, max_depth, max_nodes, path, repair)
        value = _load_composed(_LOADER, text, max_depth, max_nodes, path)
    except _LoadError as exc:
        raise ValidationError(FieldError(path, str(exc))) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if _LIBYAML_DEPTH_ERROR in str(exc.problem):
            # libyaml >= 0.2.5 (PyYAML 6.0.4 wheels) has a depth limit of its own that may fire
            # before ours does: report it the same way, whatever the PyYAML version.
            message = str(depth_error(max_depth, mark))
            raise ValidationError(FieldError(path, message)) from None
        problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "malformed document"
        raise ValidationError(FieldError(path, f"invalid yaml{_at(mark)}: {problem}")) from None
    except yaml.YAMLError as exc:  # reader errors (control characters) and the like
        raise ValidationError(FieldError(path, f"invalid yaml: {exc}")) from None
    except RecursionError:  # pragma: no cover - the depth limit fires first
        raise ValidationError(FieldError(path, "document is nested too deeply")) from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):  # int() past the digit limit
            raise
        raise ValidationError(FieldError(path, "invalid yaml: a number is too large")) from None
    if value is None:
        return None
    _check_values(value, path)
    if not repair:
        refused = refused_fields(value, path)
        if refused:
            raise ValidationError([FieldError(where, reason) for where, reason in refused])
    return value


def _load_composed(loader_class: type, text: str, max_depth: int, max_nodes: int, path: str) -> Any:
    """The path without libyaml's events: compose the node graph with `loader_class`
    (budget and depth counted while composing), check it, then construct."""
    loader = loader_class(text)
    loader.max_depth = max_depth
    loader.max_nodes = max_nodes
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(node, max_depth, max_nodes)
        _check_duplicate_keys(node, path)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_size(text: str | bytes, max_bytes: int) -> str:
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise _LoadError(f"document is {len(text)} bytes, more than the limit of {max_bytes}")
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _LoadError(f"document is not valid UTF-8 (byte {exc.start})") from None
    if len(text) > max_bytes:  # characters <= bytes: a cheap early refusal
        raise _LoadError(f"document is more than the limit of {max_bytes} bytes")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise _LoadError("document is not valid UTF-8 (lone surrogate)") from None
    if size > max_bytes:
        raise _LoadError(f"document is {size} bytes, more than the limit of {max_bytes}")
    return text


def _check_graph(root: Node, max_depth: int, max_nodes: int) -> None:
    """Check tags, expanded depth and expanded size of the node graph without expanding it.

    Aliases make the composed graph a DAG (or a cycle, for recursive aliases); sizes and
    heights are memoized per node, so the check is linear in the document, not in its
    expansion.
    """
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, height)
    active: set[int] = set()
    distinct = 0
    budget = max_nodes

    def visit(node: Node, depth: int) -> tuple[int, int]:
        nonlocal distinct, budget
        key = id(node)
        if key in active:
            raise _LoadError(f"recursive alias{_at(node.start_mark)}")
        known = memo.get(key)
        if known is None:
            if node.tag not in _ALLOWED_TAGS:
                raise _LoadError(
                    f"unsupported YAML tag {_short_tag(node.tag)}{_at(node.start_mark)}"
                )
            distinct += 1
            budget = max(max_nodes, 2 * distinct)
            size, height = 1, 0
            if isinstance(node, (SequenceNode, MappingNode)):
                active.add(key)
                if isinstance(node, SequenceNode):
                    children: Iterable[Node] = node.value
                else:
                    children = (child for pair in node.value for child in pair)
                for child in children:
                    child_size, child_height = visit(child, depth + 1)
                    size += child_size
                    height = max(height, child_height + 1)
                    if size > budget:
                        raise expansion_error(budget, node.start_mark)
                active.discard(key)
            known = memo[key] = (size, height)
        if depth + known[1] > max_depth:
            raise depth_error(max_depth, node.start_mark)
        return known

    visit(root, 1)


def _check_duplicate_keys(root: Node, path: str) -> None:
    """Refuse a key given twice in one mapping (PyYAML keeps the last one silently).

    Checked on the composed nodes, before construction, where the mapping's own keys are
    still apart from what merge keys (`<<: *base`) bring in: an explicit key overriding a
    merged one is ordinary YAML, two explicit equal keys are a mistake. Scalar keys compare
    by resolved tag and text (`a` and `"a"` are the same string key).
    """
    errors: list[FieldError] = []
    stack: list[tuple[Node, str]] = [(root, path)]
    seen: set[int] = set()
    while stack:
        node, where = stack.pop()
        if id(node) in seen:  # an alias: its anchor's node was checked already
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend((child, child_path(where, i)) for i, child in enumerate(node.value))
            continue
        if not isinstance(node, MappingNode):
            continue
        first: dict[tuple[str, str], Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):  # complex keys fail later: not strings
                continue
            sub = child_path(where, key_node.value)
            if key_node.tag != _MERGE_TAG:
                ident = (key_node.tag, key_node.value)
                if ident in first:
                    errors.append(
                        FieldError(
                            sub,
                            f"duplicate key {go_quote(key_node.value)}{_at(key_node.start_mark)}"
                            f", first given{_at(first[ident])}",
                        )
                    )
                else:
                    first[ident] = key_node.start_mark
            stack.append((value_node, sub))
    if errors:
        raise ValidationError(sorted(errors))


def _check_values(value: Any, path: str) -> None:
    """Reject what the safe constructors can still produce but JSON cannot hold."""
    stack: list[tuple[Any, str]] = [(value, path)]
    seen: set[int] = set()
    while stack:
        item, where = stack.pop()
        if isinstance(item, float) and (math.isnan(item) or math.isinf(item)):
            raise ValidationError(FieldError(where, "NaN and Infinity are not allowed"))
        if isinstance(item, (dict, list)):
            if id(item) in seen:  # shared by an alias: checked already
                continue
            seen.add(id(item))
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValidationError(
                        FieldError(where, f"mapping keys must be strings, not {key!r}")
                    )
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
