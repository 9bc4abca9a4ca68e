"""axe-core (from npm, pinned in package.json) on every main page, at desktop and phone widths.

axe is injected through the DevTools protocol (`bypass_csp`: the app's CSP forbids inline
scripts, rightly). Every page must have zero violations; a full-page screenshot of each is
saved at both widths in test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import ROOT, screenshot

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
}


def violations(page) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]


@pytest.mark.parametrize("width", SCHEMES)
def test_main_pages_have_no_axe_violations(new_context, seeded_live, width):
    """Every main page, light at both widths and dark (`prefers-color-scheme`) at desktop
    width: axe's contrast checks cover the dark theme too."""
    assert AXE.is_file(), "axe-core missing: run `npm ci` (make .venv/.installed does)"
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
