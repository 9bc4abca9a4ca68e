"""Measuring: probe each endpoint, time it from driver processes, rounds with the floor first."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from typing import Any

import click

from .endpoints import Endpoint
from .report import Result, new_result
from .server import HOST


def request_once(
    port: int, req: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        body = req["body"].encode() if req["body"] is not None else None
        conn.request(
            req["method"], req["path"], body=body, headers={**req["headers"], **(headers or {})}
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def probe(port: int, endpoint: Endpoint, result: Result) -> bool:
    """One request first: a route that does not exist yet is reported, not measured."""
    status, _, body = request_once(port, endpoint.variants[0])
    if status == endpoint.expect:
        return True
    result.available = False
    if status in (404, 405):
        result.note = f"{status}: not implemented yet"
    else:
        detail = body[:80].decode(errors="replace").strip()
        result.note = f"probe answered {status}: {detail}"
    return False


def measure(
    port: int,
    endpoint: Endpoint,
    result: Result,
    *,
    concurrency: int,
    processes: int,
    warmup: float,
    duration: float,
) -> float:
    """One timed run from `processes` driver processes; adds to `result`, returns req/s."""
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (p < concurrency % processes) for p in range(processes)]
    drivers: list[subprocess.Popen[bytes]] = []
    for p, threads in enumerate(shares):
        spec = {
            "host": HOST,
            "port": port,
            "threads": threads,
            "offset": sum(shares[:p]),
            "variants": endpoint.variants,
            "expect": endpoint.expect,
            "warmup": warmup,
            "duration": duration,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry.bench", "drive"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(spec).encode() + b"\n")
        proc.stdin.flush()
        drivers.append(proc)
    # The start time is set once every driver has started (a loaded machine can take seconds to
    # start Python): all begin together, and none misses its own measured window.
    for proc in drivers:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise click.ClickException(f"load driver failed to start for {endpoint.name}")
    start_at = time.time() + 0.2
    for proc in drivers:
        assert proc.stdin is not None
        proc.stdin.write(f"{start_at!r}\n".encode())
        proc.stdin.close()
    count = 0
    for proc in drivers:
        assert proc.stdout is not None
        out = proc.stdout.read()
        if proc.wait(timeout=60) != 0:
            raise click.ClickException(f"load driver failed for {endpoint.name}")
        data = json.loads(out)
        if data["late_ms"] > warmup * 1000:
            click.echo(f"warning: a load driver started {data['late_ms']} ms late", err=True)
        count += len(data["latencies_ms"])
        result.latencies.extend(data["latencies_ms"])
        result.errors += data["errors"]
        result.connections += data["connections"]
        for key, n in data["statuses"].items():
            result.statuses[key] = result.statuses.get(key, 0) + n
    rps = count / duration
    result.round_rps.append(round(rps, 1))
    return rps


def run_rounds(
    port: int,
    specs: list[Endpoint],
    *,
    rounds: int,
    concurrency: int,
    processes: int,
    warmup: float,
    duration: float,
) -> list[Result]:
    """Every endpoint once per round, the floor first in each round."""
    results = [new_result(spec) for spec in specs]
    for spec, result in zip(specs, results, strict=True):
        if spec.name.endswith("_304"):
            refresh_etag(port, spec)
        probe(port, spec, result)
    for n in range(rounds):
        floor = 0.0
        for spec, result in zip(specs, results, strict=True):
            if not result.available:
                continue
            if spec.name.endswith("_304"):
                refresh_etag(port, spec)
            click.echo(f"round {n + 1}/{rounds}: {spec.label}", err=True)
            kwargs = {"concurrency": concurrency, "processes": processes}
            rps = measure(port, spec, result, warmup=warmup, duration=duration, **kwargs)
            floor = rps if spec.name == "hello" else floor
            result.round_ratios.append(round(rps / floor, 3) if floor else 0.0)
    return results


def refresh_etag(port: int, spec: Endpoint) -> None:
    """Send the current list ETag: writes of earlier rounds have changed it."""
    base = {k: v for k, v in spec.variants[0]["headers"].items() if k != "If-None-Match"}
    _, headers, _ = request_once(port, {**spec.variants[0], "headers": base})
    etag = headers.get("etag")
    if etag:
        spec.variants = [
            {**v, "headers": {**v["headers"], "If-None-Match": etag}} for v in spec.variants
        ]
