"""Three-way merge of profile edits (README, Concepts and decisions: "Merging edits").

An edit made against an old version (the *base*) meets the current version (*theirs*): the
edit's own result is *yours*. The merge works on a profile's content (everything an edit can
change: names, runtime, policy, tags, extensions, stack; never server-managed metadata) as a
tree of JSON values, field by field:

- a field only you changed takes your value; a field only they changed keeps theirs; a field
  both changed to the same value is no conflict;
- a field both changed differently is a *collision*, unless a resolution names the side to
  keep (`"yours"` or `"theirs"`) for its path;
- objects (`runtime`, `policy`, `runtime.step_settings_patch`, `extensions` and the JSON
  inside them, middleware configs included) are merged key by key, so two people editing
  different keys of one object do not collide; a key added or removed is a change of that key;
- lists (`runtime.tools`, `runtime.middlewares`, `metadata.tags`, policy key lists, lists
  inside extensions) are one value each: their order and membership are one decision, so two
  edits of one list collide even when they touch different items. Middleware *configs* live
  in their extension and merge per field; only the list of uses is one value.

Paths follow the field-path convention of validation errors (`runtime.system_prompt`,
`extensions[webchat.starter_suggestions@v1].items`, `metadata.tags`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .jsonutil import canonical_json
from .model import Profile, profile_to_data
from .text import child_path

YOURS, THEIRS = "yours", "theirs"
SIDES = (YOURS, THEIRS)


class _Missing:
    """No value at a path (the key is absent on that side)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class FieldChange:
    """One path one side changed: its value at the base and after the change."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Collision:
    """One path both sides changed differently (values may be `MISSING`)."""

    path: str
    base: Any
    theirs: Any
    yours: Any


@dataclass
class MergeResult:
    """The merged content and what went into it."""

    merged: dict[str, Any]
    yours: list[FieldChange] = field(default_factory=list)  # applied on top of theirs
    theirs: list[FieldChange] = field(default_factory=list)  # kept as they are
    collisions: list[Collision] = field(default_factory=list)  # unresolved
    resolved: dict[str, str] = field(default_factory=dict)  # path -> side kept

    @property
    def clean(self) -> bool:
        return not self.collisions

    def reverted_by_overwrite(self) -> list[str]:
        """Paths of their changes that writing yours as a whole would undo."""
        paths = {c.path for c in self.theirs} | {c.path for c in self.collisions}
        paths |= set(self.resolved)
        return sorted(paths)


def content(profile: Profile) -> dict[str, Any]:
    """The tree a merge works on: the profile's serialized content without slug and
    server-managed metadata (`metadata.tags` stays: clients own tags)."""
    data = profile_to_data(profile)
    data.pop("slug", None)
    meta = data.pop("metadata", {})
    # every fixed field present (empty when unset): "absent" is left for keys of open objects
    out: dict[str, Any] = {"display_name": "", "description": "", "stack": []}
    out.update(data)
    out["runtime"] = {
        "system_prompt": "",
        "tools": [],
        "middlewares": [],
        "step_settings_patch": {},
        **data.get("runtime", {}),
    }
    out["policy"] = {
        "allowed_override_keys": [],
        "denied_override_keys": [],
        **data.get("policy", {}),
    }
    out["metadata"] = {"tags": list(meta.get("tags", []))}
    out.setdefault("extensions", {})
    return out


def same(a: Any, b: Any) -> bool:
    """Equal as JSON (canonical encoding: `1` and `True` differ, key order does not)."""
    if a is MISSING or b is MISSING:
        return a is b
    return canonical_json(a) == canonical_json(b)


def merge(
    base: dict[str, Any],
    theirs: dict[str, Any],
    yours: dict[str, Any],
    resolutions: Mapping[str, str] | None = None,
) -> MergeResult:
    """Merge three content trees (see the module docstring). `resolutions` maps a colliding
    path to the side to keep; resolutions for paths that do not collide are ignored."""
    result = MergeResult(merged={})
    merged = _merge(base, theirs, yours, "", result, dict(resolutions or {}))
    result.merged = merged if isinstance(merged, dict) else {}
    return result


def merge_profiles(
    base: Profile,
    theirs: Profile,
    yours: Profile,
    resolutions: Mapping[str, str] | None = None,
) -> MergeResult:
    return merge(content(base), content(theirs), content(yours), resolutions)


def _merge(
    base: Any,
    theirs: Any,
    yours: Any,
    path: str,
    result: MergeResult,
    resolutions: dict[str, str],
) -> Any:
    if same(yours, base):
        _changes(base, theirs, path, result.theirs)
        return theirs
    if same(theirs, base):
        _changes(base, yours, path, result.yours)
        return yours
    if same(theirs, yours):
        return theirs
    if isinstance(base, dict) and isinstance(theirs, dict) and isinstance(yours, dict):
        out: dict[str, Any] = {}
        for key in sorted(set(base) | set(theirs) | set(yours)):
            value = _merge(
                base.get(key, MISSING),
                theirs.get(key, MISSING),
                yours.get(key, MISSING),
                child_path(path, key),
                result,
                resolutions,
            )
            if value is not MISSING:
                out[key] = value
        return out
    side = resolutions.get(path)
    if side == YOURS:
        result.resolved[path] = YOURS
        return yours
    if side == THEIRS:
        result.resolved[path] = THEIRS
        return theirs
    result.collisions.append(Collision(path, base, theirs, yours))
    return theirs


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Every changed path between two content trees, at the same granularity as `merge`."""
    out: list[FieldChange] = []
    _changes(before, after, "", out)
    return out


def _changes(before: Any, after: Any, path: str, out: list[FieldChange]) -> None:
    if same(before, after):
        return
    if before is MISSING and isinstance(after, dict) and after:
        before = {}  # an object added: list what it holds
    if after is MISSING and isinstance(before, dict) and before:
        after = {}
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            _changes(before.get(key, MISSING), after.get(key, MISSING), child_path(path, key), out)
        return
    out.append(FieldChange(path, before, after))
