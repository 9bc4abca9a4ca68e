"""The commands that check files without an app or a store: `validate` and `migrate-legacy`.

They import no Flask, peewee or Jinja (nor the rest of registry/cli.py), so that
`profile-registry validate` in a pre-commit hook starts in a fraction of the app's import
time: registry/main.py runs them in a plain click group (`offline_cli`), and
registry/cli.py registers the same commands on the app's CLI.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from registry import config as cfg
from registry.domain.errors import RegistryError, ValidationError
from registry.domain.importer import check_defaults, iter_prepared, prepare_document
from registry.domain.middleware import MiddlewareRegistry, load_definitions
from registry.domain.service import RegistryService
from registry.domain.yaml_codec import decode_registries, encode_registries, stream_registries

# The first argument that selects the offline group in registry/main.py; `bench` builds its
# own server and store, so it needs no app either.
OFFLINE_COMMANDS = ("validate", "migrate-legacy", "bench")


class _NoStore:
    """The store of commands that check files offline: using it is a bug, never a file."""

    kind = "none"

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"offline commands use no store (tried store.{name})")


F = TypeVar("F", bound=Callable[..., Any])


def without_gc_pauses(command: F) -> F:
    """Run a bulk command (import, export, validate) with the cyclic garbage collector off.

    A bundle becomes millions of objects that live until the command ends; the collector
    scanned them again each time allocations crossed its threshold, 40% of validating
    100,000 profiles. Reference counting still frees everything (the model holds no
    cycles); the collector is back on when the command returns."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return command(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run  # type: ignore[return-value]


def offline_config() -> dict[str, Any]:
    """Defaults < environment, as the app reads them, without building the app."""
    return {**cfg.DEFAULTS, **cfg.from_environ()}


def offline_service(config: dict[str, Any]) -> RegistryService:
    """The service's validation (codecs, middleware schemas) over no store at all: `validate`
    and `migrate-legacy` must never open or create one (pre-commit hooks, fresh clones)."""
    definitions = config["REGISTRY_MIDDLEWARE_DEFINITIONS"] or None
    return RegistryService(
        _NoStore(),
        middlewares=MiddlewareRegistry(load_definitions(definitions)),
        default_registry=config["REGISTRY_DEFAULT_REGISTRY"],
    )


def read_text(path: str, limit: int) -> str:
    """A document file as text: at most `limit` bytes of UTF-8, else one clear error."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise click.ClickException(f"{path} is {len(data)} bytes, more than the limit of {limit}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not valid UTF-8 (byte {exc.start})") from None


def fail(exc: RegistryError) -> None:
    """A validation error as one line per problem (exit 1), anything else as one line."""
    if isinstance(exc, ValidationError):
        for err in exc.errors:
            click.echo(f"{err.field or 'document'}: {err.text}", err=True)
        raise SystemExit(1)
    raise click.ClickException(str(exc))


@click.command("migrate-legacy")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@without_gc_pauses
def migrate_legacy_command(file: str, output: str) -> None:
    """Convert a legacy (or any accepted) YAML file into the canonical bundle (offline)."""
    config = offline_config()
    service = offline_service(config)
    try:
        limit = config["REGISTRY_MAX_IMPORT_BYTES"]
        text = read_text(file, limit)
        doc = decode_registries(text, service.default_registry, max_bytes=limit)
        prepared = prepare_document(service, doc.registries)
        problems = check_defaults(prepared)
        if problems:
            raise ValidationError(problems)
    except RegistryError as exc:
        fail(exc)
        return
    registries = []
    for header, profiles in prepared:
        header.profiles = profiles
        registries.append(header)
    Path(output).write_text(encode_registries(registries), encoding="utf-8")
    count = sum(len(r.profiles) for r in registries)
    click.echo(
        f"{doc.format} document: wrote {len(registries)} registries, {count} profiles to {output}"
    )


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Also reject extension keys without a codec.")
@without_gc_pauses
def validate_command(file: str, strict: bool) -> None:
    """Check a YAML file offline; exit 0 when valid, else one line per problem with its
    field path."""
    config = offline_config()
    service = offline_service(config)
    count = 0
    try:
        limit = config["REGISTRY_MAX_IMPORT_BYTES"]
        doc = stream_registries(read_text(file, limit), service.default_registry, max_bytes=limit)
        problems = []
        # one registry at a time: a large JSON bundle is never held whole
        for header, profiles, _ in iter_prepared(service, doc, strict=strict):
            problems += check_defaults([(header, profiles)])
            count += len(profiles)
        if problems:
            raise ValidationError(problems)
    except RegistryError as exc:
        fail(exc)
        return
    click.echo(f"valid {doc.format} document: {len(doc)} registries, {count} profiles")


def _load_dotenv() -> None:
    """Load `.flaskenv` and `.env` as the app's CLI group does (Flask's `load_dotenv`), so a
    setting there means the same for every command; Flask is imported only when one exists."""
    skip = os.environ.get("FLASK_SKIP_DOTENV")
    if skip and skip.lower() not in ("0", "false", "no"):
        return
    try:
        import dotenv
    except ImportError:
        return
    if any(dotenv.find_dotenv(name, usecwd=True) for name in (".flaskenv", ".env")):
        from flask.cli import load_dotenv

        load_dotenv()


def offline_cli(name: str) -> click.Group:
    """A group named like the full one (same usage lines and errors) holding the offline
    command `name` alone: the bench's modules are imported only to run the bench."""
    if name == "bench":
        from registry.bench.command import bench_command as command
    else:
        command = {"validate": validate_command, "migrate-legacy": migrate_legacy_command}[name]
    _load_dotenv()
    group = click.Group(name="profile-registry")
    group.add_command(command)
    return group
