"""Real-browser fixtures: the app served on a free port, Chromium driven by Playwright.

Chromium comes from the system (Debian's `chromium` package at /usr/bin/chromium); Playwright's
own browser download is never used. Without it the browser tests are skipped locally and fail
with CI=true (CI must run them; `.ci/run` installs it).

- `live` (function): a fresh app on its own SQLite file with auth off, served by werkzeug in a
  thread; `make_live(**config)` builds others (e.g. auth on).
- `browser` (session): one headless Chromium for the whole run.
- `context` / `page` (function): a fresh context (own cookies) on the live server; `new_context`
  opens more (two editors, JavaScript off). Every page fails its test on an uncaught JS error;
  `page.console_errors` lists console messages of type error for tests that assert on them.
- `screenshot(page, name)`: a full-page PNG in test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from app import create_app
from registry.domain.importer import import_yaml
from tests.conftest import FIXTURES, IN_CI

CHROMIUM = Path(os.environ.get("REGISTRY_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}: CI must run the browser tests (apt-get install -y chromium)")
    pytest.skip(f"{reason}; install it with `apt-get install -y chromium` to run the browser tests")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log in test output
        pass


@dataclass
class LiveServer:
    app: Any
    url: str
    server: BaseWSGIServer

    @property
    def service(self):
        return self.app.extensions["registry"]

    def seed(self, path: Path = FIXTURES / "canonical-bundle.yaml") -> None:
        import_yaml(self.service, path.read_text(encoding="utf-8"), actor="seed")


@pytest.fixture
def make_live(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """`make_live(**config)`: a new app on its own SQLite file, served on 127.0.0.1:<free>."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def _make(**config: Any) -> LiveServer:
        db = tmp_path / f"browser{len(servers)}.db"
        base = {
            "TESTING": True,
            "SECRET_KEY": "browser-tests",
            "DATABASE_URL": f"sqlite:///{db}",
            "REGISTRY_AUTH": "off",
        }
        base.update(config)
        app = create_app(base)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="browser-live", daemon=True)
        thread.start()
        servers.append((server, thread))
        return LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}", server=server)

    yield _make
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def live(make_live) -> LiveServer:
    """Auth off, empty store (no registries)."""
    return make_live()


@pytest.fixture
def seeded_live(live: LiveServer) -> LiveServer:
    """The canonical bundle: registry `default` (inventory*, analyst (read-only), default) and
    `team`."""
    live.seed()
    return live


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """`new_context(server=None, **options)`: a browser context on `server` (default: `live`),
    with its own cookies; its pages collect console errors in `page.console_errors` and fail
    the test on uncaught JS errors."""
    contexts = []
    page_errors: list[str] = []

    def _new(server: LiveServer | None = None, **options: Any):
        options.setdefault("base_url", (server or request.getfixturevalue("live")).url)
        options.setdefault("viewport", {"width": 1280, "height": 900})
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(TIMEOUT_MS)

        def watch(page) -> None:
            page.console_errors = []
            page.on(
                "console",
                lambda msg: (
                    page.console_errors.append(f"{msg.text} @ {msg.location.get('url')}")
                    if msg.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda exc: page_errors.append(f"{page.url}: {exc}"))

        ctx.on("page", watch)
        contexts.append(ctx)
        return ctx

    yield _new
    for ctx in contexts:
        ctx.close()
    assert not page_errors, f"uncaught JavaScript errors: {page_errors}"


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    return context.new_page()


def screenshot(page, name: str) -> Path:
    """A full-page PNG of the current page in test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
