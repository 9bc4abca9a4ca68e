"""Import and export pages.

Import is two steps. The dry run (a multipart form: an uploaded file or pasted YAML) shows the
plan: counts, each item's action and per-profile field diffs. The plan carries the YAML in a
hidden textarea and the store's `latest_change_id` at planning time; "Apply" posts both
back (nothing is kept in the session) and is refused (409) if the store changed meanwhile, so
what gets applied is exactly what was reviewed. Input problems (invalid YAML, validation
errors with field paths, read-only registries) are 422 in the result block, which htmx swaps.
Roles: editor; `mirror` (it deletes) needs admin.

A mirror plan that deletes anything shows a danger banner listing what goes (registries with
their profiles, and profiles), and its Apply form asks to type `CONFIRM_WORD` (or the slugs of
the registries it deletes). The server checks the typed text (JavaScript only enables the
button early); the form also carries the number of deletions the operator saw, which the
domain compares with the re-planned apply (`confirm`), so a different plan is never applied.

Limits: a document may be at most `REGISTRY_MAX_IMPORT_BYTES`, bounded by
`MAX_CONTENT_LENGTH` (the request limit). Pasted text is a multipart text field, so it is
also bounded by `MAX_FORM_MEMORY_SIZE`; larger documents are uploaded as a file.

Export downloads the canonical YAML of the store or one registry, byte-identical to
`export_yaml` (and to the JSON API twin `GET /api/export`).
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, url_for

from registry.domain.errors import (
    ConfirmationRequired,
    ConflictError,
    FieldError,
    NotFoundError,
    PayloadTooLarge,
    PolicyViolation,
    ReadOnlyStore,
    ValidationError,
)
from registry.domain.importer import MODES, ImportPlan, export_yaml, import_yaml

from ..deps import get_service
from ..htmx import render
from ..http import slug_param, text_param
from .history import diff_rows
from .session import actor, current_viewer, page_require

bp = Blueprint("io", __name__)

MODE_HELP = {
    "create-only": "Add what is missing. Existing registries and profiles are never changed, "
    "even if the file differs (they are listed as skipped).",
    "upsert": "Add what is missing and update what differs. Nothing is deleted.",
    "mirror": "Make the store equal to the file: add, update, and delete every registry and "
    "profile the file does not contain. Needs the admin role.",
}
CONFIRM_WORD = "delete"
FORM_OVERHEAD = 4096  # csrf token, mode, change id and multipart/urlencoding framing


def import_limit() -> int:
    """The largest document accepted: the import limit, bounded by the request limit."""
    limit = int(current_app.config["REGISTRY_MAX_IMPORT_BYTES"])
    request_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request_limit:
        limit = min(limit, int(request_limit) - FORM_OVERHEAD)
    return max(limit, 0)


def paste_limit() -> int:
    form_limit = current_app.config.get("MAX_FORM_MEMORY_SIZE")
    return min(import_limit(), int(form_limit)) if form_limit else import_limit()


def _context(**extra: Any) -> dict[str, Any]:
    viewer = current_viewer()
    ctx: dict[str, Any] = {
        "modes": [(m, MODE_HELP[m]) for m in MODES],
        "mode": "upsert",
        "text": "",
        "pasted": None,  # None: the request's own pasted text (errors keep it)
        "plan": None,
        "plan_groups": [],
        "per_registry": [],
        "group_shown": GROUP_SHOWN,
        "applied": False,
        "stale": False,
        "error": "",
        "errors": [],
        "latest_change_id": 0,
        "too_large_to_apply": False,
        "confirm_word": CONFIRM_WORD,
        "confirm_text": "",
        "confirm_error": "",
        "deleted": [],
        "can_import": bool(viewer and viewer.can("editor")),
        "can_mirror": bool(viewer and viewer.can("admin")),
        "import_limit": import_limit(),
        "pack_document": pack_document,
        "paste_limit": paste_limit(),
        "nav": "io",
    }
    ctx.update(extra)
    return ctx


GROUP_SHOWN = 50  # items listed per action group; the rest are counted (the API has all)
ACTION_ORDER = ("deleted", "updated", "created", "skipped", "unchanged")


def _plan_groups(plan: ImportPlan) -> list[dict[str, Any]]:
    """The plan by action (deletions first: they matter most), each group listing at most
    GROUP_SHOWN items, so a 2,000-profile plan stays a page a person can read. Created items
    show the file's values only (nothing is stored to compare with)."""
    by_action: dict[str, list[Any]] = {}
    for item in plan.items:
        by_action.setdefault(item.action, []).append(item)
    codecs = get_service().codecs
    groups = []
    for action in ACTION_ORDER:
        items = by_action.get(action, [])
        if not items:
            continue
        rows = [
            {
                "kind": item.kind,
                "registry": item.registry,
                "profile": item.profile,
                "reason": item.reason,
                "diff": diff_rows(item.diff, codecs) if action in ("updated", "skipped") else [],
                "fields": [d["path"] for d in item.diff if d["path"] != "slug"]
                if action == "created"
                else [],
            }
            for item in items[:GROUP_SHOWN]
        ]
        groups.append(
            {
                "action": action,
                "total": len(items),
                "rows": rows,
                "open": action in ("deleted", "updated", "skipped"),
            }
        )
    return groups


