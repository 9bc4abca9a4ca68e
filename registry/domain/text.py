"""The one rule for characters a stored text may hold, and repairs of values stored before it.

Refused everywhere (every string value and every mapping key, on every entry: JSON bodies,
HTML forms, YAML documents, CLI files):

- lone UTF-16 surrogates (U+D800-U+DFFF not forming a pair): no UTF-8 encoder can write them,
  so one such value made every reader that encodes its answer fail;
- NUL (U+0000): PostgreSQL text cannot store it, so refusing it keeps both backends alike.

Everything else Unicode can encode is accepted (noncharacters such as U+FFFE, bidi controls,
whitespace-only text): those are legal data, and output escapes them where it must.

Values stored before the rule (or written straight into the database) are *repaired when
read*: each refused character becomes U+FFFD, the paths repaired are reported to the caller
(`profile-registry doctor` lists and rewrites them), and no reader fails because of them.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
# A refused character, for texts already known to hold one (see `refused_reason`).
_REFUSED_RE = re.compile("[\x00\ud800-\udfff]")
# What a refused character looks like in ASCII-escaped JSON (`json.dumps(ensure_ascii=True)`):
# a cheap test on stored payloads before any walk (valid pairs match too; the walk sorts them).
SUSPECT_JSON_RE = re.compile(r"\\u(?:0000|d[89a-f])", re.IGNORECASE)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def has_refused(text: str) -> bool:
    """True when `text` holds a lone surrogate or NUL (fast for the usual clean text)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def refused_reason(text: str) -> str:
    """Why `text` is refused (call only when `has_refused(text)`): names the first character."""
    m = _REFUSED_RE.search(text)
    code = ord(m.group()) if m else 0
    where = m.start() if m else 0
    what = "NUL (U+0000)" if code == 0 else f"a lone UTF-16 surrogate (U+{code:04X})"
    return f"contains {what} at character {where}; text must not hold NUL or lone surrogates"


def repair(text: str) -> str:
    """`text` with every refused character replaced by U+FFFD."""
    return _REFUSED_RE.sub(REPLACEMENT, text) if has_refused(text) else text


def shown(text: str) -> str:
    """`text` safe to print or put in an error path: refused characters as `\\uXXXX`."""
    if not has_refused(text):
        return text
    return _REFUSED_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def child_path(path: str, key: str | int) -> str:
    """`a` + `b` -> `a.b`; `a` + 2 -> `a[2]`; keys that are not plain names -> `a[x.y@v1]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = shown(key)
    if _NAME_RE.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key}]"


def refused_fields(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every refused string value or key inside a JSON-like value: `(field path, reason)`.

    Iterative (values may be hostile and deep); paths follow `child_path`, so a body's
    `{"extensions": {"webchat.starter_suggestions@v1": {"items": [..]}}}` reports
    `extensions[webchat.starter_suggestions@v1].items[2]`. A refused key is reported at the
    path it names, with "key" in the reason.
    """
    if _surely_clean(value):
        return []
    out: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(value, path)]
    seen: set[int] = set()
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if has_refused(item):
                out.append((where, refused_reason(item)))
        elif isinstance(item, (dict, list)):
            if id(item) in seen:  # shared (YAML aliases): checked once
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                for key in reversed(list(item)):
                    sub = child_path(where, key) if isinstance(key, str) else where
                    if isinstance(key, str) and has_refused(key):
                        out.append((sub, "key " + refused_reason(key)))
                    stack.append((item[key], sub))
            else:
                stack.extend((item[i], child_path(where, i)) for i in reversed(range(len(item))))
    return out


def _surely_clean(value: Any) -> bool:
    """A fast test for the usual clean value: the C JSON encoder escapes every NUL and
    surrogate as `\\u....`, so no suspect escape in its output means nothing to refuse (a
    valid pair or an odd value only sends the caller to the exact walk)."""
    try:
        encoded = json.dumps(value, ensure_ascii=True, check_circular=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return SUSPECT_JSON_RE.search(encoded) is None


def repair_tree(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """`value` with refused characters in strings and keys replaced by U+FFFD, and the field
    paths repaired. Returns `value` itself when nothing needed repair."""
    found = refused_fields(value, path)
    if not found:
        return value, []
    return _repaired(value), [where for where, _ in found]


def _repaired(value: Any) -> Any:
    # Stored values are bounded (depth limits on every write), so recursion is safe here.
    if isinstance(value, str):
        return repair(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = repair(key) if isinstance(key, str) else key
            while new_key in out:  # two keys that differed only by a refused character
                new_key += REPLACEMENT
            out[new_key] = _repaired(item)
        return out
    if isinstance(value, list):
        return [_repaired(item) for item in value]
    return value
