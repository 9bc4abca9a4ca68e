"""The `profile-registry` entry point.

The offline commands (`validate`, `migrate-legacy`, `bench`: registry/cli_offline.py) run in
a plain click group that imports no Flask, peewee or Jinja, so a pre-commit hook pays for
none of them; every other command, `--help` included, runs in the app's group
(registry/app_cli.py). Only a first argument naming an offline command takes the short way:
options before it (`--app`, `--env-file`) belong to the app's group.
"""

from __future__ import annotations

import sys


def main() -> None:
    from registry.cli_offline import OFFLINE_COMMANDS

    args = sys.argv[1:]
    if args and args[0] in OFFLINE_COMMANDS:
        from registry.cli_offline import offline_cli

        offline_cli(args[0]).main(args, prog_name="profile-registry")
        return
    from registry.app_cli import build_cli

    build_cli().main(args, prog_name="profile-registry")
