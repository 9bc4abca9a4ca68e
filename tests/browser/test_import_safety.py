"""Mirror imports in a real browser: the dry run counts what goes (profiles inside deleted
registries too) and Apply needs the word typed, with JavaScript and without."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.conftest import FIXTURES

expect.set_options(timeout=TIMEOUT_MS)

pytestmark = pytest.mark.browser

ONE_REGISTRY = FIXTURES / "single-registry.yaml"  # only `support`: default and team would go


def _mirror_dry_run(page) -> None:
    page.goto("/import")
    page.get_by_label("YAML file").set_input_files(ONE_REGISTRY)
    page.get_by_label("mirror").check()
    page.get_by_role("button", name="Dry run").click()


def test_mirror_dry_run_counts_deletions_and_apply_needs_the_typed_word(page, seeded_live):
    _mirror_dry_run(page)
    result = page.locator("#import-result")
    expect(result.locator(".counts-deleted .stat")).to_have_text("4")
    expect(result.locator(".counts-registries-deleted .stat")).to_have_text("2")
    banner = result.get_by_role("alert").filter(has_text="Applying this plan deletes")
    expect(banner).to_contain_text("2 registries (default, team) and 4 profiles")
    expect(banner.locator("li")).to_have_count(2)

    apply = result.get_by_role("button", name="Delete and apply: 9 changes")
    confirm = result.get_by_label("type delete", exact=False)
    expect(apply).to_be_disabled()  # until the word is typed
    confirm.fill("delet")
    expect(apply).to_be_disabled()
    confirm.fill("delete")
    expect(apply).to_be_enabled()
    confirm.fill("team default")  # the registry slugs work too
    expect(apply).to_be_enabled()
    confirm.fill("")
    expect(apply).to_be_disabled()
    confirm.fill("delete")
    banner.scroll_into_view_if_needed()
    screenshot(page, "import-mirror-warning")
    assert [s.registry.slug for s in seeded_live.service.list_registries()] == ["default", "team"]

    apply.click()
    expect(result.get_by_role("heading", level=2)).to_have_text("Imported")
    expect(result.locator(".flash.success")).to_contain_text("4 deleted")
    assert [s.registry.slug for s in seeded_live.service.list_registries()] == ["support"]


def test_without_javascript_the_server_asks_for_the_word(new_context, seeded_live):
    page = new_context(java_script_enabled=False).new_page()
    _mirror_dry_run(page)
    apply = page.get_by_role("button", name="Delete and apply: 9 changes")
    expect(apply).to_be_enabled()
    apply.click()  # nothing typed: refused, plan and message shown again
    error = page.locator("#confirm-word-error")
    expect(error).to_have_text("Type delete to confirm the deletions.")
    assert len(seeded_live.service.list_registries()) == 2

    page.get_by_label("type delete", exact=False).fill("delete")
    page.get_by_role("button", name="Delete and apply: 9 changes").click()
    expect(page.get_by_role("heading", level=2)).to_have_text("Imported")
    assert [s.registry.slug for s in seeded_live.service.list_registries()] == ["support"]
