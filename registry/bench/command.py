"""`profile-registry bench`: options, then seed, serve, measure, report (README "Performance")."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import click

from .bulk import format_bulk, measure_bulk
from .cold_start import QUICK_RUNS, RUNS, format_cold_start, measure_cold_start
from .endpoints import endpoints
from .measure import run_rounds
from .notify import EVENTS_FULL, EVENTS_QUICK, format_notify, measure_notify
from .pages import (
    IMPORT_PAGE_PROFILES,
    QUICK_IMPORT_PAGE_PROFILES,
    PageError,
    format_import_page,
    measure_import_page,
)
from .report import format_table, machine_info, summarize
from .seed import (
    FULL_SEED,
    IMPORT_PLAN_PROFILES,
    QUICK_IMPORT_PLAN_PROFILES,
    QUICK_SEED,
    format_import_plan,
    measure_import_plan,
    seed_store,
)
from .server import ServerNotReady, bench_server


@click.command("bench")
@click.option("--quick", is_flag=True, help="Small seed, one short round: a smoke test.")
@click.option(
    "--database-url",
    default=None,
    help="Seed and serve this SQL database; its bench-* registries are replaced "
    "[default: a temporary SQLite file].",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Server processes [default: cores]."
)
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Keep-alive connections driving load.",
)
@click.option(
    "--clients",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="Load-generating processes sharing those connections.",
)
@click.option("--rounds", type=click.IntRange(1, 20), default=None, help="[default: 3, quick 1]")
@click.option(
    "--duration",
    type=click.FloatRange(0.1),
    default=None,
    help="Seconds measured per endpoint per round [default: 5, quick 1].",
)
@click.option(
    "--warmup",
    type=click.FloatRange(0),
    default=None,
    help="Unmeasured seconds before each run [default: 1, quick 0.3].",
)
@click.option(
    "--only", multiple=True, help="Measure only this endpoint (repeatable; plus the floor)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON results [default: bench-results/<timestamp>.json].",
)
@click.option(
    "--bulk",
    "bulk_counts",
    multiple=True,
    type=click.IntRange(10, 1_000_000),
    help="Instead of the HTTP bench: import, dry run, export and validate of a bundle of this "
    "many profiles as whole CLI processes, against PyYAML's floor (repeatable: the larger "
    "counts run JSON only and check linear growth).",
)
def bench_command(
    quick: bool,
    database_url: str | None,
    workers: int | None,
    threads: int,
    concurrency: int,
    clients: int,
    rounds: int | None,
    duration: float | None,
    warmup: float | None,
    only: tuple[str, ...],
    output: str | None,
    bulk_counts: tuple[int, ...],
) -> None:
    """Seed a store, serve it with the production server, measure every endpoint."""
    from registry.serve import default_workers

    if bulk_counts:
        _bench_bulk(list(bulk_counts), database_url, output)
        return

    plan = QUICK_SEED if quick else FULL_SEED
    rounds = rounds or (1 if quick else 3)
    duration = duration if duration is not None else (1.0 if quick else 5.0)
    warmup = warmup if warmup is not None else (0.3 if quick else 1.0)
    workers = workers or default_workers()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = output or f"bench-results/{stamp}.json"
    database = "postgresql" if (database_url or "").startswith("postgres") else "sqlite"
    specs = endpoints(plan, database)
    unknown = set(only) - {e.name for e in specs}
    if unknown:
        names = ", ".join(e.name for e in specs)
        raise click.BadParameter(
            f"unknown {', '.join(sorted(unknown))} (known: {names})", param_hint="--only"
        )
    if only:
        specs = [e for e in specs if e.name == "hello" or e.name in only]
    load_before = os.getloadavg()[0]
    import_count = QUICK_IMPORT_PLAN_PROFILES if quick else IMPORT_PLAN_PROFILES
    click.echo(f"planning an import of {import_count:,} profiles ...", err=True)
    import_plan = measure_import_plan(import_count)
    click.echo("timing the CLI's cold start ...", err=True)
    cold_start = measure_cold_start(QUICK_RUNS if quick else RUNS)

    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        click.echo(f"seeding {sum(plan.registries().values()):,} profiles ...", err=True)
        seed = seed_store(url, plan)
        click.echo(f"seeded in {seed['seconds']} s ({seed['database']})", err=True)
        server = bench_server(url, workers, threads, Path(tmp) / "server.log")
        try:
            try:
                server.wait_ready()
            except ServerNotReady as exc:
                raise click.ClickException(str(exc)) from None
            results = run_rounds(
                server.port,
                specs,
                rounds=rounds,
                concurrency=concurrency,
                processes=clients,
                warmup=warmup,
                duration=duration,
            )
            page_count = QUICK_IMPORT_PAGE_PROFILES if quick else IMPORT_PAGE_PROFILES
            click.echo(f"timing the import dry-run page of {page_count:,} profiles ...", err=True)
            try:
                import_page = measure_import_page(server.port, page_count, 1 if quick else 5)
            except (PageError, OSError) as exc:
                import_page = {"profiles": page_count, "error": str(exc)}
        finally:
            code = server.stop()
        if code != 0:
            click.echo(f"warning: server exited with {code}:\n{server.log_tail()}", err=True)
        click.echo("measuring change notifications ...", err=True)
        events = EVENTS_QUICK if quick else EVENTS_FULL
        notify = measure_notify(url, workers, threads, Path(tmp) / "notify.log", events)

    summarize(results, specs)
    machine = machine_info(seed["database"])
    machine["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    report = {
        "started_at": stamp,
        "quick": quick,
        "machine": machine,
        "server": {
            "command": "profile-registry serve",
            "worker_class": "gthread",
            "workers": workers,
            "threads": threads,
            "exit_code": code,
        },
        "load": {
            "http": "HTTP/1.1 keep-alive, one http.client connection per client thread",
            "concurrency": concurrency,
            "client_processes": clients,
            "rounds": rounds,
            "warmup_s": warmup,
            "duration_s": duration,
        },
        "seed": seed,
        "import_plan": import_plan,
        "pages": {"import_dry_run": import_page},
        "notify": notify,
        "cold_start": cold_start,
        "endpoints": [r.to_data() for r in results],
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    click.echo(
        f"\nmachine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
        f"{machine['database']}\nserver: profile-registry serve, {workers} gthread workers x "
        f"{threads} threads; load: {concurrency} keep-alive connections from {clients} "
        f"processes, {rounds} x {duration:g} s per endpoint\n"
    )
    click.echo(format_table(results))
    click.echo(f"\n{format_import_plan(import_plan)}")
    click.echo(format_import_page(import_page))
    click.echo(f"\n{format_notify(notify)}")
    click.echo(format_cold_start(cold_start))
    click.echo(f"\nwrote {output}")


def _bench_bulk(counts: list[int], database_url: str | None, output: str | None) -> None:
    """`bench --bulk`: the bulk section alone, its JSON in bench-results/bulk-<time>.json."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = output or f"bench-results/bulk-{stamp}.json"
    load_before = os.getloadavg()[0]
    try:
        bulk = measure_bulk(counts, database_url, lambda line: click.echo(line, err=True))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    database = "PostgreSQL" if (database_url or "").startswith("postgres") else "SQLite"
    machine = machine_info(database)
    machine["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    report = {"started_at": stamp, "machine": machine, "bulk": bulk}
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    click.echo(f"\nmachine: {machine['cpu']}, {machine['cores']} cores, {database}\n")
    click.echo(format_bulk(bulk))
    click.echo(f"\nwrote {output}")
