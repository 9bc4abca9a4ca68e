"""Plain values built straight from libyaml's parser events, with every check of the loader.

`build` is the fast lane of `yaml_safe.safe_load`: one loop over the events of libyaml's C
parser and an explicit stack of open lists and maps (no recursion, no node objects, no
PyYAML composer, resolver or constructor), about ten times faster than `yaml.CSafeLoader`.

It keeps the stages of the composed path (`yaml_safe._load_composed`), so a document with
several problems reports the same kind first:

1. while parsing (raised at once): syntax, the node budget, the nesting limit, undefined or
   twice-defined anchors, a second document;
2. the node graph (the first in document order, once the stream is read): tags outside the
   allow-list, recursive aliases, alias expansion beyond the budget, aliased subtrees that
   nest too deeply where they are used;
3. duplicate keys (all of them); 4. values a tag cannot hold, unhashable keys, bad merges;
5. NaN/Infinity and non-string keys; 6. NUL and lone surrogates (`text.refused_fields`).

Aliases give the anchored Python object itself, as PyYAML does. Merge keys (`<<`) bring in a
map or a list of maps; explicit keys override merged ones, and of the maps merged the first
that has a key gives it (YAML's merge rule, also for several `<<` keys in one map; PyYAML
6.0.4 tells keys apart by string identity there, so one-letter keys follow this rule and
longer ones the opposite).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from .errors import FieldError, ValidationError
from .slugs import go_quote
from .text import child_path, has_refused, refused_fields
from .yaml_scalars import (
    CANONICAL_TAGS,
    FLOAT,
    MAP,
    MERGE,
    NULL,
    PLAIN_RESOLVERS,
    SEQ,
    STR,
    YAML_TAG,
    ScalarError,
    construct,
    resolve_plain,
)


class LoadError(Exception):
    """A problem found while loading; becomes a ValidationError on the document's path."""


def at(mark: Any) -> str:
    """` (line L, column C)` of a yaml Mark (0-based inside), or nothing."""
    if mark is None:
        return ""
    return f" (line {mark.line + 1}, column {mark.column + 1})"


def short_tag(tag: str) -> str:
    return "!!" + tag[len(YAML_TAG) :] if tag.startswith(YAML_TAG) else tag


def budget_error(max_nodes: int, mark: Any) -> LoadError:
    return LoadError(f"document has more than {max_nodes} YAML nodes{at(mark)}")


def depth_error(max_depth: int, mark: Any) -> LoadError:
    return LoadError(f"nesting is deeper than {max_depth} levels{at(mark)}")


def expansion_error(budget: int, mark: Any) -> LoadError:
    return LoadError(f"aliases expand the document beyond {budget} nodes{at(mark)}")


_NO_KEY = object()  # a mapping waiting for its next key
_MERGE_KEY = object()  # the key was `<<`: the value is merged in
_BAD_KEY = object()  # an unhashable key (refused): its value is dropped
_KIND: dict[type, str] = {
    dict: "mapping",
    list: "sequence",
}  # PyYAML's node ids, anything else "scalar"
_INFINITIES = (float("inf"), float("-inf"))


# Frames of the stack are lists, by slot:
#   0 container (dict or list)   1 is a mapping          2 expanded size (nodes)
#   3 height                     4 key being filled (mapping) or _NO_KEY
#   5 key identity: the text of a string key, (tag, text) of other scalars, None otherwise
#   6 key mark                   7 mapping: identity -> first mark; list: first non-map child
#   8 merged-in maps (mapping)   9 anchor                10 start mark   11 tag
# An anchor maps to its open frame (a list) until the node ends, then to a record tuple:
#   (value, expanded size, height, start mark, tag of a scalar or None, text, first non-map)


def build(parser: Any, text: str, max_depth: int, max_nodes: int, path: str, repair: bool) -> Any:
    """The value of the single YAML document that `parser` (libyaml's `yaml.CParser` over
    `text`) reads: None for an empty stream. Raises LoadError, ValidationError or the yaml
    errors that `safe_load` reports. Disposes of the parser."""
    try:
        return _build(parser.get_event, text, max_depth, max_nodes, path, repair)
    finally:
        parser.dispose()


