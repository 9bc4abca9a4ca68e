"""`check_json`: plain JSON within the depth and size limits, or `NotJSON` saying why."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

from registry.domain.jsonutil import NotJSON, check_json


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("leaf", [1, "s", None, True, 1.5, [], {}])
def test_depth_limit_counts_the_leaf_level(leaf: Any) -> None:
    check_json(nested(3, leaf), max_depth=3)
    with pytest.raises(NotJSON, match="deeper than 2 levels"):
        check_json(nested(3, leaf), max_depth=2)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, {"b": float("nan")}]}, "NaN and Infinity"),
        ([1, [2, [float("-inf")]]], "NaN and Infinity"),
        ({"a": {1: "x"}}, "keys must be strings, not int"),
        ({"a": [{"b"}]}, "set is not a JSON value"),
        ([(1, 2)], "tuple is not a JSON value"),
        ({"a": b"x"}, "bytes is not a JSON value"),
    ],
)
def test_what_is_not_json_is_refused_wherever_it_is(value: Any, message: str) -> None:
    with pytest.raises(NotJSON, match=message):
        check_json(value)


def test_subclasses_of_json_types_pass_and_the_size_is_the_compact_encoding() -> None:
    class Text(str):
        pass

    value = OrderedDict(a=[Text("é"), 2, 2.5, False, None])
    assert check_json(value) == len('{"a":["\\u00e9",2,2.5,false,null]}')
    with pytest.raises(NotJSON, match="more than the limit of 10"):
        check_json(value, max_bytes=10)