def _per_registry(plan: ImportPlan) -> list[dict[str, Any]]:
    """Profile counts per registry and action (the summary table)."""
    table: dict[str, dict[str, int]] = {}
    for item in plan.items:
        if item.kind == "profile":
            row = table.setdefault(item.registry, {})
            row[item.action] = row.get(item.action, 0) + 1
    return [{"registry": slug, "counts": counts} for slug, counts in sorted(table.items())]


def _deleted(plan: ImportPlan) -> list[dict[str, Any]]:
    """What a plan deletes, for the danger banner: each deleted registry with the profiles
    that go with it, then profiles deleted from registries that stay."""
    gone = set(plan.deleted_registries)
    out: list[dict[str, Any]] = [
        {
            "registry": slug,
            "profiles": [
                i.profile
                for i in plan.items
                if i.kind == "profile" and i.registry == slug and i.action == "deleted"
            ],
        }
        for slug in plan.deleted_registries
    ]
    out += [
        {"registry": i.registry, "profile": i.profile}
        for i in plan.items
        if i.kind == "profile" and i.action == "deleted" and i.registry not in gone
    ]
    return out


def _confirmed(plan_registries: list[str]) -> bool:
    """Whether the typed confirmation is the word shown, or the deleted registries' slugs."""
    typed = request.form.get("confirm_word", "").strip().lower()
    if typed == CONFIRM_WORD:
        return True
    slugs = {t for t in typed.replace(",", " ").split() if t}
    return bool(plan_registries) and slugs == set(plan_registries)


