"""`bench --bulk N`: import, drift check, export and validate of an N-profile bundle, each a
whole `profile-registry` process, timed beside PyYAML's own floor in the same run.

The floors are processes too (the interpreter starts, imports PyYAML and loads the same file
with `CSafeLoader`, or dumps its data with `CSafeDumper`), so a ratio compares like with like.
Peak memory is the whole process's peak RSS (`wait4`'s `ru_maxrss`). Larger counts run the
JSON lane only and check that each operation grows linearly (within 1.2x of the smallest count's
figure scaled by the count).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .bulk_data import write_bundle
from .server import cli_command

OPERATIONS = ("import", "dry_run", "export", "validate")
TARGET_COUNT = 10_000
# Ratio to the parse floor (dump floor for export) for YAML; seconds for JSON (10,000
# profiles); peak RSS in MB for each format.
YAML_TARGETS = {"import": 1.5, "dry_run": 1.2, "export": 1.5, "validate": 1.3}
JSON_TARGETS_S = {"import": 5.0, "dry_run": 2.0, "export": 2.0, "validate": 2.0}
RSS_TARGET_MB = {"yaml": 200, "json": 150}
SCALE_RSS_TARGET_MB = 400
LINEAR_SLACK = 1.2

_FLOOR_LOAD = "import sys, yaml; yaml.load(open(sys.argv[1], 'rb'), Loader=yaml.CSafeLoader)"
_FLOOR_DUMP = (
    "import sys, yaml; data = yaml.load(open(sys.argv[1], 'rb'), Loader=yaml.CSafeLoader); "
    "import time; t = time.perf_counter(); "
    "yaml.dump(data, open(sys.argv[2], 'w'), Dumper=yaml.CSafeDumper, sort_keys=False, "
    "allow_unicode=True); print(time.perf_counter() - t)"
)


# Runs one command and writes its wall seconds, peak RSS and exit code to argv[1]. A child's
# peak RSS starts at its parent's at fork time (Linux carries the high-water mark over exec),
# so commands are started from this small process, not from the bench (which holds bundles).
_LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as out:
    json.dump({"s": wall, "rss_kb": usage.ru_maxrss, "code": code}, out)
"""


