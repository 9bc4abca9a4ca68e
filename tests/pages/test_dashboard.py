"""The dashboard's recent changes: the newest ones from the change feed, whatever the ids."""

from __future__ import annotations

import pytest

from registry.domain.model import Profile, Registry
from tests.pages.conftest import soup


def recent_items(client) -> list[str]:
    """The "Item" column of the recent-changes table, top to bottom."""
    response = client.get("/")
    assert response.status_code == 200
    table = soup(response).find(id="recent").find_parent("section").find("table")
    if table is None:
        return []
    return [row.find_all("td")[3].get_text(" ", strip=True) for row in table.tbody("tr")]


@pytest.mark.postgres
def test_recent_changes_survive_a_sequence_gap_on_postgresql(pg_url, make_app):
    """PostgreSQL sequences leave gaps (rolled-back inserts, cached values): the dashboard
    must list the newest changes, not those whose ids are near the latest one."""
    import psycopg2

    app = make_app(DATABASE_URL=pg_url)
    service = app.extensions["registry"]
    service.create_registry(Registry(slug="default"))
    for slug in ("a", "b", "c"):
        service.create_profile(None, Profile(slug=slug))
    conn = psycopg2.connect(pg_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT setval(pg_get_serial_sequence('revisions', 'id'), 100000)")
    finally:
        conn.close()
    service.create_profile(None, Profile(slug="d"))
    assert service.latest_change_id() > 100000  # the gap is there

    # the first profile also made itself the registry's default: a registry change after it
    items = recent_items(app.test_client())
    assert items == [
        "default/d",
        "default/c",
        "default/b",
        "default (registry)",
        "default/a",
        "default (registry)",
    ]


def test_recent_changes_show_the_newest_fifteen(client, service):
    service.create_registry(Registry(slug="default"))
    for i in range(20):
        service.create_profile(None, Profile(slug=f"p{i:02d}"))
    items = recent_items(client)
    assert items == [f"default/p{i:02d}" for i in range(19, 4, -1)]


def test_the_yaml_store_says_it_keeps_no_history(make_app, tmp_path):
    app = make_app(REGISTRY_STORE=f"yaml:{tmp_path / 'profiles.yaml'}")
    app.extensions["registry"].create_registry(Registry(slug="default"))
    page = soup(app.test_client().get("/"))
    assert "(no history)" in page.find(class_="sub").get_text()
    assert "keeps no history" in page.find(id="recent").find_parent("section").get_text()
