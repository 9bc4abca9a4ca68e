"""The profile page and the schema-driven profile editor (see README, Admin UI).

Decisions (kept here so the next change keeps them):
- One editor form. Its fields map to the profile by name (see `registry.forms.profile_editor`);
  the view only orchestrates: read the form, validate with the service, save, render.
- Array and extension buttons post the whole form with `op=...`: the server applies the
  operation and re-renders the form (200) without saving, so they work with and without JS
  (htmx posts the form and swaps the form block).
- Failed saves answer 422 with the submitted values and each error beside its field (htmx
  swaps 400/409/412/422, see `htmx.py`); errors come from `service.prepare_profile` /
  `update_profile`, the API's own validation, attached by field path.
- Inline validation: every section posts the form to `.../edit/validate?field=<section>` on
  `change` and gets that section back with its errors (always 200: a report, not a save).
  static/js/app.js merges that answer (error messages and invalid marks only) instead of
  replacing the section, so typing, focus and clicks made while it was out are kept.
- Saves carry `expected_version` and `base_version`. A version conflict answers 409 with the
  user's values and the three-way merge of the form (yours) with the current version
  (theirs) over the base version (from the revision history): your changes, their changes,
  and the fields both changed side by side with a radio choice each (`choice:<path>`).
  "Apply my changes on top" (the default) posts `merge=<current version>` and goes through
  `service.merge_update`; "Overwrite" (only when it would revert some of their changes, and
  naming them) resubmits with `overwrite=<current version>`. The YAML store has no history:
  no merge, only reload or an overwrite naming the fields it changes.
- A save that changes nothing writes nothing (the service's no-op rule) and says "Nothing to
  save".
- Read-only profiles (`policy.read_only`) and file-managed registries render the editor
  disabled with the reason; a POST gets 403 and nothing is stored.
- Successful saves redirect to the profile page (htmx: `HX-Redirect`), with a flash message.
- Saving "Read-only" newly checked is confirmed first (`confirm_read_only=1`, see
  `_needs_read_only_confirmation`).
- Focus (README, Admin UI: "Focus and scrolling"): each editor button's `formaction` names
  the fragment of what should have the focus after it (the new or moved item, the next one
  after a remove); a refused save marks the error summary or conflict panel `autofocus`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for

from registry.domain.errors import (
    MergeConflict,
    MergeUnavailable,
    PolicyViolation,
    ReadOnlyStore,
    ValidationError,
    VersionConflict,
)
from registry.domain.merge import MISSING, SIDES, FieldChange, changes, content, merge_profiles
from registry.domain.middleware import effective_configs
from registry.domain.model import Profile, Registry
from registry.domain.service import SOURCE_UI
from registry.forms.profile_editor import (
    EditorForm,
    apply_editor_op,
    attach_errors,
    form_data,
    invalid_fields,
    read_form,
    validate,
)
from registry.forms.schema_view import config_view, extension_view

from ..deps import get_service
from ..htmx import htmx_redirect, is_htmx, render
from .page_cache import cached_page
from .provenance import provenance_rows
from .session import actor, current_viewer, page_require

bp = Blueprint("profiles", __name__)

EDITOR = "profiles/edit.html"
CHOICE = "choice:"  # the conflict panel's radio names: choice:<field path>


def _json_url(reg: Registry, p: Profile) -> str:
    return url_for("api.chat.get_profile", slug=p.slug, registry=reg.slug)


def _optional_url(endpoint: str, **values: Any) -> str:
    """A link to a page another module provides, or "" while it does not exist."""
    if endpoint not in current_app.view_functions:
        return ""
    return url_for(endpoint, **values)


def _locked(reg: Registry, p: Profile) -> str:
    """Why this profile cannot be edited ("" when it can)."""
    if reg.is_managed:
        return (
            f'Registry "{reg.slug}" is managed by {reg.manager_label}: change that file instead; '
            "edits here are disabled."
        )
    if p.policy.read_only:
        return "This profile is read-only (policy.read_only): it can be viewed, not edited."
    return ""


def _step_schema() -> dict[str, Any] | None:
    """A JSON Schema for step settings (config `REGISTRY_STEP_SETTINGS_SCHEMA`), if any."""
    schema = current_app.config.get("REGISTRY_STEP_SETTINGS_SCHEMA")
    return schema if isinstance(schema, dict) else None


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _load(slug: str, profile: str) -> tuple[Registry, Profile]:
    service = get_service()
    reg = service.get_registry(slug)
    return reg, service.get_profile(reg.slug, profile)


# --- the profile page --------------------------------------------------------------------------


@bp.get("/registries/<slug>/profiles/<profile>")
@page_require("reader")
@cached_page
def profile(slug: str, profile: str):
    """A profile: runtime, middlewares with effective configs, policy, tags, extensions."""
    service = get_service()
    reg, p = _load(slug, profile)
    definitions = {d.name: d for d in service.middlewares.all()}
    middlewares = []
    for entry in effective_configs(p.runtime.middlewares, p.extensions, service.middlewares):
        definition = definitions.get(entry["name"])
        schema = definition.schema if definition else None
        middlewares.append(
            {**entry, "definition": definition, "config": config_view(schema, entry["config"])}
        )
    extensions = [
        extension_view(key, p.extensions[key], service.codecs) for key in sorted(p.extensions)
    ]
    viewer = current_viewer()
    json_url = _json_url(reg, p)
    stack_error, lineage, effective = "", [], []
    if p.stack:
        try:
            view = service.stack_view(reg.slug, p.slug)
            lineage = [layer.key for layer in view.layers]
            effective = provenance_rows(view.trace.to_data(), len(view.layers))
        except ValidationError as exc:
            stack_error = f"{exc.field}: {exc.reason}"
    response = render(
        "profiles/view.html",
        "profile",
        reg=reg,
        profile=p,
        lineage=lineage,
        effective=effective,
        stack_error=stack_error,
        dependants=service.dependants(reg.slug, p.slug),
        middlewares=middlewares,
        extensions=extensions,
        step_settings=_pretty(p.runtime.step_settings_patch)
        if p.runtime.step_settings_patch
        else "",
        step_view=config_view(_step_schema(), p.runtime.step_settings_patch)
        if p.runtime.step_settings_patch and _step_schema()
        else None,
        locked=_locked(reg, p),
        can_edit=bool(viewer and viewer.can("editor")),
        is_default=reg.default_profile_slug == p.slug,
        history_url=_optional_url("pages.history.history", slug=reg.slug, profile=p.slug)
        if service.supports_history
        else "",
        resolve_url=_optional_url("pages.resolve.resolve", registry=reg.slug, profile=p.slug),
        json_url=json_url,
        nav="registries",
    )
    response.headers["Link"] = f'<{json_url}>; rel="alternate"; type="application/json"'
    return response


# --- the editor --------------------------------------------------------------------------------


def _section_id(name: str) -> str:
    """An HTML id for a section or field name (ids allow fewer characters than names)."""
    return "sec-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _field_id(name: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _editor_context(
    reg: Registry,
    p: Profile,
    form: EditorForm,
    *,
    locked: str = "",
    conflict: dict[str, Any] | None = None,
    failed: bool = False,
    confirm_read_only: bool = False,
) -> dict[str, Any]:
    ed = {
        "reg": reg,
        "profile": p,
        "form": form,
        "locked": locked,
        "conflict": conflict,
        "failed": failed,  # a refused save: the summary (or conflict panel) takes the focus
        "invalid": invalid_fields(form) if form.error_count else [],
        "confirm_read_only": confirm_read_only,
        "sid": _section_id,
        "fid": _field_id,
        "edit_url": url_for("pages.profiles.edit_profile", slug=reg.slug, profile=p.slug),
        "view_url": url_for("pages.profiles.profile", slug=reg.slug, profile=p.slug),
    }
    return {
        "ed": ed,
        "reg": reg,
        "profile": p,
        "json_url": _json_url(reg, p),
        "dependants_count": len(get_service().dependants(reg.slug, p.slug)),
        "nav": "registries",
    }


def _editor(reg: Registry, p: Profile, form: EditorForm, status: int = 200, **kw: Any):
    kw.setdefault("failed", status in (409, 422))
    return render(EDITOR, "editor", status=status, **_editor_context(reg, p, form, **kw))


def _shown(value: Any) -> str:
    """A value in the conflict panel: text as typed, other JSON pretty, absence named."""
    if value is MISSING:
        return "(not set)"
    if isinstance(value, str):
        return value or "(empty)"
    return _pretty(value)


def _changes_shown(changes: list[FieldChange]) -> list[dict[str, str]]:
    return [{"path": c.path, "before": _shown(c.before), "after": _shown(c.after)} for c in changes]


def _choices(data: Any) -> dict[str, str]:
    """The conflict panel's radio choices: `choice:<path>` = `yours` | `theirs`."""
    return {
        key.removeprefix(CHOICE): value
        for key, value in data.items()
        if key.startswith(CHOICE) and value in SIDES
    }


