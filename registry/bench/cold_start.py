"""The CLI's cold start: `profile-registry validate` of the sample bundle as a whole process
(interpreter start, imports, reading and validating the file), the median of several runs.

Measured beside the interpreter's own start (`python -c pass`) and the app's group
(`profile-registry --version`, which imports Flask and the commands), each the same number of
runs in the same minute, so the figures can be compared on a loaded machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .seed import import_document
from .server import cli_command

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "canonical-bundle.yaml"
RUNS, QUICK_RUNS = 7, 3
TARGET_S = 0.5  # median wall seconds of `validate`


def _wall(command: list[str], cwd: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def measure_cold_start(runs: int) -> dict[str, Any]:
    """Median (and min, max) wall seconds of each command over `runs` interleaved runs, in a
    temporary folder with no `REGISTRY_*` settings (no store is opened either way)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "FLASK_"))}
    with tempfile.TemporaryDirectory(prefix="registry-bench-cli-") as tmp:
        sample = SAMPLE
        if not sample.is_file():  # installed without the tests: a generated bundle instead
            sample = Path(tmp) / "bundle.yaml"
            sample.write_text(import_document(4), encoding="utf-8")
        commands = {
            "python": [sys.executable, "-c", "pass"],
            "validate": [*cli_command(), "validate", str(sample)],
            "version": [*cli_command(), "--version"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                times[name].append(_wall(command, tmp, env))
    out: dict[str, Any] = {"runs": runs, "sample": SAMPLE.name, "target_s": TARGET_S}
    for name, values in times.items():
        out[name] = {
            "median_s": round(statistics.median(values), 3),
            "min_s": round(min(values), 3),
            "max_s": round(max(values), 3),
        }
    return out


def format_cold_start(figures: dict[str, Any]) -> str:
    validate = figures["validate"]["median_s"]
    verdict = "pass" if validate < figures["target_s"] else "MISS"
    return (
        f"CLI cold start, median of {figures['runs']} whole processes: `validate "
        f"{figures['sample']}` {validate:.2f} s (interpreter alone "
        f"{figures['python']['median_s']:.2f} s, `--version` through the app's group "
        f"{figures['version']['median_s']:.2f} s), target < {figures['target_s']:g} s: {verdict}"
    )
