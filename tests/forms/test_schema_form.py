"""JSON Schema forms: widgets from schemas, posted forms back to JSON, errors by path."""

import pytest
from werkzeug.datastructures import MultiDict

from registry.domain.errors import FieldError
from registry.domain.extensions import StarterSuggestionsCodec
from registry.domain.middleware import load_definitions
from registry.forms import build_widget, errors_from_fields, parse_form

SQLITE = {d.name: d for d in load_definitions()}["sqlite"].schema
AGENTMODE = {d.name: d for d in load_definitions()}["agentmode"].schema

RICH = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "Name", "description": "Shown to users"},
        "notes": {"type": "string", "maxLength": 2000},
        "mode": {"type": "string", "enum": ["chat", "plan"], "default": "chat"},
        "count": {"type": "integer", "minimum": 1, "maximum": 9, "default": 3},
        "ratio": {"type": "number"},
        "on": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "nested": {
            "type": "object",
            "properties": {"deep": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        },
        "people": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"who": {"type": "string"}, "age": {"type": "integer"}},
            },
        },
        "free": {"type": "object"},
    },
}


def test_widget_kinds_labels_and_attributes():
    w = build_widget(RICH, {"name": "x", "tags": ["a", "b"]}, "cfg")
    kinds = {c.path: c.kind for c in w.children}
    assert kinds == {
        "/name": "string",
        "/notes": "text",
        "/mode": "select",
        "/count": "integer",
        "/ratio": "number",
        "/on": "boolean",
        "/tags": "array",
        "/nested": "object",
        "/people": "array",
        "/free": "json",
    }
    name = w.find("/name")
    assert (name.label, name.help, name.required, name.value, name.name) == (
        "Name",
        "Shown to users",
        True,
        "x",
        "cfg/name",
    )
    count = w.find("/count")
    assert count.attrs == {"min": 1, "max": 9, "step": 1, "placeholder": "3"}
    assert count.value == "3"  # default shown as the starting value
    assert w.find("/mode").options == ["", "chat", "plan"]
    assert [c.value for c in w.find("/tags").children] == ["a", "b"]
    assert w.find("/tags").item.name == "cfg/tags/__index__"
    assert w.find("/nested/deep/x").kind == "integer"


def test_round_trip_through_a_posted_form():
    form = MultiDict(
        [
            ("cfg/name", "Ada"),
            ("cfg/notes", ""),
            ("cfg/mode", "plan"),
            ("cfg/count", "4"),
            ("cfg/ratio", "0.5"),
            ("cfg/on@bool", "1"),
            ("cfg/tags/0", "x"),
            ("cfg/tags/5", "y"),
            ("cfg/nested/deep/x", "7"),
            ("cfg/people/0/who", "Bob"),
            ("cfg/people/0/age", "40"),
            ("cfg/free", '{"k": [1, null]}'),
        ]
    )
    value, errors = parse_form(RICH, form, "cfg")
    assert errors == {}
    assert value == {
        "name": "Ada",
        "mode": "plan",
        "count": 4,
        "ratio": 0.5,
        "on": False,
        "tags": ["x", "y"],
        "nested": {"deep": {"x": 7}},
        "people": [{"who": "Bob", "age": 40}],
        "free": {"k": [1, None]},
    }


def test_checked_boolean_and_empty_array_marker():
    value, _ = parse_form(
        RICH, MultiDict([("cfg/on", "on"), ("cfg/on@bool", "1"), ("cfg/tags@array", "")]), "cfg"
    )
    assert value == {"on": True, "tags": []}


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("count", "four", "must be a whole number"),
        ("ratio", "nan", "must be a finite number"),
        ("ratio", "x", "must be a number"),
        ("mode", "fly", "is not one of the choices"),
        ("free", "{bad", "JSON: expected a quoted name at line 1, column 2"),
        ("free", "NaN", "must be valid JSON"),
    ],
)
def test_bad_inputs_are_reported_at_their_paths(field, raw, message):
    _, errors = parse_form(RICH, MultiDict([(f"cfg/{field}", raw)]), "cfg")
    assert list(errors) == [f"/{field}"]
    assert errors[f"/{field}"][0].startswith(message)


def test_errors_renumber_with_reordered_items():
    form = MultiDict([("cfg/people/3/age", "x"), ("cfg/people/9/age", "1")])
    value, errors = parse_form(RICH, form, "cfg")
    assert value["people"] == [{}, {"age": 1}]
    assert errors == {"/people/0/age": ["must be a whole number"]}


def test_starter_suggestions_codec_schema_edits_items():
    schema = StarterSuggestionsCodec().schema
    w = build_widget(schema, {"items": ["one", "two"]}, "ext")
    assert w.find("/items").kind == "array"
    value, errors = parse_form(
        schema, MultiDict([("ext/items/0", "one"), ("ext/items/1", "three")]), "ext"
    )
    assert (value, errors) == ({"items": ["one", "three"]}, {})


def test_middleware_schemas_render():
    sqlite = build_widget(SQLITE, {"dsn": "x.db"}, "mw")
    assert [c.path for c in sqlite.children] == [
        "/dsn",
        "/max_rows",
        "/execution_timeout_ms",
        "/allowed_tables",
    ]
    assert sqlite.find("/dsn").required
    assert build_widget(AGENTMODE, {}, "mw").find("/default_mode").options == [
        "",
        "chat",
        "plan",
        "act",
    ]


def test_domain_errors_attach_to_form_paths():
    errors = errors_from_fields(
        [
            FieldError("runtime.middlewares[0].config.max_rows", "0 is less than the minimum of 1"),
            FieldError("runtime.middlewares[0].config", "must be an object"),
            FieldError("runtime.middlewares[1].config.dsn", "is required"),
            FieldError(
                "profile.extensions[webchat.starter_suggestions@v1].items[2]", "must not be empty"
            ),
        ],
        "runtime.middlewares[0].config",
    )
    # shown as sentences (`messages.plain`), as every door shows them
    assert errors == {"/max_rows": ["0 is less than the minimum of 1"], "": ["Must be an object"]}
    ext = errors_from_fields(
        [
            FieldError(
                "profile.extensions[webchat.starter_suggestions@v1].items[2]", "must not be empty"
            )
        ],
        "profile.extensions[webchat.starter_suggestions@v1]",
    )
    assert ext == {"/items/2": ["Enter a value or remove the empty row"]}
    w = build_widget(StarterSuggestionsCodec().schema, {"items": ["a", "b", ""]}, "ext", ext)
    assert w.find("/items/2").errors == ["Enter a value or remove the empty row"]
