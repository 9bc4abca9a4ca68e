"""Read-only views of values through a JSON Schema, and diff paths read with its labels."""

from __future__ import annotations

from registry.domain.extensions import CodecRegistry, builtin_codecs
from registry.domain.middleware import MiddlewareRegistry, parse_definitions
from registry.forms.schema_view import (
    config_view,
    extension_view,
    humanize,
    label_path,
    view_value,
)

SQLITE = parse_definitions(
    """
middlewares:
  - name: sqlite
    version: 1
    display_name: SQLite tool
    schema:
      type: object
      properties:
        dsn: {type: string, title: Database, description: Opened read-only.}
        max_rows: {type: integer, minimum: 1}
        allowed_tables: {type: array, items: {type: string}}
        strict: {type: boolean}
      required: [dsn]
      additionalProperties: false
"""
)
CODECS = CodecRegistry([*builtin_codecs(), *MiddlewareRegistry(SQLITE).codecs()])
SCHEMA = SQLITE[0].schema


def test_objects_are_labelled_fields_in_schema_order_lists_are_lists():
    view = view_value(SCHEMA, {"strict": False, "allowed_tables": ["a", "b"], "dsn": "x.db"})
    assert view.kind == "object"
    assert [(c.label, c.kind) for c in view.children] == [
        ("Database", "text"),  # the schema's title
        ("Allowed tables", "list"),  # else the name humanized
        ("Strict", "boolean"),
    ]
    assert view.children[0].help == "Opened read-only."
    assert [c.text for c in view.children[1].children] == ["a", "b"]
    assert [c.label for c in view.children[1].children] == ["", ""]
    assert view.children[2].text == "no"


def test_keys_outside_the_schema_and_odd_values_are_still_shown():
    view = view_value({"type": "object", "properties": {}}, {"zeta": None, "alpha": 2.5})
    assert [(c.label, c.kind, c.text) for c in view.children] == [
        ("alpha", "number", "2.5"),
        ("zeta", "json", "null"),
    ]
    assert view_value({}, "line one\nline two").kind == "longtext"
    assert view_value({}, {}).children == [] and view_value({}, []).children == []


def test_humanize():
    assert humanize("max_rows") == "Max rows" and humanize("ai-engine") == "Ai engine"


def test_extension_view_through_its_codec():
    ok = extension_view("webchat.starter_suggestions@v1", {"items": ["Hi"]}, CODECS)
    assert ok.kind == "codec" and ok.problem == "" and ok.title == "Starter suggestions"
    assert ok.view.children[0].label == "Suggestions"
    assert '"Hi"' in ok.raw


def test_extension_view_refuses_to_guess():
    unknown = extension_view("acme.thing@v1", {"a": 1}, CODECS)
    assert unknown.view is None and unknown.kind == "unknown"
    assert unknown.problem == "no codec knows this key"
    bad = extension_view("webchat.starter_suggestions@v1", {"items": "not a list"}, CODECS)
    assert bad.view is None and bad.problem.startswith("does not match its schema: items:")
    # accepted only after coercion (a number where the schema wants text): not as stored
    coerced = extension_view("webchat.starter_suggestions@v1", {"items": [5]}, CODECS)
    assert coerced.view is None and "does not match its schema" in coerced.problem
    many = extension_view(
        "middleware.sqlite_config@v1",
        {"instances": {f"index:{i}": {"max_rows": 0} for i in range(4)}},
        CODECS,
    )
    assert many.kind == "middleware" and many.view is None
    assert many.problem.endswith("more)")  # the first problems, then how many more


def test_config_view_with_and_without_a_schema():
    ok = config_view(SCHEMA, {"dsn": "x.db"})
    assert ok.view is not None and ok.view.children[0].text == "x.db"
    refused = config_view(SCHEMA, {"dsn": "x.db", "other": 1})
    assert refused.view is None and "other" in refused.problem
    schemaless = config_view(None, {"a": 1})
    assert schemaless.view is None and schemaless.problem == "its definition has no schema"


def test_diff_paths_inside_an_extension_read_with_the_schema_labels():
    found = label_path("extensions.webchat.starter_suggestions@v1.items[1]", CODECS)
    assert found.text == "Starter suggestions › Suggestions › 2"
    assert found.schema == {"type": "string", "minLength": 1, "title": "Suggestion"}
    config = label_path("extensions.middleware.sqlite_config@v1.instances.index:0.dsn", CODECS)
    assert config.text == "SQLite tool config › Instances › index:0 › Database"
    whole = label_path("extensions.webchat.starter_suggestions@v1", CODECS)
    assert whole.labels == ["Starter suggestions"]


def test_paths_the_schema_does_not_describe_get_no_label():
    assert label_path("runtime.system_prompt", CODECS) is None
    assert label_path("extensions.acme.thing@v1.a", CODECS) is None  # no codec
    assert label_path("extensions.webchat.starter_suggestions@v1.colour", CODECS) is None
    assert label_path("extensions.webchat.starter_suggestions@v1.items.x", CODECS) is None
    assert label_path("extensions.middleware.sqlite_config@v1.instances.i.dsn[0]", CODECS) is None
    assert label_path("extensions.webchat.starter_suggestions@v1items", CODECS) is None
