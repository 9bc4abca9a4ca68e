"""Schema-drawn extensions (profile view, resolve, history diff) and relative times, in
Chromium at 1280 px and 390 px: axe at zero violations, screenshots, Raw JSON by keyboard,
the exact time on focus, and the relative text refreshed by static/js/times.js."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from registry.domain.service import ProfilePatch
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import WIDTHS, violations

SUGGESTIONS = "webchat.starter_suggestions@v1"
PROFILE = "/registries/default/profiles/inventory"


@pytest.fixture
def changed_live(seeded_live):
    """inventory with its suggestions and agent mode changed once (a diff to show)."""
    service = seeded_live.service
    current = service.get_profile("default", "inventory")
    extensions = {
        **current.extensions,
        SUGGESTIONS: {"items": ["Only this one", "And a second"]},
        "middleware.agentmode_config@v1": {"instances": {"id:primary": {"default_mode": "act"}}},
    }
    service.update_profile("default", "inventory", ProfilePatch(extensions=extensions), actor="a")
    return seeded_live


def diff_path(service) -> str:
    new, old = [r.id for r in service.list_revisions("default", "inventory")][:2]
    return f"{PROFILE}/history/diff?a={old}&b={new}"


@pytest.mark.parametrize("width", WIDTHS)
def test_schema_values_pages_pass_axe_and_are_captured(new_context, changed_live, width):
    context = new_context(changed_live, bypass_csp=True, viewport=WIDTHS[width])
    page = context.new_page()
    pages = {
        "profile-extensions": PROFILE + "#h-ext",
        "resolve-extensions": "/resolve?registry=default&profile=inventory",
        "history-diff-extensions": diff_path(changed_live.service),
    }
    found = {}
    for name, path in pages.items():
        page.goto(path)
        page.wait_for_load_state("networkidle")
        for details in page.locator("details.raw-json").all()[:1]:
            details.locator("summary").click()  # axe sees an opened Raw JSON too
        problems = violations(page)
        if problems:
            found[name] = problems
        screenshot(page, f"{name}-{width}")
    assert not found, found


def test_profile_view_reads_suggestions_as_a_list_with_raw_json_by_keyboard(page, changed_live):
    page.goto(PROFILE)
    entry = page.locator(".ext-view", has_text=SUGGESTIONS)
    items = entry.locator(".schema-view ol.value-list > li")
    expect(items).to_have_text(["Only this one", "And a second"])
    raw = entry.locator("details.raw-json")
    expect(raw.locator("pre")).not_to_be_visible()
    raw.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(raw.locator("pre")).to_be_visible()
    expect(raw.locator("pre")).to_contain_text('"Only this one"')
    unknown = page.locator(".ext-view", has_text="inventory.capabilities@v1")
    expect(unknown.locator(".raw-fallback")).to_contain_text("no codec knows this key")
    expect(unknown.locator("pre")).to_be_visible()  # the fallback is shown, not folded


def test_history_diff_names_extension_fields_with_schema_labels(page, changed_live):
    page.goto(diff_path(changed_live.service))
    row = page.locator("table.diff tbody tr", has_text="Default mode")
    expect(row.locator(".field-label")).to_have_text(
        "Agent Mode config › Instances › id:primary › Default mode"
    )
    expect(row.locator("td.after")).to_have_text("act")


@pytest.mark.parametrize("width", WIDTHS)
def test_exact_time_shows_on_keyboard_focus(new_context, seeded_live, width):
    page = new_context(seeded_live, viewport=WIDTHS[width]).new_page()
    page.goto(PROFILE)
    time = page.locator("dl.profile-summary time")
    exact = time.locator(".exact")
    expect(time).to_have_attribute("title", exact.inner_text().strip(" ()"))
    assert exact.bounding_box()["width"] <= 1  # hidden (for screen readers only) ...
    time.focus()
    expect(time).to_be_focused()
    assert exact.bounding_box()["width"] > 50  # ... and shown beside the relative time on focus
    assert exact.inner_text().endswith("UTC)")
    screenshot(page, f"time-focus-{width}")


def test_relative_times_refresh_on_an_open_page(context, seeded_live):
    page = context.new_page()
    page.clock.install()
    page.goto(PROFILE)
    time = page.locator("dl.profile-summary time")
    expect(time).to_contain_text("just now")
    exact_before = time.get_attribute("title")
    page.clock.fast_forward("05:00")
    page.clock.run_for(61_000)
    expect(time).to_contain_text("minutes ago")
    assert time.get_attribute("title") == exact_before  # the exact time never changes
    expect(time.locator(".exact")).to_have_text(f" ({exact_before})")
