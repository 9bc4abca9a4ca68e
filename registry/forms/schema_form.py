"""Schema -> widgets and form data -> JSON value.

Field names are the form prefix plus a JSON-pointer-like path (`cfg/items/2`), so a posted
form maps back onto the schema without hidden bookkeeping. Arrays post their items with
indices; the order of the indices is the order of the items (reorder = renumber). A boolean
posts a hidden `<name>@bool` marker so that an unchecked box reads as `false`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.domain.errors import FieldError, ValidationError
from registry.domain.jsonutil import parse_json, textarea_message
from registry.domain.messages import FINITE_NUMBER, NOT_A_CHOICE, NUMBER, WHOLE_NUMBER

FormErrors = dict[str, list[str]]  # path ("" = the whole value, "/items/0") -> messages

LONG_TEXT = 120  # strings longer than this (or with maxLength above it) get a textarea
BOOL_MARKER = "@bool"


@dataclass
class Widget:
    """One node of a rendered form."""

    kind: str  # object | array | string | text | select | integer | number | boolean | json
    name: str  # the HTML input name (prefix + path)
    path: str  # "" for the root, "/items/0" below it
    label: str = ""
    help: str = ""
    required: bool = False
    value: Any = None  # the display value: str for inputs, bool for checkboxes
    options: list[Any] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)  # min, max, step, maxlength, ...
    children: list[Widget] = field(default_factory=list)
    item: Widget | None = None  # arrays: the blank item a user adds
    errors: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """An HTML id derived from the name (ids allow fewer characters than names)."""
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", self.name)

    def walk(self) -> Iterable[Widget]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, path: str) -> Widget | None:
        return next((w for w in self.walk() if w.path == path), None)


def _types(schema: Mapping[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if x != "null"]
    if "properties" in schema:
        return ["object"]
    if "enum" in schema:
        return ["string"]
    return []


def _kind(schema: Mapping[str, Any]) -> str:
    types = _types(schema)
    if "enum" in schema and all(isinstance(o, (str, int, float, bool)) for o in schema["enum"]):
        return "select"
    if len(types) != 1:
        return "json"
    t = types[0]
    if t == "object":
        # free-form maps (no declared properties) are edited as JSON
        return "object" if schema.get("properties") else "json"
    if t == "array":
        items = schema.get("items")
        return "array" if isinstance(items, dict) and _kind(items) != "json" else "json"
    if t == "string":
        long = (schema.get("maxLength") or 0) > LONG_TEXT or schema.get("format") == "textarea"
        return "text" if long else "string"
    if t in ("integer", "number", "boolean"):
        return t
    return "json"


def _display(kind: str, value: Any) -> Any:
    if kind == "boolean":
        return bool(value)
    if kind == "json":
        return "" if value is None else json.dumps(value, indent=2, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_widget(
    schema: Mapping[str, Any],
    value: Any,
    prefix: str,
    errors: FormErrors | None = None,
    *,
    path: str = "",
    label: str = "",
    required: bool = False,
) -> Widget:
    """The widget tree for `value` under `schema`; errors attach to their paths."""
    errors = errors or {}
    kind = _kind(schema)
    w = Widget(
        kind=kind,
        name=prefix + path,
        path=path,
        label=str(schema.get("title") or label or ""),
        help=str(schema.get("description") or ""),
        required=required,
        errors=list(errors.get(path, [])),
    )
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties") or {}
        needed = set(schema.get("required") or [])
        current = value if isinstance(value, dict) else {}
        for name, sub in props.items():
            if not isinstance(sub, dict):
                continue
            w.children.append(
                build_widget(
                    sub,
                    current.get(name, sub.get("default")),
                    prefix,
                    errors,
                    path=f"{path}/{name}",
                    label=name.replace("_", " ").capitalize(),
                    required=name in needed,
                )
            )
        return w
    if kind == "array":
        items_schema = schema["items"]
        items = value if isinstance(value, list) else []
        w.children = [
            build_widget(items_schema, v, prefix, errors, path=f"{path}/{i}", label=f"#{i + 1}")
            for i, v in enumerate(items)
        ]
        w.item = build_widget(items_schema, None, prefix, None, path=f"{path}/__index__", label="")
        for key in ("minItems", "maxItems"):
            if key in schema:
                w.attrs[key] = schema[key]
        return w
    if kind == "select":
        w.options = list(schema["enum"])
        if not required:
            w.options = ["", *w.options]
    for key, attr in (
        ("minimum", "min"),
        ("maximum", "max"),
        ("maxLength", "maxlength"),
        ("minLength", "minlength"),
        ("pattern", "pattern"),
    ):
        if key in schema:
            w.attrs[attr] = schema[key]
    if kind == "integer":
        w.attrs.setdefault("step", 1)
    if kind == "number":
        w.attrs.setdefault("step", "any")
    if "default" in schema:
        w.attrs["placeholder"] = _display(kind, schema["default"])
    w.value = _display(kind, value)
    return w


# --- form data -> JSON -----------------------------------------------------------------------


class _Form:
    def __init__(self, form: Any):
        # a werkzeug MultiDict or a plain mapping of str -> str | list[str]
        self.data: dict[str, str] = {}
        items = form.items(multi=True) if hasattr(form, "getlist") else form.items()
        for key, value in items:
            self.data[key] = value[-1] if isinstance(value, list) else value

    def has_under(self, name: str) -> bool:
        return any(
            k == name or k.startswith(name + "/") or k.startswith(name + "@") for k in self.data
        )

    def indices(self, name: str) -> list[int]:
        found = set()
        pattern = re.compile(re.escape(name) + r"/(\d+)(?:[/@]|$)")
        for key in self.data:
            m = pattern.match(key)
            if m:
                found.add(int(m.group(1)))
        return sorted(found)


def parse_form(schema: Mapping[str, Any], form: Any, prefix: str) -> tuple[Any, FormErrors]:
    """Rebuild the JSON value a form posted; problems are keyed by path.

    Empty optional inputs are left out (so schema defaults apply); numbers and booleans are
    converted by the schema's type; JSON textareas must hold valid JSON.
    """
    errors: FormErrors = {}
    value = _parse(schema, _Form(form), prefix, "", errors, top=True)
    return value, errors


_MISSING = object()


def _parse(
    schema: Mapping[str, Any],
    form: _Form,
    prefix: str,
    path: str,
    errors: FormErrors,
    top: bool = False,
) -> Any:
    kind = _kind(schema)
    name = prefix + path
    if kind == "object":
        out: dict[str, Any] = {}
        for prop, sub in (schema.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            v = _parse(sub, form, prefix, f"{path}/{prop}", errors)
            if v is not _MISSING:
                out[prop] = v
        if not out and not top and not form.has_under(name):
            return _MISSING
        return out
    if kind == "array":
        if not form.has_under(name) and name + "@array" not in form.data:
            return _MISSING if not top else []
        items = []
        for i, index in enumerate(form.indices(name)):
            v = _parse(schema["items"], form, prefix, f"{path}/{index}", errors)
            if v is _MISSING:
                v = "" if _kind(schema["items"]) in ("string", "text", "select") else None
            if index != i:  # renumber: errors were keyed by the posted index
                for old in [
                    k for k in errors if k == f"{path}/{index}" or k.startswith(f"{path}/{index}/")
                ]:
                    errors[f"{path}/{i}" + old[len(f"{path}/{index}") :]] = errors.pop(old)
            items.append(v)
        return items
    if kind == "boolean":
        if name in form.data:
            return form.data[name] not in ("", "0", "false", "off")
        return False if name + BOOL_MARKER in form.data else _MISSING
    if name not in form.data:
        return _MISSING
    raw = form.data[name]
    if kind == "json":
        if not raw.strip():
            return _MISSING
        try:
            return parse_json(raw, field="", base="")
        except ValidationError as exc:
            errors.setdefault(path, []).extend(
                f"{e.field}: {e.text}" if e.field else textarea_message(e.message)
                for e in exc.errors
            )
            return _MISSING
    if raw == "":
        return _MISSING
    if kind == "integer":
        try:
            return int(raw.strip())
        except ValueError:
            errors.setdefault(path, []).append(WHOLE_NUMBER)
            return _MISSING
    if kind == "number":
        try:
            number = float(raw.strip())
        except ValueError:
            errors.setdefault(path, []).append(NUMBER)
            return _MISSING
        if number != number or number in (float("inf"), float("-inf")):
            errors.setdefault(path, []).append(FINITE_NUMBER)
            return _MISSING
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "select":
        for option in schema["enum"]:
            if _display("string", option) == raw:
                return option
        errors.setdefault(path, []).append(NOT_A_CHOICE)
        return _MISSING
    return raw


# --- domain errors -> form paths -------------------------------------------------------------

_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[([^\]]*)\]")


def errors_from_fields(field_errors: Iterable[FieldError], base: str) -> FormErrors:
    """Attach domain errors under `base` (e.g. `runtime.middlewares[0].config`) to form paths.

    `base.items[2]` -> `/items/2`; errors outside `base` are ignored (the caller shows them
    elsewhere).
    """
    out: FormErrors = {}
    for err in field_errors:
        if err.field != base and not (
            err.field.startswith(base + ".") or err.field.startswith(base + "[")
        ):
            continue
        rest = err.field[len(base) :]
        parts = [
            m.group(1) if m.group(1) is not None else m.group(2) for m in _SEGMENT.finditer(rest)
        ]
        out.setdefault("".join(f"/{p}" for p in parts), []).append(err.text)
    return out