def _build(
    get: Callable[[], Any], text: str, max_depth: int, max_nodes: int, path: str, repair: bool
) -> Any:
    get()  # StreamStartEvent
    event = get()
    if type(event) is StreamEndEvent:
        return None
    doc_mark = event.start_mark  # DocumentStartEvent
    plain_resolvers = PLAIN_RESOLVERS
    canonical = CANONICAL_TAGS
    # Only a double-quoted escape can put NUL or a lone surrogate in a scalar: the reader
    # refuses them as characters, and `_check_size` refused lone surrogates in the text.
    may_refuse = not repair and "\\" in text
    refused = False
    stack: list[list[Any]] = []
    anchors: dict[str, Any] = {}
    nodes = aliases = 0
    graph_error: Exception | None = None
    dups: list[FieldError] = []
    construct_error: Exception | None = None
    value_error: FieldError | None = None
    root: Any = None
    bad: Any = None
    while True:
        event = get()
        cls = type(event)
        if cls is ScalarEvent:
            nodes += 1
            if nodes > max_nodes:
                raise budget_error(max_nodes, event.start_mark)
            if len(stack) >= max_depth:
                raise depth_error(max_depth, event.start_mark)
            raw = event.value
            tag = event.tag
            mark = event.start_mark
            anchor = event.anchor
            if anchor is not None and anchor in anchors:
                raise _duplicate_anchor(anchor, anchors[anchor], mark)
            if tag is None or tag == "!":
                if event.implicit[0] and raw[:1] in plain_resolvers:
                    tag = resolve_plain(raw)
                else:
                    tag = STR
            else:
                tag = canonical.get(tag, tag)
            if tag is STR:
                value = raw
                if may_refuse and event.style == '"' and has_refused(raw):
                    refused = True
            elif tag is NULL:
                value = None
            elif tag not in canonical:
                graph_error = LoadError(f"unsupported YAML tag {short_tag(tag)}{at(mark)}")
                break
            elif tag is MERGE or tag is SEQ or tag is MAP:
                value = None
                if tag is not MERGE or not (stack and stack[-1][1] and stack[-1][4] is _NO_KEY):
                    construct_error = construct_error or _wrong_node(tag, "scalar", mark)
            else:
                try:
                    value = construct(tag, raw)
                except ScalarError as exc:
                    value = None
                    construct_error = construct_error or ConstructorError(
                        None, None, str(exc), mark
                    )
                except ValueError as exc:  # an integer past Python's digit limit
                    value = None
                    construct_error = construct_error or exc
                if (
                    tag is FLOAT
                    and (value != value or value in _INFINITIES)
                    and value_error is None
                    and not (stack and stack[-1][1] and stack[-1][4] is _NO_KEY)  # a key
                ):
                    value_error = FieldError(
                        _value_path(path, stack), "NaN and Infinity are not allowed"
                    )
            size, height, ktag = 1, 0, tag
            if anchor is not None:
                anchors[anchor] = (value, 1, 0, mark, tag, raw, None)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            nodes += 1
            mark = event.start_mark
            if nodes > max_nodes:
                raise budget_error(max_nodes, mark)
            if len(stack) >= max_depth:
                raise depth_error(max_depth, mark)
            anchor = event.anchor
            if anchor is not None and anchor in anchors:
                raise _duplicate_anchor(anchor, anchors[anchor], mark)
            is_map = cls is MappingStartEvent
            tag = event.tag
            if tag is None or tag == "!":
                tag = MAP if is_map else SEQ
            else:
                tag = canonical.get(tag, tag)
                if tag not in canonical:
                    graph_error = LoadError(f"unsupported YAML tag {short_tag(tag)}{at(mark)}")
                    break
                if tag is not (MAP if is_map else SEQ) and not (
                    tag is MERGE and stack and stack[-1][1] and stack[-1][4] is _NO_KEY
                ):
                    kind = "mapping" if is_map else "sequence"
                    construct_error = construct_error or _wrong_node(tag, kind, mark)
            frame = [
                {} if is_map else [],
                is_map,
                1,
                0,
                _NO_KEY,
                None,
                None,
                {} if is_map else None,
                [],
                anchor,
                mark,
                tag,
            ]
            stack.append(frame)
            if anchor is not None:
                anchors[anchor] = frame
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            frame = stack.pop()
            value = frame[0]
            size = frame[2]
            height = frame[3]
            mark = frame[10]
            ktag = MERGE if frame[11] is MERGE else None
            raw = None
            if frame[1]:
                bad = None
                if frame[8]:  # merged maps: the first with a key wins, explicit keys win
                    merged: dict[Any, Any] = {}
                    for source in frame[8]:
                        for item in source.items():
                            if item[0] not in merged:
                                merged[item[0]] = item[1]
                    merged.update(value)
                    value = merged
            else:
                bad = frame[7]
            if frame[9] is not None:
                anchors[frame[9]] = (value, size, height, mark, ktag, None, bad)
        elif cls is AliasEvent:
            nodes += 1
            aliases += 1
            if nodes > max_nodes:
                raise budget_error(max_nodes, event.start_mark)
            if len(stack) >= max_depth:
                raise depth_error(max_depth, event.start_mark)
            record = anchors.get(event.anchor)
            if record is None:
                raise ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            if type(record) is list:  # its node is still open: it contains itself
                graph_error = LoadError(f"recursive alias{at(record[10])}")
                break
            value, size, height, mark, ktag, raw, bad = record
            if len(stack) + 1 + height > max_depth:
                graph_error = depth_error(max_depth, mark)
                break
        elif cls is DocumentEndEvent:
            break
        else:  # pragma: no cover - libyaml sends no other event inside a document
            raise ComposerError(None, None, f"unexpected {cls.__name__}", event.start_mark)

        # --- the node is complete: put it into its parent ---
        if not stack:
            root = value
            continue
        frame = stack[-1]
        frame[2] += size
        if aliases and frame[2] > max_nodes and frame[2] > 2 * (nodes - aliases):
            graph_error = expansion_error(max(max_nodes, 2 * (nodes - aliases)), frame[10])
            break
        if height >= frame[3]:
            frame[3] = height + 1
        if not frame[1]:  # a list
            if frame[7] is None and type(value) is not dict:
                frame[7] = (mark, _KIND.get(type(value), "scalar"))
            frame[0].append(value)
            continue
        key = frame[4]
        if key is _NO_KEY:  # `value` is a key
            frame[6] = mark
            if ktag is STR:
                frame[4] = frame[5] = value
            elif ktag is MERGE:
                frame[4] = _MERGE_KEY
                frame[5] = raw if raw is not None else "<<"
            else:
                frame[5] = None if ktag is None else (ktag, raw)
                if type(value) is dict or type(value) is list:
                    frame[4] = _BAD_KEY
                    construct_error = construct_error or ConstructorError(
                        "while constructing a mapping", frame[10], "found unhashable key", mark
                    )
                else:
                    frame[4] = value
                    if value_error is None:
                        value_error = FieldError(
                            _value_path(path, stack[:-1]),
                            f"mapping keys must be strings, not {value!r}",
                        )
            continue
        frame[4] = _NO_KEY
        if key is _MERGE_KEY:
            problem = _merge_problem(value, mark, bad)
            if problem is None:
                frame[8].extend([value] if type(value) is dict else value)
            else:
                construct_error = construct_error or ConstructorError(
                    "while constructing a mapping", frame[10], problem[0], problem[1]
                )
            continue
        ident = frame[5]
        if ident is not None:
            firsts = frame[7]
            first = firsts.get(ident)
            if first is None:
                firsts[ident] = frame[6]
            elif not _under_complex_key(stack):
                text_key = ident if type(ident) is str else ident[1]
                dups.append(
                    FieldError(
                        child_path(_dup_path(path, stack[:-1]), text_key),
                        f"duplicate key {go_quote(text_key)}{at(frame[6])}, first given{at(first)}",
                    )
                )
        if key is not _BAD_KEY:
            frame[0][key] = value

    if graph_error is not None:  # parsing problems come first: read the rest for them
        names = set(anchors)
        depth = len(stack)
        if cls is MappingStartEvent or cls is SequenceStartEvent or cls is ScalarEvent:
            if event.anchor is not None:
                names.add(event.anchor)  # a node refused for its tag
            if cls is not ScalarEvent:
                depth += 1  # its end event is still to come
        _drain(get, depth, nodes, names, max_depth, max_nodes)
    event = get()
    if type(event) is not StreamEndEvent:
        raise ComposerError(
            "expected a single document in the stream",
            doc_mark,
            "but found another document",
            event.start_mark,
        )
    if graph_error is not None:
        raise graph_error
    if dups:
        raise ValidationError(sorted(dups))
    if construct_error is not None:
        raise construct_error
    if value_error is not None:
        raise ValidationError(value_error)
    if refused:
        found = refused_fields(root, path)
        if found:
            raise ValidationError([FieldError(where, reason) for where, reason in found])
    return root


