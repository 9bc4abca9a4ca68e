"""Errors beside their fields: each field path from the service or the parser is routed to
the widget or row that shows it; what fits nowhere becomes a form-level error.
"""

from __future__ import annotations

import re

from registry.domain.errors import FieldError
from registry.domain.middleware import slot_for
from registry.domain.model import MiddlewareUse
from registry.forms import Widget, errors_from_fields

from .model import LISTS, TEXTS, EditorForm, definition_key

_MW_ERR = re.compile(r"^runtime\.middlewares\[(\d+)\](.*)$")
_EXT_ERR = re.compile(r"^profile\.extensions\[([^\]]*)\](.*)$")
_SLOT_ERR = re.compile(r"^\.instances\.((?:id|index):[^.\[]*)(.*)$")


def _under(field_: str, base: str) -> bool:
    return field_ == base or field_.startswith(base + ".") or field_.startswith(base + "[")


def _put(w: Widget, err: FieldError, base: str) -> None:
    for path, messages in errors_from_fields([err], base).items():
        (w.find(path) or w).errors.extend(messages)


def _rest(err: FieldError, base: str) -> str:
    """The message, prefixed with where inside the field it applies."""
    rest = err.field[len(base) :].lstrip(".")
    return f"{rest}: {err.text}" if rest else err.text


def attach_errors(form: EditorForm, errors: list[FieldError]) -> None:
    """Put each problem beside its field; the rest become form-level errors."""
    for err in errors:
        if _under(err.field, "profile.stack"):
            err = FieldError(err.relative, err.message)  # the form's list is `stack`
        if not _route(form, err):
            form.form_errors.append(err)


def _route(form: EditorForm, err: FieldError) -> bool:
    f = err.field
    for name, path in TEXTS.items():
        if _under(f, path):
            form.errors.setdefault(name, []).append(_rest(err, path))
            return True
    for name, (_, _, path) in LISTS.items():
        if _under(f, path):
            _put(form.lists[name], err, path)
            return True
    if _under(f, "policy"):
        form.errors.setdefault("policy", []).append(_rest(err, "policy"))
        return True
    if _under(f, "runtime.step_settings_patch"):
        if form.step is not None:
            _put(form.step, err, "runtime.step_settings_patch")
        else:
            form.errors.setdefault("step", []).append(_rest(err, "runtime.step_settings_patch"))
        return True
    m = _MW_ERR.match(f)
    if m and int(m.group(1)) < len(form.middlewares):
        row = form.middlewares[int(m.group(1))]
        base = f"runtime.middlewares[{row.index}]"
        if _under(f, base + ".config") and row.config is not None:
            _put(row.config, err, base + ".config")
        else:
            part = m.group(2).lstrip(".").split(".")[0]
            part = part if part in ("name", "id", "enabled") else ""
            row.errors.setdefault(part, []).append(_rest(err, base + ("." + part if part else "")))
        return True
    if _under(f, "runtime.middlewares"):
        form.errors.setdefault("middlewares", []).append(_rest(err, "runtime.middlewares"))
        return True
    m = _EXT_ERR.match(f)
    if m:
        key, rest = m.group(1), m.group(2)
        ext = next((e for e in form.extensions if e.key == key), None)
        if ext is None:
            return False
        if ext.kind == "middleware" and _route_slot(form, key, rest, err):
            return True
        base = f"profile.extensions[{key}]"
        if ext.widget is not None:
            _put(ext.widget, err, base)
        else:
            ext.errors.append(_rest(err, base))
        return True
    return False


def _route_slot(form: EditorForm, key: str, rest: str, err: FieldError) -> bool:
    """A stored middleware config that fails its schema: show it on the middleware's row."""
    m = _SLOT_ERR.match(rest)
    if not m:
        return False
    for row in form.middlewares:
        if row.definition is None or definition_key(row.definition) != key:
            continue
        if slot_for(MiddlewareUse(name=row.name, id=row.id), row.index) != m.group(1):
            continue
        message = FieldError(f"c{m.group(2)}", err.message)
        if row.config is not None:
            _put(row.config, message, "c")
        else:
            row.errors.setdefault("", []).append(err.text)
        return True
    return False
