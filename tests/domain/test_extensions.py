"""Extension keys, typed keys, codecs."""

from dataclasses import dataclass

import pytest

from registry.domain.errors import ValidationError
from registry.domain.extensions import (
    Codec,
    CodecRegistry,
    ExtensionKey,
    ExtensionKeyError,
    Limits,
    StarterSuggestions,
    builtin_codecs,
    make_extension_key,
    normalize_extensions,
    parse_extension_key,
    starter_suggestions,
)
from registry.domain.model import Profile


def test_parse_extension_key_normalizes():
    assert (
        parse_extension_key("  WebChat.Starter_Suggestions@V1 ") == "webchat.starter_suggestions@v1"
    )
    assert parse_extension_key("a.b@v99999") == "a.b@v99999"


@pytest.mark.parametrize(
    "raw",
    [
        "missingversion",
        "namespace.feature@v0",
        "namespace.@v1",
        "namespace.feature@v-1",
        "name space.feature@v1",
        "a.b.c@v1",
        "a.b@v100000",
        "a.b@v01",
        "-a.b@v1",
    ],
)
def test_parse_extension_key_rejects(raw):
    with pytest.raises(ExtensionKeyError, match=r"\(expected namespace.feature@vN\)"):
        parse_extension_key(raw)


def test_empty_key():
    with pytest.raises(ExtensionKeyError, match="extension key cannot be empty"):
        parse_extension_key("  ")


def test_make_extension_key():
    assert make_extension_key("app", "x", 1) == "app.x@v1"
    with pytest.raises(ExtensionKeyError, match=">= 1"):
        make_extension_key("app", "x", 0)


def test_typed_key_get_set_delete_decode():
    p = Profile(slug="a")
    assert starter_suggestions.get(p) is None
    starter_suggestions.set(p, StarterSuggestions(items=["one", "two"]))
    assert p.extensions == {"webchat.starter_suggestions@v1": {"items": ["one", "two"]}}
    assert starter_suggestions.get(p) == StarterSuggestions(items=["one", "two"])
    starter_suggestions.delete(p)
    assert p.extensions == {}


def test_typed_key_decode_failure_names_the_key():
    @dataclass
    class Hints:
        accent: str

    key = ExtensionKey("ui.hints@v1", Hints)
    p = Profile(slug="a", extensions={"ui.hints@v1": {"wrong": 1}})
    with pytest.raises(ValidationError) as exc:
        key.get(p)
    assert exc.value.field == "profile.extensions[ui.hints@v1]"


def test_typed_key_refuses_non_json_values():
    key = ExtensionKey("app.x@v1", lambda v: v)
    with pytest.raises(ValidationError, match="JSON"):
        key.set(Profile(slug="a"), {"n": float("nan")})


def test_codec_registry_duplicate_and_sorting():
    reg = CodecRegistry()
    reg.register(Codec("zeta.x@v1", {"type": "object"}))
    reg.register(Codec("Alpha.X@V1", {"type": "object"}))
    assert [c.key for c in reg.all()] == ["alpha.x@v1", "zeta.x@v1"]
    with pytest.raises(ValidationError) as exc:
        reg.register(Codec("ALPHA.x@v1", {"type": "object"}))
    assert exc.value.field == "extensions.codecs[alpha.x@v1]"


def codecs():
    return CodecRegistry(builtin_codecs())


def test_known_codec_normalizes_and_canonicalizes():
    out, errors = normalize_extensions(
        {" WebChat.Starter_Suggestions@V1": {"items": ["  a ", "b"]}}, codecs()
    )
    assert errors == []
    assert out == {"webchat.starter_suggestions@v1": {"items": ["a", "b"]}}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"items": "x"}, "profile.extensions[webchat.starter_suggestions@v1].items"),
        ({"items": [""]}, "profile.extensions[webchat.starter_suggestions@v1].items[0]"),
        ({"items": ["  "]}, "profile.extensions[webchat.starter_suggestions@v1].items[0]"),
        ({"items": ["a"], "x": 1}, "profile.extensions[webchat.starter_suggestions@v1].x"),
        ({"items": ["a"] * 21}, "profile.extensions[webchat.starter_suggestions@v1].items"),
        (None, "profile.extensions[webchat.starter_suggestions@v1]"),
    ],
)
def test_known_codec_failures_carry_paths(value, field):
    _, errors = normalize_extensions({"webchat.starter_suggestions@v1": value}, codecs())
    assert [e.field for e in errors] == [field]


def test_codec_fills_defaults():
    out, errors = normalize_extensions({"webchat.starter_suggestions@v1": {}}, codecs())
    assert (out, errors) == ({"webchat.starter_suggestions@v1": {"items": []}}, [])


def test_unknown_keys_pass_through_as_deep_copies():
    source = {"vendor.Custom@V1": {"flags": [{"enabled": True}], "n": None}}
    out, errors = normalize_extensions(source, codecs())
    assert errors == []
    out["vendor.custom@v1"]["flags"][0]["enabled"] = False
    assert source["vendor.Custom@V1"]["flags"][0]["enabled"] is True


def test_strict_mode_rejects_unknown_keys():
    _, errors = normalize_extensions({"vendor.x@v1": 1}, codecs(), strict=True)
    assert [(e.field, e.message) for e in errors] == [
        ("profile.extensions[vendor.x@v1]", "unknown extension key")
    ]


def test_invalid_key_and_duplicates_after_canonicalization():
    _, errors = normalize_extensions({"bad key": {}, "App.X@v1": 1, "app.x@v1": 2}, codecs())
    assert [e.field for e in errors] == [
        "profile.extensions[app.x@v1]",
        "profile.extensions[bad key]",
    ]
    assert errors[1].message == 'extension key "bad key" is invalid (expected namespace.feature@vN)'


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), {1: "x"}, {"s": {1, 2}}, b"bytes"],
)
def test_non_json_payloads_are_rejected(value):
    _, errors = normalize_extensions({"app.x@v1": value}, codecs())
    assert errors and errors[0].field == "profile.extensions[app.x@v1]"
    assert errors[0].message.startswith("payload must be JSON-serializable")


def test_size_and_depth_limits():
    limits = Limits(extension_bytes=100, depth=3)
    _, errors = normalize_extensions({"app.x@v1": "x" * 200}, codecs(), limits=limits)
    assert "limit" in errors[0].message
    _, errors = normalize_extensions({"app.x@v1": [[[[[1]]]]]}, codecs(), limits=limits)
    assert "deeper" in errors[0].message
