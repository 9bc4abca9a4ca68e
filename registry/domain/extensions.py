"""Extension keys, typed keys, codecs and the codec registry (see README, Concepts and decisions).

Extensions are an open map on profiles and registries: `namespace.feature@vN` -> JSON value.
A codec owns one key: it publishes a JSON Schema for editors and normalizes values on every
write. Keys without a codec are kept as data, untouched.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast

from .errors import FieldError, ValidationError
from .jsonutil import NotJSON, check_json
from .messages import empty_item
from .schema import JSONSchema, SchemaNormalizer
from .slugs import go_quote

EXTENSION_KEY_RE = re.compile(
    r"([a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?)\.([a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?)@v([1-9][0-9]{0,4})"
)

T = TypeVar("T")


class ExtensionKeyError(ValueError):
    pass


def parse_extension_key(raw: object) -> str:
    """Trim and lower-case, then check `namespace.feature@vN`; returns the canonical key."""
    if not isinstance(raw, str):
        raise ExtensionKeyError("extension key must be a string")
    normalized = raw.strip().lower()
    if not normalized:
        raise ExtensionKeyError("extension key cannot be empty")
    if not EXTENSION_KEY_RE.fullmatch(normalized):
        raise ExtensionKeyError(
            f"extension key {go_quote(raw)} is invalid (expected namespace.feature@vN)"
        )
    return normalized


def make_extension_key(namespace: str, feature: str, version: int) -> str:
    if version < 1:
        raise ExtensionKeyError("extension key version must be >= 1")
    return parse_extension_key(f"{namespace}.{feature}@v{version}")


class HasExtensions(Protocol):
    extensions: dict[str, Any]


class ExtensionKey(Generic[T]):
    """Typed access to one extension of a profile or registry.

    `decode` turns the stored JSON into `T`: a dataclass (built from the JSON object) or any
    callable taking the JSON value. `set` stores the JSON form, so data stays plain JSON.
    """

    def __init__(self, key: str, type_: type[T] | Callable[[Any], T]):
        self.key = parse_extension_key(key)
        self._type = type_

    def decode(self, raw: Any) -> T:
        if raw is None:
            raise ValidationError(FieldError(self._field, "cannot decode null"))
        if isinstance(self._type, type) and isinstance(raw, self._type):
            # `_type` is `type[T] | Callable`: the check proves `raw` is a T, mypy cannot.
            return cast(T, raw)
        try:
            data = json.loads(json.dumps(raw, allow_nan=False))
            if dataclasses.is_dataclass(self._type) and isinstance(data, dict):
                return self._type(**data)  # type: ignore[return-value]
            return self._type(data)  # type: ignore[call-arg]
        except (TypeError, ValueError) as exc:
            raise ValidationError(FieldError(self._field, f"cannot decode: {exc}")) from None

    def get(self, holder: HasExtensions) -> T | None:
        """The decoded value, or None when absent."""
        raw = (holder.extensions or {}).get(self.key)
        return None if raw is None else self.decode(raw)

    def set(self, holder: HasExtensions, value: T) -> None:
        data = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value  # type: ignore[arg-type]
        try:
            check_json(data)
        except NotJSON as exc:
            raise ValidationError(FieldError(self._field, f"payload must be JSON: {exc}")) from None
        holder.extensions[self.key] = copy.deepcopy(data)

    def delete(self, holder: HasExtensions) -> None:
        holder.extensions.pop(self.key, None)

    @property
    def _field(self) -> str:
        return f"profile.extensions[{self.key}]"


@dataclass
class Codec:
    """Owns one extension key: schema for editors, `normalize` on every write.

    `normalize` validates against the schema, fills defaults and coerces types; a subclass
    may add rules with `check` (extra problems, paths relative to the value).
    """

    key: str
    schema: JSONSchema
    display_name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        self.key = parse_extension_key(self.key)
        self._normalizer = SchemaNormalizer(self.schema)

    def normalize(self, value: Any, *, owned: bool = False) -> Any:
        """The value as stored, or `ValidationError`; `owned`: `value` is the caller's own
        copy and may be normalized in place."""
        value, errors = self._normalizer.normalize(value, owned=owned)
        if not errors:
            value, errors = self.check(value)
        if errors:
            raise ValidationError(errors)
        return value

    def check(self, value: Any) -> tuple[Any, list[FieldError]]:
        return value, []

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "schema": copy.deepcopy(self.schema)}
        if self.display_name:
            out["display_name"] = self.display_name
        if self.description:
            out["description"] = self.description
        return out


class CodecRegistry:
    """Codecs keyed by canonical key; listing is in key order."""

    def __init__(self, codecs: list[Codec] | None = None):
        self._codecs: dict[str, Codec] = {}
        for codec in codecs or []:
            self.register(codec)

    def register(self, codec: Codec) -> None:
        key = parse_extension_key(codec.key)
        if key in self._codecs:
            raise ValidationError(FieldError(f"extensions.codecs[{key}]", "duplicate codec key"))
        self._codecs[key] = codec

    def get(self, key: str) -> Codec | None:
        return self._codecs.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._codecs

    def all(self) -> list[Codec]:
        return [self._codecs[k] for k in sorted(self._codecs)]


# --- built-in codecs ---------------------------------------------------------------------------

STARTER_SUGGESTIONS_KEY = "webchat.starter_suggestions@v1"


@dataclass
class StarterSuggestions:
    items: list[str]


class StarterSuggestionsCodec(Codec):
    """`{"items": [string, ...]}`: trimmed, non-empty, at most 20."""

    def __init__(self) -> None:
        super().__init__(
            key=STARTER_SUGGESTIONS_KEY,
            schema={
                "title": "Starter suggestions",
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "title": "Suggestions",
                        "description": "Prompts a chat client offers before the first message.",
                        "items": {"type": "string", "minLength": 1, "title": "Suggestion"},
                        "maxItems": 20,
                        "default": [],
                    }
                },
                "required": ["items"],
                "additionalProperties": False,
            },
            display_name="Starter suggestions",
            description="Suggested first prompts shown by chat clients.",
        )

    def check(self, value: Any) -> tuple[Any, list[FieldError]]:
        errors = []
        items = [s.strip() for s in value["items"]]
        for i, item in enumerate(items):
            if not item:
                errors.append(FieldError(f".items[{i}]", empty_item("suggestion")))
        return {**value, "items": items}, errors


starter_suggestions = ExtensionKey(STARTER_SUGGESTIONS_KEY, StarterSuggestions)


def builtin_codecs() -> list[Codec]:
    return [StarterSuggestionsCodec()]


# --- normalization on write ------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Payload limits: per extension value, per profile, nesting depth."""

    extension_bytes: int = 64 * 1024
    profile_bytes: int = 1024 * 1024
    depth: int = 32


