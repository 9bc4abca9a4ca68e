"""YAML documents: a key given twice in a mapping, at any depth, and NUL / lone surrogates are
refused with their path; merge keys keep working."""

from __future__ import annotations

import pytest

from registry.domain.errors import ValidationError
from registry.domain.yaml_codec import decode_registries
from registry.domain.yaml_safe import safe_load


def fields(text: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        decode_registries(text)
    return [e.field for e in info.value.errors]


def test_duplicate_keys_at_any_depth_name_the_key_and_path():
    assert fields("a: 1\na: 2\n") == ["document.a"]
    bundle = (
        "registries:\n  default:\n    profiles:\n      p:\n"
        "        display_name: one\n        display_name: two\n"
    )
    assert fields(bundle) == ["document.registries.default.profiles.p.display_name"]
    with pytest.raises(
        ValidationError, match=r'duplicate key "x" \(line 3, column 3\), first given \(line 2'
    ):
        safe_load("l:\n- x: 1\n  x: 2\n")


def test_quoted_and_plain_spellings_are_the_same_key():
    assert fields('a: 1\n"a": 2\n') == ["document.a"]


def test_merge_keys_may_be_overridden_but_explicit_keys_may_not_repeat():
    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  x: 3\n"
    assert safe_load(text)["use"] == {"x": 3, "y": 2}
    with pytest.raises(ValidationError):
        safe_load("base: &b {x: 1}\nuse:\n  <<: *b\n  x: 3\n  x: 4\n")


@pytest.mark.parametrize("escape", ["\\0", "\\x00", "\\u0000"])
def test_nul_in_a_yaml_value_or_key_is_refused_with_its_path(escape):
    assert fields(f'registries:\n  default:\n    description: "a{escape}"\n') == [
        "document.registries.default.description"
    ]
    with pytest.raises(ValidationError, match="key contains NUL"):
        safe_load(f'"k{escape}": 1\n')


def test_lone_surrogate_escapes_are_refused():
    with pytest.raises(ValidationError):
        safe_load('a: "\\ud800"\n')
