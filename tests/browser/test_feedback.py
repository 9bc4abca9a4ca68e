"""Feedback in a real browser: busy states, dismissible flashes, the phone menu."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_save_shows_saving_while_the_request_is_out(page, seeded_live):
    page.goto("/registries/default/profiles/inventory/edit")
    held = []
    page.route(re.compile(r".*/profiles/inventory/edit$"), lambda route: held.append(route))
    save = page.locator("form.editor button[data-busy-label]")
    page.get_by_label("Display name").fill("Stock desk")
    save.click()
    expect(save).to_have_text("Saving…")
    expect(save).to_have_attribute("aria-busy", "true")
    assert held, "the save request is held"
    held[0].continue_()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stock desk")


def test_flashes_can_be_dismissed(page, seeded_live):
    page.goto("/registries")
    page.locator("#new-slug").fill("team2")
    page.get_by_role("button", name="Create registry").click()
    flash = page.locator(".flash.success")
    expect(flash).to_contain_text('Registry "team2" created.')
    flash.get_by_role("button", name="Dismiss this message").click()
    expect(flash).to_have_count(0)


def test_phone_menu_folds_the_navigation(new_context, seeded_live):
    page = new_context(seeded_live, viewport={"width": 390, "height": 844}).new_page()
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    expect(nav).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="Registries").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Registries")


def test_without_javascript_the_navigation_stays_open(new_context, seeded_live):
    page = new_context(
        seeded_live, viewport={"width": 390, "height": 844}, java_script_enabled=False
    ).new_page()
    page.goto("/")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
