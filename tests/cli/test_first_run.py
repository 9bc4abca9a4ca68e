"""The first run of a new user (issue "First run"): offline commands touch no store, and
`run`/`serve` print a working one-time login link on every start until an admin logs in.

Everything runs the installed `profile-registry` console script in a temporary working
directory with a clean environment; servers are real subprocesses on free ports, followed with
a real HTTP client (urllib with a cookie jar).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.bench.server import ServerProcess
from tests.conftest import FIXTURES

EXE = shutil.which("profile-registry", path=str(Path(sys.executable).parent))
LINK_RE = re.compile(r"^\s*(http://\S+/login#code=(\S+))$", re.M)


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """No REGISTRY_*/DATABASE_URL/FLASK_* from the caller; the instance folder in `tmp`."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        REGISTRY_INSTANCE_PATH=str(tmp / "instance"),
        DATABASE_URL=f"sqlite:///{tmp / 'user.db'}",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    assert EXE, "profile-registry is not installed in this environment"
    return subprocess.run(
        [EXE, *args],
        cwd=tmp,
        env=clean_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- commands that need no store --------------------------------------------------------------


def test_offline_commands_never_create_a_store_or_the_instance_folder(tmp_path: Path) -> None:
    legacy = FIXTURES / "legacy-profiles.yaml"
    runs = [
        cli(tmp_path, "validate", str(FIXTURES / "canonical-bundle.yaml")),
        cli(tmp_path, "migrate-legacy", str(legacy), "-o", str(tmp_path / "out.yaml")),
        cli(tmp_path, "--help"),
        cli(tmp_path, "validate", "--help"),
        cli(tmp_path, "--version"),
    ]
    for run in runs:
        assert run.returncode == 0, run.args + [run.stderr]
        assert "login" not in run.stderr.lower() and "token" not in run.stderr.lower()
    assert "valid bundle document" in runs[0].stdout
    assert (tmp_path / "out.yaml").is_file()
    assert re.fullmatch(r"profile-registry \d+\.\d+\.\S+\n", runs[4].stdout)
    assert "login-link" in runs[2].stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("registries: [1]\n")
    invalid = cli(tmp_path, "validate", str(bad))
    assert invalid.returncode == 1 and invalid.stderr.strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "out.yaml"]

    # The control: a command that does use the store creates both where the test looks.
    init = cli(tmp_path, "init")
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "instance").is_dir() and (tmp_path / "user.db").is_file()
    assert 'created admin token "admin"' in init.stderr and "prt_" not in init.stderr


# --- run / serve: the first-start login link --------------------------------------------------


class Server(ServerProcess):
    """`profile-registry run|serve` from the installed console script, in the user's folder."""

    def __init__(self, tmp: Path, command: str, *args: str, log_path: Path):
        super().__init__(
            [command, *args], env=clean_env(tmp), log_path=log_path, cwd=tmp, program=[EXE]
        )


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    """`start(command, *args)`: `profile-registry run|serve` on a free port, ready."""
    servers: list[Server] = []

    def _start(command: str, *args: str) -> Server:
        log_path = tmp_path / f"{command}-{len(servers)}.log"
        server = Server(tmp_path, command, *args, log_path=log_path)
        servers.append(server)
        server.wait_ready()
        return server

    yield _start
    for server in servers:
        server.stop()


class Browser:
    """An HTTP client with a cookie jar, following redirects (what a user's browser does,
    minus JavaScript: the code is taken from the link's fragment as app.js does)."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, url: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, data: dict[str, str]) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(url, data=body, method="POST"))

    def _open(self, req: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.geturl(), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode()

    def follow_login_link(self, link: str) -> tuple[int, str, str]:
        page, _, fragment = link.partition("#")
        status, _, html = self.get(page)
        assert status == 200, html
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        code = urllib.parse.parse_qs(fragment)["code"][0]
        return self.post(page, {"csrf_token": csrf, "code": code})

    def logged_in(self, server: Server) -> bool:
        status, url, _ = self.get(server.url("/registries"))
        assert status == 200
        return not urllib.parse.urlsplit(url).path.startswith("/login")


def printed_links(server: Server) -> list[str]:
    return [m.group(1) for m in LINK_RE.finditer(server.log())]


def alert(html: str) -> str:
    found = re.search(r'<div class="flash error" role="alert">([^<]*)</div>', html)
    return found.group(1) if found else ""


@pytest.mark.slow
def test_every_start_prints_a_working_link_until_the_first_login(tmp_path: Path, start) -> None:
    # serve with two workers: the master prints the link, once, with the real port
    serve = start("serve", "--workers", "2")
    [first] = printed_links(serve)
    assert first.startswith(f"http://127.0.0.1:{serve.port}/login#code=")
    assert "prt_" not in serve.log()
    serve.stop()

    run = start("run")  # a restart: a fresh link, on run's real port
    [second] = printed_links(run)
    assert second.startswith(f"http://127.0.0.1:{run.port}/login#code=") and second != first

    admin = Browser()
    status, url, html = admin.follow_login_link(second)
    assert status == 200 and url == run.url("/"), html  # redirected to the dashboard
    assert admin.logged_in(run)
    # the replaced link of the first start and the used link are both refused, clearly
    late = Browser()
    status, _, html = late.follow_login_link(first.replace(str(serve.port), str(run.port)))
    assert status == 400 and "not valid" in alert(html), html
    status, _, html = late.follow_login_link(second)
    assert status == 400 and "already been used" in alert(html), html
    assert not late.logged_in(run)
    run.stop()

    again = start("run")  # an admin has logged in: no link, but how to make one
    assert printed_links(again) == []
    assert "profile-registry login-link" in again.log()
    expired = cli(
        tmp_path, "login-link", REGISTRY_LOGIN_LINK_MINUTES="0", REGISTRY_BASE_URL=again.url("")
    )
    assert expired.returncode == 0, expired.stderr
    status, _, html = Browser().follow_login_link(expired.stdout.strip())
    assert status == 400 and "has expired" in alert(html), html
    made = cli(
        tmp_path, "login-link", "--role", "editor", "--name", "kim", REGISTRY_BASE_URL=again.url("")
    )
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith(again.url("/login#code=")) and made.stdout.count("\n") == 1
    assert "15 minutes" in made.stderr
    kim = Browser()
    status, url, html = kim.follow_login_link(link)
    assert status == 200 and url == again.url("/"), html
    assert kim.logged_in(again) and "kim" in kim.get(again.url("/"))[2]


@pytest.mark.slow
def test_a_token_in_the_address_does_not_log_in_on_a_real_server(tmp_path: Path, start) -> None:
    created = cli(tmp_path, "token", "create", "--role", "admin", "--name", "ops")
    secret = created.stdout.strip()
    server = start("run")
    client = Browser()
    status, _, html = client.get(server.url(f"/login?token={secret}"))
    assert status == 400 and "no longer accepted" in alert(html)
    assert not client.logged_in(server)
