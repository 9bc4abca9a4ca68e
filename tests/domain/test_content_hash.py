"""The rules digest covers the validating code: an edit of it stops stored hashes matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.domain import content_hash
from registry.domain.extensions import Limits


@pytest.fixture(autouse=True)
def fresh_digest():
    content_hash.code_digest.cache_clear()
    yield
    content_hash.code_digest.cache_clear()


def test_an_edit_of_a_validating_module_changes_the_rules_digest(monkeypatch) -> None:
    before = content_hash.rules_digest([], [], Limits())
    assert content_hash.rules_digest([], [], Limits()) == before  # stable
    read = Path.read_bytes

    def edited(path: Path) -> bytes:
        data = read(path)
        return data + b"\n# edited\n" if path.name == "schema.py" else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    content_hash.code_digest.cache_clear()
    assert content_hash.rules_digest([], [], Limits()) != before


def test_without_the_source_no_digest_ever_matches(monkeypatch) -> None:
    monkeypatch.setattr(content_hash, "VALIDATING_MODULES", ("schema", "no_such_module"))
    first = content_hash.code_digest()
    content_hash.code_digest.cache_clear()
    assert content_hash.code_digest() != first
