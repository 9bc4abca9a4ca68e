"""Field-level differences between two JSON values (import plans, revision diffs)."""

from __future__ import annotations

import difflib
import re
from typing import Any

from .model import Profile, profile_to_data

_MISSING = object()


def diff_values(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """`[{path, before, after}]` for every changed leaf, deterministic (sorted keys).

    Objects recurse by key (`runtime.step_settings_patch.ai-chat.ai-engine`); lists of the
    same length recurse by index (`runtime.middlewares[0].config.dsn`), so editing one item
    shows that item's field, not two whole lists; lists that grew or shrank, and values that
    appear or disappear, are reported whole. Absent values are reported as None.
    """
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else key
            out += diff_values(before.get(key, _MISSING), after.get(key, _MISSING), sub)
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for i, (old, new) in enumerate(zip(before, after, strict=True)):
            out += diff_values(old, new, f"{path}[{i}]")
        return out
    if before == after and type(before) is type(after):
        return []
    return [
        {
            "path": path,
            "before": None if before is _MISSING else before,
            "after": None if after is _MISSING else after,
        }
    ]


def changed_fields(changes: list[dict[str, Any]]) -> list[str]:
    """The top-level fields a diff touches, in first-seen order (`runtime.system_prompt`,
    `extensions.<key>`): a one-line summary of a revision."""
    seen: dict[str, None] = {}
    for change in changes:
        path = change["path"]
        key = _EXTENSION_KEY.match(path)  # extension keys hold dots: `webchat.x@v1`
        if key:
            seen.setdefault(key.group(0), None)
            continue
        parts = path.split(".")
        depth = 2 if parts[0] in ("runtime", "policy") and len(parts) > 1 else 1
        seen.setdefault(".".join(parts[:depth]).split("[")[0], None)
    return list(seen)


_EXTENSION_KEY = re.compile(r"extensions\.[^@\[]+@v\d+")


Segment = tuple[bool, str]
WORD_DIFF_BUDGET = 4_000_000  # token pairs; about 2,000 words on each side
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(before: str, after: str) -> tuple[list[Segment], list[Segment]]:
    """Each side of a text change as `(changed, text)` segments: `before` with the removed
    words marked, `after` with the added ones (words, spaces and punctuation are tokens, so
    a changed word is marked, not its whole line; a space between two changed words is
    marked with them, so "stock figures" -> "warehouse numbers" is one change a side)."""
    a, b = _TOKEN.findall(before), _TOKEN.findall(after)
    if len(a) * len(b) > WORD_DIFF_BUDGET:  # quadratic matcher: very long texts go by line
        a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    old: list[Segment] = []
    new: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old.append((op != "equal", "".join(a[i1:i2])))
        new.append((op != "equal", "".join(b[j1:j2])))
    return _joined(old), _joined(new)


def _joined(segments: list[Segment]) -> list[Segment]:
    """Drop empty segments, mark whitespace between two changes as changed, merge runs."""
    parts = [s for s in segments if s[1]]
    out: list[Segment] = []
    for i, (changed, text) in enumerate(parts):
        between = 0 < i < len(parts) - 1 and parts[i - 1][0] and parts[i + 1][0]
        changed = changed or (text.isspace() and between)
        if out and out[-1][0] == changed:
            out[-1] = (changed, out[-1][1] + text)
        else:
            out.append((changed, text))
    return out


def profile_content(profile: Profile | None) -> dict[str, Any]:
    """What an edit can change: everything but server-managed metadata (tags included)."""
    if profile is None:
        return {}
    data = profile_to_data(profile)
    tags = data.pop("metadata", {}).get("tags")
    if tags:
        data["tags"] = tags
    return data


def profile_diff(before: Profile | None, after: Profile | None) -> list[dict[str, Any]]:
    return diff_values(profile_content(before), profile_content(after))
