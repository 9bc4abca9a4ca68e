"""The `profile-registry` commands (the groups that run them: registry/main.py).

Only commands that use the store build the app: `--help`, `--version`, `validate`,
`migrate-legacy` and `bench` never open or create one (nor the instance folder). The
first-start admin token is created by `init`, `run` and `serve` alone.

Store selection follows the app: `REGISTRY_STORE=yaml:PATH`, else `DATABASE_URL`, else the
SQLite file in the instance folder. Errors are one clear line and a non-zero exit code.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from flask.cli import run_command as flask_run_command

from registry import config as cfg
from registry.bench.command import bench_command
from registry.cli_offline import (
    fail,
    migrate_legacy_command,
    read_text,
    validate_command,
    without_gc_pauses,
)
from registry.domain import doctor, sessions
from registry.domain.errors import RegistryError
from registry.domain.importer import (
    MODES,
    ImportPlan,
    import_yaml,
    iter_export,
)
from registry.domain.metadata import human_time, now_ms
from registry.domain.service import SOURCE_CLI, RegistryService
from registry.domain.sessions import AccountStore
from registry.domain.tokens import ADMIN, ROLES, issue
from registry.domain.webhooks import (
    EVENT_TYPES,
    WebhookStore,
    WebhooksUnavailable,
    add_subscription,
    allowed_hosts,
    enqueue_test,
    subscription,
)
from registry.serve import serve_command
from registry.web.deps import auth_enabled
from registry.web.tokens import announce_login, bootstrap_admin, login_link_url
from registry.webhook_worker import LEASE_MS, deliver


def _service() -> RegistryService:
    return current_app.extensions["registry"]


def _read(path: str, limit: int | None = None) -> str:
    if limit is None:
        limit = current_app.config["REGISTRY_MAX_IMPORT_BYTES"]
    return read_text(path, limit)


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
    """Create the store (migrating an existing one), the default registry and, with auth on,
    the admin token (first start)."""
    service = _service()
    if service.ensure_default_registry(actor="cli", source=SOURCE_CLI) is not None:
        click.echo(f'created registry "{service.default_registry}"')
    click.echo(f"store ready: {service.backend_description}")
    admin = bootstrap_admin(current_app._get_current_object())  # type: ignore[attr-defined]
    if admin is not None:
        click.echo(
            f'created admin token "{admin.name}" (its secret is never shown: `run` and '
            "`serve` print a one-time login link until an admin logs in)",
            err=True,
        )


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--mode", type=click.Choice(MODES), default="upsert", show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the plan, write nothing.")
@click.option(
    "--yes",
    is_flag=True,
    help="Apply a mirror import that deletes without asking (needed when not on a terminal).",
)
@click.option("--actor", default="cli", show_default=True, help="Recorded in history.")
@with_appcontext
@without_gc_pauses
def import_command(file: str, mode: str, dry_run: bool, yes: bool, actor: str) -> None:
    """Import a YAML file (bundle, single registry or legacy), all or nothing.

    A mirror import that deletes registries or profiles asks first on a terminal; elsewhere
    (scripts, CI) it needs --yes."""
    text = _read(file)
    limit = current_app.config["REGISTRY_MAX_IMPORT_BYTES"]
    confirm = None
    try:
        if mode == "mirror" and not dry_run:
            plan = import_yaml(_service(), text, mode=mode, dry_run=True, max_bytes=limit)
            if plan.deletions:
                _confirm_deletions(plan, yes)
                confirm = plan.deletions
        plan = import_yaml(
            _service(),
            text,
            mode=mode,
            dry_run=dry_run,
            actor=actor,
            max_bytes=limit,
            progress=_Progress("importing"),
            confirm=confirm,
        )
    except RegistryError as exc:
        fail(exc)
        return
    _print_plan(plan)
    counts = ", ".join(f"{n} {a}" for a, n in plan.counts().items() if n)
    verb = "would change" if dry_run else "changed"
    click.echo(f"{plan.format} document, mode {mode}: {counts or 'nothing'}; {verb} {plan.changes}")


def _print_plan(plan: ImportPlan, *, err: bool = False) -> None:
    for item in plan.items:
        if item.action == "unchanged" and not item.reason:
            continue
        name = f"{item.registry}/{item.profile}" if item.profile else f"{item.registry} (registry)"
        line = f"{item.action:9} {name}" + (f": {item.reason}" if item.reason else "")
        click.echo(line, err=err)
        for d in item.diff if item.action == "updated" else []:
            click.echo(f"          {d['path']}: {d['before']!r} -> {d['after']!r}", err=err)


def _interactive() -> bool:
    """Whether a person can answer a question (stdin and stderr are a terminal)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _confirm_deletions(plan: ImportPlan, yes: bool) -> None:
    """A mirror that deletes: go on with --yes, ask on a terminal, refuse otherwise."""
    what = plan.deletion_summary()
    lead = "the file holds no registries: " if plan.empty_document else ""
    if yes:
        return
    if not _interactive():
        raise click.ClickException(
            f"{lead}this mirror import deletes {what}; nothing was written. "
            "Review it with --dry-run, then re-run with --yes to apply it"
        )
    _print_plan(plan, err=True)
    click.echo(f"{lead}this mirror import deletes {what}.", err=True)
    if not click.confirm("Apply it?", default=False, err=True):
        raise click.ClickException("nothing was written")


