"""A `profile-registry` server in a subprocess on a free port, ready when `/healthz` answers.

Shared by the bench (which serves the seeded store with `serve`) and the tests that need a real
server (`serve` workers, `run`'s first-start link, outages): one way to start, wait and stop.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on now (the OS picks it), on the loopback address."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cli_command() -> list[str]:
    """How to run `profile-registry` with this interpreter (works without the console script)."""
    return [sys.executable, "-c", "from registry.main import main; main()"]


class ServerNotReady(RuntimeError):
    """The server exited before answering, or did not answer `/healthz` in time."""


class ServerProcess:
    """`profile-registry ARGS --port PORT` in a subprocess, output to `log_path`, stopped with
    SIGTERM (graceful under gunicorn).

    `program` defaults to this interpreter running the CLI (`cli_command()`); tests of the
    installed console script pass it instead.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str],
        log_path: Path,
        cwd: Path | None = None,
        program: Sequence[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        command = [*(program or cli_command()), *args, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def log(self) -> str:
        """Everything the server printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll `GET /healthz` until it answers 200; raise ServerNotReady with the log's tail
        when the process exits first or the time runs out."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise ServerNotReady(f"server exited early:\n{self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.1)
        raise ServerNotReady(f"server did not answer /healthz:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        except (OSError, http.client.HTTPException):  # not listening yet, or starting up
            return False
        finally:
            conn.close()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then SIGKILL after `timeout` seconds; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def bench_server(
    database_url: str,
    workers: int,
    threads: int,
    log_path: Path,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """`profile-registry serve` for the bench: the given database, auth off, the hello route
    on, and nothing of the user's deployment (its stores, token store, seeds, instance folder);
    `env` adds settings (the notification bench turns the webhook worker on)."""
    private = ("REGISTRY_STORE", "REGISTRY_TOKEN_STORE", "REGISTRY_SEED_FILES")
    settings = {k: v for k, v in os.environ.items() if k not in private}
    settings.update(
        REGISTRY_INSTANCE_PATH=str(log_path.parent / "instance"),
        DATABASE_URL=database_url,
        REGISTRY_AUTH="off",
        REGISTRY_BENCH_ROUTES="true",
        PYTHONUNBUFFERED="1",
        **(env or {}),
    )
    args = ["serve", "--host", HOST, "--workers", str(workers), "--threads", str(threads)]
    return ServerProcess(args, env=settings, log_path=log_path)
