"""Fuzz the live API with schemathesis against its own OpenAPI document (see README, JSON API).

A real werkzeug server in a thread on a free loopback port, on a fresh SQLite file seeded with
tests/fixtures/canonical-bundle.yaml, with auth on and an admin token sent on every request so
the writes (profiles, registries, imports, tokens, restores) are exercised too; a second,
shorter run has auth off and sends no token. Schemathesis (its CLI, in a subprocess) loads
`/api/openapi.json` from the server and runs its examples, coverage, fuzzing and stateful
phases with a fixed seed and a bounded number of examples per operation, checking:

- no 5xx (`not_a_server_error`);
- every status is documented (`status_code_conformance`);
- every content type is documented (`content_type_conformance`);
- every body matches its documented schema (`response_schema_conformance`);
- documented response headers are present and well-formed (`response_headers_conformance`);
- a request the document allows is not refused with a 4xx blaming it
  (`positive_data_acceptance`; 404/409/412 depend on state and count as accepted);
- a request the document forbids is refused (`negative_data_rejection`).

Check settings are in tests/api/schemathesis.toml. The import operation runs on its own,
without `positive_data_acceptance` (its YAML grammar is beyond JSON Schema; see README).

Bounds: FUZZ_MAX_EXAMPLES (default 25; the auth-off run takes 40% of it) examples per
operation and phase, one worker, FUZZ_SEED (default 20261121) for a reproducible run; both
runs together take about 1.5-2.5 minutes on a 2-core machine.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app import create_app
from registry.domain.importer import import_yaml
from registry.domain.tokens import issue, verify
from registry.web.api.openapi import openapi_document
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "positive_data_acceptance",
        "negative_data_rejection",
    ]
)
CONFIG = Path(__file__).with_name("schemathesis.toml")
# The import body is a YAML document whose grammar JSON Schema cannot state (map keys equal to
# the slugs inside them, defaults naming profiles of the same document): schema-valid but
# inconsistent documents are a 400 by design, so this operation runs without
# positive_data_acceptance (schemathesis ignores per-operation check settings when --checks
# is given, hence a second, short invocation).
IMPORT_OPERATION = "import_document"
# examples per operation and phase: auth on (writes with an admin token) gets the most
MAX_EXAMPLES = {"on": int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))}
MAX_EXAMPLES["off"] = max(1, MAX_EXAMPLES["on"] * 2 // 5)
SEED = int(os.environ.get("FUZZ_SEED", "20261121"))
RUN_TIMEOUT_S = 600


@dataclass
class LiveServer:
    app: Flask
    auth: str
    url: str
    token: str
    token_id: str


@pytest.fixture
def live_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    auth = request.param
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "fuzz",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'fuzz.db'}",
            "REGISTRY_AUTH": auth,
            "REGISTRY_BOOTSTRAP_ADMIN": False,
            "REGISTRY_COOKIE_SECURE": False,
        }
    )
    import_yaml(
        app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text(), actor="seed"
    )
    issued = issue(app.extensions["tokens"], "fuzz", "admin")
    app.extensions["tokens"].release()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    access_log = logging.getLogger("werkzeug")
    level = access_log.level
    access_log.setLevel(logging.WARNING)  # thousands of request lines otherwise
    thread = threading.Thread(target=server.serve_forever, name="fuzz-server", daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        yield LiveServer(app, auth, url, issued.secret, issued.token.id)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        access_log.setLevel(level)


def run_schemathesis(
    server: LiveServer, workdir: Path, *, imports: bool = False
) -> subprocess.CompletedProcess[str]:
    checks = CHECKS.replace(",positive_data_acceptance", "") if imports else CHECKS
    select = "--include-operation-id" if imports else "--exclude-operation-id"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/api/openapi.json",
        select,
        IMPORT_OPERATION,
        "--checks",
        checks,
        "--max-examples",
        str(MAX_EXAMPLES[server.auth]),
        "--seed",
        str(SEED),
        # one worker: Python 3.11's ast.parse is not thread-safe (hypothesis calls it while
        # describing strategies), which fails multi-worker runs with "AST constructor
        # recursion depth mismatch"
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--output-truncate",
        "false",
    ]
    if server.auth == "on":
        command += ["--header", f"Authorization: Bearer {server.token}"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "SCHEMATHESIS_HOOKS": "tests.api.fuzz_hooks",
        "FUZZ_PROTECTED_TOKEN_ID": server.token_id,
        "NO_COLOR": "1",
    }
    return subprocess.run(
        command,
        cwd=workdir,  # no config file or report directory from the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("live_server", ["on", "off"], indirect=True, ids=["auth-on", "auth-off"])
def test_fuzz_finds_no_server_error_and_no_contract_break(live_server: LiveServer, tmp_path):
    service = live_server.app.extensions["registry"]
    before = service.latest_change_id()

    imports = run_schemathesis(live_server, tmp_path, imports=True)
    assert imports.returncode == 0, (
        f"schemathesis found problems:\n{(imports.stdout + imports.stderr)[-20000:]}"
    )
    result = run_schemathesis(live_server, tmp_path)

    output = result.stdout + result.stderr
    tail = "\n".join(output.splitlines()[-150:])
    assert result.returncode == 0, f"schemathesis found problems:\n{output[-20000:]}"
    # it really ran every operation, with its credentials intact, and wrote things
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected and tested, tail
    # every documented operation (schemathesis leaves out the document's own URL)
    operations = sum(
        1 for item in openapi_document()["paths"].values() for key in item if key != "parameters"
    )
    # every documented operation but the import (run on its own above)
    assert int(selected[1]) == int(tested[1]), tail
    assert int(tested[1]) in (operations - 1, operations - 2), tail
    with live_server.app.app_context():
        assert verify(live_server.app.extensions["tokens"], live_server.token) is not None
    assert service.latest_change_id() > before, "the run wrote nothing"
