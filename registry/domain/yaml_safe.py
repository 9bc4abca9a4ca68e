"""Hardened YAML loading: untrusted text -> plain JSON-like values, or a ValidationError.

README "Concepts and decisions" ("YAML"). Loading uses PyYAML's safe constructors only, with
dates kept as strings, and checks the composed node graph (tags, nesting depth, alias
expansion, node budget) *before* building Python values, so tags such as `!!python/object`,
alias bombs and recursive aliases are refused without ever being expanded. Also refused: a
document over the size limit or not UTF-8, duplicate keys (merge keys aside), NaN/Infinity,
non-string keys, and text the store cannot hold (NUL, lone surrogates; with `repair` they pass
for the caller to repair).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from .errors import FieldError, ValidationError
from .jsonutil import NotJSONText, parse_json
from .slugs import go_quote
from .text import child_path, refused_fields

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
# Nodes (scalars, lists, maps, aliases) one document may compose, and the least alias
# expansion allowed: about 20,000 typical profiles fit; composing stops at the first node
# beyond it, before any Python value is built, so junk costs at most the budget's work.
MAX_NODES = 500_000

_YAML = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _YAML + name for name in ("str", "int", "float", "bool", "null", "seq", "map", "merge")
)


# --- safe loading ----------------------------------------------------------------------------

# The YAML 1.1 implicit resolvers without timestamps: `2024-01-01` stays a string.
_IMPLICIT_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _YAML + "timestamp"]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}


class _DepthLimit:
    """Composer mixin: a nesting limit, so deep documents fail before Python's recursion does."""

    max_depth = MAX_DEPTH
    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        depth = self._depth + 1
        if depth > self.max_depth:
            mark = self.peek_event().start_mark  # type: ignore[attr-defined]
            raise _LoadError(f"nesting is deeper than {self.max_depth} levels{_at(mark)}")
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
            raise _LoadError(f"document has more than {self.max_nodes} YAML nodes{_at(mark)}")
        return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]


class SafeLoader(_NodeBudget, _DepthLimit, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader without implicit timestamps and with a depth limit."""

    yaml_implicit_resolvers = _IMPLICIT_RESOLVERS


_LOADER: type = SafeLoader

if hasattr(yaml, "CSafeLoader"):

    class _FastLoader(_NodeBudget, _DepthLimit, Composer, yaml.CSafeLoader):
        """libyaml's parser (several times faster) under the Python composer, which carries
        depth limit and node budget; safe constructors and resolvers as in `SafeLoader`."""

        yaml_implicit_resolvers = _IMPLICIT_RESOLVERS

        def __init__(self, stream: str) -> None:
            yaml.CSafeLoader.__init__(self, stream)
            Composer.__init__(self)

    _LOADER = _FastLoader


# libyaml's own nesting limit ("while increasing flow level, exceeded maximum nesting depth").
_LIBYAML_DEPTH_ERROR = "maximum nesting depth"


class _LoadError(Exception):
    """A problem found while loading; becomes a ValidationError on `document`."""


def _at(mark: Any) -> str:
    if mark is None:
        return ""
    return f" (line {mark.line + 1}, column {mark.column + 1})"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


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
        try:
            decoded = _check_size(text, max_bytes)
        except _LoadError as exc:
            raise ValidationError(FieldError(path, str(exc))) from None
        try:
            return parse_json(decoded, field=path, base=path, max_depth=MAX_DEPTH)
        except NotJSONText:
            pass  # YAML flow style, or broken: the YAML parser reports where
    return safe_load(text, max_bytes=max_bytes, path=path, repair=repair)


def safe_load(
    text: str | bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    path: str = "document",
    repair: bool = False,
) -> Any:
    """Parse one YAML document into plain JSON values (dict/list/str/int/float/bool/None).

    Raises `ValidationError` on `path` for: a document over `max_bytes` (checked before
    parsing), invalid UTF-8, YAML syntax errors (message names the line and column), tags other
    than the JSON core ones (`!!python/...`, `!!binary`, `!!set`, `!!timestamp`, custom tags),
    more than `max_nodes` nodes (counted while composing, before values are built), nesting
    deeper than `max_depth`, recursive aliases, aliases that would expand the document
    beyond `max(max_nodes, 2 x its own node count)` (alias bombs), a key given twice in one
    mapping, non-string mapping keys, NaN/Infinity, and strings or keys holding NUL or a lone
    surrogate (`text`; with `repair` those are left for the caller to repair: a store reading
    its own file must not fail on data written before the rule). An empty document gives None.
    """
    try:
        text = _check_size(text, max_bytes)
        loader = _LOADER(text)
        loader.max_depth = max_depth
        loader.max_nodes = max_nodes
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_graph(node, max_depth, max_nodes)
            _check_duplicate_keys(node, path)
            value = loader.construct_document(node)
        finally:
            loader.dispose()
    except _LoadError as exc:
        raise ValidationError(FieldError(path, str(exc))) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if _LIBYAML_DEPTH_ERROR in str(exc.problem):
            # libyaml >= 0.2.5 (PyYAML 6.0.4 wheels) has a depth limit of its own that may fire
            # before ours does: report it the same way, whatever the PyYAML version.
            message = f"nesting is deeper than {max_depth} levels{_at(mark)}"
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
    _check_values(value, path)
    if not repair:
        refused = refused_fields(value, path)
        if refused:
            raise ValidationError([FieldError(where, reason) for where, reason in refused])
    return value


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
                        raise _LoadError(
                            f"aliases expand the document beyond {budget} nodes"
                            f"{_at(node.start_mark)}"
                        )
                active.discard(key)
            known = memo[key] = (size, height)
        if depth + known[1] > max_depth:
            raise _LoadError(f"nesting is deeper than {max_depth} levels{_at(node.start_mark)}")
        return known

    visit(root, 1)


_MERGE_TAG = _YAML + "merge"


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