def pack_document(text: str) -> str:
    """The reviewed document as the Apply form carries it back: zlib-compressed, base64url.

    Configuration documents are repetitive (a 2,000-profile bundle of 860 KB packs to a few
    tens of KB), so the plan page stays small and a plain form post can still apply exactly
    what was reviewed, on any app instance (nothing is kept on the server)."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def unpack_document(packed: str, limit: int) -> str:
    """The text of `pack_document`, refusing anything else and anything over `limit` bytes
    once inflated (a crafted deflate stream cannot blow up in memory)."""
    try:
        raw = base64.urlsafe_b64decode(packed.encode("ascii"))
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw, limit + 1)
        complete = inflater.eof and not inflater.unconsumed_tail
    except (ValueError, zlib.error):
        complete, data = False, b""
    if len(data) > limit:
        raise ValidationError(FieldError("document", f"the document is larger than {limit} bytes"))
    if not complete:
        raise ValidationError(
            FieldError(
                "document", "the reviewed document did not come back whole; run the dry run again"
            )
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(FieldError("document", "the document is not valid UTF-8")) from None


def _read_document() -> str:
    """The reviewed document (Apply), else the uploaded file (if one was chosen) or the
    pasted text, as UTF-8 text."""
    limit = import_limit()
    packed = request.form.get("document", "")
    if packed:
        return unpack_document(packed, limit)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        try:
            raw = upload.stream.read(limit + 1)
        finally:
            upload.close()  # large uploads are spooled to a temporary file
        if len(raw) > limit:
            raise ValidationError(
                FieldError("file", f"the file is larger than the limit of {limit} bytes")
            )
        field = "file"
    else:
        raw = request.form.get("yaml", "").encode("utf-8", "surrogatepass")
        field = "yaml"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            FieldError(field, f"the document is not valid UTF-8 (byte {exc.start})")
        ) from None
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise ValidationError(
            FieldError(field, "choose a YAML file or paste a YAML document"),
            message="nothing to import: choose a YAML file or paste a YAML document",
        )
    return text


def _fits_apply(text: str) -> bool:
    """Whether re-posting the packed document stays under the request limit."""
    request_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not request_limit:
        return True
    return len(pack_document(text)) + FORM_OVERHEAD <= int(request_limit)


@bp.get("/import")
@page_require("reader")
def import_page():
    """The import form (upload or paste, mode); the result block starts empty."""
    return render("io/import.html", "result", **_context())


@bp.post("/import")
@page_require("editor")
def import_submit():
    """`action=dry-run` plans; `action=apply` re-plans and writes, if nothing changed since."""
    service = get_service()
    action = request.form.get("action", "dry-run")
    mode = request.form.get("mode", "upsert").strip().lower()
    # on errors the form keeps what was pasted (an uploaded file replaces it once read)
    ctx = _context(mode=mode if mode in MODES else "upsert", text=request.form.get("yaml", ""))
    try:
        if action not in ("dry-run", "apply"):
            raise ValidationError(FieldError("action", "must be dry-run or apply"))
        if mode not in MODES:
            raise ValidationError(FieldError("mode", f"must be one of {', '.join(MODES)}"))
        if mode == "mirror" and not ctx["can_mirror"]:
            abort(403, "A mirror import deletes what the file lacks; it needs the admin role.")
        text = _read_document()
        ctx["text"] = text
        # the paste box shows pasted text again, never an uploaded or carried document
        pasted = not request.form.get("document") and not getattr(
            request.files.get("file"), "filename", ""
        )
        ctx["pasted"] = text if pasted else ""
        if action == "apply":
            seen = request.form.get("latest_change_id", "").strip()
            latest = service.latest_change_id()
            if not seen.isdigit() or int(seen) != latest:
                ctx.update(stale=True, latest_change_id=latest)
                return render("io/import.html", "result", status=409, **ctx)
            ctx["confirm_text"] = request.form.get("confirm_word", "")
            try:
                plan = import_yaml(
                    service,
                    text,
                    mode=mode,
                    actor=actor(),
                    max_bytes=import_limit(),
                    confirm=_confirmation(),
                )
            except ConfirmationRequired as exc:
                return _unconfirmed(exc, ctx, latest)
            ctx.update(
                plan=plan,
                plan_groups=_plan_groups(plan),
                per_registry=_per_registry(plan),
                applied=True,
            )
            return render("io/import.html", "result", **ctx)
        latest = service.latest_change_id()  # read before planning: a later write is caught
        plan = import_yaml(service, text, mode=mode, dry_run=True, max_bytes=import_limit())
        ctx.update(
            plan=plan,
            plan_groups=_plan_groups(plan),
            per_registry=_per_registry(plan),
            latest_change_id=latest,
            too_large_to_apply=not _fits_apply(text),
            deleted=_deleted(plan),
        )
        return render("io/import.html", "result", **ctx)
    except ValidationError as exc:
        ctx.update(error=str(exc), errors=exc.errors)
    except (ReadOnlyStore, PolicyViolation, NotFoundError, PayloadTooLarge) as exc:
        ctx.update(error=str(exc))
    except ConflictError as exc:
        ctx.update(stale=True, error=str(exc), latest_change_id=service.latest_change_id())
        return render("io/import.html", "result", status=409, **ctx)
    return render("io/import.html", "result", status=422, **ctx)


def _confirmation() -> int | None:
    """The number of deletions the operator confirmed: the count the reviewed plan showed,
    when the typed confirmation is right (None otherwise: the domain refuses a deleting
    mirror without it)."""
    seen = request.form.get("deletions", "").strip()
    registries = request.form.get("deleted_registries", "").split()
    if not seen.isdigit() or len(seen) > 9 or not _confirmed(registries):
        return None
    return int(seen)


def _unconfirmed(exc: ConfirmationRequired, ctx: dict[str, Any], latest: int):
    """An apply refused for its confirmation: the plan again, with the message beside the
    confirmation field and the typed text kept (422, nothing written)."""
    plan = exc.plan
    assert isinstance(plan, ImportPlan)
    plan.dry_run = True
    typed = ctx["confirm_text"].strip()
    if not typed:
        message = f"Type {CONFIRM_WORD} to confirm the deletions."
    elif _confirmed(request.form.get("deleted_registries", "").split()):
        message = (
            "The import now deletes something other than the plan you confirmed: review the "
            "deletions below and confirm again."
        )
    else:
        message = f'"{typed}" is not {CONFIRM_WORD}: type {CONFIRM_WORD} to confirm the deletions.'

    ctx.update(
        plan=plan,
        plan_groups=_plan_groups(plan),
        per_registry=_per_registry(plan),
        latest_change_id=latest,
        too_large_to_apply=not _fits_apply(ctx["text"]),
        deleted=_deleted(plan),
        confirm_error=message,
    )
    return render("io/import.html", "result", status=422, **ctx)


def _registry_param() -> str | None:
    """`?registry=` as the export API reads it: a malformed slug is a 400, a missing one 404."""
    raw = text_param("registry")
    if raw is None:
        return None
    return get_service().get_registry(slug_param(raw, "registry", "registry")).slug


@bp.get("/export")
@page_require("reader")
def export_page():
    """Pick all registries or one, then download the canonical YAML."""
    registry = _registry_param()
    return render(
        "io/export.html",
        registries=get_service().list_registries(),
        selected=registry or "",
        api_url=url_for("api.transfer.export_document", registry=registry),
        nav="io",
    )


@bp.get("/export/download")
@page_require("reader")
def export_download():
    """The canonical YAML bundle as an attachment (`?registry=` for one registry)."""
    registry = _registry_param()
    text = export_yaml(get_service(), registry)
    response = Response(text, content_type="application/yaml; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{registry or "profiles"}.yaml"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
