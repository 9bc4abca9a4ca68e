"""Provenance of a resolved stack for the pages: which layer each effective value came from
(the profile page's "Effective profile" panel and the resolve preview share it)."""

from __future__ import annotations

import json
from typing import Any


def provenance_rows(trace: dict[str, Any], layers: int) -> list[dict[str, Any]]:
    """The effective-profile panel, from a stack trace: each path's value, the layer it came
    from and what it overrode (earlier layers' values). Policy values are merged from every
    layer (restrictively), so they name no single layer."""
    rows = []
    for entry in trace["paths"]:
        path = entry["path"]
        steps = entry.get("steps", [])
        merged = path.startswith("/policy/")
        winner = None if merged or not steps else steps[-1]
        overrode = steps[:-1] if winner else []
        rows.append(
            {
                "path": path,
                "value": _short(entry.get("value")),
                "from": (winner["registry_slug"], winner["profile_slug"]) if winner else None,
                "merged": merged and layers > 1,
                "overrode": [
                    {"key": (s["registry_slug"], s["profile_slug"]), "value": _short(s["value"])}
                    for s in overrode
                    if s["value"] != entry.get("value")
                ],
            }
        )
    return rows


def _short(value: Any) -> str:
    """A value on one line (strings as they are, the rest as compact JSON)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
