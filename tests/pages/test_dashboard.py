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


def _bundle(registry: str, count: int, prefix: str = "p") -> str:
    profiles = "".join(
        f"      {prefix}{i:04d}:\n        display_name: P {i}\n" for i in range(count)
    )
    return (
        f"registries:\n  {registry}:\n    default_profile_slug: {prefix}0000\n"
        f"    profiles:\n{profiles}"
    )


def test_a_bulk_import_is_one_line_with_its_count(client, service):
    from registry.domain.importer import import_yaml

    service.create_registry(Registry(slug="default"))
    service.create_profile(None, Profile(slug="before"), actor="alice")
    import_yaml(service, _bundle("team", 120), mode="upsert", actor="admin")
    service.create_profile(None, Profile(slug="after"), actor="alice")
    items = recent_items(client)
    assert items[0] == "default/after"
    # one line for the import, its registry's creation included
    assert items[1] == "120 profiles (120 new) in team"
    assert "team (registry)" not in items  # its registry's creation is part of that line
    assert "default/before" in items
    page = soup(client.get("/"))
    assert page.select_one("tr.bulk a")["href"] == "/registries/team"


def test_a_bulk_run_longer_than_the_scan_says_so(service):
    from registry.domain.importer import import_yaml

    import_yaml(service, _bundle("team", 30), mode="upsert", actor="admin")
    groups = service.recent_activity(15, scan=10)
    assert len(groups) == 1 and groups[0].profiles == 10 and not groups[0].complete
    (complete,) = service.recent_activity(15)
    assert complete.profiles == 30 and complete.created == 30 and complete.complete
    assert complete.entries == 31  # and the registry's creation


def test_imports_by_different_actors_are_separate_lines(client, service):
    from registry.domain.importer import import_yaml

    import_yaml(service, _bundle("team", 3), mode="upsert", actor="ann")
    import_yaml(service, _bundle("team", 3, prefix="q"), mode="upsert", actor="bob")
    groups = service.recent_activity(15)
    assert [(g.first.actor, g.profiles, g.created) for g in groups] == [
        ("bob", 3, 3),
        ("ann", 3, 3),
    ]
