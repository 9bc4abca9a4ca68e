"""The benchmark's page driver (registry/bench/pages.py) against a live server over real
HTTP: it gets a CSRF token and cookie like a browser, posts a dry run, stores nothing. No
timing is asserted (speed is read from the benchmark's output)."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from registry.bench.pages import PageError, format_import_page, measure_import_page


@pytest.fixture
def serve(tmp_path):
    servers = []

    def _serve(**config):
        app = create_app(
            {
                "SECRET_KEY": "bench-pages",
                "DATABASE_URL": f"sqlite:///{tmp_path / f'pages{len(servers)}.db'}",
                "REGISTRY_AUTH": "off",
                "REGISTRY_BOOTSTRAP_ADMIN": "false",
                "REGISTRY_WEBHOOK_WORKER": "false",
                "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance"),
                **config,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        return app, server.server_port

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_dry_run_page_is_measured_through_csrf_and_stores_nothing(serve):
    app, port = serve()
    figures = measure_import_page(port, profiles=30, repeats=2)
    assert figures["profiles"] == 30 and figures["repeats"] == 2
    for name in ("page", "fragment"):
        assert figures[name]["created_shown"] == "30", name  # the plan of every profile
        assert 0 < figures[name]["min_ms"] <= figures[name]["p50_ms"] <= figures[name]["max_ms"]
    assert figures["fragment"]["bytes"] < figures["page"]["bytes"]  # no layout around it
    assert figures["passed"] is True
    assert app.extensions["registry"].find_registry("bulk") is None  # a dry run writes nothing
    line = format_import_page(figures)
    assert line.startswith("import dry-run page of 30 profiles") and line.endswith("pass")


def test_a_server_that_refuses_the_page_is_an_error_not_a_figure(serve):
    _, port = serve(REGISTRY_AUTH="on")  # the import page needs a login: no form, no token
    with pytest.raises(PageError, match="GET /import answered 30[23]"):
        measure_import_page(port, profiles=3, repeats=1)
    assert "not measured (boom)" in format_import_page({"profiles": 3, "error": "boom"})
