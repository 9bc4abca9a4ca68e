"""The editor never loses work and never loses the user (README, Admin UI: "Editing safely"):
a session that ends in another tab, focus and scrolling after the editor's buttons and after
a refused save, Enter in list fields, confirmations, unsaved-change warnings.

Real Chromium (tests/browser/conftest.py); every wait is an `expect(...)` auto-wait.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from registry.domain import tokens as tk
from tests.browser.conftest import TIMEOUT_MS, screenshot

expect.set_options(timeout=TIMEOUT_MS)

pytestmark = pytest.mark.browser

EDIT = "/registries/default/profiles/inventory/edit"
SESSION_ENDED = (
    "Your session ended: log in in a new tab, then save again; your changes are still here."
)


def field(page, name: str):
    return page.locator(f'[name="{name}"]')


def save(page):
    page.get_by_role("button", name="Save", exact=True).click()


def active(page) -> dict:
    """What has the focus: its name/id, whether it is inside the viewport and clear of the
    sticky save bar (the bar covers the bottom of the viewport)."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const r = el.getBoundingClientRect();
          const bar = document.querySelector('form.editor .form-actions');
          const bottom = bar ? bar.getBoundingClientRect().top : window.innerHeight;
          return {
            name: el.getAttribute('name') || '', id: el.id || '', tag: el.tagName.toLowerCase(),
            value: 'value' in el ? el.value : '',
            visible: r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0,
            clear: r.bottom <= bottom,
          };
        }"""
    )


def expect_focus(page, **want) -> dict:
    """Wait until the focused element matches `want` (name/id/tag/value), then check that it
    is in the viewport and not under the save bar."""
    checks = " && ".join(
        f"(el.getAttribute('name') === {v!r})"
        if k == "name"
        else f"(el.id === {v!r})"
        if k == "id"
        else f"(el.value === {v!r})"
        for k, v in want.items()
    )
    page.wait_for_function(f"() => {{ const el = document.activeElement; return {checks}; }}")
    now = active(page)
    assert now["visible"] and now["clear"], now
    return now


# --- a session that ends in another tab --------------------------------------------------------


def _log_in(page, secret: str) -> None:
    page.goto("/login")
    page.get_by_label("Token").fill(secret)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flash.success")).to_have_text("Logged in.")


def test_logged_out_elsewhere_save_keeps_the_form_and_saves_after_login(new_context, make_live):
    server = make_live(REGISTRY_AUTH="on")
    server.seed()
    secret = tk.issue(server.app.extensions["tokens"], "ed", "editor").secret
    context = new_context(server)
    editor, other = context.new_page(), context.new_page()
    _log_in(editor, secret)
    editor.goto(EDIT)
    editor.get_by_label("System prompt").fill("Kept through a lost session.")

    other.goto("/registries")
    other.get_by_role("button", name="Log out").click()
    expect(other).to_have_url(re.compile(r"/login$"))

    # an editor button, then Save: the error box explains, the form stays as typed
    editor.get_by_role("button", name="Add tool").click()
    box = editor.locator("#htmx-error")
    expect(box).to_be_visible()
    expect(box).to_contain_text(SESSION_ENDED)
    expect(box.get_by_role("link", name="Log in in a new tab")).to_have_attribute(
        "target", "_blank"
    )
    save(editor)
    expect(box).to_contain_text(SESSION_ENDED)
    expect(editor.locator("header.top")).to_have_count(1)  # no page swapped into the form
    expect(editor.locator("form#profile-editor")).to_have_count(1)
    expect(editor.get_by_label("System prompt")).to_have_value("Kept through a lost session.")
    assert server.service.get_profile("default", "inventory").metadata.version == 1
    screenshot(editor, "editor-session-ended")

    # log in again in the other tab; "save again" now works with the same form
    _log_in(other, secret)
    save(editor)
    expect(editor).to_have_url(re.compile(r"/registries/default/profiles/inventory$"))
    expect(editor.locator(".flash.success")).to_have_text("Saved Inventory (version 2).")
    stored = server.service.get_profile("default", "inventory")
    assert stored.runtime.system_prompt == "Kept through a lost session."
    assert editor.console_errors == [] or all("401" in e for e in editor.console_errors)


def test_leaving_a_changed_editor_asks_first(page, seeded_live):
    page.goto(EDIT)
    page.get_by_label("Description").fill("Unsaved words")
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/edit$"))
    assert asked == ["beforeunload"]
    expect(page.get_by_label("Description")).to_have_value("Unsaved words")

    # a successful save leaves without asking
    save(page)
    expect(page.locator(".flash.success")).to_have_text("Saved Inventory (version 2).")
    assert asked == ["beforeunload"]


# --- focus and scrolling -----------------------------------------------------------------------


@pytest.fixture
def short_page(new_context, seeded_live):
    """A short viewport, so the editor scrolls and jumps would show."""
    return new_context(seeded_live, viewport={"width": 1280, "height": 600}).new_page()


def test_focus_follows_add_move_and_remove_without_jumping(short_page):
    page = short_page
    page.goto(EDIT)
    add = page.get_by_role("button", name="Add tool")
    add.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    assert before > 0

    add.click()  # the new (third) tool's field
    expect_focus(page, name="tools/2")
    assert abs(page.evaluate("window.scrollY") - before) < 200  # no jump to the bottom
    page.keyboard.type("forecast")

    page.get_by_role("button", name="Move Tools 3 up").click()  # the moved item
    expect_focus(page, name="tools/1", value="forecast")
    page.get_by_role("button", name="Move Tools 1 down").click()
    expect_focus(page, name="tools/1", value="stock_lookup")

    page.get_by_role("button", name="Remove Tools 1").click()  # the next item
    expect_focus(page, name="tools/0", value="stock_lookup")
    page.get_by_role("button", name="Remove Tools 2").click()  # the last: the Add button
    expect_focus(page, id="f-tools-add")
    expect(field(page, "tools/0")).to_have_value("stock_lookup")

    page.get_by_label("Add a middleware").select_option("sqlite")
    page.get_by_role("button", name="Add middleware").click()
    expect_focus(page, name="mw/1/id")  # the new middleware's first field
    page.get_by_role("button", name="Move middleware 2 up").click()
    expect_focus(page, name="mw/0/id")
    expect(page.locator(".mw-row").first).to_contain_text("SQLite tool")
    page.get_by_role("button", name="Remove middleware 1").click()
    expect_focus(page, name="mw/0/id", value="primary")
    assert page.evaluate("document.querySelectorAll('header.top').length") == 1


def test_focus_goes_to_a_new_extension_then_past_a_removed_one(short_page):
    page = short_page
    page.goto("/registries/default/profiles/default/edit")
    page.get_by_label("Add an extension").select_option("webchat.starter_suggestions@v1")
    page.get_by_role("button", name="Add extension").click()
    # its first control: the Add button of its empty list (never its Remove button)
    expect_focus(page, id="f-ext_webchat_starter_suggestions_v1_items-add")
    page.keyboard.press("Enter")
    expect_focus(page, name="ext/webchat.starter_suggestions@v1/items/0")
    page.get_by_role("button", name="Remove extension webchat.starter_suggestions@v1").click()
    expect_focus(page, id="f-new-extension")


def test_a_refused_save_focuses_the_error_summary_with_jump_links(short_page, seeded_live):
    page = short_page
    page.goto(EDIT)
    page.get_by_label("Step settings patch (JSON)").fill("{not json")
    field(page, "xraw/inventory.capabilities@v1").fill("[1, 2")
    save(page)

    summary = page.locator("#editor-errors")
    expect(summary).to_contain_text("2 problems: nothing was saved")
    expect_focus(page, id="editor-errors")
    links = summary.get_by_role("link")
    expect(links).to_have_text(["Step settings", re.compile("inventory.capabilities")])
    expect(links.first).to_have_attribute("href", "#f-step")
    expect(links.last).to_have_attribute("href", "#f-xraw_inventory_capabilities_v1")
    links.last.click()
    expect_focus(page, name="xraw/inventory.capabilities@v1", value="[1, 2")
    links.first.click()
    expect_focus(page, name="step_settings_patch")
    assert seeded_live.service.get_profile("default", "inventory").metadata.version == 1


def test_a_conflict_focuses_the_conflict_panel(new_context, seeded_live):
    first = new_context(seeded_live).new_page()
    second = new_context(seeded_live, viewport={"width": 1280, "height": 600}).new_page()
    first.goto(EDIT)
    second.goto(EDIT)
    first.get_by_label("Display name").fill("Theirs")
    save(first)
    expect(first.locator(".flash.success")).to_be_visible()
    second.get_by_label("Display name").fill("Mine")
    second.get_by_role("button", name="Save", exact=True).scroll_into_view_if_needed()
    save(second)
    expect(second.locator("#conflict-panel")).to_be_visible()
    expect_focus(second, id="conflict-panel")


def test_plain_posts_land_on_the_new_item(new_context, seeded_live):
    page = new_context(seeded_live, java_script_enabled=False).new_page()
    page.goto(EDIT)
    page.get_by_role("button", name="Add tool").click()
    expect(page).to_have_url(re.compile(r"/edit#f-tools-item-2$"))
    expect(field(page, "tools/2")).to_be_in_viewport()


# --- Enter in list fields ----------------------------------------------------------------------


def test_enter_in_a_tool_name_adds_the_next_tool_instead_of_saving(page, seeded_live):
    page.goto(EDIT)
    field(page, "tools/0").press("Enter")  # not the last: to the next tool
    expect_focus(page, name="tools/1", value="reorder")
    page.keyboard.press("Enter")  # the last: a new tool
    expect_focus(page, name="tools/2", value="")
    page.keyboard.type("forecast")
    page.keyboard.press("Enter")
    expect_focus(page, name="tools/3")
    expect(page).to_have_url(re.compile(r"/edit$"))
    assert seeded_live.service.get_profile("default", "inventory").metadata.version == 1
    field(page, "tools/3").fill("audit")
    save(page)
    expect(page.locator(".flash.success")).to_have_text("Saved Inventory (version 2).")
    stored = seeded_live.service.get_profile("default", "inventory").runtime.tools
    assert stored == ["stock_lookup", "reorder", "forecast", "audit"]


# --- confirmations -----------------------------------------------------------------------------


def test_saving_read_only_asks_in_a_dialog(page, seeded_live):
    page.goto(EDIT)
    page.get_by_label("Read-only").check()
    save(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Save this profile as read-only?")
    screenshot(page, "editor-read-only-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert not seeded_live.service.get_profile("default", "inventory").policy.read_only

    save(page)
    dialog.get_by_role("button", name="Save as read-only").click()
    expect(page.locator(".flash.success")).to_have_text("Saved Inventory (version 2).")
    assert seeded_live.service.get_profile("default", "inventory").policy.read_only


def test_saving_read_only_without_javascript_asks_in_the_form(new_context, seeded_live):
    page = new_context(seeded_live, java_script_enabled=False).new_page()
    page.goto(EDIT)
    page.get_by_label("Read-only").check()
    save(page)
    panel = page.locator("#confirm-read-only")
    expect(panel).to_contain_text("Nothing was saved yet.")
    panel.get_by_role("button", name="Keep it editable").click()
    expect(page.get_by_label("Read-only")).not_to_be_checked()
    assert not seeded_live.service.get_profile("default", "inventory").policy.read_only

    page.get_by_label("Read-only").check()
    save(page)
    page.locator("#confirm-read-only").get_by_role("button", name="Save as read-only").click()
    expect(page.locator(".flash.success")).to_have_text("Saved Inventory (version 2).")
    assert seeded_live.service.get_profile("default", "inventory").policy.read_only


def make_default(page, slug: str):
    """Open the row's action menu and press its "Make default"; the button, to press again."""
    row = page.locator("#profiles tbody tr", has=page.get_by_role("link", name=slug, exact=True))
    row.locator("summary").click()
    button = row.get_by_role("button", name="Make default")
    button.click()
    return button