def _conflict(
    reg: Registry,
    latest: Profile,
    data: Any,
    form: EditorForm,
    *,
    message: str = "",
) -> tuple[EditorForm, dict[str, Any]]:
    """The conflict panel for a save made against an older version: the three-way merge of
    the form (yours) with the current version (theirs) over the version the form started
    from (base), and the form to redraw (read over the base, so untouched parts are the
    base's). Without the base (no history), only what an overwrite would change is shown."""
    service = get_service()
    step_schema = _step_schema()
    choices = _choices(data)
    conflict: dict[str, Any] = {
        "base_version": form.base_version,
        "current": latest,
        "message": message,
        "merge": False,
        "unavailable": "",
        "yours": [],
        "theirs": [],
        "collisions": [],
        "reverts": [],
    }
    try:
        base = service.base_profile(reg.slug, latest.slug, form.base_version)
        base_form = read_form(service, data, base, step_schema=step_schema)
        plan = service.plan_merge(
            reg.slug,
            latest.slug,
            base_form.patch,
            base_version=form.base_version,
            resolutions=choices,
        )
    except (MergeUnavailable, ValidationError) as exc:
        conflict["unavailable"] = str(exc)
        try:  # what an overwrite would change in the current version
            overwritten = service.prepare_update(latest, form.patch)
            conflict["reverts"] = [c.path for c in changes(content(latest), content(overwritten))]
        except ValidationError:
            pass
        return form, conflict
    result = plan.result
    # every collision stays listed, the choices made so far checked
    listed = merge_profiles(plan.base, plan.theirs, plan.yours).collisions
    conflict.update(
        merge=True,
        yours=_changes_shown(result.yours),
        theirs=_changes_shown(result.theirs),
        collisions=[
            {
                "path": c.path,
                "name": CHOICE + c.path,
                "base": _shown(c.base),
                "theirs": _shown(c.theirs),
                "yours": _shown(c.yours),
                "choice": choices.get(c.path, ""),
            }
            for c in listed
        ],
        reverts=result.reverted_by_overwrite(),
    )
    return base_form, conflict


