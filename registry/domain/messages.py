"""Plain-language validation messages: the one place that says how a problem reads.

The domain reports problems as `FieldError(field, message)`. Messages the reference system
defines keep its wording (`must not be empty`, `profile slug "x" is invalid`: clients match
on them, and `detail` of an API error quotes them); messages that came from libraries (JSON
Schema, the JSON parser) are rewritten here into sentences a person can act on. `plain` is
how every door shows a problem to a person: the API's `errors[].message`, the editor, the
import page and the CLI (see README, "Validation messages").
"""

from __future__ import annotations

import re
from typing import Any

# --- messages shared by the producers -------------------------------------------------------

EMPTY = "must not be empty"
WHOLE_NUMBER = "must be a whole number"
NUMBER = "must be a number"
FINITE_NUMBER = "must be a finite number"
NOT_A_CHOICE = "is not one of the choices"

_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "string": "text",
    "object": "an object",
    "array": "a list",
    "null": "null",
}

# the name of one item of a domain list, for "Enter a tool name or remove the empty row"
_ITEM_NOUNS = {
    "tools": "tool name",
    "tags": "tag",
    "allowed_override_keys": "key",
    "denied_override_keys": "key",
    "items": "value",
}
_ITEM_PATH = re.compile(r"(?:^|\.)([A-Za-z_][A-Za-z0-9_]*)\[\d+\]$")


def empty_item(noun: str) -> str:
    """The message for an empty row of a list (`noun`: what one row holds)."""
    return f"enter {_article(noun)} {noun} or remove the empty row"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def sentence(text: str) -> str:
    """`text` as a sentence: its first letter upper case (quotes and paths left alone)."""
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def plain(field: str, message: str) -> str:
    """How a problem reads to a person: a sentence, with the domain's terse messages spelled
    out where the field says more (an empty row of a list)."""
    if message == EMPTY:
        m = _ITEM_PATH.search(field)
        if m:
            return sentence(empty_item(_ITEM_NOUNS.get(m.group(1), "value")))
    if message == "is required":
        return "Required"
    return sentence(message)


# --- JSON Schema ------------------------------------------------------------------------------


def schema_message(validator: str, value: Any, instance: Any, schema: Any, path: list[Any]) -> str:
    """A JSON Schema failure (`validator` keyword, its `value`, the failing `instance`, the
    subschema, the instance's path) as a message; "" when there is no better wording than the
    library's."""
    schema = schema if isinstance(schema, dict) else {}
    if validator == "type":
        types = [value] if isinstance(value, str) else list(value or [])
        names = [_TYPE_NAMES.get(t, t) for t in types if isinstance(t, str)]
        if len(names) == 1:
            return f"must be {names[0]}"
        return f"must be {', '.join(names[:-1])} or {names[-1]}" if names else ""
    if validator == "minLength":
        if isinstance(instance, str) and not instance.strip():
            if path and isinstance(path[-1], int):
                noun = str(schema.get("title") or "value").lower()
                return empty_item(noun)
            return EMPTY
        return f"must be at least {value} character{'s' if value != 1 else ''} long"
    if validator == "maxLength":
        return f"must be at most {value} characters long"
    if validator == "minimum":
        return f"must be at least {value}"
    if validator == "maximum":
        return f"must be at most {value}"
    if validator == "exclusiveMinimum":
        return f"must be more than {value}"
    if validator == "exclusiveMaximum":
        return f"must be less than {value}"
    if validator == "multipleOf":
        return f"must be a multiple of {value}"
    if validator == "enum":
        return "must be one of: " + ", ".join(_show(v) for v in value or [])
    if validator == "const":
        return f"must be {_show(value)}"
    if validator == "pattern":
        return f"must match the pattern {value}"
    if validator == "minItems":
        return f"must have at least {value} item{'s' if value != 1 else ''}"
    if validator == "maxItems":
        return f"must have at most {value} item{'s' if value != 1 else ''}"
    if validator == "uniqueItems":
        return "must not list the same item twice"
    if validator == "format":
        return f"must be a valid {value}"
    return ""


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- JSON syntax ------------------------------------------------------------------------------

_JSON_REASONS = [
    ("Expecting property name enclosed in double quotes", "expected a quoted name"),
    ("Expecting value", "expected a value"),
    ("Expecting ',' delimiter", "expected a comma"),
    ("Expecting ':' delimiter", "expected a colon"),
    ("Unterminated string", 'a string is not closed (a missing ")'),
    ("Invalid control character", "a line break or control character inside a string"),
    ("Invalid \\uXXXX escape", "an invalid \\u escape in a string"),
    ("Invalid \\escape", "an invalid backslash escape in a string"),
    ("Extra data", "unexpected text after the end of the value"),
    ("Illegal trailing comma", "a comma before a closing bracket"),
]


def json_syntax(reason: str, line: int, column: int) -> str:
    """A JSON syntax error (the parser's `reason` and position) as
    `JSON: expected a quoted name at line 1, column 2`."""
    text = next((t for p, t in _JSON_REASONS if reason.startswith(p)), "")
    text = text or reason[:1].lower() + reason[1:]
    return f"JSON: {text} at line {line}, column {column}"


# --- slugs ------------------------------------------------------------------------------------

SLUG_CHARACTERS = 'use lower-case letters, digits, ".", "_" and "-"'
MAX_SLUG = 128
_SLUG_OK = re.compile(r"[a-z0-9._-]")


def slug_reason(normalized: str) -> str:
    """Why a (trimmed, lower-cased) slug is invalid, in a few words."""
    bad = sorted({ch for ch in normalized if not _SLUG_OK.fullmatch(ch)}, key=normalized.index)
    if bad:
        shown = ["spaces" if ch.isspace() else _char(ch) for ch in bad[:5]]
        shown = list(dict.fromkeys(shown))
        listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
        verb = "is" if shown == [shown[0]] and shown[0] != "spaces" else "are"
        return f"{listed} {verb} not allowed ({SLUG_CHARACTERS})"
    if len(normalized) > MAX_SLUG:
        return f"it is longer than {MAX_SLUG} characters"
    return "it must start and end with a letter or digit"


def _char(ch: str) -> str:
    """One character for a message: quoted when printable, else its code point (a lone
    surrogate or a control character must never be echoed)."""
    return f'"{ch}"' if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else f"U+{ord(ch):04X}"


def suggest_slug(raw: str) -> str:
    """A valid slug close to `raw` (`Bad Slug!` -> `bad-slug`), or "" when none is."""
    text = re.sub(r"[^a-z0-9._-]+", "-", raw.strip().lower())
    text = re.sub(r"-{2,}", "-", text).strip("._-")[:MAX_SLUG].strip("._-")
    return text


def slug_problem(normalized: str, raw: str) -> str:
    """What follows `<label> "<raw>" is invalid`: the reason, the rule, a suggestion."""
    out = slug_reason(normalized)
    suggestion = suggest_slug(raw)
    if suggestion:
        out += f'; try "{suggestion}"'
    return out
