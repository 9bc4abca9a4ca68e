"""Two people editing one profile in a real browser: the conflict panel's three-way merge
(with htmx and as plain form posts), and a save that changes nothing.

Fixtures: tests/browser/conftest.py. No sleeps: every wait is an `expect(...)` auto-wait.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, screenshot

expect.set_options(timeout=TIMEOUT_MS)

pytestmark = pytest.mark.browser

URL = "/registries/default/profiles/inventory/edit"
PROMPT = "You are an inventory assistant. Answer with stock figures first."


def save(page):
    """Press the editor's visible Save button (the hidden default-submit one is aria-hidden)."""
    page.get_by_role("button", name="Save", exact=True).click()


def two_tabs(new_context, **options):
    first = new_context(**options).new_page()
    second = new_context(**options).new_page()
    first.goto(URL)
    second.goto(URL)
    return first, second


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_disjoint_edits_merge_and_theirs_survive(new_context, seeded_live, javascript):
    a, b = two_tabs(new_context, java_script_enabled=javascript)
    a.get_by_label("Description").fill("A's description.")
    save(a)
    expect(a.locator(".flash.success")).to_have_text("Saved Inventory (version 2).")

    b.get_by_label("System prompt").fill("B's prompt.")
    save(b)
    panel = b.locator(".conflict")
    expect(panel.get_by_role("heading", level=2)).to_have_text(
        "Someone else saved this profile meanwhile"
    )
    expect(panel).to_contain_text("You started from version 1; it is now at version 2")
    expect(panel.locator(".yours-list li")).to_have_text(
        ["runtime.system_prompt: " + PROMPT + " → B's prompt."]
    )
    expect(panel.locator(".theirs-list li")).to_have_text(
        ["description: Tool-first inventory assistant. → A's description."]
    )
    expect(panel.locator("table")).to_have_count(0)  # nothing collides
    # nothing of theirs to revert but their description: the overwrite says so
    expect(panel.get_by_role("button", name=re.compile("^Overwrite"))).to_have_text(
        "Overwrite version 2, reverting their changes to description"
    )
    expect(b.get_by_label("System prompt")).to_have_value("B's prompt.")  # still mine
    assert seeded_live.service.get_profile("default", "inventory").metadata.version == 2

    panel.get_by_role("button", name="Apply my changes on top").click()
    expect(b).to_have_url(re.compile(r"/registries/default/profiles/inventory$"))
    expect(b.locator(".flash.success")).to_have_text(
        "Saved Inventory (version 3): your changes applied on top of version 2."
    )
    stored = seeded_live.service.get_profile("default", "inventory")
    assert stored.description == "A's description."  # A's edit survived
    assert stored.runtime.system_prompt == "B's prompt."
    assert stored.metadata.version == 3


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_a_collision_shows_three_columns_and_a_choice_resolves_it(
    new_context, seeded_live, javascript
):
    a, b = two_tabs(new_context, java_script_enabled=javascript)
    a.get_by_label("Description").fill("A's description.")
    save(a)
    expect(a.locator(".flash.success")).to_be_visible()

    b.get_by_label("Description").fill("B's description.")
    b.get_by_label("Display name").fill("Stock desk")
    save(b)
    panel = b.locator(".conflict")
    table = panel.locator("table.merge")
    expect(table.locator("thead th")).to_have_text(
        ["Field", "Version 1 (where you started)", "Theirs (version 2)", "Yours"]
    )
    row = table.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("th")).to_have_text("description")
    expect(row.locator("td pre")).to_have_text(
        ["Tool-first inventory assistant.", "A's description.", "B's description."]
    )
    expect(panel.locator(".yours-list li")).to_have_text(["display_name: Inventory → Stock desk"])
    if javascript:
        screenshot(b, "conflict-panel")

    # Applying without a choice keeps everything as it was and asks for one
    panel.get_by_role("button", name="Apply my changes on top").click()
    expect(b.locator(".conflict-message")).to_have_text(
        "Choose whose value to keep for the 1 field both of you changed."
    )
    assert seeded_live.service.get_profile("default", "inventory").metadata.version == 2

    b.locator(".conflict").get_by_label("Use mine").check()
    b.locator(".conflict").get_by_role("button", name="Apply my changes on top").click()
    expect(b.locator(".flash.success")).to_have_text(
        "Saved Stock desk (version 3): your changes applied on top of version 2."
    )
    stored = seeded_live.service.get_profile("default", "inventory")
    assert (stored.description, stored.display_name) == ("B's description.", "Stock desk")


def test_saving_an_unchanged_profile_is_nothing_to_save(page, seeded_live):
    service = seeded_live.service
    revisions = service.list_revisions("default", "inventory")
    page.goto(URL)
    save(page)
    expect(page).to_have_url(re.compile(r"/registries/default/profiles/inventory$"))
    expect(page.locator(".flash.message")).to_have_text(
        "Nothing to save: Inventory is unchanged (still version 1)."
    )
    assert service.get_profile("default", "inventory").metadata.version == 1
    assert service.list_revisions("default", "inventory") == revisions