@click.command("export")
@click.option("--registry", "registry", default=None, help="Only this registry.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default=None,
    help="yaml (default) or json; with -o, a .json file name means json.",
)
@with_appcontext
@without_gc_pauses
def export_command(registry: str | None, output: str | None, fmt: str | None) -> None:
    """Write the canonical bundle (stdout by default), as YAML or as JSON (same shape; every
    import reads either, JSON about ten times faster)."""
    if fmt is None:
        fmt = "json" if output and output.lower().endswith(".json") else "yaml"
    pieces = iter_export(_service(), registry, format=fmt)
    try:
        first = next(pieces)  # a missing registry fails before a file is created
    except RegistryError as exc:
        fail(exc)
        return
    if output:
        with open(output, "w", encoding="utf-8") as out:
            out.write(first)
            out.writelines(pieces)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(first, nl=False)
        for piece in pieces:
            click.echo(piece, nl=False)


@click.command("doctor")
@click.option("--fix", is_flag=True, help="Repair what can be repaired, each as a revision.")
@with_appcontext
def doctor_command(fix: bool) -> None:
    """Find stored values today's rules would refuse: refused characters, middleware config
    slots no use reads, a registry default naming a missing profile, invalid profiles.

    One line per finding on stdout (`registry/profile: field: reason`); exit 1 while any
    remain. `--fix` writes each repairable item once through the service (actor `doctor`)."""
    service = _service()
    findings = doctor.examine(service, progress=_Progress("examining"))
    for finding in findings:
        click.echo(("" if finding.fixable else "(manual) ") + finding.line())
    if not findings:
        click.echo("no problems found", err=True)
        return
    fixable = [f for f in findings if f.fixable]
    if not fix:
        click.echo(
            f"{len(findings)} problem(s), {len(fixable)} repairable: run "
            "`profile-registry doctor --fix`",
            err=True,
        )
        raise SystemExit(1)
    done, failed = doctor.repair(service, fixable, source=SOURCE_CLI)
    for line in done:
        click.echo(f"repaired {line}")
    for line in failed:
        click.echo(line, err=True)
    left = len(findings) - len(fixable) + len(failed)
    if left:
        click.echo(f"{left} problem(s) left for a person to fix", err=True)
        raise SystemExit(1)


@click.group("token")
def token_group() -> None:
    """Create, list and revoke API tokens (secrets are shown once, stored hashed)."""


def _tokens() -> AccountStore:
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
        fail(exc)
        return
    click.echo(issued.secret)


@token_group.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@with_appcontext
def token_list_command(include_revoked: bool) -> None:
    """Tokens as a table (never their secrets)."""
    rows = [("ID", "NAME", "ROLE", "CREATED", "LAST USED")]
    for t in _tokens().all(include_revoked=include_revoked):
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
    active = [t for t in store.all() if id_or_name in (t.id, t.name)]
    token = active[0] if active else store.get(id_or_name)
    if token is None:
        raise click.ClickException(f'token "{id_or_name}" not found')
    store.revoke(token.id)
    click.echo(f'revoked token {token.id} ("{token.name}", {token.role})')


@click.group("webhook")
def webhook_group() -> None:
    """Add, list, remove and test webhook subscriptions (secrets are shown once)."""


def _webhooks() -> WebhookStore:
    store = current_app.extensions.get("webhooks")
    if store is None:
        raise click.ClickException(str(WebhooksUnavailable()))
    return store


