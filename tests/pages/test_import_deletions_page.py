"""The import page's mirror safety: a dry run lists and counts what a mirror deletes (profiles
inside deleted registries too) in a danger banner, and Apply needs the word shown (or the
registry slugs) typed; the server checks it, with or without JavaScript and htmx."""

from __future__ import annotations

import pytest

from registry.domain.importer import export_yaml
from registry.web.pages.io import unpack_document
from tests.conftest import FIXTURES
from tests.pages.conftest import HX, plan_items, soup

ONE_REGISTRY = (FIXTURES / "single-registry.yaml").read_text()  # only `support`


def dry_run(client, csrf, text: str = ONE_REGISTRY, **extra):
    data = {"csrf_token": csrf(), "action": "dry-run", "mode": "mirror", "yaml": text}
    return client.post("/import", data=data, **extra)


def apply_fields(response) -> dict[str, str]:
    form = soup(response).select_one("form.apply-form")
    assert form is not None, response.get_data(as_text=True)
    data = {i["name"]: i.get("value", "") for i in form.find_all("input")}
    data["yaml"] = unpack_document(data["document"], 1 << 24)
    return data


def stat(page, name: str) -> str:
    return page.select_one(f".counts-{name} .stat").get_text(strip=True)


def test_the_dry_run_counts_and_lists_what_goes(client, seeded, csrf):
    response = dry_run(client, csrf)
    assert response.status_code == 200
    page = soup(response)
    assert stat(page, "deleted") == "4"
    assert stat(page, "registries-deleted") == "2"
    banner = page.select_one("#import-deletions")
    assert banner["role"] == "alert" and "danger" in banner["class"]
    text = banner.get_text(" ", strip=True)
    assert "deletes 2 registries (default, team) and 4 profiles" in text
    items = [li.get_text(" ", strip=True) for li in banner.select("li")]
    assert items[0].startswith("registry default with 3 profiles:")
    assert "inventory" in items[0] and "analyst" in items[0]
    assert items[1] == "registry team with 1 profile: analyst"
    rows = plan_items(page)
    assert rows["default/inventory"][0] == rows["team/analyst"][0] == "deleted"
    confirm = page.select_one("#confirm-word")
    assert confirm["data-confirm-word"] == "delete"
    assert "type delete" in page.select_one("label[for=confirm-word]").get_text(" ", strip=True)
    assert "Delete and apply" in page.select_one("form.apply-form button").get_text()


@pytest.mark.parametrize("hx", [{}, HX])
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Type delete to confirm the deletions."),
        ("   ", "Type delete to confirm the deletions."),
        ("yes", '"yes" is not delete'),
        ("default", '"default" is not delete'),  # one of the two registries only
    ],
)
def test_apply_without_the_word_is_refused_and_writes_nothing(
    client, seeded, csrf, hx, typed, message
):
    before, change = export_yaml(seeded), seeded.latest_change_id()
    data = {**apply_fields(dry_run(client, csrf)), "confirm_word": typed}
    response = client.post("/import", data=data, headers=hx)
    assert response.status_code == 422
    assert export_yaml(seeded) == before and seeded.latest_change_id() == change
    page = soup(response)
    error = page.select_one("#confirm-word-error")
    assert message in error.get_text()
    field = page.select_one("#confirm-word")
    assert field["value"] == typed and field["aria-invalid"] == "true"
    assert "confirm-word-error" in field["aria-describedby"]
    assert page.select_one("#import-deletions") is not None  # the plan is shown again
    assert page.find("h2").get_text() != "Imported"


@pytest.mark.parametrize("typed", ["delete", " DELETE ", "team default", "default, team"])
def test_the_word_or_the_registry_slugs_apply_it(client, seeded, csrf, typed):
    data = {**apply_fields(dry_run(client, csrf)), "confirm_word": typed}
    response = client.post("/import", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Import applied (mirror)" in soup(response).get_text()
    assert [s.registry.slug for s in seeded.list_registries()] == ["support"]


def test_a_tampered_count_is_refused(client, seeded, csrf):
    before = export_yaml(seeded)
    data = {**apply_fields(dry_run(client, csrf)), "confirm_word": "delete", "deletions": "1"}
    response = client.post("/import", data=data)
    assert response.status_code == 422
    assert "deletes something other than the plan you confirmed" in soup(response).get_text()
    assert export_yaml(seeded) == before


@pytest.mark.parametrize("text", ["---\n", "# comment\n", "~\n", "{}\n", "registries: {}\n"])
def test_an_empty_document_says_it_deletes_everything(client, seeded, csrf, text):
    response = dry_run(client, csrf, text)
    assert response.status_code == 200
    banner = soup(response).select_one("#import-deletions").get_text(" ", strip=True)
    assert "This document holds no registries" in banner and "deletes everything" in banner
    refused = client.post("/import", data=apply_fields(response))
    assert refused.status_code == 422 and len(seeded.list_registries()) == 2


def test_a_mirror_that_deletes_nothing_asks_for_nothing(client, seeded, csrf):
    bundle = (
        (FIXTURES / "canonical-bundle.yaml")
        .read_text()
        .replace("Tool-first inventory assistant.", "Changed.")
    )
    response = dry_run(client, csrf, bundle)
    page = soup(response)
    assert page.select_one("#import-deletions") is None
    assert page.select_one("#confirm-word") is None
    assert client.post("/import", data=apply_fields(response)).status_code == 200
    assert seeded.get_profile("default", "inventory").description == "Changed."
