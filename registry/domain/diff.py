"""Field-level differences between two JSON values (import plans, revision diffs)."""

from __future__ import annotations

from typing import Any

from .model import Profile, profile_to_data

_MISSING = object()


def diff_values(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """`[{path, before, after}]` for every changed leaf; objects recurse, lists compare whole.

    Absent values are reported as None; order is deterministic (sorted keys).
    """
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else key
            out += diff_values(before.get(key, _MISSING), after.get(key, _MISSING), sub)
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