def run_process(command: list[str], env: dict[str, str], cwd: str) -> dict[str, Any]:
    """Wall seconds and peak RSS (MB) of one process, and its stdout (the dump floor prints
    the seconds of the dump alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        launch = [sys.executable, "-c", _LAUNCHER, str(report), *command]
        done = subprocess.run(launch, env=env, cwd=cwd, capture_output=True, text=True)
        figures = json.loads(report.read_text()) if report.exists() else {"code": -1}
    if done.returncode != 0 or figures["code"] != 0:
        raise RuntimeError(
            f"{' '.join(command[-3:])} failed ({figures['code']}):\n{done.stderr[-800:]}"
        )
    return {
        "s": round(figures["s"], 3),
        "rss_mb": round(figures["rss_kb"] / 1024, 1),
        "stdout": done.stdout,
    }


@contextmanager
def empty_database(database_url: str | None, tmp: Path) -> Iterator[str]:
    """A new, empty store: a SQLite file in `tmp`, or a scratch database on the server of
    `database_url` (PostgreSQL), dropped afterwards."""
    if not database_url or not database_url.startswith("postgres"):
        yield f"sqlite:///{tmp / f'bulk-{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg2

    name = f"registry_bulk_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(database_url)
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def measure_format(
    count: int, fmt: str, database_url: str | None, tmp: Path, *, floors: bool
) -> dict[str, Any]:
    """Each operation on a `count`-profile bundle in `fmt` (a new store for the import)."""
    bundle = tmp / f"bulk-{count}.{fmt}"
    size = write_bundle(count, bundle)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "FLASK_"))}
    env["REGISTRY_MAX_IMPORT_BYTES"] = str(max(16 << 20, 2 * size))
    cli = cli_command()
    out: dict[str, Any] = {"profiles": count, "format": fmt, "bytes": size}
    with empty_database(database_url, tmp) as url:
        env["DATABASE_URL"] = url
        cwd = str(tmp)
        run_process([*cli, "init"], env, cwd)
        out["import"] = run_process([*cli, "import", str(bundle)], env, cwd)
        out["dry_run"] = run_process([*cli, "import", "--dry-run", str(bundle)], env, cwd)
        exported = tmp / f"export-{count}.{fmt}"
        out["export"] = run_process([*cli, "export", "-o", str(exported)], env, cwd)
        out["validate"] = run_process([*cli, "validate", str(bundle)], env, cwd)
    if floors:
        python = sys.executable
        out["parse_floor"] = run_process([python, "-c", _FLOOR_LOAD, str(bundle)], env, cwd)
        dumped = run_process(
            [python, "-c", _FLOOR_DUMP, str(bundle), str(tmp / "d.yaml")], env, cwd
        )
        started = run_process([python, "-c", "import yaml"], env, cwd)
        # the dump floor is a process that starts, imports PyYAML and dumps: loading the data
        # first is the floor's own set-up, not work an export does
        out["dump_floor"] = {"s": round(started["s"] + float(dumped["stdout"]), 3)}
    for name in (*OPERATIONS, "parse_floor", "dump_floor"):
        out.get(name, {}).pop("stdout", None)
    _verdicts(out)
    return out


def _verdicts(figures: dict[str, Any]) -> None:
    fmt = figures["format"]
    for name in OPERATIONS:
        op = figures[name]
        op["rss_target_mb"] = RSS_TARGET_MB[fmt]
        if fmt == "yaml":
            floor = figures["dump_floor" if name == "export" else "parse_floor"]["s"]
            op["ratio"] = round(op["s"] / floor, 2)
            op["target_ratio"] = YAML_TARGETS[name]
            fast = op["ratio"] <= YAML_TARGETS[name]
        elif figures["profiles"] == TARGET_COUNT:
            op["target_s"] = JSON_TARGETS_S[name]
            fast = op["s"] < op["target_s"]
        else:  # the JSON targets are seconds at 10,000 profiles: no verdict at other counts
            op["pass"] = None
            continue
        op["pass"] = fast and op["rss_mb"] < RSS_TARGET_MB[fmt]


def measure_scale(base: dict[str, Any], count: int, database_url: str | None, tmp: Path) -> dict:
    """The JSON lane at a larger `count`: linear in the count, peak RSS under its target."""
    out = measure_format(count, "json", database_url, tmp, floors=False)
    factor = count / base["profiles"]
    for name in OPERATIONS:
        op = out[name]
        op.pop("target_s", None)
        op["linear_limit_s"] = round(base[name]["s"] * factor * LINEAR_SLACK, 2)
        op["rss_target_mb"] = SCALE_RSS_TARGET_MB
        op["pass"] = op["s"] <= op["linear_limit_s"] and op["rss_mb"] < SCALE_RSS_TARGET_MB
    return out


def measure_bulk(counts: list[int], database_url: str | None, echo: Any) -> dict[str, Any]:
    """The bulk section: YAML and JSON at the smallest count, JSON at the larger ones."""
    counts = sorted(set(counts))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="registry-bench-bulk-") as tmp_name:
        tmp = Path(tmp_name)
        for fmt in ("yaml", "json"):
            echo(f"bulk: {fmt} at {counts[0]:,} profiles ...")
            results.append(measure_format(counts[0], fmt, database_url, tmp, floors=True))
        base = results[-1]
        for count in counts[1:]:
            echo(f"bulk: json at {count:,} profiles ...")
            results.append(measure_scale(base, count, database_url, tmp))
    return {"counts": counts, "runs": results}


def format_bulk(bulk: dict[str, Any]) -> str:
    lines = [
        "| bundle | operation | seconds | vs floor | peak RSS | target | verdict |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for run in bulk["runs"]:
        label = f"{run['profiles']:,} {run['format'].upper()} ({run['bytes'] / 1e6:.1f} MB)"
        if "parse_floor" in run and run["format"] == "yaml":
            for floor in ("parse_floor", "dump_floor"):
                lines.append(
                    f"| {label} | {floor.replace('_', ' ')} | {run[floor]['s']} | 1.00x | | | |"
                )
        for name in OPERATIONS:
            op = run[name]
            if "ratio" in op:
                vs, target = f"{op['ratio']}x", f"<= {op['target_ratio']}x"
            elif "linear_limit_s" in op:
                vs, target = "", f"<= {op['linear_limit_s']} s (linear)"
            elif "target_s" in op:
                vs, target = "", f"< {op['target_s']:g} s"
            else:
                vs, target = "", f"(seconds at {TARGET_COUNT:,})"
            target += f", < {op['rss_target_mb']} MB"
            verdict = {True: "pass", False: "MISS", None: "-"}[op["pass"]]
            lines.append(
                f"| {label} | {name.replace('_', ' ')} | {op['s']} | {vs} | {op['rss_mb']:.0f} MB "
                f"| {target} | {verdict} |"
            )
    return "\n".join(lines)