def _conflict_response(reg: Registry, slug: str, data: Any, form: EditorForm, *, message: str = ""):
    latest = get_service().get_profile(reg.slug, slug)
    shown_form, conflict = _conflict(reg, latest, data, form, message=message)
    return _editor(reg, latest, shown_form, 409, conflict=conflict)


def _saved(reg: Registry, before: Profile, updated: Profile, note: str = ""):
    """Where a save goes: the profile page with what happened (a no-op says so)."""
    name = updated.display_name or updated.slug
    if updated.metadata.version == before.metadata.version:
        flash(
            f"Nothing to save: {name} is unchanged (still version {updated.metadata.version}).",
            "message",
        )
    else:
        flash(f"Saved {name} (version {updated.metadata.version}){note}.", "success")
    target = url_for("pages.profiles.profile", slug=reg.slug, profile=updated.slug)
    if is_htmx():
        return htmx_redirect(target)
    return redirect(target, 303)


def _merge_save(reg: Registry, current: Profile, data: Any, form: EditorForm, theirs: int):
    """ "Apply my changes on top": merge the form (made against its base version) into the
    current version `theirs` the panel showed, with the panel's choices."""
    service = get_service()
    try:
        base = service.base_profile(reg.slug, current.slug, form.base_version)
        base_form = read_form(service, data, base, step_schema=_step_schema())
        updated = service.merge_update(
            reg.slug,
            current.slug,
            base_form.patch,
            base_version=form.base_version,
            theirs_version=theirs,
            resolutions=_choices(data),
            actor=actor(),
            source=SOURCE_UI,
        )
    except MergeConflict as exc:
        count = len(exc.collisions)
        message = (
            f"Choose whose value to keep for the {count} field{'s' if count != 1 else ''} "
            "both of you changed."
        )
        return _conflict_response(reg, current.slug, data, form, message=message)
    except VersionConflict:
        message = "It changed again while you were choosing: look at the changes below again."
        return _conflict_response(reg, current.slug, data, form, message=message)
    except MergeUnavailable as exc:
        return _conflict_response(reg, current.slug, data, form, message=str(exc))
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return _editor(reg, current, form, 422)
    except (PolicyViolation, ReadOnlyStore) as exc:  # became read-only meanwhile
        return _editor(reg, current, form, 403, locked=str(exc))
    return _saved(reg, current, updated, f": your changes applied on top of version {theirs}")


