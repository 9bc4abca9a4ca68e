"""The editor's buttons: add a middleware, add or remove an extension key, "keep it editable"
(unchecks Read-only); everything else is a schema-form array op (`registry.forms.ops`).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from registry.forms.ops import apply_op

from .model import EXT, EXT_GROUP, MW, REMOVED


def apply_editor_op(posted: Any, op: str) -> MultiDict[str, str]:
    """The form after one button: the editor's own ops, else the schema-form array ops.

    `posted` is the request's form (a MultiDict) or a plain dict (tests); it is not changed."""
    items = posted.items(multi=True) if hasattr(posted, "getlist") else posted.items()
    data: MultiDict[str, str] = MultiDict(items)
    data.pop("op", None)
    action, _, target = op.partition(":")
    if action == "keep-editable":  # the read-only confirmation's "no"
        data.pop("policy/read_only", None)
        return data
    if action == "add-middleware":
        name = data.get("new_middleware", "")
        pattern = re.compile(rf"{MW}/(\d+)/")
        used = {int(m.group(1)) for k in data for m in [pattern.match(k)] if m}
        n = max(used) + 1 if used else 0
        if name:
            for suffix, value in (
                ("/name", name),
                ("/id", ""),
                ("/enabled@bool", "1"),
                ("/enabled", "true"),
                ("/enabled@orig", ""),
            ):
                data.add(f"{MW}/{n}{suffix}", value)
        return data
    if action == "add-extension":
        key = data.get("new_extension", "").strip()
        if key and not any(EXT_GROUP.match(k) and k.startswith(f"{EXT}/{key}") for k in data):
            data.add(f"{EXT}/{key}@present", "1")
        kept = [k for k in data.getlist(REMOVED) if k != key]
        data.setlist(REMOVED, kept)
        return data
    if action == "remove-extension" and target:
        out: MultiDict[str, str] = MultiDict()
        for k, v in data.items(multi=True):
            m = EXT_GROUP.match(k)
            if m and m.group(2) == target:
                continue
            out.add(k, v)
        if target not in out.getlist(REMOVED):
            out.add(REMOVED, target)
        return out
    return apply_op(data, op)
