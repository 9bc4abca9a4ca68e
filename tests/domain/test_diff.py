"""Field-level diffs (history, import plans, the revision diff API) and inline word diffs."""

from __future__ import annotations

from registry.domain.diff import changed_fields, diff_values, word_diff


def test_objects_recurse_and_same_length_lists_recurse_by_index():
    before = {"runtime": {"middlewares": [{"name": "sqlite", "config": {"dsn": "a"}}]}}
    after = {"runtime": {"middlewares": [{"name": "sqlite", "config": {"dsn": "b"}}]}}
    assert diff_values(before, after) == [
        {"path": "runtime.middlewares[0].config.dsn", "before": "a", "after": "b"}
    ]


def test_lists_that_change_length_and_appearing_values_are_whole():
    assert diff_values({"tools": ["a"]}, {"tools": ["a", "b"]}) == [
        {"path": "tools", "before": ["a"], "after": ["a", "b"]}
    ]
    assert diff_values({}, {"tools": ["a"]}) == [{"path": "tools", "before": None, "after": ["a"]}]


def test_type_changes_count_even_when_equal():
    assert diff_values({"x": 1}, {"x": True}) == [{"path": "x", "before": 1, "after": True}]
    assert diff_values({"x": 1.0}, {"x": 1.0}) == []


def test_changed_fields_names_top_level_fields_once():
    changes = [
        {"path": "runtime.middlewares[0].config.dsn"},
        {"path": "runtime.middlewares[1].name"},
        {"path": "description"},
        {"path": "extensions.webchat.starter_suggestions@v1.suggestions[0]"},
    ]
    assert changed_fields(changes) == [
        "runtime.middlewares",
        "description",
        "extensions.webchat.starter_suggestions@v1",
    ]


def test_word_diff_marks_words_and_keeps_each_side_whole():
    before, after = "Answer with stock figures first.", "Answer with warehouse numbers first!"
    old, new = word_diff(before, after)
    assert "".join(text for _, text in old) == before
    assert "".join(text for _, text in new) == after
    assert [text for changed, text in old if changed] == ["stock figures", "."]
    assert [text for changed, text in new if changed] == ["warehouse numbers", "!"]


def test_word_diff_of_huge_texts_goes_by_line():
    before = "\n".join(f"line {i} word" for i in range(3000))
    after = before.replace("line 1500 word", "line 1500 changed")
    old, new = word_diff(before, after)
    assert [text for changed, text in new if changed] == ["line 1500 changed\n"]
