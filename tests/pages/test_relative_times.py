"""Times on pages: relative to now ("2 days ago"), computed by the server, with the exact UTC
time in `title`, in `datetime`, and in the text for screen readers (shown on focus)."""

from __future__ import annotations

import re

import pytest

from registry.domain.metadata import now_ms
from registry.domain.model import Metadata, Profile
from registry.domain.ports import WriteOptions
from tests.pages.conftest import HX, soup

DAY = 24 * 3600 * 1000
EXACT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$")


@pytest.fixture
def old_profile(seeded, app_store):
    """`default/old`, created 3 days ago and updated 2 days ago (declared, as an import does)."""
    at = now_ms()
    profile = Profile(
        slug="old",
        display_name="Old",
        metadata=Metadata(
            version=4,
            created_at_ms=at - 3 * DAY,
            updated_at_ms=at - 2 * DAY,
            created_by="carol",
            updated_by="dave",
        ),
    )
    app_store.create_profile("default", profile, WriteOptions(actor="carol", keep_metadata=True))
    return seeded


def check_time(tag, relative: str) -> None:
    """One `time_tag`: relative text first, the exact time as title, hidden text and focus."""
    exact = tag["title"]
    assert EXACT.match(exact), exact
    assert tag.contents[0] == relative
    assert tag.select_one(".exact").get_text() == f" ({exact})"
    assert tag["tabindex"] == "0" and tag.has_attr("data-relative")
    iso = tag["datetime"]
    assert iso.endswith("+00:00") and iso[:10] == exact[:10] and iso[11:19] == exact[11:19]


def test_profile_view_shows_relative_times_with_the_exact_time(client, old_profile):
    page = soup(client.get("/registries/default/profiles/old"))
    meta = page.find(id="h-meta").find_parent("section")
    created, updated = meta.select("time")
    check_time(created, "3 days ago")
    check_time(updated, "2 days ago")
    summary = page.select_one("dl.profile-summary time")
    check_time(summary, "2 days ago")
    assert "2 days ago" in summary.find_parent("dd").get_text() and "by dave" in (
        summary.find_parent("dd").get_text()
    )


def test_registry_list_updated_column_is_relative(client, old_profile):
    page = soup(client.get("/registries/default?sort=updated"))
    cells = {
        row.select_one("td code, td a").get_text(): row.select_one("td[data-label=Updated] time")
        for row in page.select("#profiles tbody tr")
        if row.select_one("td[data-label=Updated] time")
    }
    assert cells, "the registry page lists its profiles with an Updated column"
    check_time(next(t for k, t in cells.items() if "old" in k), "2 days ago")
    assert any(t.contents[0] == "just now" for t in cells.values())


def test_dashboard_recent_changes_are_relative(client, seeded):
    page = soup(client.get("/"))
    times = page.select("time")
    assert times
    for tag in times:
        check_time(tag, "just now")


def test_history_when_column_is_relative(client, seeded):
    page = soup(client.get("/registries/default/profiles/inventory/history"))
    times = page.select("#revisions-h ~ .table-wrap time")
    assert times
    check_time(times[0], "just now")


def test_fragments_carry_the_same_time_markup(client, old_profile):
    page = soup(client.get("/registries/default/profiles/old", headers=HX))
    assert [t.contents[0] for t in page.select("#h-meta ~ dl time")] == [
        "3 days ago",
        "2 days ago",
    ]
