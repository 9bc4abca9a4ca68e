"""A JSON bundle read registry by registry (`json_bundle`, `stream_registries`): the same
registries and the same errors as decoding the whole document, with only one registry's
objects alive at a time."""

from __future__ import annotations

import gc
import json

import pytest

from registry.domain.errors import ValidationError
from registry.domain.json_bundle import bundle_spans
from registry.domain.model import Profile
from registry.domain.yaml_codec import (
    decode_registries,
    encode_registries,
    encode_registries_json,
    stream_registries,
)
from registry.domain.yaml_safe import MAX_DEPTH, load_document


def bundle(registries: int = 3, profiles: int = 4) -> dict:
    return {
        "registries": {
            f"r{r}": {
                "display_name": f"Registry {r}",
                "default_profile_slug": "p0",
                "profiles": {
                    f"p{i}": {"display_name": f"P {r}.{i}", "runtime": {"tools": ["search"]}}
                    for i in range(profiles)
                },
            }
            for r in range(registries)
        }
    }


def text_of(data: dict, indent: int | None = 1) -> str:
    return json.dumps(data, indent=indent)


def errors_of(call) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return [(e.field, e.message) for e in caught.value.errors]


@pytest.mark.parametrize("indent", [None, 1, 4])
def test_a_plain_bundle_streams_to_the_registries_decoding_gives(indent):
    text = text_of(bundle(), indent)
    assert bundle_spans(text, MAX_DEPTH) is not None
    stream = stream_registries(text)
    assert (stream.format, len(stream)) == ("bundle", 3)
    assert encode_registries(list(stream)) == encode_registries(decode_registries(text).registries)


def test_our_own_json_export_takes_the_streaming_lane():
    text = encode_registries_json(decode_registries(text_of(bundle())).registries)
    assert bundle_spans(text, MAX_DEPTH) is not None


@pytest.mark.parametrize("text", ['{"registries": {}}', '{ "registries" : { } }\n'])
def test_an_empty_bundle_streams_nothing(text):
    assert bundle_spans(text, MAX_DEPTH) is not None
    stream = stream_registries(text)
    assert (stream.format, len(stream), list(stream)) == ("bundle", 0, [])


def test_whitespace_anywhere_json_allows_it_still_streams():
    text = ' \n{ "registries" :\t{ "a" : { "display_name" : "A" } ,\r\n "b" : {} } }\n '
    assert bundle_spans(text, MAX_DEPTH) is not None
    assert [r.slug for r in stream_registries(text)] == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        '{"registries": {"a": {}, "a": {}}}',  # repeated key: the whole parse says where
        '{"registries": {"A": {}}}',  # not a normalized slug: decoded in slug order instead
        '{"registries": {" a": {}}}',
        '{"registries": {"a\\u0000": {}}}',  # a refused character in a key
        '{"registries": {"a": {"display_name": NaN}}}',
        '{"registries": {"a": {"display_name": "x\\u0000"}}}',
        '{"registries": {"a": {"n": 1e400}}}',
        '{"registries": {"a": {"p": {"q": 1, "q": 2}}}}',
        '{"registries": {"a": }',  # not JSON: YAML's parser reports where
        '{"registries": {}, "extra": 1}',
        '{"extra": 1, "registries": {}}',
        '{"registries": null}',
        '{"registries": {}} trailing',
        '{"slug": "team", "profiles": {}}',  # one registry, not a bundle
        "{}",
        '{"registries": {"a": ' + '{"x": ' * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1) + "}}",
    ],
)
def test_anything_but_a_clean_plain_bundle_is_decoded_whole(text):
    assert bundle_spans(text, MAX_DEPTH) is None
    try:
        expected = decode_registries(text)
    except ValidationError as exc:
        assert errors_of(lambda: list(stream_registries(text))) == [
            (e.field, e.message) for e in exc.errors
        ]
    else:
        stream = stream_registries(text)
        assert stream.format == expected.format
        assert encode_registries(list(stream)) == encode_registries(expected.registries)


def test_depth_just_inside_the_limit_streams():
    # a registry's value sits two levels down: MAX_DEPTH - 2 levels of it are the limit
    nested = '{"x": ' * (MAX_DEPTH - 2) + "1" + "}" * (MAX_DEPTH - 2)
    text = '{"registries": {"a": ' + nested + "}}"
    assert bundle_spans(text, MAX_DEPTH) is not None
    assert load_document(text)  # the whole-document parse takes it too
    assert bundle_spans('{"registries": {"a": {"x": ' + nested + "}}}", MAX_DEPTH) is None


def test_decoding_errors_of_a_stream_are_the_whole_documents_and_stop_it():
    data = bundle()
    data["registries"]["r1"]["slug"] = "other"  # contradicts its key
    data["registries"]["r2"] = ["not", "a", "mapping"]
    text = text_of(data)
    assert bundle_spans(text, MAX_DEPTH) is not None
    yielded = []
    with pytest.raises(ValidationError) as caught:
        for reg in stream_registries(text):
            yielded.append(reg.slug)
    assert yielded == ["r0"]  # nothing after the first problem
    whole = errors_of(lambda: decode_registries(text))
    assert [(e.field, e.message) for e in caught.value.errors] == whole
    assert [f for f, _ in whole] == ["registries[r1].slug", "registries[r2]"]


def test_only_one_registry_is_alive_at_a_time():
    text = text_of(bundle(registries=5, profiles=20))
    alive = []
    for _ in stream_registries(text):
        gc.collect()
        alive.append(sum(isinstance(o, Profile) for o in gc.get_objects()))
    assert max(alive) == 20, alive  # the registry in hand, never the next ones or the last


def test_a_document_decoded_whole_is_still_handed_over_one_by_one():
    text = "registries:\n  a: {}\n  b: {}\n"  # YAML: decoded whole first
    stream = stream_registries(text)
    assert (stream.format, len(stream), [r.slug for r in stream]) == ("bundle", 2, ["a", "b"])
    assert list(stream) == []  # iterated once
