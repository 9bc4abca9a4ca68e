"""JSON helpers: canonical encoding and checks that a value is plain JSON."""

from __future__ import annotations

import hashlib
import json
import math
import sys
from typing import Any

from .errors import FieldError, ValidationError
from .messages import json_syntax
from .text import child_path, refused_fields


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators: the form used for fingerprints and comparisons."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_digest(value: Any) -> str:
    """Hex SHA-256 of `canonical_json(value)`: the one content hash behind fingerprints and
    content ETags, so equal values hash equal wherever they are hashed."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


class NotJSON(ValueError):
    pass


def check_json(value: Any, *, max_depth: int = 32, max_bytes: int = 0) -> int:
    """Check that `value` is plain JSON within the limits; return its serialized size.

    Rejects NaN/Infinity, non-string keys, sets, bytes and other objects, nesting deeper than
    `max_depth`, and (when `max_bytes` > 0) a serialized size above it.
    """
    _walk(value, 0, max_depth)
    try:
        size = len(json.dumps(value, allow_nan=False, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:  # pragma: no cover - _walk catches these first
        raise NotJSON(str(exc)) from None
    if max_bytes and size > max_bytes:
        raise NotJSON(f"payload is {size} bytes, more than the limit of {max_bytes}")
    return size


_PLAIN = (str, int, bool, type(None))  # exact types that need no further look


def _walk(value: Any, depth: int, max_depth: int) -> None:
    """Iterative (values may be deep) and without a call per scalar, which made this walk a
    tenth of validating a bulk import."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level > max_depth:
            raise NotJSON(f"nesting is deeper than {max_depth} levels")
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise NotJSON(f"object keys must be strings, not {type(key).__name__}")
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            _check_scalar(item)
            continue
        for child in children:
            if type(child) not in _PLAIN:
                stack.append((child, level + 1))
            elif level + 1 > max_depth:
                raise NotJSON(f"nesting is deeper than {max_depth} levels")


def _check_scalar(value: Any) -> None:
    if value is None or isinstance(value, (bool, str, int)):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise NotJSON("NaN and Infinity are not JSON")
        return
    raise NotJSON(f"{type(value).__name__} is not a JSON value")


# --- the one strict JSON parser (API bodies and the editor's JSON textareas) ------------------

MAX_PARSE_DEPTH = 64


class _Duplicated(dict[str, Any]):
    """An object that repeated a key (`object_pairs_hook` cannot say where it is; the walk
    after parsing does)."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    marked = _Duplicated(out)
    seen: set[str] = set()
    marked.duplicates = [k for k, _ in pairs if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
    return marked


class _Refused(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """`1e400` parses to infinity, which no JSON answer could carry back: refuse it."""
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:32]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    """Integers past the interpreter's digit limit would fail (500) when converted."""
    limit = sys.get_int_max_str_digits()  # 0 = no limit
    if limit and len(text.lstrip("-")) > limit:
        raise _Refused(f"integer has more than {limit} digits")
    return int(text)


# The strict reading of `parse_json`: repeated keys marked for the walk after parsing,
# NaN/Infinity and numbers no answer could carry refused while parsing.
STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs,
    parse_constant=_reject_constant,
    parse_float=_finite_float,
    parse_int=_bounded_int,
)
STRICT_ERRORS = (json.JSONDecodeError, RecursionError, _Refused)  # what `STRICT_DECODER` raises


class NotJSONText(ValidationError):
    """The text is not JSON at all (a syntax error), as opposed to JSON with bad content."""


def parse_json(
    text: str, *, field: str = "body", base: str = "", max_depth: int = MAX_PARSE_DEPTH
) -> Any:
    """Parse JSON strictly; raise one `ValidationError` listing what is wrong.

    Problems of the whole text (syntax, NaN/Infinity, numbers out of range, nesting deeper
    than `max_depth`, which also keeps hostile input from exhausting Python's recursion) are
    reported on `field`. Problems inside it are reported at their own path under `base`
    (`base` "" gives body-relative paths such as `runtime.tools[0]`): a key given twice in
    one object (JSON allows it, but "last wins" silently drops data), and strings or keys
    holding characters no store may keep (`text.refused_fields`).
    """
    try:
        data = STRICT_DECODER.decode(text)
    except RecursionError:
        raise ValidationError(FieldError(field, _too_deep(max_depth))) from None
    except json.JSONDecodeError as exc:
        message = json_syntax(exc.msg, exc.lineno, exc.colno)
        raise NotJSONText(FieldError(field, message)) from None
    except _Refused as exc:
        raise ValidationError(FieldError(field, str(exc))) from None
    errors = value_problems(data, field, base, max_depth)
    if errors:
        raise ValidationError(errors)
    return data


def value_problems(data: Any, field: str, base: str, max_depth: int) -> list[FieldError]:
    """What `parse_json` refuses in a parsed value: nesting deeper than `max_depth` (on
    `field`), then repeated keys and refused characters (at their paths under `base`)."""
    errors = _structure_errors(data, field, base, max_depth)
    return errors or [FieldError(p, m) for p, m in refused_fields(data, base)]


def textarea_message(message: str) -> str:
    """A whole-text problem as an editor shows it beside a JSON textarea (syntax errors
    already say `JSON: ...`)."""
    if message.startswith(("JSON", "must be valid JSON")):
        return message
    return "must be valid JSON: " + message


def _too_deep(max_depth: int) -> str:
    return f"JSON is nested deeper than {max_depth} levels"


def _structure_errors(data: Any, field: str, base: str, max_depth: int) -> list[FieldError]:
    """Nesting depth and repeated keys, without recursion (the input may be hostile).

    A first walk checks the depth and looks for repeated keys without building a path per
    value (paths were most of the cost of a bulk JSON import); only a document that repeats a
    key is walked again to say where."""
    duplicated = False
    shallow: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, (dict, list)) else []
    while shallow:
        item, depth = shallow.pop()
        if depth > max_depth:
            return [FieldError(field, _too_deep(max_depth))]
        children = item.values() if isinstance(item, dict) else item
        duplicated = duplicated or isinstance(item, _Duplicated)
        shallow.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    if not duplicated:
        return []
    errors: list[FieldError] = []
    stack: list[tuple[Any, str, int]] = [(data, base, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                return [FieldError(field, _too_deep(max_depth))]
            if isinstance(item, _Duplicated):
                errors.extend(
                    FieldError(child_path(where, key), f"duplicate key {json.dumps(key)}")
                    for key in item.duplicates
                )
            stack.extend((v, child_path(where, k), depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            if depth > max_depth:
                return [FieldError(field, _too_deep(max_depth))]
            stack.extend((v, child_path(where, i), depth + 1) for i, v in enumerate(item))
    return sorted(errors)