@bp.route("/registries/<slug>/profiles/<profile>/edit", methods=["GET", "POST"])
@page_require("editor")
@cached_page
def edit_profile(slug: str, profile: str):
    """The editor. POST with `op` re-renders (200); a save redirects, or answers 422/409/403."""
    service = get_service()
    reg, current = _load(slug, profile)
    locked = _locked(reg, current)
    step_schema = _step_schema()
    if request.method == "GET":
        untouched = form_data(service, current, step_schema=step_schema)
        form = read_form(service, untouched, current, step_schema=step_schema)
        return _editor(reg, current, form, locked=locked)

    data: Any = request.form
    op = data.get("op", "")
    if op:
        data = apply_editor_op(data, op)
    form = read_form(service, data, current, step_schema=step_schema)
    if op:
        return _editor(reg, current, form, locked=locked)
    if locked:
        return _editor(reg, current, form, 403, locked=locked)
    if form.parse_errors:
        validate(service, form, current, reg.slug)
        return _editor(reg, current, form, 422)
    if _needs_read_only_confirmation(form, current, data):
        validate(service, form, current)
        if form.error_count:
            return _editor(reg, current, form, 422)
        return _editor(reg, current, form, confirm_read_only=True)
    merge_onto = data.get("merge", "")
    if merge_onto.isascii() and merge_onto.isdigit():
        return _merge_save(reg, current, data, form, int(merge_onto))
    expected = form.expected_version
    overwrite = data.get("overwrite", "")
    if overwrite.isdigit():
        expected = int(overwrite)
    try:
        updated = service.update_profile(
            reg.slug,
            current.slug,
            form.patch,
            expected_version=expected,
            actor=actor(),
            source=SOURCE_UI,
        )
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return _editor(reg, current, form, 422)
    except VersionConflict:
        return _conflict_response(reg, current.slug, data, form)
    except (PolicyViolation, ReadOnlyStore) as exc:  # became read-only meanwhile
        return _editor(reg, current, form, 403, locked=str(exc))
    return _saved(reg, current, updated)


def _needs_read_only_confirmation(form: EditorForm, current: Profile, data: Any) -> bool:
    """Saving "Read-only" cannot be undone in the UI or the API, so it is confirmed first:
    with JavaScript a dialog adds `confirm_read_only=1`; a plain post without it gets the
    form back with a confirmation panel (nothing saved)."""
    return (
        form.flags.get("read_only", False)
        and not current.policy.read_only
        and data.get("confirm_read_only", "") != "1"
    )


@bp.post("/registries/<slug>/profiles/<profile>/edit/validate")
@page_require("editor")
def validate_profile_field(slug: str, profile: str):
    """Inline validation: the section named by `?field=` with its errors (htmx, on change)."""
    service = get_service()
    reg, current = _load(slug, profile)
    form = read_form(service, request.form, current, step_schema=_step_schema())
    name = request.args.get("field", "")
    if name not in form.sections():
        abort(404, f'The editor has no field "{name}".')
    validate(service, form, current, reg.slug)
    ctx = _editor_context(reg, current, form, locked=_locked(reg, current))
    return render("profiles/_field.html", name=name, **ctx)
