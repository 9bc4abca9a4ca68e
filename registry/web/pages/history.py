"""Profile history: revisions, a field-level diff between any two states, restore.

`a`/`b` name a revision id or `current` (the stored profile). The diff block is swapped by
htmx and the compare form is a plain GET form, so it works without JavaScript. Restoring goes
through a confirmation page (what will change, `expected_version` of the current profile) and
writes a new revision. Stores without history (the YAML file store) get an explanation.
JSON twin: `GET /api/registries/{slug}/profiles/{profile}/revisions` (and `.../diff`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for

from registry.domain.diff import changed_fields, profile_diff, word_diff
from registry.domain.errors import ConflictError, RegistryError, ValidationError, VersionConflict
from registry.domain.extensions import CodecRegistry
from registry.domain.model import Profile, Registry
from registry.domain.ports import Revision
from registry.domain.service import SOURCE_UI
from registry.domain.slugs import SlugError, parse_slug
from registry.forms.schema_view import PathLabel, ValueView, label_path, view_value

from ..deps import get_service
from ..errors import status_for
from ..htmx import render
from ..http import parse_int
from .session import actor, current_viewer, page_require

bp = Blueprint("history", __name__)

REVISIONS_SHOWN = 100
LONG_TEXT = 60  # characters: longer texts get an inline word diff
CURRENT = "current"


def display_value(value: Any) -> str:
    """A diff/JSON value as text: strings as they are, everything else as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def diff_rows(
    changes: list[dict[str, Any]], codecs: CodecRegistry | None = None
) -> list[dict[str, Any]]:
    """`profile_diff` output ready for the diff table: values as display text, and for long
    or multi-line text on both sides an inline word diff (`words`: `(op, text)` segments).

    With `codecs`, a path inside an extension whose codec has a schema reads with the schema's
    labels (`label`: "Starter suggestions › Suggestions"), and its lists and objects are
    view trees (`before_view`, `after_view`) instead of JSON text."""
    rows = []
    for c in changes:
        before, after = c["before"], c["after"]
        words = None
        if isinstance(before, str) and isinstance(after, str) and _long(before, after):
            words = word_diff(before, after)
        found = label_path(c["path"], codecs) if codecs is not None else None
        rows.append(
            {
                "path": c["path"],
                "label": found.text if found else "",
                "before": display_value(before),
                "after": display_value(after),
                "before_view": _view(found, before),
                "after_view": _view(found, after),
                "before_absent": before is None,
                "after_absent": after is None,
                "words": words,
            }
        )
    return rows


def _view(found: PathLabel | None, value: Any) -> ValueView | None:
    if found is None or not isinstance(value, (dict, list)):
        return None
    view = view_value(found.schema, value)
    view.label = ""
    return view


def _long(*texts: str) -> bool:
    return any(len(text) > LONG_TEXT or "\n" in text for text in texts)


def _slugs(slug: str, profile: str) -> tuple[str, str]:
    try:
        return parse_slug(slug, "registry slug"), parse_slug(profile, "profile slug")
    except SlugError as exc:
        abort(404, str(exc))


def _ref(raw: str | None, name: str) -> int | str | None:
    """`current`, a revision id, or None when absent; ValueError with a message otherwise."""
    raw = (raw or "").strip().lower()
    if not raw:
        return None
    if raw == CURRENT:
        return CURRENT
    try:
        return parse_int(raw, name, minimum=1, maximum=10**18 - 1)
    except ValidationError:
        raise ValueError(f'{name}: must be a revision number or "current"') from None


def _label(ref: int | str, revisions: dict[int, Revision], current: Profile | None) -> str:
    """Versions, not revision ids (those are global change ids, meaningless on this page)."""
    if ref == CURRENT:
        return f"current (version {current.metadata.version})" if current else "current (deleted)"
    rev = revisions.get(ref)  # type: ignore[arg-type]
    return f"version {rev.version} ({rev.operation})" if rev else "an older version"


