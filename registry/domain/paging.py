"""Keyset pages of a registry's profiles: sort orders, cursors, and what every store agrees on.

A page is read from a position in a total order, never with OFFSET, so reading page 200 of a
10,000-profile registry costs the same as reading page 1. Each sort is a key that is unique
per profile (its value, then the slug breaks ties):

- `slug` (the default): the slug;
- `display_name`: the display name casefolded (the slug for profiles without one), then slug;
- `updated`: the time of the last write in milliseconds, then slug.

Cursors name a position: for `slug` the slug itself (what clients have always sent), for the
other sorts an opaque token holding the key. `after=<cursor>` reads the page after it,
`before=<cursor>` the page before it, `last` the final page. Stores refuse a cursor of another
sort (400); the service also takes a profile's slug as a cursor in any sort (the page after
that profile), and answers 404 for a string that is neither.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from .errors import FieldError, ValidationError
from .model import Profile
from .ports import ProfilePage, ProfileQuery

SORTS = ("slug", "display_name", "updated")
SortValue = str | int


def sort_name(display_name: str, slug: str) -> str:
    """What the display-name sort compares: the casefolded name, the slug when unnamed."""
    return (display_name.strip() or slug).casefold()


def search_text_of(profile: Profile) -> str:
    """What `q` matches (casefolded substring): slug, display name, description and tags."""
    parts = (profile.slug, profile.display_name, profile.description, *profile.metadata.tags)
    return "\n".join(parts).casefold()


def sort_value(profile: Profile, sort: str) -> SortValue:
    """The sort key's first part for `profile` (the slug is always the second)."""
    if sort == "display_name":
        return sort_name(profile.display_name, profile.slug)
    if sort == "updated":
        return profile.metadata.updated_at_ms
    return profile.slug


def encode_cursor(sort: str, value: SortValue, slug: str) -> str:
    if sort == "slug":
        return slug
    raw = json.dumps([sort, value, slug], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_of(profile: Profile, sort: str) -> str:
    return encode_cursor(sort, sort_value(profile, sort), profile.slug)


def decode_cursor(sort: str, cursor: str, field: str = "cursor") -> tuple[SortValue, str]:
    """`(value, slug)` of a cursor made by `encode_cursor` for the same sort."""
    if sort == "slug":
        return cursor, cursor
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data: Any = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        data = None
    expected: Callable[[Any], bool] = (
        (lambda v: isinstance(v, int) and not isinstance(v, bool))
        if sort == "updated"
        else (lambda v: isinstance(v, str))
    )
    if (
        not isinstance(data, list)
        or len(data) != 3
        or data[0] != sort
        or not expected(data[1])
        or not isinstance(data[2], str)
    ):
        raise ValidationError(
            FieldError(field, f"is not a position in this listing (sorted by {sort})"),
            message=f"invalid {field}",
        )
    return data[1], data[2]


def distinct_tags(tag_lists: Iterable[Iterable[str]]) -> list[str]:
    """Tags compared case-insensitively, each shown in its most used spelling, sorted."""
    spellings: dict[str, Counter[str]] = {}
    for tags in tag_lists:
        for tag in tags:
            spellings.setdefault(tag.casefold(), Counter())[tag] += 1
    return sorted((counts.most_common(1)[0][0] for counts in spellings.values()), key=str.casefold)


def is_cursor(sort: str, cursor: str) -> bool:
    """Whether `cursor` is one `encode_cursor` made for `sort`."""
    try:
        decode_cursor(sort, cursor)
    except ValidationError:
        return False
    return True


def check_sort(sort: str) -> str:
    if sort not in SORTS:
        raise ValidationError(
            FieldError("sort", f"must be one of {', '.join(SORTS)}"), message="invalid sort"
        )
    return sort


def page_of(matches: list[Profile], query: ProfileQuery) -> ProfilePage:
    """The page `query` asks for out of all `matches` (any order): the reference behaviour,
    used by the in-memory YAML store and checked against the SQL stores by the contract tests.
    """
    sort, limit = query.sort, max(1, query.limit)

    def key(p: Profile) -> tuple[SortValue, str]:
        return (sort_value(p, sort), p.slug)

    ordered = sorted(matches, key=key, reverse=query.descending)
    keys = [key(p) for p in ordered]

    def preceding(cursor: str, field: str, *, inclusive: bool) -> int:
        """How many items come before the cursor's position (and the cursor's own item,
        when `inclusive`) in `ordered`."""
        bound = decode_cursor(sort, cursor, field)
        if query.descending:
            return sum(1 for k in keys if k > bound or (inclusive and k == bound))
        return sum(1 for k in keys if k < bound or (inclusive and k == bound))

    if query.before:
        end = preceding(query.before, "before", inclusive=False)
        start = max(0, end - limit)
        items = ordered[start:end]
    else:
        if query.last:
            start = max(0, len(ordered) - limit)
        elif query.after:
            start = preceding(query.after, "cursor", inclusive=True)
        else:
            start = 0
        items = ordered[start : start + limit]
    end = start + len(items)
    return ProfilePage(
        items=[p.clone() for p in items],
        next_cursor=cursor_of(items[-1], sort) if items and end < len(ordered) else "",
        prev_cursor=cursor_of(items[0], sort) if items and start > 0 else "",
        total=len(ordered),
        offset=start,
    )
