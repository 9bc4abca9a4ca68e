"""The admin UI in a real browser (headless Chromium): user flows driven by clicks, typing and
the keyboard, asserting on what the page shows (and on the store where it matters).

Fixtures: tests/browser/conftest.py. No sleeps: every wait is an `expect(...)` auto-wait.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from registry.domain import tokens as tk
from registry.domain.importer import import_yaml
from registry.domain.service import ProfilePatch
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.conftest import FIXTURES

expect.set_options(timeout=TIMEOUT_MS)

pytestmark = pytest.mark.browser

SUGGESTIONS = "webchat.starter_suggestions@v1"
ITEMS = f"ext/{SUGGESTIONS}/items"


def field(page, name: str):
    """The form control named `name` (editor names are paths like `mw/1/config/dsn`)."""
    return page.locator(f'[name="{name}"]')


def errors_beside(page, name: str):
    """The error messages in the `.field` wrapper of the control named `name`."""
    return page.locator(".field", has=field(page, name)).locator(".error")


def save(page):
    """Press the editor's visible Save button (the hidden default-submit one is aria-hidden)."""
    page.get_by_role("button", name="Save", exact=True).click()


# --- registries and profiles -------------------------------------------------------------------


def test_create_a_registry_and_a_profile_through_the_forms(page, live):
    page.goto("/registries")
    expect(page.get_by_text("No registries yet.")).to_be_visible()

    # an invalid slug comes back with the message beside the field and the values kept
    page.get_by_label("Slug").fill("Support Desk!")
    page.get_by_label("Display name").fill("Support desk")
    page.get_by_role("button", name="Create registry").click()
    slug_field = page.locator(".field", has=page.locator("#new-slug"))
    expect(slug_field.locator(".error")).not_to_have_count(0)
    expect(page.locator("#new-slug")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Display name")).to_have_value("Support desk")

    page.get_by_label("Slug").fill("support")
    page.get_by_label("Description").fill("Profiles for the support team.")
    page.get_by_role("button", name="Create registry").click()
    expect(page).to_have_url(f"{live.url}/registries/support")
    expect(page.locator(".flash.success")).to_have_text('Registry "support" created.')
    expect(page.get_by_role("heading", level=1)).to_contain_text("Support desk")
    expect(page.get_by_text("No profiles in this registry yet.")).to_be_visible()

    page.get_by_role("link", name="New profile").click()
    page.get_by_label("Slug").fill("triage")
    page.locator("#new-profile-display-name").fill("Triage bot")
    page.get_by_role("button", name="Create profile").click()
    # the editor opens next, as the form promised
    expect(page).to_have_url(f"{live.url}/registries/support/profiles/triage/edit")
    expect(page.locator(".flash.success")).to_have_text(
        'Profile "triage" created. Add its prompt, tools and the rest, then save.'
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Triage bot")

    page.locator(".crumbs").get_by_role("link", name="Support desk").click()
    row = page.locator("#profiles tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("triage")
    expect(row).to_contain_text("Triage bot")
    assert live.service.get_profile("support", "triage").display_name == "Triage bot"


# --- the profile editor ------------------------------------------------------------------------


def test_starter_suggestions_add_three_remove_one_and_save(page, seeded_live):
    page.goto("/registries/default/profiles/default")
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Default")

    if field(page, f"{ITEMS}@array").count() == 0:  # not on the profile yet: pick it
        page.get_by_label("Add an extension").select_option(SUGGESTIONS)
        page.get_by_role("button", name="Add extension").click()
    section = page.locator(".ext-row", has_text=SUGGESTIONS)
    expect(section.get_by_role("heading")).to_contain_text("Starter suggestions")

    for i, text in enumerate(["Alpha", "Beta", "Gamma"]):
        # a human click (the button held 100 ms) right after typing: the inline validation
        # answering meanwhile must not swallow it
        page.get_by_role("button", name="Add suggestion").click(delay=100)
        expect(field(page, f"{ITEMS}/{i}")).to_be_visible()
        field(page, f"{ITEMS}/{i}").fill(text)
    page.get_by_role("button", name="Remove Suggestions 2").click()
    expect(field(page, f"{ITEMS}/2")).to_have_count(0)
    expect(field(page, f"{ITEMS}/0")).to_have_value("Alpha")
    expect(field(page, f"{ITEMS}/1")).to_have_value("Gamma")
    assert (
        seeded_live.service.get_profile("default", "default").extensions == {}
    )  # nothing saved yet

    save(page)
    expect(page).to_have_url(re.compile(r"/registries/default/profiles/default$"))
    expect(page.locator(".flash.success")).to_have_text("Saved Default (version 2).")
    shown = page.locator(".ext-view", has_text=SUGGESTIONS)
    expect(shown).to_contain_text("Alpha")
    expect(shown).to_contain_text("Gamma")
    expect(shown).not_to_contain_text("Beta")
    stored = seeded_live.service.get_profile("default", "default")
    assert stored.extensions == {SUGGESTIONS: {"items": ["Alpha", "Gamma"]}}


def test_middleware_config_inline_error_then_fixed_and_saved(page, seeded_live):
    page.goto("/registries/default/profiles/inventory/edit")
    page.get_by_label("Add a middleware").select_option("sqlite")
    page.get_by_role("button", name="Add middleware").click()
    row = page.locator(".mw-row", has_text="SQLite tool")
    expect(row).to_be_visible()
    max_rows = field(page, "mw/1/config/max_rows")
    expect(max_rows).to_have_value("100")  # the schema default

    field(page, "mw/1/config/dsn").fill("file:stock.db")
    max_rows.fill("0")
    max_rows.press("Tab")  # change -> inline validation of this middleware's section
    expect(errors_beside(page, "mw/1/config/max_rows")).to_have_text(["Must be at least 1"])
    expect(max_rows).to_have_attribute("aria-invalid", "true")
    expect(errors_beside(page, "mw/1/config/dsn")).to_have_count(0)

    # a word in a number field: one validation style (no browser bubble), the word stays
    max_rows.fill("lots")
    max_rows.press("Tab")
    expect(errors_beside(page, "mw/1/config/max_rows")).to_have_text(["Must be a whole number"])
    expect(max_rows).to_have_value("lots")

    max_rows.fill("25")
    max_rows.press("Tab")
    expect(errors_beside(page, "mw/1/config/max_rows")).to_have_count(0)
    expect(max_rows).not_to_have_attribute("aria-invalid", "true")

    save(page)
    expect(page).to_have_url(re.compile(r"/registries/default/profiles/inventory$"))
    mw_table = page.locator("section", has=page.get_by_role("heading", name="Middlewares"))
    sqlite_row = mw_table.locator("tbody tr", has_text="sqlite")
    expect(sqlite_row).to_contain_text('"max_rows": 25')
    expect(sqlite_row).to_contain_text('"dsn": "file:stock.db"')
    p = seeded_live.service.get_profile("default", "inventory")
    assert [m.name for m in p.runtime.middlewares] == ["agentmode", "sqlite"]
    config = p.extensions["middleware.sqlite_config@v1"]["instances"]["index:1"]
    assert config["dsn"] == "file:stock.db" and config["max_rows"] == 25


def test_restore_an_older_revision_from_the_history_page(page, seeded_live):
    seeded_live.service.update_profile(
        "default", "inventory", ProfilePatch(display_name="Stock desk"), actor="alice"
    )
    page.goto("/registries/default/profiles/inventory")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stock desk")
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History of Stock desk")
    revisions = page.locator("section", has=page.locator("#revisions-h")).locator("tbody tr")
    expect(revisions).to_have_count(2)

    # the latest change, shown in place (htmx) without leaving the page
    revisions.first.get_by_role("link", name="Changes").click()
    diff = page.locator("#diff")
    expect(diff).to_contain_text("display_name")
    expect(diff).to_contain_text("Stock desk")
    # the compare selects follow the diff shown: from version 1 to version 2
    expect(page.get_by_label("From")).to_have_value(re.compile(r"\d+"))
    expect(page.get_by_label("From").locator("option:checked")).to_contain_text("version 1")
    expect(page.get_by_label("To").locator("option:checked")).to_contain_text("version 2")
    expect(revisions.first.locator("td.changed")).to_have_text("display_name")

    revisions.last.get_by_role("link", name="Restore…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Restore version 1?")
    expect(page.locator("#restore")).to_contain_text("What will change")
    expect(page.locator("#restore table")).to_contain_text("Stock desk")
    page.get_by_role("button", name="Restore version 1").click()

    expect(page.locator(".flash.success")).to_contain_text("the profile is now version 3")
    expect(page.get_by_role("heading", level=1)).to_have_text("History of Inventory")
    expect(revisions).to_have_count(3)
    page.get_by_role("link", name="Back to the profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inventory")
    stored = seeded_live.service.get_profile("default", "inventory")
    assert stored.display_name == "Inventory" and stored.metadata.version == 3


# --- import ------------------------------------------------------------------------------------


def test_import_yaml_dry_run_then_apply(page, live):
    page.goto("/import")
    page.get_by_label("YAML file").set_input_files(FIXTURES / "canonical-bundle.yaml")
    page.get_by_role("button", name="Dry run").click()

    result = page.locator("#import-result")
    expect(result.get_by_role("heading", level=2)).to_have_text("Dry run: what would change")
    expect(result).to_be_focused()  # the plan arrives where the keyboard is
    created = result.locator("details.plan-created")
    expect(created.locator("summary")).to_contain_text("6 items")
    created.locator("summary").first.click()  # groups of creations start collapsed
    inventory = created.locator("li").filter(has_text="default/inventory")
    expect(inventory).to_contain_text("display_name, extensions, policy, runtime")  # it sets
    expect(created.locator("li").filter(has_text="team/analyst")).to_be_visible()
    screenshot(page, "import-plan")
    assert live.service.list_registries() == []  # a dry run writes nothing

    page.get_by_role("button", name=re.compile(r"^Apply: \d+ changes$")).click()
    expect(result.get_by_role("heading", level=2)).to_have_text("Imported")
    expect(result.locator(".flash.success")).to_contain_text("4 created")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registries").click()
    expect(page.locator("#registries-listing tbody tr")).to_have_count(2)
    page.get_by_role("link", name="default", exact=True).click()
    rows = page.locator("#profiles tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td:first-child code")).to_have_text(["analyst", "default", "inventory"])


# --- search ------------------------------------------------------------------------------------


def _seed_big(service, n: int = 1000) -> None:
    profiles = {
        f"p-{i:04d}": {
            "display_name": f"Profile {i}",
            "metadata": {"tags": ["even" if i % 2 == 0 else "odd"]},
        }
        for i in range(n)
    }
    doc = {
        "registries": {
            "big": {"display_name": "Big", "default_profile_slug": "p-0000", "profiles": profiles}
        }
    }
    import_yaml(service, yaml.safe_dump(doc), actor="seed")


def test_search_as_you_type_in_a_1000_profile_registry(page, live):
    _seed_big(live.service)
    page.goto("/registries/big")
    summary = page.locator("#profiles-summary")
    expect(summary).to_contain_text("1,000 profiles.")
    rows = page.locator("#profiles tbody tr")
    expect(rows).to_have_count(50)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    search = page.get_by_label("Search profiles")
    search.click()
    search.press_sequentially("p-012")
    expect(summary).to_contain_text("10 of 1,000 profiles match “p-012”.")
    expect(rows).to_have_count(10)
    expect(rows.locator("td:first-child code")).to_have_text([f"p-012{i}" for i in range(10)])
    expect(page).to_have_url(re.compile(r"/registries/big\?q=p-012(&tag=)?$"))  # hx-push-url

    search.press_sequentially("3")
    expect(rows).to_have_count(1)
    expect(rows.locator("td:first-child code")).to_have_text(["p-0123"])
    expect(page).to_have_url(re.compile(r"\?q=p-0123(&tag=)?$"))

    search.press("Control+a")
    search.press("Backspace")
    expect(summary).to_contain_text("1,000 profiles.")
    expect(rows).to_have_count(50)
    assert page.evaluate("window.__sameDocument") is True  # no full page load

    # sort by a column, page to the end, then filter: the sort is kept
    page.locator("th").get_by_role("link", name="Display name").click()
    expect(page.locator("th[aria-sort]")).to_contain_text("Display name")
    expect(rows.first.locator("td:first-child code")).to_have_text("p-0000")
    page.get_by_role("navigation", name="Pages of profiles (top)").get_by_role(
        "link", name="Last »"
    ).click()
    expect(page.locator(".pager-position").first).to_have_text("951–1,000 of 1,000")
    page.get_by_label("Tag").select_option("odd")
    expect(summary).to_contain_text("500 of 1,000 profiles match with tag odd.")
    expect(page).to_have_url(re.compile(r"sort=display_name"))
    expect(page.locator("th[aria-sort]")).to_contain_text("Display name")
    assert page.evaluate("window.__sameDocument") is True


# --- keyboard and no-JavaScript ----------------------------------------------------------------


def _focused(page) -> str:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          if (!el || el === document.body) return "";
          const name = el.getAttribute("aria-label") || el.id || el.textContent.trim();
          return `${el.tagName.toLowerCase()}:${name}`;
        }"""
    )


def test_keyboard_skip_link_and_tab_order_create_a_registry(page, seeded_live):
    page.goto("/registries")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")  # the next stop is inside <main>, after the header
    assert page.evaluate("document.activeElement.closest('main') !== null"), _focused(page)

    order = []
    for _ in range(30):
        if _focused(page) == "input:new-slug":
            break
        order.append(_focused(page))
        page.keyboard.press("Tab")
    else:
        pytest.fail(f"Tab never reached the new-registry slug field: {order}")
    # the page's main controls come in reading order
    expected = ["a:New registry", "a:JSON", "a:default", "a:team"]
    assert [o for o in order if o in expected] == expected, order

    page.keyboard.type("kb")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Display name")).to_be_focused()
    page.keyboard.type("Keyboard only")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Description")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Create registry")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".flash.success")).to_have_text('Registry "kb" created.')

    # on the registry page the search box is reachable from the skip link
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(15):
        if _focused(page) == "input:profile-search":
            break
        page.keyboard.press("Tab")
    expect(page.get_by_label("Search profiles")).to_be_focused()


def test_pages_work_without_javascript(new_context, seeded_live):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/registries/default")
    rows = page.locator("#profiles tbody tr")
    expect(rows).to_have_count(3)

    # the search box is a plain GET form
    page.get_by_label("Search profiles").fill("invent")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/registries/default\?q=invent"))
    expect(rows).to_have_count(1)

    # links: profile -> history -> compare (a full page) -> back to the registry
    rows.locator("td:first-child").get_by_role("link", name="inventory").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inventory")
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History of Inventory")
    page.get_by_role("button", name="Show differences").click()
    expect(page).to_have_url(re.compile(r"/history/diff\?a=\d+&b=current"))
    expect(page.locator("#diff")).to_contain_text("No differences")

    # an editor button posts the whole form and the server re-renders it
    page.goto("/registries/default/profiles/default/edit")
    page.get_by_role("button", name="Add extension").click()
    page.get_by_role("button", name="Add suggestion").click()
    field(page, f"{ITEMS}/0").fill("No script needed")
    save(page)
    expect(page.locator(".flash.success")).to_have_text("Saved Default (version 2).")
    assert seeded_live.service.get_profile("default", "default").extensions == {
        SUGGESTIONS: {"items": ["No script needed"]}
    }

    # a plain form post creates a registry
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registries").click()
    page.get_by_label("Slug").fill("nojs")
    page.get_by_role("button", name="Create registry").click()
    expect(page).to_have_url(re.compile(r"/registries/nojs$"))
    expect(page.locator(".flash.success")).to_have_text('Registry "nojs" created.')


# --- console errors and screenshots ------------------------------------------------------------

MAIN_PAGES = [
    ("dashboard", "/"),
    ("registries", "/registries"),
    ("registry", "/registries/default"),
    ("profile", "/registries/default/profiles/inventory"),
    ("profile-editor", "/registries/default/profiles/inventory/edit"),
    ("history", "/registries/default/profiles/inventory/history"),
    ("resolve", "/resolve?registry=default&profile=inventory"),
    ("import", "/import"),
]


def test_main_pages_have_no_console_errors(page, seeded_live):
    seeded_live.service.update_profile(
        "default", "inventory", ProfilePatch(description="Second version"), actor="alice"
    )
    for name, path in MAIN_PAGES:
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
        assert page.evaluate("typeof htmx") == "object", f"htmx did not load on {path}"
        screenshot(page, name)
    # a few htmx interactions: swaps must not trip the CSP either
    page.goto("/registries/default")
    page.get_by_label("Search profiles").press_sequentially("an")
    expect(page.locator("#profiles tbody tr")).to_have_count(1)
    page.goto("/registries/default/profiles/inventory/history")
    page.get_by_role("button", name="Show differences").click()
    expect(page.locator("#diff")).to_contain_text("Second version")
    page.goto("/resolve")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#resolve-result")).to_contain_text("Fingerprint")
    assert page.console_errors == []


def test_login_with_a_token_when_auth_is_on(new_context, make_live):
    server = make_live(REGISTRY_AUTH="on")
    server.seed()
    issued = tk.issue(server.app.extensions["tokens"], "ui", "admin")
    page = new_context(server).new_page()

    page.goto("/registries/default")
    expect(page).to_have_url(re.compile(r"/login\?next=/registries/default$"))
    page.get_by_label("Token").fill("prt_nope_nope")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("That token is not valid")

    page.get_by_label("Token").fill(issued.secret)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.url}/registries/default")
    expect(page.locator(".flash.success")).to_have_text("Logged in.")
    expect(page.locator("header .who")).to_contain_text("ui")
    expect(page.locator("header .who .badge")).to_have_text("admin")
    expect(page.get_by_text("Authentication is off")).to_have_count(0)

    # htmx requests carry the session and the CSRF header
    page.get_by_label("Search profiles").press_sequentially("invent")
    expect(page.locator("#profiles tbody tr")).to_have_count(1)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash.success")).to_have_text("Logged out.")
    page.goto("/registries")
    expect(page).to_have_url(re.compile(r"/login\?next=/registries$"))


def test_first_run_follow_the_printed_login_link_to_the_dashboard(new_context, tmp_path):
    """A fresh store started as a user does (`profile-registry run`, auth on by default): the
    printed one-time link logs the browser in and lands on the dashboard."""
    from tests.cli.test_first_run import LINK_RE, Server

    server = Server(tmp_path, "run", log_path=tmp_path / "run.log")
    try:
        deadline = time.time() + 60
        while not LINK_RE.search(server.log()) and time.time() < deadline:
            assert server.proc.poll() is None, server.log()
            time.sleep(0.2)
        link = LINK_RE.search(server.log()).group(1)
        base = server.url("")
        page = new_context(base_url=base).new_page()
        for _ in range(100):  # the link is printed just before the server listens
            try:
                page.goto(link)
                break
            except PlaywrightError:
                time.sleep(0.2)
        expect(page).to_have_url(f"{base}/login")  # the code left the address bar
        expect(page.get_by_label("One-time login code")).not_to_have_value("")
        page.get_by_role("button", name="Continue with the link").click()
        expect(page).to_have_url(f"{base}/")
        expect(page.locator(".flash.success")).to_have_text("Logged in.")
        expect(page.locator("header .who")).to_contain_text("admin")
        screenshot(page, "first-run-dashboard")
        assert page.console_errors == []
    finally:
        server.stop()


# --- stacks --------------------------------------------------------------------------------------


def test_build_a_three_layer_stack_and_read_its_provenance(page, seeded_live):
    from registry.domain.model import PolicySpec, Profile, RuntimeSpec

    service = seeded_live.service
    service.create_profile(
        "default",
        Profile(
            slug="provider",
            display_name="Provider",
            runtime=RuntimeSpec(
                system_prompt="Provider prompt",
                step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o", "ai-api-type": "openai"}},
            ),
            policy=PolicySpec(allow_overrides=True),
        ),
    )
    service.create_profile(
        "default",
        Profile(
            slug="model",
            display_name="Model",
            runtime=RuntimeSpec(step_settings_patch={"ai-chat": {"ai-engine": "gpt-4o-mini"}}),
        ),
    )
    service.create_profile(
        "default", Profile(slug="agent", display_name="Agent", runtime=RuntimeSpec(tools=["x"]))
    )

    def stack_on(profile: str, base: str) -> None:
        page.goto(f"/registries/default/profiles/{profile}/edit")
        page.get_by_role("button", name="Add base profile").click()
        expect(field(page, "stack/0")).to_be_visible()
        field(page, "stack/0").select_option(base)
        save(page)
        expect(page).to_have_url(re.compile(rf"/registries/default/profiles/{profile}$"))

    stack_on("model", "default/provider")
    stack_on("agent", "default/model")

    # a cycle is refused beside the field, nothing saved
    page.goto("/registries/default/profiles/provider/edit")
    expect(page.locator("#stack-dependants-warning")).to_contain_text(
        "2 profiles stack on this one"
    )
    page.get_by_role("button", name="Add base profile").click()
    field(page, "stack/0").select_option("default/agent")
    save(page)
    expect(errors_beside(page, "stack/0")).to_contain_text(
        re.compile("stack cycle detected", re.IGNORECASE)
    )
    assert service.get_profile("default", "provider").stack == []

    page.goto("/registries/default/profiles/agent")
    expect(page.locator("ol.lineage li")).to_have_text(
        ["default/provider", "default/model", "default/agent (this profile)"]
    )
    panel = page.locator("#effective")
    engine = panel.locator("tr", has_text="/runtime/step_settings_patch/ai-chat/ai-engine")
    expect(engine.locator("td").nth(1)).to_have_text("gpt-4o-mini")
    expect(engine.locator("td").nth(2)).to_have_text("default/model")
    expect(engine.locator("td").nth(3)).to_contain_text("gpt-4o")
    prompt = panel.locator("tr", has_text="/runtime/system_prompt")
    expect(prompt.locator("td").nth(2)).to_have_text("default/provider")
    # the source layer is a link to that profile
    engine.get_by_role("link", name="default/model").click()
    expect(page).to_have_url(re.compile(r"/registries/default/profiles/model$"))
    expect(page.locator("ul.dependants")).to_contain_text("default/agent")
