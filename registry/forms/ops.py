"""Array edits on posted form data: add, remove and reorder items before re-rendering.

The editor's array buttons submit the form with `op=<action>:<item or array name>`; applying
the op to the posted fields (renaming `arr/3/...` keys) keeps every other value the user
typed, and the same code serves htmx and plain form posts.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

ACTIONS = ("add", "remove", "up", "down")
# Posted form fields: every value is a string, a name may repeat.
FormData = MultiDict[str, str]


def _split_item(name: str) -> tuple[str, int] | None:
    m = re.fullmatch(r"(.+)/(\d+)", name)
    return (m.group(1), int(m.group(2))) if m else None


def _indices(data: FormData, array: str) -> list[int]:
    pattern = re.compile(re.escape(array) + r"/(\d+)(?:[/@]|$)")
    return sorted({int(m.group(1)) for k in data for m in [pattern.match(k)] if m})


def _rename(data: FormData, array: str, mapping: dict[int, int | None]) -> FormData:
    """Rename item indices per `mapping` (None drops the item)."""
    pattern = re.compile(re.escape(array) + r"/(\d+)((?:[/@].*)?)$")
    out: FormData = MultiDict()
    for key, value in data.items(multi=True):
        m = pattern.match(key)
        if m and int(m.group(1)) in mapping:
            new = mapping[int(m.group(1))]
            if new is None:
                continue
            key = f"{array}/{new}{m.group(2)}"
        out.add(key, value)
    return out


def apply_op(form: Any, op: str) -> FormData:
    """The form data after one array operation; unknown ops leave it unchanged."""
    data = MultiDict(form.items(multi=True) if hasattr(form, "getlist") else form.items())
    data.pop("op", None)
    action, _, target = op.partition(":")
    if action not in ACTIONS or not target:
        return data
    if action == "add":
        present = _indices(data, target)
        data.add(f"{target}/{(present[-1] + 1) if present else 0}@new", "1")
        data.pop(f"{target}@array", None)
        data.add(f"{target}@array", "1")
        return data
    item = _split_item(target)
    if item is None:
        return data
    array, index = item
    order = _indices(data, array)
    if index not in order:
        return data
    pos = order.index(index)
    if action == "remove":
        kept = [i for i in order if i != index]
        mapping: dict[int, int | None] = {i: n for n, i in enumerate(kept)}
        mapping[index] = None
        return _rename(data, array, mapping)
    swap = pos - 1 if action == "up" else pos + 1
    if not 0 <= swap < len(order):
        return data
    new_order = list(order)
    new_order[pos], new_order[swap] = new_order[swap], new_order[pos]
    return _rename(data, array, {old: n for n, old in enumerate(new_order)})
