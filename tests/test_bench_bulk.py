"""`profile-registry bench --bulk`: each operation a whole CLI process on a generated bundle,
on SQLite and PostgreSQL. A smoke test of the machinery: it asserts what was measured and
that every operation ran and did its work, never how fast."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from registry.bench.bulk import OPERATIONS, format_bulk
from registry.bench.bulk_data import PER_REGISTRY, bulk_registries, write_bundle
from registry.bench.server import cli_command
from registry.domain.yaml_codec import decode_registries


def test_the_bulk_bundle_is_valid_in_both_formats(tmp_path: Path) -> None:
    for suffix in ("yaml", "json"):
        path = tmp_path / f"b.{suffix}"
        write_bundle(1_500, path)
        doc = decode_registries(path.read_bytes())
        assert [len(r.profiles) for r in doc.registries] == [PER_REGISTRY, 500]
    registry = dict(bulk_registries(2))["bulk-000"]
    assert yaml.safe_load(yaml.safe_dump(registry)) == registry


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_bulk_bench_runs_every_operation(tmp_path: Path, backend: str, request) -> None:
    output = tmp_path / "bulk.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    command = [*cli_command(), "bench", "--bulk", "40", "--bulk", "80"]
    if backend == "postgres":
        request.getfixturevalue("pg_url")  # skips, or fails in CI, without PostgreSQL
        # the bench makes (and drops) a scratch database on that server
        command += ["--database-url", os.environ["REGISTRY_TEST_POSTGRES_URL"]]
    done = subprocess.run(
        [*command, "-o", str(output)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(output.read_text())
    runs = report["bulk"]["runs"]
    assert [(r["format"], r["profiles"]) for r in runs] == [
        ("yaml", 40),
        ("json", 40),
        ("json", 80),
    ]
    for run in runs:
        for name in OPERATIONS:
            assert run[name]["s"] > 0 and run[name]["rss_mb"] > 10
    assert runs[0]["parse_floor"]["s"] > 0 and runs[0]["dump_floor"]["s"] > 0
    assert "linear_limit_s" in runs[2]["import"]
    assert "| 80 JSON" in done.stdout and format_bulk(report["bulk"]) in done.stdout
