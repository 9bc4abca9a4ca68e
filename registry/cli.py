"""The `profile-registry` command line (a Flask CLI group over `create_app`).

Store selection follows the app: `REGISTRY_STORE=yaml:PATH`, else `DATABASE_URL`, else the
SQLite file in the instance folder. Errors are one clear line and a non-zero exit code.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from registry.bench import bench_command
from registry.domain.errors import RegistryError, ValidationError
from registry.domain.importer import (
    MODES,
    check_defaults,
    export_yaml,
    import_yaml,
    prepare_document,
)
from registry.domain.model import Registry
from registry.domain.service import SOURCE_CLI, RegistryService
from registry.domain.tokens import ROLES, TokenStore, issue
from registry.domain.yaml_codec import decode_registries, encode_registries
from registry.serve import serve_command


def _service() -> RegistryService:
    return current_app.extensions["registry"]


def _read(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    limit = current_app.config["REGISTRY_MAX_IMPORT_BYTES"]
    if len(data) > limit:
        raise click.ClickException(f"{path} is {len(data)} bytes, more than the limit of {limit}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not valid UTF-8 (byte {exc.start})") from None


def _fail(exc: RegistryError) -> None:
    if isinstance(exc, ValidationError):
        for err in exc.errors:
            click.echo(f"{err.field or 'document'}: {err.message}", err=True)
        raise SystemExit(1)
    raise click.ClickException(str(exc))


class _Progress:
    """Progress on stderr: a bar on a terminal, a line every ~5% otherwise (logs, CI)."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        if total < 20:
            return
        pct = done * 100 // total
        if self.tty:
            click.echo(f"\r{self.label} {done}/{total} ({pct}%)", err=True, nl=done == total)
        elif pct // 5 != self.last // 5 or done == total:
            click.echo(f"{self.label} {done}/{total} ({pct}%)", err=True)
        self.last = pct


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create the store (migrating an existing one) and the default registry."""
    service = _service()
    slug = service.default_registry
    if service.store.get_registry(slug) is None:
        service.create_registry(
            Registry(slug=slug, display_name=slug.title()), actor="cli", source=SOURCE_CLI
        )
        click.echo(f'created registry "{slug}"')
    click.echo(f"store ready: {service.store.kind} ({_safe_url(service.store.url)})")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--mode", type=click.Choice(MODES), default="upsert", show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the plan, write nothing.")
@click.option("--actor", default="cli", show_default=True, help="Recorded in history.")
@with_appcontext
def import_command(file: str, mode: str, dry_run: bool, actor: str) -> None:
    """Import a YAML file (bundle, single registry or legacy), all or nothing."""
    text = _read(file)
    try:
        plan = import_yaml(
            _service(),
            text,
            mode=mode,
            dry_run=dry_run,
            actor=actor,
            max_bytes=current_app.config["REGISTRY_MAX_IMPORT_BYTES"],
            progress=_Progress("importing"),
        )
    except RegistryError as exc:
        _fail(exc)
        return
    for item in plan.items:
        if item.action == "unchanged" and not item.reason:
            continue
        name = f"{item.registry}/{item.profile}" if item.profile else f"{item.registry} (registry)"
        click.echo(f"{item.action:9} {name}" + (f": {item.reason}" if item.reason else ""))
        for d in item.diff if item.action == "updated" else []:
            click.echo(f"          {d['path']}: {d['before']!r} -> {d['after']!r}")
    counts = ", ".join(f"{n} {a}" for a, n in plan.counts().items() if n)
    verb = "would change" if dry_run else "changed"
    click.echo(f"{plan.format} document, mode {mode}: {counts or 'nothing'}; {verb} {plan.changes}")


@click.command("export")
@click.option("--registry", "registry", default=None, help="Only this registry.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def export_command(registry: str | None, output: str | None) -> None:
    """Write the canonical YAML bundle (stdout by default)."""
    try:
        text = export_yaml(_service(), registry)
    except RegistryError as exc:
        _fail(exc)
        return
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@click.command("migrate-legacy")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@with_appcontext
def migrate_legacy_command(file: str, output: str) -> None:
    """Convert a legacy (or any accepted) YAML file into the canonical bundle."""
    service = _service()
    try:
        doc = decode_registries(_read(file), service.default_registry)
        prepared = prepare_document(service, doc.registries)
        problems = check_defaults(prepared)
        if problems:
            raise ValidationError(problems)
    except RegistryError as exc:
        _fail(exc)
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
@with_appcontext
def validate_command(file: str, strict: bool) -> None:
    """Check a YAML file; exit 0 when valid, else one line per problem with its field path."""
    service = _service()
    try:
        doc = decode_registries(_read(file), service.default_registry)
        problems = check_defaults(prepare_document(service, doc.registries, strict=strict))
        if problems:
            raise ValidationError(problems)
    except RegistryError as exc:
        _fail(exc)
        return
    count = sum(len(r.profiles) for r in doc.registries)
    click.echo(f"valid {doc.format} document: {len(doc.registries)} registries, {count} profiles")


@click.group("token")
def token_group() -> None:
    """Create, list and revoke API tokens (secrets are shown once, stored hashed)."""


def _tokens() -> TokenStore:
    return current_app.extensions["tokens"]


@token_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the token may do.")
@click.option("--name", required=True, help="Unique among active tokens; recorded as the actor.")
@with_appcontext
def token_create_command(role: str, name: str) -> None:
    """Create a token and print it alone on stdout (the only time it is shown)."""
    try:
        issued = issue(_tokens(), name, role, created_by="cli")
    except RegistryError as exc:
        _fail(exc)
        return
    click.echo(issued.secret)


@token_group.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@with_appcontext
def token_list_command(include_revoked: bool) -> None:
    """Tokens as a table (never their secrets)."""
    rows = [("ID", "NAME", "ROLE", "CREATED", "LAST USED")]
    for t in _tokens().list(include_revoked=include_revoked):
        name = f"{t.name} (revoked)" if t.revoked else t.name
        rows.append((t.id, name, t.role, _when(t.created_at_ms), _when(t.last_used_at_ms)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@token_group.command("revoke")
@click.argument("id_or_name")
@with_appcontext
def token_revoke_command(id_or_name: str) -> None:
    """Revoke a token by id, or by the name of an active token."""
    store = _tokens()
    active = [t for t in store.list() if id_or_name in (t.id, t.name)]
    token = active[0] if active else store.get(id_or_name)
    if token is None:
        raise click.ClickException(f'token "{id_or_name}" not found')
    store.revoke(token.id)
    click.echo(f'revoked token {token.id} ("{token.name}", {token.role})')


def _when(ms: int | None) -> str:
    if not ms:
        return "never"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


COMMANDS = [
    init_command,
    token_group,
    serve_command,
    import_command,
    export_command,
    migrate_legacy_command,
    validate_command,
    bench_command,
]


def register_commands(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _safe_url(url: str) -> str:
    """Hide a password in a database URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def main() -> None:
    from app import create_app

    FlaskGroup(
        name="profile-registry",
        create_app=create_app,
        help="Profile Registry: profiles for AI chat apps, as data.",
    ).main(prog_name="profile-registry")
