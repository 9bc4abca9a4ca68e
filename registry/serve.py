"""Production serving: gunicorn on the app that `create_app()` builds.

Why gthread workers: chat clients and backends keep HTTP/1.1 connections open, and gunicorn's
sync workers close every connection after one response; gthread workers keep them alive. Their
threads also overlap the time a request waits on the database (PostgreSQL round trips, SQLite's
busy timeout while another process writes). The app is thread-safe: peewee keeps one connection
per thread and the app releases it when each request ends.

The app is built once in the master before any fork (`preload_app`): the store is opened and
migrated there, so workers never race to migrate. The master's connection is closed before
forking, so no worker shares a socket or SQLite handle with the master or a sibling; each
worker thread connects on its first query.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import click
from flask import Flask, Response
from flask.cli import ScriptInfo
from gunicorn.app.base import BaseApplication

from registry.domain.ports import Connections
from registry.domain.service import SOURCE_CLI

log = logging.getLogger(__name__)

DEFAULT_THREADS = 4
KEEPALIVE_SECONDS = 5


def default_workers() -> int:
    """One worker per core: with gthread each worker already runs several requests at once."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def register_bench_routes(app: Flask) -> None:
    """`GET /-/hello`, the benchmark floor: the same server and middleware, no app work.

    Only when `REGISTRY_BENCH_ROUTES` is true, so production never exposes it.
    """
    if not app.config.get("REGISTRY_BENCH_ROUTES") or "bench_hello" in app.view_functions:
        return

    def bench_hello() -> Response:
        return Response("hello\n", mimetype="text/plain")

    app.add_url_rule("/-/hello", "bench_hello", bench_hello, methods=["GET"])


def prepare_app(app: Flask) -> None:
    """Master-side set-up before forking: the default registry exists (as `init` does), bench
    routes are registered, and the master holds no database connection."""
    app.extensions["registry"].ensure_default_registry(actor="serve", source=SOURCE_CLI)
    register_bench_routes(app)
    release_connections(app)


def _connection_holders(app: Flask) -> list[Connections]:
    """Everything in the app that may hold a database connection: the service (for the
    profile store it owns) and the token store."""
    found = [app.extensions["registry"], app.extensions.get("tokens")]
    return [s for s in found if s is not None]


def release_connections(app: Flask) -> None:
    """Close the calling thread's idle database connections (the master's, before a fork)."""
    for holder in _connection_holders(app):
        holder.disconnect()


def forget_inherited_connections(app: Flask) -> None:
    """In a fresh worker: drop (without closing) connections inherited from the master.

    `prepare_app` and `pre_fork` close them first, so this only guards against a future change
    opening one in the master; closing one here would end the master's session (PostgreSQL
    sends a terminate message on the shared socket).
    """
    for holder in _connection_holders(app):
        if holder.forget_inherited():
            log.warning(
                "worker %s inherited an open database connection; it opens its own", os.getpid()
            )


class RegistryServer(BaseApplication):
    """gunicorn's arbiter around an already built Flask app (see the module docstring)."""

    def __init__(self, app: Flask, options: dict[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 24 opens a control socket at one per-user path; two instances on one
            # machine would fight over it, and nothing here uses it.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        return self.application


def gunicorn_options(
    app: Flask, *, host: str, port: int, workers: int, threads: int, access_log: str | None
) -> dict[str, Any]:
    def pre_fork(_server: Any, _worker: Any) -> None:
        release_connections(app)

    def post_fork(_server: Any, _worker: Any) -> None:
        forget_inherited_connections(app)

    options: dict[str, Any] = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": KEEPALIVE_SECONDS,
        "preload_app": True,
        "graceful_timeout": 10,
        "timeout": 60,
        "pre_fork": pre_fork,
        "post_fork": post_fork,
        "proc_name": "profile-registry",
    }
    if access_log:
        options["accesslog"] = access_log
        # The worker pid shows which process served a request (two instances, many workers).
        options["access_log_format"] = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s'
    return options


def serve(
    app: Flask,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    threads: int = DEFAULT_THREADS,
    access_log: str | None = None,
) -> None:
    """Run gunicorn in this process until SIGTERM/SIGINT (graceful stop, exit code 0)."""
    prepare_app(app)
    from registry.web.api.stream import set_stream_limit

    set_stream_limit(app, threads)
    options = gunicorn_options(
        app,
        host=host,
        port=port,
        workers=workers or default_workers(),
        threads=threads,
        access_log=access_log,
    )
    RegistryServer(app, options).run()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes [default: one per core].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Threads per worker process.",
)
@click.option("--access-log", default=None, help="Access log file, or - for stderr [default: off].")
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int | None,
    threads: int,
    access_log: str | None,
) -> None:
    """Production server: gunicorn, gthread workers, store migrated once before forking."""
    from registry.web.tokens import announce_login

    app = ctx.ensure_object(ScriptInfo).load_app()
    announce_login(app, host, port)  # in the master, before forking: printed once
    service = app.extensions["registry"]
    count = workers or default_workers()
    click.echo(
        f"serving on http://{host}:{port} ({count} workers x {threads} threads, "
        f"store {service.backend_kind})",
        err=True,
    )
    serve(app, host=host, port=port, workers=count, threads=threads, access_log=access_log)
