"""Reading posted fields: sections missing from a post, renumbering, typed text, one schema
form or JSON textarea -> (what to show, what to store, changed?).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from registry.domain.errors import FieldError, ValidationError
from registry.domain.jsonutil import canonical_json, parse_json, textarea_message
from registry.forms import Widget, build_widget, parse_form

from .form_data import untouched
from .model import EXT_GROUP, REMOVED


def _group(name: str) -> str:
    """The section a field belongs to; a section missing from a post is left unchanged."""
    m = EXT_GROUP.match(name)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    if name.startswith("policy/"):
        return "policy/" + re.split(r"[/@]", name[len("policy/") :])[0]
    return re.split(r"[/@]", name)[0]


def complete(data: MultiDict[str, str], base: MultiDict[str, str]) -> MultiDict[str, str]:
    """`data` plus every section of `base` (the current profile's form) that was not posted."""
    removed = set(data.getlist(REMOVED))
    posted = {_group(k) for k in data}
    out = MultiDict(data.items(multi=True))
    for key, value in base.items(multi=True):
        group = _group(key)
        if group in posted:
            continue
        m = EXT_GROUP.match(key)
        if m and m.group(2) in removed:
            continue
        out.add(key, value)
    return out


def renumber(data: MultiDict[str, str], array: str) -> MultiDict[str, str]:
    """Item indices of `array` made contiguous (0, 1, 2...) in posted order."""
    pattern = re.compile(re.escape(array) + r"/(\d+)((?:[/@].*)?)$")
    order = sorted({int(m.group(1)) for k in data for m in [pattern.match(k)] if m})
    mapping = {old: new for new, old in enumerate(order)}
    if all(old == new for old, new in mapping.items()):
        return data
    out: MultiDict[str, str] = MultiDict()
    for key, value in data.items(multi=True):
        m = pattern.match(key)
        out.add(f"{array}/{mapping[int(m.group(1))]}{m.group(2)}" if m else key, value)
    return out


def _overlay(w: Widget, data: MultiDict[str, str]) -> Widget:
    """Show what was typed (even when it did not parse) instead of the parsed value."""
    for node in w.walk():
        if node.kind not in ("object", "array", "boolean") and node.name in data:
            node.value = data.get(node.name)
    return w


def has_under(data: MultiDict[str, str], name: str) -> bool:
    """Whether the post has field `name` or any field below it."""
    return any(k == name or k.startswith(name + "/") or k.startswith(name + "@") for k in data)


def text_value(posted: str | None, original: str) -> str:
    """Browsers post textareas with CRLF line ends: an unchanged text keeps its bytes."""
    if posted is None:
        return original
    if posted.replace("\r\n", "\n") == original.replace("\r\n", "\n"):
        return original
    return posted.replace("\r\n", "\n")


def _domain_path(base: str, path: str) -> str:
    """`/items/2` under `x` -> `x.items[2]` (the domain's field path style)."""
    out = base
    for part in [p for p in path.split("/") if p]:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def schema_section(
    schema: dict[str, Any],
    data: MultiDict[str, str],
    prefix: str,
    original: Any,
    domain_base: str,
    problems: list[FieldError],
) -> tuple[Widget, Any, bool]:
    """Parse one schema form: (widget showing the post, value to store, changed?)."""
    value, errors = parse_form(schema, data, prefix)
    problems += [
        FieldError(_domain_path(domain_base, path), message)
        for path, messages in sorted(errors.items())
        for message in messages
    ]
    widget = _overlay(build_widget(schema, value, prefix), data)
    if errors:
        return widget, original, False
    if canonical_json(value) == canonical_json(untouched(schema, original, prefix)):
        return widget, original, False
    described = schema.get("properties")
    if described and isinstance(original, dict) and isinstance(value, dict):
        # keys the schema does not describe have no inputs: carry them over, never drop them
        value = {**value, **{k: v for k, v in original.items() if k not in described}}
    return widget, value, True


def parse_int(raw: str | None, default: int) -> int:
    """A posted integer (versions); `default` when absent or not a number."""
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def json_field(
    raw: str, original: Any, path: str, problems: list[FieldError], empty: Any = None
) -> Any:
    """A JSON textarea: the parsed value, the original when equal (bytes kept) or invalid."""
    if not raw.strip():
        if empty is None:
            problems.append(FieldError(path, "must be valid JSON (remove the key to delete it)"))
            return original
        parsed: Any = empty
    else:
        try:
            parsed = parse_json(raw, field=path, base=path)
        except ValidationError as exc:
            problems.extend(
                FieldError(e.field, textarea_message(e.message)) if e.field == path else e
                for e in exc.errors
            )
            return original
    return original if canonical_json(parsed) == canonical_json(original) else parsed
