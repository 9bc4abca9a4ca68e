"""Fixtures for HTTP tests: apps on a fresh SQLite store, clients, the contract fixture data.

Every Flask test client created under tests/api validates each /api response it receives
against the OpenAPI document (`openapi_check.ValidatingClient`): an undocumented status or a
body that breaks its documented schema fails the test that received it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from registry.domain.importer import import_yaml
from tests.api.openapi_check import ValidatingClient
from tests.conftest import FIXTURES


@pytest.fixture(autouse=True)
def validate_responses_against_openapi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built in any way (`make_app`, `create_app`) hand out validating test clients."""
    monkeypatch.setattr(Flask, "test_client_class", ValidatingClient)


@pytest.fixture
def make_app(tmp_path: Path):
    """`make_app(**config)`: an app on its own SQLite file (auth off unless configured)."""
    counter = {"n": 0}

    def _make(**config):
        counter["n"] += 1
        db = tmp_path / f"api{counter['n']}.db"
        base = {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE_URL": f"sqlite:///{db}",
            "REGISTRY_AUTH": "off",
        }
        base.update(config)
        return create_app(base)

    return _make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app):
    return app.extensions["registry"]


@pytest.fixture
def seeded(service):
    """The contract fixture: registry `default` (inventory*, analyst, default) and `team`
    (analyst at version 7), from tests/fixtures/canonical-bundle.yaml."""
    import_yaml(service, (FIXTURES / "canonical-bundle.yaml").read_text(), actor="seed")
    return service
