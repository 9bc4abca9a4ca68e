"""JSON Schema normalization: fill defaults, coerce scalar types, validate, report by path.

Used by extension codecs and middleware configs. Errors are `FieldError`s
whose paths are relative to the value (`.items[2]`, `.max_rows`), so callers prefix them with
where the value lives (`runtime.middlewares[0].config`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .errors import FieldError
from .messages import schema_message

JSONSchema = dict[str, Any]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def check_schema(schema: JSONSchema) -> None:
    """Raise `ValueError` when `schema` is not a valid JSON Schema (2020-12)."""
    if not isinstance(schema, dict):
        raise ValueError("schema must be an object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None


def join_path(base: str, parts: Iterable[str | int]) -> str:
    out = base
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class SchemaNormalizer:
    """A compiled schema: `normalize(value)` returns `(value, errors)`.

    Two validators of the same schema: jsonschema-rs (compiled, ~50x faster) answers "valid?"
    for every value, and only an invalid one goes through `jsonschema`, whose errors carry the
    paths and keywords our messages are made from. Formats are annotations in both (never
    asserted), as 2020-12 specifies by default.
    """

    def __init__(self, schema: JSONSchema):
        check_schema(schema)
        self.schema = schema
        self._validator = Draft202012Validator(schema)
        self._fast: Any = _compiled(schema)

    def normalize(self, value: Any, *, owned: bool = False) -> tuple[Any, list[FieldError]]:
        """`owned`: the caller hands over `value` (a copy of its own), so it is normalized in
        place instead of being copied first."""
        value = _coerce(self.schema, value if owned else copy.deepcopy(value))
        if self._fast is not None:
            try:
                if self._fast.is_valid(value):
                    return value, []
            except (ValueError, TypeError, OverflowError):
                pass  # a value the compiled validator cannot take: the full path decides
        errors = sorted(
            (_field_error(e) for e in self._validator.iter_errors(value)),
            key=lambda fe: (fe.field, fe.message),
        )
        return value, errors

    def defaults(self) -> Any:
        """The value a form starts from: the schema's defaults, nothing else."""
        return _coerce(self.schema, {} if _types(self.schema) & {"object"} else None)


def _compiled(schema: JSONSchema) -> Any:
    """jsonschema-rs's validator of `schema`, or None when it refuses a schema that
    `jsonschema` accepts (then every value takes the full path)."""
    try:
        return jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
    except (ValueError, TypeError):
        return None


def _types(schema: JSONSchema) -> set[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    if "properties" in schema:
        return {"object"}
    return set()


def _coerce(schema: Any, value: Any) -> Any:
    """Fill object defaults and coerce strings to the declared scalar type where unambiguous."""
    if not isinstance(schema, dict):
        return value
    types = _types(schema)
    if value is None:
        return value
    if isinstance(value, dict) and "object" in types:
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name not in value and isinstance(sub, dict) and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            elif name in value:
                value[name] = _coerce(sub, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in value:
                if name not in props:
                    value[name] = _coerce(extra, value[name])
        return value
    if isinstance(value, list) and "array" in types:
        items = schema.get("items")
        return [_coerce(items, v) for v in value] if isinstance(items, dict) else value
    if isinstance(value, str) and not ({"string"} & types):
        text = value.strip()
        if "integer" in types:
            try:
                return int(text)
            except ValueError:
                pass
        if "number" in types:
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is not None and number == number and abs(number) != float("inf"):
                return int(number) if number.is_integer() and "." not in text else number
        if "boolean" in types:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
    if isinstance(value, float) and "integer" in types and value.is_integer():
        return int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and types == {"string"}:
        return str(value)
    return value


def _field_error(err: Any) -> FieldError:
    path = list(err.absolute_path)
    validator = err.validator
    if validator == "required":
        missing = _quoted(err.message)
        return FieldError(join_path("", [*path, missing]), "is required")
    if validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set((err.schema.get("properties") or {}).keys())
        extra = sorted(k for k in err.instance if k not in allowed)
        if len(extra) == 1:
            return FieldError(join_path("", [*path, extra[0]]), "unknown property")
        return FieldError(join_path("", path), f"unknown properties: {', '.join(extra)}")
    message = schema_message(validator, err.validator_value, err.instance, err.schema, path)
    return FieldError(join_path("", path), message or err.message)


def _quoted(message: str) -> str:
    # jsonschema: "'dsn' is a required property"
    if message.startswith("'") and "' is a required property" in message:
        return message[1 : message.index("' is a required property")]
    return message