def _summary(rev: Revision, previous: Revision | None) -> list[str]:
    """What a revision changed, as top-level field names (empty: nothing, or not known)."""
    if rev.snapshot is None or previous is None or previous.snapshot is None:
        return []
    return changed_fields(profile_diff(previous.snapshot, rev.snapshot))


class _History:
    """What the history page and its fragments need, read once per request."""

    def __init__(self, slug: str, profile: str):
        self.service = get_service()
        self.registry: Registry = self.service.get_registry(slug)
        self.slug = profile
        self.enabled = self.service.supports_history
        self.current = self.service.find_profile(self.registry.slug, profile)
        self.revisions: list[Revision] = []
        if self.enabled:
            self.revisions = self.service.list_revisions(
                self.registry.slug, profile, REVISIONS_SHOWN
            )
        elif self.current is None:
            self.service.get_profile(self.registry.slug, profile)  # raises ProfileNotFound
        self.by_id = {r.id: r for r in self.revisions}

    def snapshot(self, ref: int | str) -> Profile | None:
        if isinstance(ref, str):  # `_ref` gives a revision id or CURRENT
            return self.current
        return self.revision(ref).snapshot

    def revision(self, revision_id: int) -> Revision:
        """One of this profile's revisions (RegistryError when it is not one)."""
        rev = self.by_id.get(revision_id)
        if rev is None:
            rev = self.service.get_revision(self.registry.slug, self.slug, revision_id)
            self.by_id[rev.id] = rev
        return rev

    def read_only_reason(self) -> str:
        if self.registry.is_managed:
            return (
                f"This registry is managed by {self.registry.manager_label}; "
                "change it there, not here."
            )
        if self.current is not None and self.current.policy.read_only:
            return "This profile is read-only (policy); restoring a revision is refused."
        return ""

    def context(self, **extra: Any) -> dict[str, Any]:
        viewer = current_viewer()
        rows = []
        for i, rev in enumerate(self.revisions):
            previous = self.revisions[i + 1] if i + 1 < len(self.revisions) else None
            rows.append({"rev": rev, "previous": previous, "summary": _summary(rev, previous)})
        title = (self.current.display_name if self.current else "") or self.slug
        ctx = {
            "registry": self.registry,
            "slug": self.slug,
            "title": title,
            "current": self.current,
            "history_enabled": self.enabled,
            "store_kind": self.service.backend_kind,
            "rows": rows,
            "shown_limit": REVISIONS_SHOWN,
            "can_restore": bool(viewer and viewer.can("editor")) and not self.read_only_reason(),
            "read_only_reason": self.read_only_reason(),
            "nav": "registries",
            "json_url": (
                url_for("api.revisions.list_revisions", slug=self.registry.slug, profile=self.slug)
                if self.enabled
                else url_for(
                    "api.registry_profiles.registry_profile",
                    slug=self.registry.slug,
                    profile=self.slug,
                )
            ),
            "profile_url": (
                url_for("pages.profiles.profile", slug=self.registry.slug, profile=self.slug)
                if self.current is not None
                else ""
            ),
        }
        ctx.update(extra)
        return ctx


@bp.get("/registries/<slug>/profiles/<profile>/history")
@page_require("reader")
def history(slug: str, profile: str):
    """The revision list and the compare form (the diff block starts empty)."""
    h = _History(*_slugs(slug, profile))
    return render("history/page.html", **h.context(diff=None, a=None, b=None))


