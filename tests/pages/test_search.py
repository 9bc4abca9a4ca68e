"""The header's search across registries, and its JSON twin."""

from __future__ import annotations

from registry.domain.model import Metadata, Profile, Registry
from tests.pages.conftest import HX, soup


def seed(service) -> None:
    service.create_registry(Registry(slug="default"))
    service.create_registry(Registry(slug="team"))
    service.create_profile("default", Profile(slug="writer", display_name="Copy Writer"))
    service.create_profile("default", Profile(slug="coder", metadata=Metadata(tags=["Writing"])))
    service.create_profile("team", Profile(slug="editor", description="rewrites drafts"))
    service.create_profile("team", Profile(slug="ops"))


def test_the_header_box_finds_profiles_in_every_registry(client, service):
    seed(service)
    page = soup(client.get("/"))
    box = page.select_one("header form.global-search")
    assert box["action"] == "/search" and box.find("input")["name"] == "q"
    response = client.get("/search?q=WRIT")
    assert response.status_code == 200
    page = soup(response)
    rows = [[td.get_text(" ", strip=True) for td in tr("td")] for tr in page.select("tbody tr")]
    assert [(r[0], r[3]) for r in rows] == [
        ("coder", "default"),
        ("writer", "default"),
        ("editor", "team"),
    ]
    assert "3 profiles match “WRIT” in 2 registries." in page.find(id="results-summary").get_text(
        " ", strip=True
    )
    assert page.select_one("tbody a.badge.tag.match").get_text() == "Writing"  # matched by tag
    assert page.find("link", rel="alternate")["href"] == "/api/search?q=WRIT"


def test_search_as_you_type_swaps_the_results_only(client, service):
    seed(service)
    body = client.get("/search?q=ops", headers=HX).get_data(as_text=True)
    assert body.lstrip().startswith('<div id="results"') and "<h1" not in body
    assert "ops" in body


def test_no_match_and_empty_query_say_so(client, service):
    seed(service)
    assert "No profile matches “zzz”." in soup(client.get("/search?q=zzz")).get_text()
    assert "Type part of a slug" in soup(client.get("/search")).get_text()


def test_more_matches_than_shown_link_each_registry(client, service):
    service.create_registry(Registry(slug="big"))
    for i in range(60):
        service.create_profile("big", Profile(slug=f"agent-{i:02d}"))
    page = soup(client.get("/search?q=agent"))
    assert len(page.select("tbody tr")) == 50
    summary = page.find(id="results-summary")
    assert "60 profiles match" in summary.get_text(" ", strip=True)
    assert summary.find("a", string="big (60)")["href"] == "/registries/big?q=agent"


def test_json_twin(client, service):
    seed(service)
    data = client.get("/api/search?q=writ&limit=2").get_json()
    assert data["total"] == 3 and data["per_registry"] == {"default": 2, "team": 1}
    assert [(i["registry"], i["slug"], i["matched"]) for i in data["items"]] == [
        ("default", "coder", "tag"),
        ("default", "writer", "text"),
    ]
    assert client.get("/api/search?q=x&limit=0").status_code == 400
    assert client.get("/api/search").get_json() == {"items": [], "total": 0, "per_registry": {}}
