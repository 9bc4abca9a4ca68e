"""Import (YAML body: plan, dry run or apply, all or nothing) and export (canonical YAML)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from registry.domain.errors import FieldError, ValidationError
from registry.domain.importer import EXPORT_FORMATS, MODES, export_yaml, import_yaml
from registry.domain.tokens import ADMIN, EDITOR, READER

from ..auth import authorize, current_actor, require
from ..deps import get_service
from ..guards import check_body_type
from ..http import (
    int_param,
    json_response,
    not_modified,
    text_param,
)
from .common import (
    DOCUMENT_TYPES,
    bool_param,
    registry_path,
)

bp = Blueprint("transfer", __name__)

MAX_CONFIRM = 10**9


@bp.post("/import")
@require(EDITOR)
def import_document() -> Response:
    """A YAML body (bundle, single registry or legacy map), or a JSON one (`application/json`,
    the same shapes) -> the import plan.

    `mode`: create-only | upsert (default) | mirror (admin only: it deletes);
    `dry_run=true` plans without writing. Applying is all or nothing. A mirror apply that
    deletes anything needs `confirm=<deletions.total of its dry run>`, else 409 listing what
    would be deleted (nothing written).
    """
    service = get_service()
    mode = request.args.get("mode", "upsert").strip().lower() or "upsert"
    if mode not in MODES:
        raise ValidationError(FieldError("mode", f"must be one of {', '.join(MODES)}"))
    dry_run = bool_param("dry_run")
    confirm = int_param("confirm", -1, minimum=0, maximum=MAX_CONFIRM)
    if mode == "mirror":
        authorize(ADMIN)
    check_body_type(DOCUMENT_TYPES)
    raw = request.get_data(cache=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            FieldError("body", f"not valid UTF-8 (byte {exc.start})"),
            message="bad request: the YAML document is not valid UTF-8",
        ) from None
    if not text.strip():
        # An empty document would mean "nothing" (a mirror of it deletes everything).
        raise ValidationError(FieldError("body", "request body must be a YAML document"))
    if request.mimetype == "application/json" and not text.lstrip().startswith("{"):
        # declared JSON is read as JSON: an object, parsed by the JSON lane (see yaml_safe)
        raise ValidationError(FieldError("body", "a JSON import body must be a JSON object"))
    plan = import_yaml(
        service,
        text,
        mode=mode,
        dry_run=dry_run,
        actor=current_actor(),
        max_bytes=current_app.config["REGISTRY_MAX_IMPORT_BYTES"],
        confirm=None if confirm < 0 else confirm,
    )
    return json_response(plan.to_data())


@bp.get("/export")
@require(READER)
def export_document() -> Response:
    """The canonical bundle of the store (or of `?registry=`) as a download: YAML, or JSON
    with `?format=json` (the same shape, read back by every import)."""
    service = get_service()
    registry = text_param("registry")
    if registry is not None:
        registry = service.get_registry(registry_path(registry)).slug
    fmt = text_param("format") or "yaml"
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(
            FieldError("format", "must be yaml or json"), message="invalid format"
        )
    etag = f"export:{service.latest_change_id()}:{registry or '*'}:{fmt}"
    if not_modified(etag):
        return json_response(None, etag=etag)
    text = export_yaml(service, registry, format=fmt)
    media = "application/json" if fmt == "json" else "application/yaml; charset=utf-8"
    response = Response(text, content_type=media)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{registry or "profiles"}.{fmt}"'
    )
    response.set_etag(etag)
    return response