@bp.get("/registries/<slug>/profiles/<profile>/history/diff")
@page_require("reader")
def history_diff(slug: str, profile: str):
    """The field-level diff from `a` to `b`; htmx gets only the diff block.

    Bad or unknown references answer 400 with the message in the diff block (swapped by htmx).
    """
    h = _History(*_slugs(slug, profile))
    if not h.enabled:
        return render("history/page.html", "compare", **h.context(diff=None, a=None, b=None))
    try:
        a = _ref(request.args.get("a"), "a")
        b = _ref(request.args.get("b"), "b") or CURRENT
        if a is None:
            raise ValueError("a: pick the revision to compare from")
    except ValueError as exc:
        ctx = h.context(diff=None, a=None, b=None, diff_error=str(exc))
        return render("history/page.html", "compare", status=400, **ctx)
    try:
        before, after = h.snapshot(a), h.snapshot(b)
    except RegistryError:
        message = "No such revision of this profile; pick one from the list."
        ctx = h.context(diff=None, a=a, b=b, diff_error=message)
        return render("history/page.html", "compare", status=400, **ctx)
    diff = {
        "rows": diff_rows(profile_diff(before, after), h.service.codecs),
        "a_label": _label(a, h.by_id, h.current),
        "b_label": _label(b, h.by_id, h.current),
    }
    twin = None
    if isinstance(a, int):
        twin = url_for(
            "api.revisions.revision_diff",
            slug=h.registry.slug,
            profile=h.slug,
            revision_id=a,
            against=b,
        )
    return render("history/page.html", "compare", **h.context(diff=diff, a=a, b=b, diff_json=twin))


def _restore_context(h: _History, revision_id: int, **extra: Any) -> dict[str, Any]:
    rev = h.revision(revision_id)
    ctx = h.context(
        revision=rev,
        rows_diff=diff_rows(profile_diff(h.current, rev.snapshot), h.service.codecs),
        expected_version=h.current.metadata.version if h.current else 0,
        error="",
        errors=[],
    )
    ctx.update(extra)
    return ctx


@bp.get("/registries/<slug>/profiles/<profile>/history/<int:revision_id>/restore")
@page_require("editor")
def history_restore_confirm(slug: str, profile: str, revision_id: int):
    """Confirmation: what restoring would change, and the button that does it."""
    h = _History(*_slugs(slug, profile))
    if not h.enabled:
        abort(404, f"The {h.service.backend_kind} store keeps no history.")
    return render("history/restore.html", **_restore_context(h, revision_id))


@bp.post("/registries/<slug>/profiles/<profile>/history/<int:revision_id>/restore")
@page_require("editor")
def history_restore(slug: str, profile: str, revision_id: int):
    """Write the revision's content as a new revision, guarded by `expected_version`.

    A stale version re-renders the confirmation (409) with what is stored now; refusals
    (read-only registry or profile, a delete revision) re-render it with their status.
    """
    registry, profile = _slugs(slug, profile)
    h = _History(registry, profile)
    if not h.enabled:
        abort(404, f"The {h.service.backend_kind} store keeps no history.")
    raw = request.form.get("expected_version", "").strip()
    if not raw.isdigit() or len(raw) > 18:
        abort(400, "expected_version must be a whole number; reload the page and try again.")
    try:
        source = h.revision(revision_id)
        restored = h.service.restore_revision(
            h.registry.slug,
            h.slug,
            revision_id,
            expected_version=int(raw),
            actor=actor(),
            source=SOURCE_UI,
        )
    except ConflictError as exc:
        h = _History(registry, profile)  # what is stored now
        message = str(exc)
        if isinstance(exc, VersionConflict):
            message = (
                f"Someone changed this profile while you were looking (you saw version "
                f"{exc.expected}, it is now version {exc.actual}). Review what restoring "
                "would change now and confirm again."
            )
        return render(
            "history/restore.html", status=409, **_restore_context(h, revision_id, error=message)
        )
    except RegistryError as exc:
        errors = list(getattr(exc, "errors", []))
        ctx = _restore_context(h, revision_id, error=str(exc), errors=errors)
        return render("history/restore.html", status=status_for(exc), **ctx)
    flash(
        f"Restored version {source.version}: the profile is now version "
        f"{restored.metadata.version} (a new revision).",
        "success",
    )
    return redirect(url_for("pages.history.history", slug=h.registry.slug, profile=h.slug), 303)
