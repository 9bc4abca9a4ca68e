"""The webhook admin pages in a real browser: add a webhook through the nav and the form, copy
the secret shown once, send a test event and read it in the delivery log, redeliver, remove
after the confirmation; and the same without JavaScript. Screenshots at 1280 and 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from registry.domain.service import ProfilePatch
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.receiver import Receiver, receivers, verify

expect.set_options(timeout=TIMEOUT_MS)

pytestmark = pytest.mark.browser

receiver = pytest.fixture(receivers)
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def hook_live(make_live):
    live = make_live(REGISTRY_WEBHOOK_ALLOW_HOSTS="127.0.0.1", REGISTRY_WEBHOOK_TIMEOUT_SECONDS=3)
    live.seed()
    return live


def open_menu(page) -> None:
    """On phones the navigation folds behind the Menu button."""
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible():
        toggle.click()


@pytest.mark.parametrize("width", WIDTHS)
def test_add_copy_test_redeliver_and_remove_a_webhook(
    new_context, hook_live, receiver: Receiver, width
):
    context = new_context(hook_live, viewport=WIDTHS[width])
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto("/")
    open_menu(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    expect(page.locator(".panel.empty")).to_contain_text("No webhooks yet")
    screenshot(page, f"webhooks-empty-{width}")

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Registry", exact=True).select_option("default")
    page.get_by_label("profile.updated", exact=True).check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook 1 added")
    secret_field = page.get_by_label("Signing secret")
    secret = secret_field.input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, f"webhook-created-{width}")

    page.get_by_role("link", name="Done: show its deliveries").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook 1")
    expect(page.locator("main")).not_to_contain_text(secret)
    expect(page.locator(".panel.empty")).to_contain_text("No deliveries yet")
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".flash.success")).to_contain_text("Test event delivered: HTTP 200")
    delivery = page.locator("article.delivery")
    expect(delivery).to_have_count(1)
    expect(delivery.locator("h3")).to_contain_text("webhook.test")
    expect(delivery.locator("td[data-label=Status]")).to_have_text("200")
    assert verify(secret, receiver.requests[0]["headers"], receiver.requests[0]["body"])

    # a profile change reaches the log once the worker (off in tests) would send it
    hook_live.service.update_profile(
        "default", "inventory", ProfilePatch(description="changed"), actor="t"
    )
    page.reload()
    expect(delivery).to_have_count(2)
    expect(delivery.first.locator("h3")).to_contain_text("profile.updated")
    expect(delivery.first).to_contain_text("Not attempted yet")
    screenshot(page, f"webhook-log-{width}")

    delivery.last.get_by_role("button", name="Redeliver").click()
    expect(page.locator(".flash.success")).to_contain_text("queued again")
    expect(delivery).to_have_count(3)

    page.get_by_role("link", name="Remove…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove webhook 1?")
    screenshot(page, f"webhook-remove-{width}")
    page.get_by_role("button", name="Remove webhook").click()
    expect(page).to_have_url(re.compile(r"/webhooks$"))
    expect(page.locator(".flash.success")).to_contain_text("Webhook 1")
    expect(page.locator(".panel.empty")).to_contain_text("No webhooks yet")
    assert hook_live.app.extensions["webhooks"].list_subscriptions() == []


def test_webhook_pages_work_without_javascript(new_context, hook_live, receiver: Receiver):
    page = new_context(hook_live, java_script_enabled=False).new_page()
    page.goto("/webhooks")
    page.get_by_label("URL").fill("ftp://example.com/hook")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator(".field.invalid .error")).to_contain_text("http:// or https://")
    expect(page.get_by_label("URL")).to_have_value("ftp://example.com/hook")
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_role("button", name="Add webhook").click()
    # no script: no Copy button, the read-only field still holds the secret to select
    expect(page.get_by_role("button", name="Copy")).to_have_count(0)
    expect(page.get_by_label("Signing secret")).to_have_value(re.compile(r"^whsec_"))
    page.get_by_role("link", name="Done: show its deliveries").click()
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".flash.success")).to_contain_text("HTTP 200")
    page.get_by_role("link", name="Remove…").click()
    page.get_by_role("button", name="Remove webhook").click()
    expect(page.locator(".flash.success")).to_contain_text("removed")
    assert hook_live.app.extensions["webhooks"].list_subscriptions() == []