@webhook_group.command("add")
@click.argument("url")
@click.option("--registry", default="", help="Only this registry's events.")
@click.option(
    "--events",
    multiple=True,
    help=f"Event types (repeat, or comma-separated) [default: all]: {', '.join(EVENT_TYPES)}",
)
@with_appcontext
def webhook_add_command(url: str, registry: str, events: tuple[str, ...]) -> None:
    """Subscribe URL and print its signing secret alone on stdout (the only time it is shown)."""
    allow = allowed_hosts(str(current_app.config.get("REGISTRY_WEBHOOK_ALLOW_HOSTS") or ""))
    try:
        if registry:
            _service().get_registry(registry)
        new = add_subscription(
            _webhooks(),
            url,
            registry=registry,
            events=events,
            allow=allow,
            actor="cli",
            now_ms=now_ms(),
        )
    except RegistryError as exc:
        fail(exc)
        return
    click.echo(f"added webhook {new.subscription.id} -> {new.subscription.url}", err=True)
    click.echo(new.secret)


@webhook_group.command("list")
@with_appcontext
def webhook_list_command() -> None:
    """Subscriptions as a table (never their secrets)."""
    rows = [("ID", "URL", "REGISTRY", "EVENTS", "STATE")]
    for sub in _webhooks().list_subscriptions():
        state = "active" if sub.active else f"disabled: {sub.disabled_reason}"
        rows.append((str(sub.id), sub.url, sub.registry or "*", ",".join(sub.events) or "*", state))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@webhook_group.command("remove")
@click.argument("sub_id", type=int)
@with_appcontext
def webhook_remove_command(sub_id: int) -> None:
    """Remove a subscription with its pending deliveries and log."""
    try:
        _webhooks().remove_subscription(sub_id)
    except RegistryError as exc:
        fail(exc)
        return
    click.echo(f"removed webhook {sub_id}")


@webhook_group.command("test")
@click.argument("sub_id", type=int)
@with_appcontext
def webhook_test_command(sub_id: int) -> None:
    """Send a signed test event now and say how the receiver answered."""
    store = _webhooks()
    try:
        sub = subscription(store, sub_id)
    except RegistryError as exc:
        fail(exc)
        return
    at = now_ms()
    delivery = enqueue_test(store, sub, at, due_ms=at + LEASE_MS)
    attempt = deliver(store, delivery, current_app.config)
    if attempt is None or not attempt.ok:
        detail = "" if attempt is None else (attempt.error or f"HTTP {attempt.status}")
        raise click.ClickException(f"test event not accepted: {detail} (it will be retried)")
    click.echo(f"delivered: HTTP {attempt.status} in {attempt.latency_ms} ms")


@click.command("login-link")
@click.option(
    "--role", type=click.Choice(ROLES), default=ADMIN, show_default=True, help="Role to log in as."
)
@click.option(
    "--name",
    default=None,
    help="Token whose sessions the link starts; created (without a known secret) if missing "
    "[default: the role's name].",
)
@with_appcontext
def login_link_command(role: str, name: str | None) -> None:
    """Print a one-time, short-lived login link for the admin UI (stdout, the URL alone)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not auth_enabled():
        raise click.ClickException("authentication is off (REGISTRY_AUTH=off): no login needed")
    store = _tokens()
    minutes = int(app.config["REGISTRY_LOGIN_LINK_MINUTES"])
    try:
        token = sessions.link_token(store, role, name, now_ms())
        code = sessions.make_login_link(store, token, now_ms(), minutes * 60_000)
    except sessions.LinkRefused as exc:
        raise click.ClickException(str(exc)) from None
    except RegistryError as exc:
        fail(exc)
        return
    click.echo(login_link_url(cfg.base_url(app.config), code))
    where = (
        ""
        if app.config.get("REGISTRY_BASE_URL")
        else " (set REGISTRY_BASE_URL for another address)"
    )
    click.echo(
        f'one-time link for token "{token.name}" ({token.role}), valid {minutes} minutes{where}',
        err=True,
    )


@click.command(
    "run",
    params=list(flask_run_command.params),
    help="Development server (Flask's `run`); prints a login link until an admin logs in.",
)
@click.pass_context
def run_command(ctx: click.Context, **kwargs: Any) -> None:
    """`flask run` plus the first-start banner, printed by the process the user started (the
    reloader's child restarts on code changes and must not print a new link each time)."""
    from werkzeug.serving import is_running_from_reloader

    if not is_running_from_reloader():
        app = ctx.ensure_object(ScriptInfo).load_app()
        announce_login(app, kwargs.get("host"), kwargs.get("port"))
    ctx.invoke(flask_run_command, **kwargs)


def _when(ms: int | None) -> str:
    return human_time(ms, "never")


COMMANDS = [
    init_command,
    login_link_command,
    token_group,
    webhook_group,
    serve_command,
    import_command,
    export_command,
    migrate_legacy_command,
    validate_command,
    doctor_command,
    bench_command,
]


def register_commands(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
