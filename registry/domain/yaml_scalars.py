"""YAML 1.1 scalars as PyYAML's safe loader reads them, without timestamps (dates stay strings).

`resolve_plain` picks the tag of an unquoted, untagged scalar with PyYAML's own implicit
resolvers (the regexps of `Resolver.yaml_implicit_resolvers`, chosen by first character);
`construct` builds the value of a tag exactly like `SafeConstructor` (`0x`/`0b`/`0` octal,
sexagesimal `1:30`, `_` in numbers, `.inf`/`.nan`, `yes/no/on/off`, `~`), except that a value
the tag cannot hold (`!!int abc`) raises `ScalarError` instead of a bare ValueError or KeyError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from yaml.resolver import Resolver

from .slugs import go_quote

YAML_TAG = "tag:yaml.org,2002:"
STR = YAML_TAG + "str"
INT = YAML_TAG + "int"
FLOAT = YAML_TAG + "float"
BOOL = YAML_TAG + "bool"
NULL = YAML_TAG + "null"
SEQ = YAML_TAG + "seq"
MAP = YAML_TAG + "map"
MERGE = YAML_TAG + "merge"
ALLOWED_TAGS = frozenset((STR, INT, FLOAT, BOOL, NULL, SEQ, MAP, MERGE))

# The YAML 1.1 implicit resolvers without timestamps: `2024-01-01` stays a string.
IMPLICIT_RESOLVERS: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != YAML_TAG + "timestamp"]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
# first character -> the (tag, match) pairs to try in order; absent: a plain string. PyYAML
# also tries the resolvers registered for `None` (any first character): it registers none.
# Tags come back as this module's constants (`tag is STR` holds), the allowed ones at least.
CANONICAL_TAGS = {tag: tag for tag in ALLOWED_TAGS}
PLAIN_RESOLVERS: dict[str, list[tuple[str, Callable[[str], object]]]] = {
    first: [(CANONICAL_TAGS.get(tag, tag), regexp.match) for tag, regexp in resolvers]
    for first, resolvers in IMPLICIT_RESOLVERS.items()
    if first is not None and resolvers
}
assert not IMPLICIT_RESOLVERS.get(None), "wildcard implicit resolvers are not supported"

_BOOL_VALUES = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_INF = float("inf")
_NAN = float("nan")


class ScalarError(Exception):
    """A scalar its tag cannot hold (`!!int abc`, `!!bool maybe`)."""


def resolve_plain(value: str) -> str:
    """The tag PyYAML's resolver gives a plain (unquoted, untagged) scalar, timestamps aside."""
    candidates = PLAIN_RESOLVERS.get(value[:1])
    if candidates is not None:
        for tag, match in candidates:
            if match(value):
                return tag
    return STR


def construct(tag: str, value: str) -> object:
    """The value of scalar `value` under `tag` (one of ALLOWED_TAGS but seq, map and merge),
    as `SafeConstructor` builds it. Raises ScalarError for text the tag cannot hold, and
    ValueError for an integer past Python's digit limit (`int()` refuses to convert it)."""
    if tag == STR:
        return value
    if tag == NULL:
        return None
    try:
        if tag == INT:
            return _int(value)
        if tag == FLOAT:
            return _float(value)
        if tag == BOOL:
            return _BOOL_VALUES[value.lower()]
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise
    except (KeyError, IndexError):
        pass
    raise ScalarError(f"{go_quote(value)} is not a valid !!{tag[len(YAML_TAG) :]}")


def _int(value: str) -> int:
    value = value.replace("_", "")
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value[0] == "0":
        return sign * int(value, 8)
    if ":" in value:
        return sign * int(_sexagesimal([int(part) for part in value.split(":")], 0))
    return sign * int(value)


def _float(value: str) -> float:
    value = value.replace("_", "").lower()
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * _INF
    if value == ".nan":
        return _NAN
    if ":" in value:
        return sign * float(_sexagesimal([float(part) for part in value.split(":")], 0.0))
    return sign * float(value)


def _sexagesimal(digits: list[Any], total: Any) -> Any:
    """`1:30` is 90; summed from the last digit up, like PyYAML (same float rounding)."""
    base = 1
    for digit in reversed(digits):
        total += digit * base
        base *= 60
    return total
