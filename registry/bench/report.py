"""Results: per-endpoint figures over the rounds, pass/miss per target, the machine, the table."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .endpoints import Endpoint


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass
class Result:
    """One endpoint over every round: throughput and ratio are medians of the rounds (the
    floor is re-measured each round, so drift on a shared machine cancels out); latency
    percentiles are over all requests of all rounds."""

    name: str
    label: str
    method: str
    path: str
    expect: int
    target: str = ""
    available: bool = True
    note: str = ""
    requests: int = 0
    errors: int = 0
    connections: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    ratio: float = 0.0
    passed: bool | None = None
    round_rps: list[float] = field(default_factory=list)
    round_ratios: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list, repr=False)

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latencies"]
        return data


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return 0.0
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def new_result(endpoint: Endpoint) -> Result:
    if endpoint.target:
        target = endpoint.target.describe()
    else:
        target = "floor" if endpoint.name == "hello" else "-"
    first = endpoint.variants[0]
    return Result(
        endpoint.name, endpoint.label, endpoint.method, first["path"], endpoint.expect, target
    )


def summarize(results: list[Result], specs: list[Endpoint]) -> None:
    """Medians, percentiles and pass/miss per target."""
    by_name = {r.name: r for r in results}
    for r in results:
        r.latencies.sort()
        r.requests = len(r.latencies)
        r.rps = round(median(r.round_rps), 1)
        r.ratio = round(median(r.round_ratios), 3)
        r.p50_ms = round(percentile(r.latencies, 50), 2)
        r.p99_ms = round(percentile(r.latencies, 99), 2)
    for r, spec in zip(results, specs, strict=True):
        target = spec.target
        if not r.available:
            r.passed = False if target else None
            continue
        if target is None:
            continue
        ok = r.errors == 0
        if target.min_ratio is not None:
            ok = ok and r.ratio >= target.min_ratio
        if target.max_p50_ms is not None:
            ok = ok and r.p50_ms < target.max_p50_ms
        if target.within_of:
            other = by_name.get(target.within_of)
            ok = ok and bool(
                other and other.available and r.rps and other.rps / r.rps <= target.within_factor
            )
        r.passed = ok


def machine_info(database: str) -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": database,
    }


def format_table(results: list[Result]) -> str:
    rows: list[tuple[str, ...]] = [
        ("endpoint", "req/s", "p50 ms", "p99 ms", "ratio", "target", "result")
    ]
    for r in results:
        if not r.available:
            rows.append((r.label, "-", "-", "-", "-", r.target, r.note))
            continue
        verdict = {True: "pass", False: "MISS", None: ""}[r.passed]
        if r.errors:
            verdict = f"{verdict} ({r.errors} errors)".strip()
        row: tuple[str, ...] = (
            r.label,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.ratio:.2f}x",
        )
        rows.append((*row, r.target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i in (0, 5, 6) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
