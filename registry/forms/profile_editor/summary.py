"""The error summary's jump links: every invalid field of the editor, in page order, with the
HTML id to jump to and a label a person recognises ("Tools #2", "SQLite tool: Max rows").

A link points at the control when the page draws one with the widget's id, else at the
field's first error message (objects and whole sections have no control of their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from registry.forms import Widget

from .model import RAW, TEXTS, EditorForm

TEXT_LABELS = {
    "display_name": "Display name",
    "description": "Description",
    "system_prompt": "System prompt",
}
SECTION_LABELS = {"policy": "Policy", "step": "Step settings", "middlewares": "Middlewares"}


@dataclass(frozen=True)
class InvalidField:
    target: str  # the HTML id the link jumps to
    label: str
    message: str


def _field_id(name: str) -> str:
    return Widget(kind="string", name=name, path="").id


def _widgets(w: Widget | None, trail: str) -> Iterator[InvalidField]:
    """Widgets with errors under `w`, labelled by their path of labels."""
    if w is None:
        return
    label = " ".join(x for x in (trail, w.label) if x) or "Value"
    for message in w.errors:
        target = w.id if w.kind != "object" else f"{w.id}-err-1"
        yield InvalidField(target, label, message)
    for child in w.children:
        yield from _widgets(child, label)


def _section(name: str, messages: list[str], target: str) -> Iterator[InvalidField]:
    label = TEXT_LABELS.get(name) or SECTION_LABELS.get(name) or name
    for message in messages:
        yield InvalidField(target, label, message)


def invalid_fields(form: EditorForm) -> list[InvalidField]:
    """Every message shown beside a field, in the order the editor draws the fields."""
    out: list[InvalidField] = []
    for name in TEXTS:
        out += _section(name, form.errors.get(name, []), f"f-{name}")
    out += _widgets(form.lists.get("tools"), "")
    if form.step is not None:
        out += _widgets(form.step, "Step settings")
        out += _section("step", form.errors.get("step", []), "f-step-err-1")
    else:
        out += _section("step", form.errors.get("step", []), "f-step")
    out += _section("middlewares", form.errors.get("middlewares", []), "f-middlewares-err-1")
    for row in form.middlewares:
        title = f"Middleware {row.index + 1} ({row.title})"
        base = f"f-mw-{row.index}"
        for key, messages in row.errors.items():
            target = f"{base}-id" if key == "id" else f"{base}-{key or 'name'}-err-1"
            suffix = {"id": ": instance id", "enabled": ": enabled"}.get(key, "")
            out += [InvalidField(target, title + suffix, m) for m in messages]
        out += _widgets(row.config, title)
    out += _section("policy", form.errors.get("policy", []), "f-policy-err-1")
    for name in ("policy/allowed_override_keys", "policy/denied_override_keys"):
        out += _widgets(form.lists.get(name), "")
    out += _widgets(form.lists.get("tags"), "")
    for ext in form.extensions:
        target = _field_id(f"{RAW}/{ext.key}")
        if ext.kind == "codec":
            target += "-err-1"
        out += [InvalidField(target, ext.title or ext.key, m) for m in ext.errors]
        out += _widgets(ext.widget, "")
    return out