def _drain(
    get: Callable[[], Any],
    depth: int,
    nodes: int,
    anchors: set[str],
    max_depth: int,
    max_nodes: int,
) -> None:
    """Read the rest of the document with only the checks made while parsing (the node
    budget, nesting, anchors), after a problem of the node graph was found."""
    while True:
        event = get()
        cls = type(event)
        if cls is DocumentEndEvent:
            return
        if cls is MappingEndEvent or cls is SequenceEndEvent:
            depth -= 1
            continue
        nodes += 1
        if nodes > max_nodes:
            raise budget_error(max_nodes, event.start_mark)
        if depth >= max_depth:
            raise depth_error(max_depth, event.start_mark)
        if cls is AliasEvent:
            if event.anchor not in anchors:
                raise ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            continue
        if event.anchor is not None:
            if event.anchor in anchors:
                raise ComposerError(
                    f"found duplicate anchor {event.anchor!r}; first occurrence",
                    None,
                    "second occurrence",
                    event.start_mark,
                )
            anchors.add(event.anchor)
        if cls is not ScalarEvent:
            depth += 1


def _duplicate_anchor(anchor: str, record: Any, mark: Any) -> ComposerError:
    first = record[10] if type(record) is list else record[3]
    return ComposerError(
        f"found duplicate anchor {anchor!r}; first occurrence", first, "second occurrence", mark
    )