def _owned(value: Any) -> Any:
    return value


def normalize_extensions(
    extensions: dict[str, Any],
    codecs: CodecRegistry,
    *,
    path: str = "profile.extensions",
    limits: Limits = Limits(),
    strict: bool = False,
    owned: bool = False,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Canonicalize keys, run codecs, keep unknown keys; return the new map and all problems.
    `owned`: the values are the caller's own (a profile being prepared), so they are
    normalized in place instead of copied first."""
    own = _owned if owned else copy.deepcopy
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    seen: dict[str, str] = {}
    for raw_key in sorted(extensions, key=str):
        value = extensions[raw_key]
        try:
            key = parse_extension_key(raw_key)
        except ExtensionKeyError as exc:
            shown = raw_key.strip() if isinstance(raw_key, str) else raw_key
            errors.append(FieldError(f"{path}[{shown}]", str(exc)))
            continue
        field = f"{path}[{key}]"
        if key in seen:
            errors.append(
                FieldError(field, f"duplicate extension key (also given as {go_quote(seen[key])})")
            )
            continue
        seen[key] = raw_key
        try:
            check_json(value, max_depth=limits.depth, max_bytes=limits.extension_bytes)
        except NotJSON as exc:
            errors.append(FieldError(field, f"payload must be JSON-serializable: {exc}"))
            continue
        codec = codecs.get(key)
        if codec is None:
            if strict:
                errors.append(FieldError(field, "unknown extension key"))
            out[key] = own(value)
            continue
        try:
            out[key] = codec.normalize(own(value), owned=True)
        except ValidationError as exc:
            errors.extend(FieldError(field + e.field, e.message) for e in exc.errors)
    return out, errors
