"""Cached pages (registry/web/pages/page_cache.py): served again only while nothing they show
can have changed, with each session's own CSRF token and flashes, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from registry.domain.importer import import_yaml
from registry.domain.model import Profile, Registry
from registry.domain.ports import WriteOptions
from registry.domain.service import ProfilePatch
from registry.domain.tokens import issue
from registry.web.pages.page_cache import CSRF_PLACEHOLDER
from tests.conftest import FIXTURES
from tests.pages.conftest import HX, csrf_token, soup

PAGES = (
    "/registries/default",
    "/registries/default?sort=updated",
    "/registries/default/profiles/inventory",
    "/registries/default/profiles/inventory/edit",
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def instances(make_app, database_url):
    """Two app instances on one database (as two `serve` machines), the bundle seeded."""
    first = make_app(DATABASE_URL=database_url)
    second = make_app(DATABASE_URL=database_url)
    import_yaml(
        first.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text(), actor="t"
    )
    yield first, second
    for app in (first, second):
        app.extensions["registry"].close()


TOKEN = re.compile(r'("X-CSRFToken": "|name="csrf_token" value=")[^"]+')


def without_tokens(response) -> str:
    """The page with its CSRF tokens blanked: they are signed with the time, so two answers
    a second apart carry different strings for the same session token."""
    return TOKEN.sub(r"\1", response.get_data(as_text=True))


def statements(app):
    """SQL statements the app's store runs (its peewee query hooks)."""
    seen: list[str] = []
    app.extensions["registry"]._store.db.query_hooks.append(lambda e: seen.append(e.sql))
    return seen


def describe(app, description: str) -> None:
    app.extensions["registry"].update_profile(
        "default", "inventory", ProfilePatch(description=description), actor="t"
    )


@pytest.mark.parametrize("path", PAGES)
def test_a_repeated_page_costs_one_query_and_is_the_same_page(instances, path):
    app, _ = instances
    client = app.test_client()
    first = client.get(path)
    seen = statements(app)
    again = client.get(path)
    assert first.status_code == again.status_code == 200
    assert without_tokens(again) == without_tokens(first)
    assert len([s for s in seen if not s.startswith("PREPARE")]) == 1, seen  # the change id
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers.get("Link") == first.headers.get("Link")


@pytest.mark.parametrize("path", PAGES)
def test_a_write_through_another_instance_shows_at_once(instances, path):
    """No instance serves a page a write has made stale, wherever the write came from."""
    first, second = instances
    reader = second.test_client()
    assert "edited elsewhere" not in reader.get(path).get_data(as_text=True)
    reader.get(path)  # cached now
    describe(first, "edited elsewhere")
    assert "edited elsewhere" in reader.get(path).get_data(as_text=True)


def test_a_write_past_the_service_moves_the_change_id_too(instances):
    """The key is the change feed, which every store write appends to (also imports and
    writes that bypass the service's rules)."""
    app, _ = instances
    client = app.test_client()
    assert "bypass" not in client.get("/registries/default").get_data(as_text=True)
    store = app.extensions["registry"]._store
    store.create_profile("default", Profile(slug="bypass"), WriteOptions(actor="t"))
    assert "bypass" in client.get("/registries/default").get_data(as_text=True)
    store.create_registry(Registry(slug="fresh"), WriteOptions(actor="t"))
    assert client.get("/registries/fresh").status_code == 200


def test_every_session_gets_its_own_csrf_token_and_it_works(instances):
    app, _ = instances
    alice, bob = app.test_client(), app.test_client()
    path = "/registries/default/profiles/inventory/edit"
    token_a = csrf_token(alice, path)
    token_b = csrf_token(bob, path)  # served from the cache
    assert token_a != token_b
    for client in (alice, bob):
        assert CSRF_PLACEHOLDER not in client.get(path).get_data(as_text=True)
    app.config["WTF_CSRF_ENABLED"] = True
    response = bob.post(
        "/registries/default/new-profile",
        data={"slug": "from-bob", "csrf_token": token_b},
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    stolen = alice.post(
        "/registries/default/new-profile", data={"slug": "from-alice", "csrf_token": token_b}
    )
    assert stolen.status_code == 400


def test_flashes_are_shown_once_to_their_own_session_only(instances):
    app, _ = instances
    writer, other = app.test_client(), app.test_client()
    other.get("/registries/default")
    created = writer.post(
        "/registries/default/new-profile",
        data={"slug": "flashy", "csrf_token": csrf_token(writer)},
    )
    assert created.status_code in (302, 303)
    shown = writer.get(created.headers["Location"]).get_data(as_text=True)
    assert "flashy" in shown and 'class="flash success"' in shown
    again = writer.get(created.headers["Location"]).get_data(as_text=True)
    assert 'class="flash success"' not in again
    location = created.headers["Location"]
    assert 'class="flash success"' not in other.get(location).get_data(as_text=True)


def test_htmx_fragments_and_whole_pages_are_kept_apart(instances):
    app, _ = instances
    client = app.test_client()
    page = client.get("/registries/default").get_data(as_text=True)
    fragment = client.get("/registries/default", headers=HX).get_data(as_text=True)
    assert page.startswith("<!doctype html>") and not fragment.startswith("<!doctype html>")
    assert TOKEN.sub("", client.get("/registries/default").get_data(as_text=True)) == TOKEN.sub(
        "", page
    )
    again = client.get("/registries/default", headers=HX).get_data(as_text=True)
    assert TOKEN.sub("", again) == TOKEN.sub("", fragment)


def test_each_viewer_sees_their_own_role(make_app, database_url):
    app = make_app(DATABASE_URL=database_url, REGISTRY_AUTH="on")
    import_yaml(
        app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text(), actor="t"
    )

    def login(role: str):
        client = app.test_client()
        secret = issue(app.extensions["tokens"], f"ui-{role}", role).secret
        token = csrf_token(client, "/login")
        assert client.post("/login", data={"token": secret, "csrf_token": token}).status_code == 302
        return client

    editor, reader = login("editor"), login("reader")
    as_editor = soup(editor.get("/registries/default"))
    as_reader = soup(reader.get("/registries/default"))
    assert as_editor.find("a", string="New profile") is not None
    assert as_reader.find("a", string="New profile") is None
    assert "ui-reader" in as_reader.get_text() and "ui-editor" not in as_reader.get_text()
    assert reader.get("/registries/default/profiles/inventory/edit").status_code == 403
    app.extensions["registry"].close()


def test_the_cache_can_be_turned_off(make_app):
    app = make_app(REGISTRY_PAGE_CACHE_MB=0)
    import_yaml(
        app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text(), actor="t"
    )
    client = app.test_client()
    client.get("/registries/default")
    seen = statements(app)
    assert client.get("/registries/default").status_code == 200
    assert len(seen) > 1 and "page_cache" not in app.extensions
