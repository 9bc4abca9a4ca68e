"""`profile-registry token create|list|revoke`."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.domain import tokens as tk

TOKEN_RE = re.compile(r"^prt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def run(cli_app):
    """Invoke a command; `stdout` holds stdout alone (click < 8.2 needs mix_stderr=False)."""
    separate = "mix_stderr" in inspect.signature(CliRunner.__init__).parameters
    runner = cli_app.test_cli_runner(mix_stderr=False) if separate else cli_app.test_cli_runner()

    def _run(*args: str):
        return runner.invoke(args=list(args))

    return _run


def test_token_create_prints_only_the_token(cli_app, run):
    result = run("token", "create", "--role", "editor", "--name", "ci")
    assert result.exit_code == 0, result.output
    assert TOKEN_RE.match(result.stdout.rstrip("\n")), result.stdout
    assert result.stdout.count("\n") == 1
    token = tk.verify(cli_app.extensions["tokens"], result.stdout.strip())
    assert (token.name, token.role, token.created_by) == ("ci", "editor", "cli")


def test_token_list_shows_a_table_without_secrets(cli_app, run):
    secret = run("token", "create", "--role", "admin", "--name", "ops").stdout.strip()
    run("token", "create", "--role", "reader", "--name", "dashboard")
    result = run("token", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "ROLE", "CREATED", "LAST", "USED"]
    assert [line.split()[1:3] for line in lines[1:]] == [["ops", "admin"], ["dashboard", "reader"]]
    assert all(line.rstrip().endswith("never") for line in lines[1:])
    assert secret not in result.stdout and tk.parse(secret)[1] not in result.stdout


def test_token_revoke_by_name_or_id(cli_app, run):
    first = run("token", "create", "--role", "reader", "--name", "one").stdout.strip()
    second = run("token", "create", "--role", "reader", "--name", "two").stdout.strip()
    result = run("token", "revoke", "one")
    assert result.exit_code == 0, result.output
    assert "revoked token" in result.stdout and '"one"' in result.stdout
    token_id = tk.parse(second)[0]
    assert run("token", "revoke", token_id).exit_code == 0
    store = cli_app.extensions["tokens"]
    assert tk.verify(store, first) is None and tk.verify(store, second) is None
    assert run("token", "list").stdout.splitlines()[1:] == []
    listed = run("token", "list", "--all").stdout
    assert "one (revoked)" in listed and "two (revoked)" in listed
    missing = run("token", "revoke", "nobody")
    assert missing.exit_code != 0
    assert 'token "nobody" not found' in missing.output


def test_token_create_errors_are_one_line_and_nonzero(run):
    empty = run("token", "create", "--role", "reader", "--name", "  ")
    assert empty.exit_code == 1
    assert "name: Token name cannot be empty" in empty.output
    assert empty.stdout == ""
    bad_role = run("token", "create", "--role", "root", "--name", "x")
    assert bad_role.exit_code == 2 and bad_role.stdout == ""
    assert run("token", "create", "--role", "reader", "--name", "dup").exit_code == 0
    dup = run("token", "create", "--role", "admin", "--name", "dup")
    assert dup.exit_code == 1 and 'token "dup" already exists' in dup.output


def test_console_script_token_commands_bootstrap_nothing(tmp_path):
    """Outside TESTING too, `token create` on a fresh store creates only the token asked for
    (the first-start admin token belongs to init/run/serve) and prints it alone on stdout."""
    exe = shutil.which("profile-registry", path=str(Path(sys.executable).parent))
    assert exe
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "REGISTRY_AUTH": "on"}
    env.pop("REGISTRY_STORE", None)
    env.pop("REGISTRY_BOOTSTRAP_ADMIN", None)
    env["REGISTRY_INSTANCE_PATH"] = str(tmp_path / "instance")
    first = subprocess.run(
        [exe, "token", "create", "--role", "reader", "--name", "ci"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    assert TOKEN_RE.match(first.stdout.strip()) and first.stdout.count("\n") == 1
    assert first.stderr == ""
    again = subprocess.run(
        [exe, "token", "list"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert again.returncode == 0 and again.stderr == ""
    assert [line.split()[1] for line in again.stdout.splitlines()[1:]] == ["ci"]
