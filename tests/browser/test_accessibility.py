"""axe-core (from npm, pinned in package.json) on every main page, at desktop and phone widths.

axe is injected through the DevTools protocol (`bypass_csp`: the app's CSP forbids inline
scripts, rightly). Every page must have zero violations; a full-page screenshot of each is
saved at both widths in test-artifacts/screenshots/.
"""

from __future__ import annotations

import socket

import pytest

from registry.domain import webhooks as wh
from registry.domain.metadata import now_ms
from registry.domain.service import ProfilePatch
from registry.webhook_worker import drain
from tests.browser.conftest import ROOT, screenshot
from tests.receiver import Receiver

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SCHEMES = {"desktop": "light", "phone": "light", "dark": "dark"}  # dark: desktop width
PAGES = {
    "dashboard": "/",
    "registries": "/registries",
    "registry": "/registries/default",
    "profile": "/registries/default/profiles/inventory",
    "editor": "/registries/default/profiles/inventory/edit",
    "history": "/registries/default/profiles/inventory/history",
    "resolve": "/resolve?registry=default&profile=inventory",
    "import": "/import",
    "export": "/export",
    "search": "/search?q=inv",
    "webhooks": "/webhooks",
    "webhook": "/webhooks/1",
    "webhook-disabled": "/webhooks/2",
    "webhook-remove": "/webhooks/1/remove",
}


def violations(page) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def add_webhooks(live, receiver: Receiver) -> None:
    """Webhook 1 (active) got an event delivered after a 500; webhook 2, whose receiver is
    gone, was disabled after two failures: the dashboard shows the notice."""
    store = live.app.extensions["webhooks"]
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/gone"
    allow = frozenset({"127.0.0.1"})
    for url in (receiver.url, closed):
        wh.add_subscription(store, url, allow=allow, actor="seed", now_ms=now_ms())
    live.service.update_profile("default", "inventory", ProfilePatch(description="x"), actor="t")
    receiver.statuses = [500]
    config = {"REGISTRY_WEBHOOK_ALLOW_HOSTS": "127.0.0.1", "REGISTRY_WEBHOOK_DISABLE_AFTER": 2}
    for _ in range(100):
        drain(store, config | {"REGISTRY_WEBHOOK_RETRY_BASE_SECONDS": 0.001}, limit=10)
        if receiver.accepted() and not store.list_subscriptions()[1].active:
            break
    assert [s.active for s in store.list_subscriptions()] == [True, False]


@pytest.mark.parametrize("width", SCHEMES)
def test_main_pages_have_no_axe_violations(new_context, seeded_live, receiver, width):
    """Every main page, light at both widths and dark (`prefers-color-scheme`) at desktop
    width: axe's contrast checks cover the dark theme too."""
    assert AXE.is_file(), "axe-core missing: run `npm ci` (make .venv/.installed does)"
    add_webhooks(seeded_live, receiver)
    context = new_context(
        seeded_live,
        bypass_csp=True,
        viewport=WIDTHS.get(width, WIDTHS["desktop"]),
        color_scheme=SCHEMES[width],
    )
    page = context.new_page()
    found = {}
    for name, path in PAGES.items():
        page.goto(path)
        page.wait_for_load_state("networkidle")
        problems = violations(page)
        if problems:
            found[name] = problems
        screenshot(page, f"{name}-{width}")
    report = [f"{name}: {problem}" for name, problems in found.items() for problem in problems]
    assert not report, "\n".join(report)
