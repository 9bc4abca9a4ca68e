"""The three-way merge on content trees (pure: no store)."""

from __future__ import annotations

from registry.domain.merge import MISSING, changes, merge


def test_one_sided_changes_apply_and_keep():
    base = {"a": 1, "b": {"x": 1, "y": 2}, "l": [1, 2]}
    theirs = {"a": 2, "b": {"x": 1, "y": 2}, "l": [1, 2]}
    yours = {"a": 1, "b": {"x": 1, "y": 3, "z": 4}, "l": [1, 2]}
    r = merge(base, theirs, yours)
    assert r.merged == {"a": 2, "b": {"x": 1, "y": 3, "z": 4}, "l": [1, 2]}
    assert [c.path for c in r.theirs] == ["a"]
    assert [(c.path, c.before, c.after) for c in r.yours] == [("b.y", 2, 3), ("b.z", MISSING, 4)]
    assert r.clean


def test_same_change_on_both_sides_is_no_collision():
    r = merge({"a": 1}, {"a": 5}, {"a": 5})
    assert r.merged == {"a": 5} and r.clean and not r.yours and not r.theirs


def test_lists_are_one_value():
    r = merge({"l": [1, 2]}, {"l": [1, 2, 3]}, {"l": [0, 1, 2]})
    [c] = r.collisions
    assert (c.path, c.base, c.theirs, c.yours) == ("l", [1, 2], [1, 2, 3], [0, 1, 2])
    assert r.merged == {"l": [1, 2, 3]}  # theirs until resolved


def test_deleted_against_changed_collides_at_the_key():
    r = merge({"e": {"k": {"v": 1}}}, {"e": {}}, {"e": {"k": {"v": 2}}})
    [c] = r.collisions
    assert (c.path, c.theirs) == ("e.k", MISSING)


def test_resolutions_pick_a_side_and_are_recorded():
    base, theirs, yours = {"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 3, "b": 3}
    r = merge(base, theirs, yours, {"a": "yours", "b": "theirs", "zzz": "yours"})
    assert r.merged == {"a": 3, "b": 2} and r.clean
    assert r.resolved == {"a": "yours", "b": "theirs"}
    assert r.reverted_by_overwrite() == ["a", "b"]


def test_types_count_true_is_not_one():
    r = merge({"a": 1}, {"a": True}, {"a": 1})
    assert r.merged == {"a": True} and r.clean


def test_paths_of_unusual_keys_use_brackets():
    assert [c.path for c in changes({}, {"extensions": {"x.y@v1": 1}})] == ["extensions[x.y@v1]"]
