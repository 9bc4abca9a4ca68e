"""Slugs."""

import pytest

from registry.domain.errors import ValidationError
from registry.domain.slugs import (
    ProfileSlug,
    RegistrySlug,
    RuntimeKey,
    SlugError,
    go_quote,
    parse_slug,
    profile_slug,
    registry_slug,
)


def test_registry_slug_normalizes():
    assert RegistrySlug("  My-Registry_01  ") == "my-registry_01"
    assert ProfileSlug("Default") == "default"
    assert ProfileSlug("gemini-2.5-pro") == "gemini-2.5-pro"


@pytest.mark.parametrize(
    "raw",
    ["bad slug", "-lead", "trail-", ".x", "x.", "a" * 129, "caf\u00e9", "a/b", "a\nb", "tab\tx"],
)
def test_profile_slug_rejects_invalid(raw):
    with pytest.raises(SlugError) as exc:
        ProfileSlug(raw)
    assert str(exc.value).startswith("profile slug ")
    assert " is invalid: " in str(exc.value)  # the reference wording, then why


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (
            "Bad Slug!",
            'spaces and "!" are not allowed (use lower-case letters, digits, ".", '
            '"_" and "-"); try "bad-slug"',
        ),
        ("a/b", '"/" is not allowed (use lower-case letters, digits, ".", "_" and "-"); try "a-b"'),
        ("-lead", 'it must start and end with a letter or digit; try "lead"'),
        ("a" * 129, f'it is longer than 128 characters; try "{"a" * 128}"'),
        ("!!!", '"!" is not allowed (use lower-case letters, digits, ".", "_" and "-")'),
        (
            "a\ud800b",
            'U+D800 is not allowed (use lower-case letters, digits, ".", "_" and "-"); try "a-b"',
        ),
    ],
)
def test_invalid_slugs_say_why_and_suggest_one(raw, why):
    with pytest.raises(SlugError) as exc:
        parse_slug(raw, "registry slug")
    assert str(exc.value) == f"registry slug {go_quote(raw)} is invalid: {why}"


def test_invalid_message_quotes_the_raw_input():
    with pytest.raises(SlugError, match=r'^profile slug "bad slug" is invalid: spaces are not'):
        parse_slug("bad slug", "profile slug")


@pytest.mark.parametrize("raw", ["", "  ", "\t\n"])
def test_empty_slugs_are_rejected(raw):
    with pytest.raises(SlugError, match="runtime key cannot be empty"):
        RuntimeKey(raw)
    with pytest.raises(SlugError, match="registry slug cannot be empty"):
        RegistrySlug(raw)


def test_boundaries():
    assert parse_slug("a") == "a"
    assert parse_slug("a" * 128) == "a" * 128
    assert parse_slug("a..b--c__d") == "a..b--c__d"
    with pytest.raises(SlugError):
        parse_slug("a" * 129)


def test_non_string_input_is_rejected():
    with pytest.raises(SlugError):
        parse_slug(12)  # type: ignore[arg-type]


def test_distinct_types_share_one_parser():
    assert type(RegistrySlug("x")) is not type(ProfileSlug("x"))
    assert RegistrySlug("X") == ProfileSlug("X") == "x"


def test_validation_wrappers_carry_field_paths():
    with pytest.raises(ValidationError) as exc:
        profile_slug("  ")
    assert (exc.value.field, exc.value.reason) == ("profile.slug", "must not be empty")
    with pytest.raises(ValidationError) as exc:
        registry_slug("Bad Key")
    assert exc.value.field == "registry.slug"
    assert str(exc.value).startswith(
        'validation error (registry.slug): registry slug "Bad Key" is invalid: spaces are not'
    )
    assert str(exc.value).endswith('try "bad-key"')