def _wrong_node(tag: str, kind: str, mark: Any) -> ConstructorError:
    """SafeConstructor's refusal of a tag on the wrong kind of node (`!!str [1]`)."""
    if tag is MERGE:
        problem = f"could not determine a constructor for the tag {tag!r}"
    elif tag is SEQ:
        problem = f"expected a sequence node, but found {kind}"
    elif tag is MAP:
        problem = f"expected a mapping node, but found {kind}"
    else:
        problem = f"expected a scalar node, but found {kind}"
    return ConstructorError(None, None, problem, mark)


def _merge_problem(value: Any, mark: Any, bad: Any) -> tuple[str, Any] | None:
    """Why `<<: value` cannot merge (SafeConstructor's words and mark), or None."""
    if type(value) is dict:
        return None
    if type(value) is list:
        if bad is None:
            return None
        return f"expected a mapping for merging, but found {bad[1]}", bad[0]
    kind = _KIND.get(type(value), "scalar")
    return f"expected a mapping or list of mappings for merging, but found {kind}", mark


def _under_complex_key(stack: list[list[Any]]) -> bool:
    """Inside a key that is a list or map, or the value of one: such a key is refused as
    unhashable, and its insides are not checked for duplicate keys (as in the composed lane)."""
    return any(frame[1] and (frame[4] is _NO_KEY or frame[5] is None) for frame in stack[:-1])


def _value_path(base: str, frames: list[list[Any]]) -> str:
    """The path of the node being built, as `_check_values` spells it (`a.b[2]`); a map
    merged in (`<<`) is no level of its own: its keys land in the map that merges it."""
    where = base
    merged = False
    for frame in frames:
        if frame[1]:
            key = frame[4]
            if key is _MERGE_KEY:
                merged = True
                continue
            merged = False
            where = f"{where}.{key if isinstance(key, str) else '?'}"
        elif merged:
            merged = False  # the list of maps merged in
        else:
            where = f"{where}[{len(frame[0])}]"
    return where


def _dup_path(base: str, frames: list[list[Any]]) -> str:
    """The path of the node being built, as duplicate keys are reported (`text.child_path`
    over the keys' text)."""
    where = base
    for frame in frames:
        if frame[1]:
            ident = frame[5]
            if frame[4] is _NO_KEY or ident is None:
                where = child_path(where, "?")
            else:
                where = child_path(where, ident if type(ident) is str else ident[1])
        else:
            where = child_path(where, len(frame[0]))
    return where
