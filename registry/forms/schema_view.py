"""Schema + value -> a read-only view tree (the profile page, the resolve page, diffs).

The read-only twin of `schema_form`: an extension whose codec has a JSON Schema, or a
middleware config whose definition has one, is shown as structure (objects as labelled
fields, lists as lists) with the schema's titles and descriptions. A value the schema does
not accept, or a key no codec knows, is not guessed at: the view says so and the page shows
the raw JSON (which it always offers one click away). Diff paths
(`extensions.webchat.starter_suggestions@v1.items[2]`) get the same labels
(`Starter suggestions › Suggestions › 3`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.domain.errors import ValidationError
from registry.domain.extensions import EXTENSION_KEY_RE, Codec, CodecRegistry
from registry.domain.middleware import MiddlewareConfigCodec
from registry.domain.schema import JSONSchema, SchemaNormalizer

JSONValue = Any


@dataclass
class ValueView:
    """One node of a read-only value."""

    kind: str  # object | list | text | longtext | number | boolean | json
    label: str = ""
    help: str = ""
    text: str = ""  # scalars as shown; `json`: the value as indented JSON
    children: list[ValueView] = field(default_factory=list)


@dataclass
class SchemaValue:
    """A value with its schema's view, or why it has none (then the page shows raw JSON)."""

    title: str
    raw: str  # indented JSON, always offered
    view: ValueView | None = None
    problem: str = ""  # "" when `view` is set
    description: str = ""
    key: str = ""  # extensions: the key
    kind: str = "codec"  # extensions: codec | middleware | unknown


def pretty(value: JSONValue) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def humanize(name: str) -> str:
    """A property name as a label when the schema gives no title: `max_rows` -> "Max rows"."""
    return name.replace("_", " ").replace("-", " ").strip().capitalize() or name


LONG_TEXT = 80


def view_value(schema: Mapping[str, Any], value: JSONValue, label: str = "") -> ValueView:
    """The view of `value` under `schema` (properties in the schema's order, then the rest)."""
    label = str(schema.get("title") or label)
    help_text = str(schema.get("description") or "")
    if isinstance(value, dict):
        node = ValueView("object", label, help_text)
        props: Mapping[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name in [
            *(p for p in props if p in value),
            *sorted(k for k in value if k not in props),
        ]:
            sub = props.get(name)
            if isinstance(sub, dict):
                node.children.append(view_value(sub, value[name], humanize(name)))
            else:  # a map's entries (middleware instances) keep their keys as labels
                node.children.append(
                    view_value(extra if isinstance(extra, dict) else {}, value[name], name)
                )
                node.children[-1].label = name
        return node
    if isinstance(value, list):
        items = schema.get("items")
        sub = items if isinstance(items, dict) else {}
        node = ValueView("list", label, help_text)
        node.children = [view_value(sub, item) for item in value]
        for child in node.children:
            child.label = ""  # list items are numbered by the list, not labelled
        return node
    if isinstance(value, bool):
        return ValueView("boolean", label, help_text, "yes" if value else "no")
    if isinstance(value, (int, float)):
        return ValueView("number", label, help_text, str(value))
    if isinstance(value, str):
        kind = "longtext" if len(value) > LONG_TEXT or "\n" in value else "text"
        return ValueView(kind, label, help_text, value)
    return ValueView("json", label, help_text, pretty(value))


def _problem(exc: ValidationError, shown: int = 3) -> str:
    problems = [f"{e.field.lstrip('.') or 'value'}: {e.message}" for e in exc.errors[:shown]]
    more = f" (and {len(exc.errors) - shown} more)" if len(exc.errors) > shown else ""
    return (
        "does not match its schema: " + "; ".join(problems) + more
        if problems
        else ("does not match its schema")
    )


def _checked(normalize: Any, value: JSONValue) -> str:
    """ "" when `normalize(value)` accepts the value as stored, else the first problem."""
    try:
        normalized = normalize(value)
    except ValidationError as exc:
        return _problem(exc)
    if normalized != value:  # accepted only after coercion or defaults: not what is stored
        return "does not match its schema (stored before the schema changed?)"
    return ""


def extension_view(key: str, value: JSONValue, codecs: CodecRegistry) -> SchemaValue:
    """One extension, through its codec's schema when there is one and it accepts the value."""
    codec: Codec | None = codecs.get(key)
    raw = pretty(value)
    if codec is None:
        return SchemaValue(key, raw, problem="no codec knows this key", key=key, kind="unknown")
    kind = "middleware" if isinstance(codec, MiddlewareConfigCodec) else "codec"
    out = SchemaValue(
        codec.display_name or key, raw, description=codec.description, key=key, kind=kind
    )
    out.problem = _checked(codec.normalize, value)
    if not out.problem:
        out.view = view_value(codec.schema, value)
        out.view.label = ""  # the entry's own heading names it
    return out


def config_view(schema: JSONSchema | None, value: JSONValue, title: str = "") -> SchemaValue:
    """A middleware's effective config through its definition's schema (when it has one)."""
    raw = pretty(value)
    if not schema:
        return SchemaValue(title, raw, problem="its definition has no schema")
    out = SchemaValue(title, raw)
    out.problem = _checked(lambda v: _normalize(schema, v), value)
    if not out.problem:
        out.view = view_value(schema, value)
        out.view.label = ""
    return out


def _normalize(schema: JSONSchema, value: JSONValue) -> JSONValue:
    normalized, errors = SchemaNormalizer(schema).normalize(value)
    if errors:
        raise ValidationError(errors)
    return normalized


# --- diff paths --------------------------------------------------------------------------------

_EXTENSION_PATH = re.compile(r"extensions\.(" + EXTENSION_KEY_RE.pattern + r")")
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


@dataclass
class PathLabel:
    """A diff path read through a schema: labels per level, and the schema of the value."""

    labels: list[str]
    schema: Mapping[str, Any]

    @property
    def text(self) -> str:
        return " › ".join(self.labels)


def label_path(path: str, codecs: CodecRegistry) -> PathLabel | None:
    """Labels for a diff path inside an extension with a codec; None for any other path, or
    one the schema does not describe."""
    match = _EXTENSION_PATH.match(path)
    if not match:
        return None
    codec = codecs.get(match.group(1))
    if codec is None:
        return None
    rest = path[match.end() :]
    labels = [codec.display_name or codec.key]
    schema: Mapping[str, Any] = codec.schema
    pos = 0
    while pos < len(rest):
        seg = _SEGMENT.match(rest, pos)
        if seg is None:
            return None
        pos = seg.end()
        name, index = seg.group(1), seg.group(2)
        if index is not None:
            items = schema.get("items")
            if not isinstance(items, dict):
                return None
            schema = items
            labels.append(str(int(index) + 1))
            continue
        props: Mapping[str, Any] = schema.get("properties") or {}
        sub = props.get(name)
        extra = schema.get("additionalProperties")
        if isinstance(sub, dict):
            schema = sub
            labels.append(str(sub.get("title") or humanize(name)))
        elif isinstance(extra, dict):
            schema = extra
            labels.append(name)
        else:
            return None
    return PathLabel(labels, schema)
