"""The compiled validator (jsonschema-rs) only answers "valid?": every value must get the same
answer, errors and normalized value as through `jsonschema` alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.domain.extensions import builtin_codecs
from registry.domain.middleware import load_definitions
from registry.domain.schema import SchemaNormalizer

EXTRA_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "^[a-z]{2}-\\d+$"},
            "n": {"type": "integer", "minimum": 1, "maximum": 10},
            "ratio": {"type": "number", "exclusiveMaximum": 1},
            "mode": {"enum": ["plan", "act"]},
            "when": {"type": "string", "format": "date"},  # an annotation, never asserted
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        },
        "required": ["code"],
        "additionalProperties": False,
    },
    {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
    {"oneOf": [{"type": "string"}, {"type": "integer"}]},
]


def _schemas() -> list[dict[str, Any]]:
    shipped = [c.schema for c in builtin_codecs()] + [d.schema for d in load_definitions()]
    return shipped + EXTRA_SCHEMAS


def _slow(schema: dict[str, Any], value: Any) -> tuple[Any, list[Any]]:
    """The same normalizer with the compiled validator switched off."""
    normalizer = SchemaNormalizer(schema)
    normalizer._fast = None
    return normalizer.normalize(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["plan", "act", "ab-12", "2024-01-01", "not a date", "3", "true"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["code", "n", "ratio", "mode", "when", "tags", "items", "dsn", "x"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("index", range(len(_schemas())))
@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_compiled_validator_agrees_with_jsonschema(index: int, value: Any) -> None:
    schema = _schemas()[index]
    fast = SchemaNormalizer(schema)
    assert fast._fast is not None  # the shipped schemas all compile
    assert fast.normalize(copy.deepcopy(value)) == _slow(schema, value)


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        ({"code": "ab-12", "n": 3}, []),
        ({"code": "AB-12"}, [".code"]),  # pattern
        ({"code": "ab-1", "n": 11}, [".n"]),  # maximum
        ({"n": 2}, [".code"]),  # required
        ({"code": "ab-1", "tags": ["a", "a"]}, [".tags"]),  # uniqueItems
        ({"code": "ab-1", "extra": 1}, [".extra"]),  # additionalProperties
        ({"code": "ab-1", "when": "not a date"}, []),  # formats are annotations
        ({"code": "ab-1", "n": 2**80}, [".n"]),  # beyond 64 bits: still checked
    ],
)
def test_errors_have_the_field_paths_of_jsonschema(value: Any, fields: list[str]) -> None:
    normalized, errors = SchemaNormalizer(EXTRA_SCHEMAS[0]).normalize(value)
    assert [e.field for e in errors] == fields
    assert (normalized, errors) == _slow(EXTRA_SCHEMAS[0], value)


def test_owned_value_is_normalized_in_place_and_a_borrowed_one_is_copied() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 5}}}
    borrowed: dict[str, Any] = {}
    SchemaNormalizer(schema).normalize(borrowed)
    assert borrowed == {}
    owned: dict[str, Any] = {}
    value, _ = SchemaNormalizer(schema).normalize(owned, owned=True)
    assert value is owned and owned == {"n": 5}