def test_make_default_confirms_and_updates_the_header(page, seeded_live):
    page.goto("/registries/default")
    header_default = page.locator("#registry-default")
    expect(header_default).to_have_text("inventory")
    button = make_default(page, "default")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("instead of “inventory”")
    screenshot(page, "make-default-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert seeded_live.service.get_registry("default").default_profile_slug == "inventory"

    button.click()  # the menu is still open
    dialog.get_by_role("button", name="Make default the default").click()
    expect(page.locator("#profiles .flash.success")).to_have_text(
        '"default" is now the default profile.'
    )
    expect(header_default).to_have_text("default")  # the header is not stale
    assert seeded_live.service.get_registry("default").default_profile_slug == "default"


def test_make_default_without_javascript_confirms_on_a_page(new_context, seeded_live):
    page = new_context(seeded_live, java_script_enabled=False).new_page()
    page.goto("/registries/default")
    make_default(page, "default")
    expect(page.get_by_role("heading", level=1)).to_have_text("Make default the default profile?")
    page.get_by_role("button", name="Make default the default").click()
    expect(page.locator(".flash.success")).to_have_text('"default" is now the default profile.')
    expect(page.locator("#registry-default")).to_have_text("default")


def test_delete_then_restore_from_the_registry_page(page, seeded_live):
    seeded_live.service.set_default_profile("default", "default", actor="seed")
    page.goto("/registries/default")
    page.locator(
        "#profiles tbody tr", has=page.get_by_role("link", name="inventory", exact=True)
    ).locator("summary").click()
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("main")).to_contain_text("is kept")
    page.get_by_role("button", name="Delete inventory").click()
    deleted = page.locator("#deleted-profiles")
    expect(deleted.locator("tbody tr")).to_have_count(1)
    deleted.get_by_role("link", name="Restore inventory").click()
    page.get_by_role("button", name=re.compile(r"Restore version \d+")).click()
    expect(page.locator(".flash.success")).to_contain_text("Restored version")
    assert seeded_live.service.get_profile("default", "inventory").display_name == "Inventory"
