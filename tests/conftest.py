"""Shared fixtures: stores on every backend, PostgreSQL schemas, services and apps.

PostgreSQL tests run when REGISTRY_TEST_POSTGRES_URL is set; with CI=true a missing URL is a
failure, not a skip (CI must prove every backend).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

POSTGRES_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and not POSTGRES_URL:
        message = "REGISTRY_TEST_POSTGRES_URL is not set"
        if IN_CI:
            pytest.fail(f"{message}: CI must run the PostgreSQL tests")
        pytest.skip(message)


@pytest.fixture
def pg_url() -> str:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("REGISTRY_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL tests")
        pytest.skip("REGISTRY_TEST_POSTGRES_URL is not set")
    import psycopg2

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(POSTGRES_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
    conn.close()


def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    from registry.store import open_store

    if kind == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'registry.db'}")
    if kind == "postgres":
        return open_store(request.getfixturevalue("pg_url"))
    if kind == "yaml":
        return open_store(f"yaml:{tmp_path / 'registry.yaml'}")
    raise AssertionError(kind)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "yaml"]
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, empty store on every backend."""
    s = _open(request.param, tmp_path, request)
    yield s
    s.close()


@pytest.fixture(params=SQL_BACKENDS)
def sql_store(request: pytest.FixtureRequest, tmp_path: Path):
    s = _open(request.param, tmp_path, request)
    yield s
    s.close()


@pytest.fixture
def reopen(request: pytest.FixtureRequest, tmp_path: Path):
    """Open another store on the same data as the `store`/`sql_store` fixture (same backend)."""

    def _reopen(existing):
        from registry.store import open_store

        return open_store(existing.url)

    return _reopen


# --- apps (HTTP tests under tests/api, tests/pages) ------------------------------------------


@pytest.fixture
def make_app(tmp_path: Path):
    """`make_app(**config)`: an app on its own SQLite file (auth off unless configured)."""
    from app import create_app

    counter = {"n": 0}

    def _make(**config):
        counter["n"] += 1
        db = tmp_path / f"app{counter['n']}.db"
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
def auth_on_app(make_app):
    """Like `app`, with token checks on (`REGISTRY_AUTH=on`); no token exists yet."""
    return make_app(REGISTRY_AUTH="on")


@pytest.fixture
def token_store(auth_on_app):
    """The token store of `auth_on_app`."""
    return auth_on_app.extensions["tokens"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app):
    return app.extensions["registry"]


@pytest.fixture
def app_store(service):
    """The store behind the app's service, for tests that write past the service's rules or
    watch what it reads. The app itself never reaches it (tests/test_one_door.py)."""
    return service._store


@pytest.fixture
def seeded(service):
    """Registry `default` (inventory*, analyst (read-only), default) and `team` (analyst at
    version 7), from tests/fixtures/canonical-bundle.yaml."""
    from registry.domain.importer import import_yaml

    import_yaml(service, (FIXTURES / "canonical-bundle.yaml").read_text(), actor="seed")
    return service
