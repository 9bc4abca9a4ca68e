"""JSON helpers: canonical encoding and checks that a value is plain JSON."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators: the form used for fingerprints and comparisons."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_digest(value: Any) -> str:
    """Hex SHA-256 of `canonical_json(value)`: the one content hash behind fingerprints and
    content ETags, so equal values hash equal wherever they are hashed."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


class NotJSON(ValueError):
    pass


def check_json(value: Any, *, max_depth: int = 32, max_bytes: int = 0) -> int:
    """Check that `value` is plain JSON within the limits; return its serialized size.

    Rejects NaN/Infinity, non-string keys, sets, bytes and other objects, nesting deeper than
    `max_depth`, and (when `max_bytes` > 0) a serialized size above it.
    """
    _walk(value, 0, max_depth)
    try:
        size = len(json.dumps(value, allow_nan=False, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:  # pragma: no cover - _walk catches these first
        raise NotJSON(str(exc)) from None
    if max_bytes and size > max_bytes:
        raise NotJSON(f"payload is {size} bytes, more than the limit of {max_bytes}")
    return size


def _walk(value: Any, depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise NotJSON(f"nesting is deeper than {max_depth} levels")
    if value is None or isinstance(value, (bool, str, int)):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise NotJSON("NaN and Infinity are not JSON")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJSON(f"object keys must be strings, not {type(key).__name__}")
            _walk(item, depth + 1, max_depth)
        return
    if isinstance(value, list):
        for item in value:
            _walk(item, depth + 1, max_depth)
        return
    raise NotJSON(f"{type(value).__name__} is not a JSON value")
