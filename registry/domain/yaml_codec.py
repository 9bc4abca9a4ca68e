"""YAML documents of registries: hostile-input-safe loading, format detection, canonical encoding.

SPEC section 7 and reference section 4.2. Loading uses PyYAML's safe constructors only, with
dates kept as strings, and checks the composed node graph (tags, nesting depth, alias
expansion) *before* building Python values, so tags such as `!!python/object`, alias bombs and
recursive aliases are refused without ever being expanded. Decoding is structural: it parses
shapes and slugs; business rules (defaults that exist, extension codecs) belong to the service.

Encoding writes the canonical bundle (`registries: {slug: registry}`), deterministically: the
same registries always give the same bytes, and `encode(decode(encode(x))) == encode(x)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from .errors import FieldError, ValidationError
from .model import Profile, Registry, profile_from_data, registry_from_data, registry_to_data
from .slugs import SlugError, go_quote, parse_slug
from .text import child_path, refused_fields, repair, repair_tree

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
# Nodes (scalars, lists, maps, aliases) one document may compose, and the least alias
# expansion allowed: about 20,000 typical profiles fit; composing stops at the first node
# beyond it, before any Python value is built, so junk costs at most the budget's work.
MAX_NODES = 500_000

FORMATS = ("bundle", "registry", "legacy", "empty")
SINGLE_REGISTRY_KEYS = frozenset({"profiles", "slug", "default_profile_slug"})

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
            # A mixin: the composer after it in the MRO, untyped here.
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
        # A mixin: the composer after it in the MRO, untyped here.
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


# --- decoding --------------------------------------------------------------------------------


@dataclass
class DecodedDocument:
    """What a YAML document held: its detected format and its registries (profiles filled)."""

    format: str  # one of FORMATS
    registries: list[Registry] = field(default_factory=list)


def decode_registries(
    text: str | bytes,
    default_registry: str = "default",
    *,
    max_bytes: int = MAX_BYTES,
    repair: bool = False,
) -> DecodedDocument:
    """Decode a bundle, a single-registry document or a legacy flat profile map.

    Detection (reference 4.2.1): a top-level `registries` key is the canonical bundle; a top
    level with `profiles`, `slug` or `default_profile_slug` is one registry; anything else is
    the legacy flat map `profile -> section -> field -> value`, which becomes one registry
    named `default_registry` whose profiles carry `runtime.step_settings_patch`.

    Slugs are normalized (trim + lower case); a missing registry or profile slug falls back to
    its map key. Deliberate deviations from the reference: a single-registry document without
    `slug` takes `default_registry` (the reference failed); the legacy default is `default` if
    present, else the first *normalized* slug in sorted order; keys that normalize to the same
    slug, and a `slug` that contradicts its map key, are errors instead of silently winning.
    All problems are reported together in one `ValidationError`.

    `repair` (a store reading its own file) replaces NUL and lone surrogates by U+FFFD instead
    of refusing them, and lists the repaired paths in each item's `repaired`.
    """
    if isinstance(text, str) and not text.strip():
        return DecodedDocument("empty")
    data = safe_load(text, max_bytes=max_bytes, repair=repair)
    if data is None or data == {}:
        return DecodedDocument("empty")
    if not isinstance(data, dict):
        raise ValidationError(FieldError("document", f"must be a mapping, not {_kind(data)}"))
    errors: list[FieldError] = []
    if "registries" in data:
        fmt = "bundle"
        registries = _decode_bundle(data, errors, repair)
    elif SINGLE_REGISTRY_KEYS & data.keys():
        fmt = "registry"
        registries = _decode_registry(data, default_registry, "registry", errors, repair=repair)
    else:
        fmt = "legacy"
        registries = _decode_legacy(data, default_registry, errors)
    if errors:
        raise ValidationError(errors)
    return DecodedDocument(fmt, registries)


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a scalar")


def _decode_bundle(
    data: dict[str, Any], errors: list[FieldError], repair: bool = False
) -> list[Registry]:
    for key in sorted(data):
        if key != "registries":
            errors.append(FieldError(f"document.{key}", "unknown field"))
    raw = data["registries"]
    if raw is None:
        return []
    if not isinstance(raw, dict):
        errors.append(FieldError("registries", "registries must be a mapping"))
        return []
    out: dict[str, Registry] = {}
    for key in sorted(raw):
        path = f"registries[{key}]"
        if not isinstance(raw[key], dict):
            errors.append(FieldError(path, f"registry {go_quote(key)} must be a mapping"))
            continue
        for reg in _decode_registry(raw[key], "", path, errors, map_key=key, repair=repair):
            if reg.slug in out:
                errors.append(FieldError(path, f"duplicate registry slug {go_quote(reg.slug)}"))
            else:
                out[reg.slug] = reg
    return [out[slug] for slug in sorted(out)]


def _decode_registry(
    data: dict[str, Any],
    fallback: str,
    path: str,
    errors: list[FieldError],
    *,
    map_key: str = "",
    repair: bool = False,
) -> list[Registry]:
    """One registry mapping -> [registry] (or [] with `errors` extended)."""
    repaired: dict[str, list[str]] = {}
    if repair:
        data, repaired = _repair_registry(data)
    try:
        reg = registry_from_data(data, slug=map_key or fallback, path=path)
    except ValidationError as exc:
        errors.extend(exc.errors)
        return []
    reg.repaired = repaired.pop("", [])
    for key, profile in reg.profiles.items():
        profile.repaired = repaired.get(key, [])
    failed = len(errors)
    reg.slug = _slug(reg.slug, f"{path}.slug", "registry slug", errors)
    if map_key and reg.slug:
        key_slug = _slug(map_key, path, "registry slug", errors)
        if key_slug and key_slug != reg.slug:
            errors.append(FieldError(f"{path}.slug", "map key and registry slug must match"))
    if reg.default_profile_slug:
        reg.default_profile_slug = _slug(
            reg.default_profile_slug, f"{path}.default_profile_slug", "profile slug", errors
        )
    profiles: dict[str, Profile] = {}
    for key in sorted(reg.profiles):
        ppath = f"{path}.profiles[{key}]"
        profile = reg.profiles[key]
        key_slug = _slug(key, ppath, "profile slug", errors)
        profile.slug = _slug(profile.slug, f"{ppath}.slug", "profile slug", errors)
        if key_slug and profile.slug and key_slug != profile.slug:
            errors.append(FieldError(f"{ppath}.slug", "map key and profile slug must match"))
        elif profile.slug in profiles:
            errors.append(FieldError(ppath, f"duplicate profile slug {go_quote(profile.slug)}"))
        elif profile.slug:
            profiles[profile.slug] = profile
    reg.profiles = profiles
    return [reg] if len(errors) == failed else []


def _repair_registry(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """NUL and lone surrogates -> U+FFFD in a registry mapping; repaired paths by profile map
    key (`""`: the registry's own fields), relative to that registry or profile."""
    header, paths = repair_tree({k: v for k, v in data.items() if k != "profiles"})
    repaired = {"": paths}
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        header["profiles"] = {}
        for key, value in profiles.items():
            new_key = repair(key) if isinstance(key, str) else key
            header["profiles"][new_key], repaired[new_key] = repair_tree(value)
    elif "profiles" in data:
        header["profiles"] = profiles
    return header, repaired


def _decode_legacy(
    data: dict[str, Any], default_registry: str, errors: list[FieldError]
) -> list[Registry]:
    slug = _slug(default_registry or "default", "registry.slug", "registry slug", errors)
    profiles: dict[str, Profile] = {}
    for key in sorted(data):
        path = f"document[{key}]"
        pslug = _slug(key, path, "profile slug", errors)
        if not pslug:
            continue
        if not isinstance(data[key], dict):
            errors.append(
                FieldError(path, f"legacy profile {go_quote(key)} must map to section settings")
            )
            continue
        if pslug in profiles:
            errors.append(FieldError(path, f"duplicate profile slug {go_quote(pslug)}"))
            continue
        raw = {"slug": pslug, "runtime": {"step_settings_patch": data[key]}}
        try:
            profiles[pslug] = profile_from_data(raw)
        except ValidationError as exc:
            errors.extend(e.prefixed(path) for e in exc.errors)
    if not slug or not profiles:
        return []
    default = "default" if "default" in profiles else min(profiles)
    return [Registry(slug=slug, default_profile_slug=default, profiles=profiles)]


def _slug(raw: Any, path: str, label: str, errors: list[FieldError]) -> str:
    try:
        return parse_slug(raw, label)
    except SlugError as exc:
        errors.append(FieldError(path, str(exc)))
        return ""


# --- encoding --------------------------------------------------------------------------------


# PyYAML folds NEL, LS, PS and CR when they appear raw in plain, single-quoted or literal
# scalars; double quotes escape them, so such strings round-trip exactly.
_FOLDED_BREAKS = frozenset("\x85\u2028\u2029\r")


def _represent_str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
    if not _FOLDED_BREAKS.isdisjoint(value):
        style: str | None = '"'
    elif "\n" in value:
        style = "|"  # prompts stay readable; the emitter falls back when a block can't hold it
    else:
        style = None
    return dumper.represent_scalar(_YAML + "str", value, style=style)


class _PyDumper(yaml.SafeDumper):
    """Block style, never anchors or aliases. The resolver keeps implicit timestamps, so
    date-like strings are quoted and stay strings for any YAML reader, not only ours."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_PyDumper.add_representer(str, _represent_str)
_DUMPER: type = _PyDumper

if hasattr(yaml, "CSafeDumper"):  # libyaml's emitter: same representer, 2-3x faster

    class _CDumper(yaml.CSafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    _CDumper.add_representer(str, _represent_str)
    _DUMPER = _CDumper


def encode_registries(registries: Iterable[Registry], *, with_state: bool = False) -> str:
    """The canonical bundle: registries sorted by slug, fields in model order, profiles sorted,
    free-form maps (extensions, step settings, middleware config) sorted recursively.

    `with_state` keeps `read_only`/`managed_by` (the YAML store's own file); exports leave that
    deployment state out.
    """
    bundle: dict[str, Any] = {}
    for reg in sorted(registries, key=lambda r: r.slug):
        if reg.slug in bundle:
            raise ValidationError(
                FieldError("registries", f"duplicate registry slug {go_quote(reg.slug)}")
            )
        bundle[reg.slug] = _registry_data(reg, with_state)
    return _dump({"registries": bundle})


def encode_registry(registry: Registry, *, with_state: bool = False) -> str:
    """One registry as a single-registry document (same ordering rules as the bundle)."""
    return _dump(_registry_data(registry, with_state))


def _registry_data(reg: Registry, with_state: bool) -> dict[str, Any]:
    data = registry_to_data(reg, compact=True, with_state=with_state)
    if "extensions" in data:
        data["extensions"] = _sorted(data["extensions"])
    for profile in data.get("profiles", {}).values():
        if "extensions" in profile:
            profile["extensions"] = _sorted(profile["extensions"])
        runtime = profile.get("runtime", {})
        if "step_settings_patch" in runtime:
            runtime["step_settings_patch"] = _sorted(runtime["step_settings_patch"])
        for use in runtime.get("middlewares", []):
            if "config" in use:
                use["config"] = _sorted(use["config"])
    return data


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        data,
        Dumper=_DUMPER,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
        indent=2,
    )
