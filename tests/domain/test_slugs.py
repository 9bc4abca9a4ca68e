"""Slugs."""

import pytest

from registry.domain.errors import ValidationError
from registry.domain.slugs import (
    ProfileSlug,
    RegistrySlug,
    RuntimeKey,
    SlugError,
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
    assert str(exc.value).endswith("is invalid")


def test_invalid_message_quotes_the_raw_input():
    with pytest.raises(SlugError, match=r'^profile slug "bad slug" is invalid$'):
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
    assert str(exc.value) == 'validation error (registry.slug): registry slug "Bad Key" is invalid'
