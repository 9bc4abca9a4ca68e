"""CLI fixtures: an app on its own SQLite file with auth on (the default), as the command
line builds it."""

from __future__ import annotations

import pytest

from app import create_app


@pytest.fixture
def cli_app(tmp_path):
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SECRET_KEY": "test",
            "REGISTRY_AUTH": "on",
        }
    )
