"""A JSON bundle read registry by registry, so a large file is never one parsed tree.

`json.loads` of a 100,000-profile bundle (96 MB) builds about 350 MB of objects before the
first registry is decoded. Here a first pass parses each registry's value on its own with the
strict reader of `jsonutil.parse_json` (every check of the whole-document parse), keeps only
where the value lies in the text and drops it; registries are then parsed again, one at a
time, as they are decoded. The second parse is the C parser without hooks, a tenth of the
first.

Only the plain shape our exports write takes this lane: `{"registries": {...}}` with nothing
else at the top, keys already normalized slugs. Anything else, and any problem at all, gives
`None`, and the caller parses the whole document as before, so what is refused, and how its
error reads, never depends on the lane.
"""

from __future__ import annotations

import json
from json.decoder import WHITESPACE, scanstring  # type: ignore[attr-defined]

from .jsonutil import STRICT_DECODER, STRICT_ERRORS, value_problems
from .text import has_refused

_PLAIN = json.JSONDecoder()


class _NotPlain(Exception):
    pass


class BundleSpans:
    """Where each registry of a clean JSON bundle lies in its text, by registry slug."""

    def __init__(self, text: str, spans: dict[str, int]) -> None:
        self.text = text
        self.spans = spans

    def __len__(self) -> int:
        return len(self.spans)

    def value(self, key: str) -> object:
        """The registry's value, parsed again (it passed every check the first time)."""
        return _PLAIN.raw_decode(self.text, self.spans[key])[0]


def bundle_spans(text: str, max_depth: int) -> BundleSpans | None:
    """The registries of `text` if it is a clean JSON bundle of the plain shape, else `None`.

    `max_depth` is the document's nesting limit (a registry's value sits two levels down)."""
    try:
        return BundleSpans(text, _scan(text, max_depth))
    except _NotPlain:
        return None


def _scan(text: str, max_depth: int) -> dict[str, int]:
    at = _expect(text, _skip(text, 0), "{")
    key, at = _key(text, at)
    if key != "registries":
        raise _NotPlain
    at = _expect(text, at, "{")
    spans: dict[str, int] = {}
    if text.startswith("}", at):
        at = _skip(text, at + 1)
    else:
        while True:
            key, at = _key(text, at)
            if key in spans or key != key.strip().lower() or has_refused(key):
                raise _NotPlain  # repeated, or decoded in another order than the keys sort
            try:
                value, end = STRICT_DECODER.raw_decode(text, at)
            except STRICT_ERRORS:
                raise _NotPlain from None
            if value_problems(value, "document", "", max_depth - 2):
                raise _NotPlain
            spans[key] = at
            at = _skip(text, end)
            if text.startswith(",", at):
                at = _skip(text, at + 1)
                continue
            at = _expect(text, at, "}")
            break
    at = _expect(text, at, "}")
    if at != len(text):
        raise _NotPlain
    return spans


def _skip(text: str, at: int) -> int:
    end: int = WHITESPACE.match(text, at).end()
    return end


def _expect(text: str, at: int, char: str) -> int:
    if not text.startswith(char, at):
        raise _NotPlain
    return _skip(text, at + 1)


def _key(text: str, at: int) -> tuple[str, int]:
    """A member's key and the position of its value."""
    if not text.startswith('"', at):
        raise _NotPlain
    try:
        key, end = scanstring(text, at + 1, True)
    except ValueError:
        raise _NotPlain from None
    return key, _expect(text, _skip(text, end), ":")
