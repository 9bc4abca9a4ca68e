"""Array add/remove/reorder on posted form data."""

from werkzeug.datastructures import MultiDict

from registry.forms import parse_form
from registry.forms.ops import apply_op

SCHEMA = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"type": "string"}},
        "rows": {
            "type": "array",
            "items": {"type": "object", "properties": {"a": {"type": "string"}}},
        },
    },
}


def value(data):
    v, errors = parse_form(SCHEMA, data, "x")
    assert errors == {}
    return v


def base():
    return MultiDict(
        [("x/items/0", "one"), ("x/items/1", "two"), ("x/items/2", "three"), ("x/other", "keep")]
    )


def test_add_appends_an_empty_item_and_keeps_other_values():
    data = apply_op(base(), "add:x/items")
    assert value(data)["items"] == ["one", "two", "three", ""]
    assert data["x/other"] == "keep"
    rows = apply_op(MultiDict(), "add:x/rows")
    assert value(rows)["rows"] == [{}]


def test_remove_renumbers():
    data = apply_op(base(), "remove:x/items/1")
    assert value(data)["items"] == ["one", "three"]
    assert "x/items/2" not in data


def test_up_and_down():
    assert value(apply_op(base(), "up:x/items/2"))["items"] == ["one", "three", "two"]
    assert value(apply_op(base(), "down:x/items/0"))["items"] == ["two", "one", "three"]
    # out of range moves are no-ops
    assert value(apply_op(base(), "up:x/items/0"))["items"] == ["one", "two", "three"]


def test_unknown_ops_change_nothing():
    for op in ("", "explode:x/items", "remove:x/items/9", "remove:nonsense"):
        assert value(apply_op(base(), op))["items"] == ["one", "two", "three"]
