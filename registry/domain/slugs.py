"""Slugs: one parser for registry slugs, profile slugs and runtime keys (README, Concepts and
decisions: "Slugs")."""

from __future__ import annotations

import re

from .errors import FieldError, ValidationError
from .messages import slug_problem

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?")


class _Slug(str):
    """A normalized slug. Subclasses differ only in the label used in messages."""

    label = "slug"

    def __new__(cls, raw: str) -> _Slug:
        return super().__new__(cls, parse_slug(raw, cls.label))


class RegistrySlug(_Slug):
    label = "registry slug"


class ProfileSlug(_Slug):
    label = "profile slug"


class RuntimeKey(_Slug):
    label = "runtime key"


class SlugError(ValueError):
    """Raised by `parse_slug`; the text starts with the reference wording
    (`profile slug "x" is invalid`) and goes on to say why and what to use instead."""


def parse_slug(raw: object, label: str = "slug") -> str:
    """Trim and lower-case `raw`, then check the slug grammar."""
    if not isinstance(raw, str):
        raise SlugError(f"{label} must be a string")
    normalized = raw.strip().lower()
    if not normalized:
        raise SlugError(f"{label} cannot be empty")
    if not SLUG_RE.fullmatch(normalized):
        raise SlugError(f"{label} {_go_quote(raw)} is invalid: {slug_problem(normalized, raw)}")
    return normalized


def slug_or_error(raw: object, field: str, label: str) -> str:
    """Parse a slug, raising a `ValidationError` on `field` that keeps the parser's message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValidationError(FieldError(field, "must not be empty"))
    try:
        return parse_slug(raw, label)
    except SlugError as exc:
        raise ValidationError(FieldError(field, str(exc))) from None


def registry_slug(raw: object, field: str = "registry.slug") -> str:
    return slug_or_error(raw, field, RegistrySlug.label)


def profile_slug(raw: object, field: str = "profile.slug") -> str:
    return slug_or_error(raw, field, ProfileSlug.label)


def _go_quote(raw: str) -> str:
    """Quote like Go's %q for the common cases (used in messages that clients match on)."""
    out = ['"']
    for ch in raw:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:  # a lone surrogate: printing it would fail
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


go_quote = _go_quote
