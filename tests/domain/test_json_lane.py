"""The JSON lane: bundles as JSON are read by the standard library's parser, with the rules of
the YAML loader, and exported in the same canonical shape."""

from __future__ import annotations

import json

import pytest

from registry.domain.errors import ValidationError
from registry.domain.yaml_codec import decode_registries, encode_registries, encode_registries_json
from tests.conftest import FIXTURES


def bundle() -> str:
    return (FIXTURES / "canonical-bundle.yaml").read_text(encoding="utf-8")


def test_a_json_export_reads_back_to_the_same_registries():
    registries = decode_registries(bundle()).registries
    text = encode_registries_json(registries)
    again = decode_registries(text)
    assert again.format == "bundle"
    assert encode_registries(again.registries) == encode_registries(registries)
    assert list(json.loads(text)["registries"]) == sorted(r.slug for r in registries)


def test_json_is_read_by_the_json_parser_not_the_yaml_loader(monkeypatch):
    import registry.domain.yaml_safe as yaml_safe

    def no_yaml(*args, **kwargs):
        raise AssertionError("the YAML loader must not run for JSON")

    text = encode_registries_json(decode_registries(bundle()).registries)
    monkeypatch.setattr(yaml_safe, "safe_load", no_yaml)
    assert decode_registries(text).registries


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('{"registries": {"a": {}, "a": {}}}', "document.registries.a", "duplicate key"),
        ('{"registries": {"a": {"display_name": NaN}}}', "document", "NaN"),
        (
            '{"registries": {"a": {"display_name": "x\\u0000"}}}',
            "document.registries.a.display_name",
            "NUL",
        ),
        ('{"a": ' * 150 + "1" + "}" * 150, "document", "deeper than 100"),
    ],
)
def test_json_keeps_the_loader_rules(text, field, words):
    with pytest.raises(ValidationError) as caught:
        decode_registries(text)
    error = caught.value.errors[0]
    assert error.field == field and words.lower() in error.message.lower(), error


def test_yaml_flow_style_still_reads_as_yaml():
    decoded = decode_registries("{registries: {team: {profiles: {}}}}")
    assert [r.slug for r in decoded.registries] == ["team"]


def test_broken_json_is_reported_by_the_yaml_parser_with_a_position():
    with pytest.raises(ValidationError) as caught:
        decode_registries('{"registries": {"a": }')
    assert "(line 2, column 1)" in caught.value.errors[0].message
