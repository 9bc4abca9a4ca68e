"""`profile-registry bench --quick` end to end: seed, serve, drive load, write JSON.

A smoke test of the benchmark machinery only. It asserts no timing: speed is judged by reading
the benchmark's output, never by a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry.bench.endpoints import endpoints
from registry.bench.report import format_table, percentile
from registry.bench.seed import QUICK_IMPORT_PLAN_PROFILES, QUICK_SEED, import_document

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = [e.name for e in endpoints(QUICK_SEED)]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_the_endpoint_list_covers_the_issue() -> None:
    assert EXPECTED == [
        "hello",
        "list_100",
        "list_1000",
        "list_1000_304",
        "get_profile",
        "resolve",
        "resolve_stack",
        "page_registry",
        "page_registry_sorted",
        "page_editor",
        "page_profile",
        "patch_100",
        "patch_10000",
    ]
    assert format_table([]).startswith("endpoint")
    sqlite = {e.name: e.target for e in endpoints(QUICK_SEED, "sqlite")}
    postgresql = {e.name: e.target for e in endpoints(QUICK_SEED, "postgresql")}
    assert (sqlite["patch_100"].min_ratio, postgresql["patch_100"].min_ratio) == (0.3, 0.2)
    assert postgresql["patch_10000"].within_factor == 1.2
    assert {sqlite[n].min_ratio for n in sqlite if n.startswith("page_")} == {0.3}


@pytest.mark.slow
def test_quick_bench_reports_every_endpoint(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    # The user's own deployment, which the benchmark must leave alone (it seeds and serves a
    # temporary store): no store, no instance folder, no admin token, no login link.
    user_store = tmp_path / "cli.db"
    env["DATABASE_URL"] = f"sqlite:///{user_store}"
    env["REGISTRY_INSTANCE_PATH"] = str(tmp_path / "instance")
    run = subprocess.run(
        [sys.executable, "-c", "from registry.main import main; main()", "bench", "--quick"]
        + ["--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "GET /-/hello (floor)" in run.stdout  # the printed table
    assert not user_store.exists() and not (tmp_path / "instance").exists()
    assert "login" not in run.stderr.lower()

    report = json.loads(output.read_text())
    assert report["machine"]["cores"] >= 1
    assert report["machine"]["database"].startswith("SQLite")
    assert report["seed"]["profiles"] == sum(QUICK_SEED.registries().values())
    assert report["server"]["exit_code"] == 0
    by_name = {e["name"]: e for e in report["endpoints"]}
    assert list(by_name) == EXPECTED
    for name, result in by_name.items():
        assert result["available"], f"{name}: {result['note']}"
        assert result["requests"] > 0, name
        assert result["rps"] > 0, name
        assert 0 < result["p50_ms"] <= result["p99_ms"], name
        assert result["ratio"] > 0, name
        assert result["errors"] == 0, (name, result["statuses"])
        assert result["statuses"] == {str(result["expect"]): result["requests"]}, name
        # keep-alive held: each client thread of each driver process used one connection
        assert result["connections"] == report["load"]["concurrency"], name
    assert by_name["hello"]["ratio"] == 1.0
    assert by_name["list_1000_304"]["expect"] == 304
    # the import planning section: every generated profile planned, figures reported
    plan = report["import_plan"]
    assert plan["profiles"] == plan["created"] == QUICK_IMPORT_PLAN_PROFILES
    assert 0 < plan["decode_s"] <= plan["total_s"] and plan["plan_s"] > 0
    assert "import --dry-run of 500 profiles" in run.stdout
    # the import dry-run page, driven through its CSRF form on the served app
    page = report["pages"]["import_dry_run"]
    assert "error" not in page, page
    assert page["page"]["created_shown"] == page["fragment"]["created_shown"] == "200"
    assert "import dry-run page of 200 profiles" in run.stdout
    # the change-notification section: every PATCH's stream event and webhook arrived
    notify = report["notify"]
    assert notify["available"] and notify["server_exit_code"] == 0
    for channel in ("stream", "webhook"):
        assert notify[channel]["events"] == notify["patches"] > 0, channel
        assert notify[channel]["lost"] == 0, channel
        assert 0 <= notify[channel]["p50_ms"] <= notify[channel]["p99_ms"], channel
    assert "PATCH response -> webhook receiver: p50" in run.stdout
    # the CLI's cold start: whole processes, the floor of a bare interpreter beside it
    cold = report["cold_start"]
    assert cold["runs"] == 3 and cold["sample"] == "canonical-bundle.yaml"
    for name in ("python", "validate", "version"):
        assert 0 < cold[name]["min_s"] <= cold[name]["median_s"] <= cold[name]["max_s"], name
    assert "CLI cold start, median of 3 whole processes" in run.stdout


def test_the_import_document_is_valid_and_within_the_limits() -> None:
    """The 20,000-profile document fits the default size limit and node budget."""
    from registry.domain.yaml_codec import decode_registries
    from registry.domain.yaml_safe import MAX_BYTES

    assert len(import_document(20_000).encode()) < MAX_BYTES
    doc = decode_registries(import_document(3))
    assert [len(r.profiles) for r in doc.registries] == [3]


def test_every_bench_write_sends_a_body_no_other_request_sent() -> None:
    """The PATCH runs measure real writes: the same body twice would be a no-op write,
    which writes nothing. The driver fills each body's UNIQUE_TEXT afresh."""
    import http.server
    import threading
    import time

    from registry.bench.drive import UNIQUE_TEXT, drive
    from registry.bench.endpoints import request_spec

    bodies: list[bytes] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_PATCH(self) -> None:  # noqa: N802 - http.server's naming
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = {
            "host": "127.0.0.1",
            "port": server.server_address[1],
            "threads": 2,
            "offset": 0,
            "variants": [request_spec("PATCH", "/x", {"description": f"w {UNIQUE_TEXT}"})],
            "expect": 200,
            "start_at": time.time(),
            "warmup": 0,
            "duration": 0.3,
        }
        result = drive(spec)
    finally:
        server.shutdown()
        server.server_close()
    assert result["errors"] == 0 and len(bodies) >= 4
    assert len(set(bodies)) == len(bodies)
    assert not any(UNIQUE_TEXT.encode() in b for b in bodies)
    assert all(json.loads(b)["description"].startswith("w ") for b in bodies)
