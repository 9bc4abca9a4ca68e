"""The `profile-registry` command group over the app factory: every command, `--help` too.

Apart from registry/cli.py (the commands) so that the factory can register the commands on
`app.cli` (for `flask --app app ...`) while this group builds the app: no import cycle.
registry/main.py imports it only for commands that are not offline.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from registry.cli import COMMANDS, run_command


class RegistryCLI(FlaskGroup):
    """Flask's CLI group, but the app (and with it the store) is built only by the commands
    that need it: listing commands (`--help`), `--version`, `validate`, `migrate-legacy` and
    `bench` never open or create a store."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(click.Group.list_commands(self, ctx))


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from registry import __version__

    click.echo(f"profile-registry {__version__}")
    ctx.exit()


def build_cli() -> RegistryCLI:
    def create_app() -> Flask:  # imported late: `--help` and offline commands never need it
        from registry.factory import create_app as factory

        return factory()

    group = RegistryCLI(
        name="profile-registry",
        create_app=create_app,
        add_version_option=False,
        params=[
            click.Option(
                ["--version"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_version,
                help="Show the version and exit.",
            )
        ],
        help="Profile Registry: profiles for AI chat apps, as data.",
    )
    for command in COMMANDS:
        group.add_command(command)
    group.add_command(run_command)  # replaces Flask's `run`
    return group
