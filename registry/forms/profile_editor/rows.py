"""Posted middleware rows and extension keys -> editor rows plus the values to store."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from registry.domain.errors import FieldError
from registry.domain.middleware import MiddlewareConfigCodec, stored_config
from registry.domain.model import MiddlewareUse, Profile
from registry.domain.service import RegistryService
from registry.forms import build_widget, parse_form

from .fields import has_under, json_field, schema_section
from .model import EXT, EXT_GROUP, MW, RAW, EditorForm, ExtensionRow, MiddlewareRow, definition_key


def read_middlewares(
    service: RegistryService,
    data: MultiDict[str, str],
    current: Profile,
    form: EditorForm,
    problems: list[FieldError],
) -> list[dict[str, Any]]:
    """The posted middleware rows -> `form.middlewares` and the uses to store."""
    pattern = re.compile(rf"{MW}/(\d+)/")
    count = len({int(m.group(1)) for k in data for m in [pattern.match(k)] if m})
    uses: list[dict[str, Any]] = []
    for i in range(count):
        p = f"{MW}/{i}"
        orig = data.get(p + "/enabled@orig", "")
        checked = data.get(p + "/enabled") not in (None, "", "0", "false", "off")
        if p + "/enabled@bool" not in data and p + "/enabled" not in data:
            checked = orig != "false"
        enabled: bool | None = (None if orig == "" else True) if checked else False
        row = MiddlewareRow(
            index=i,
            name=data.get(p + "/name", ""),
            id=data.get(p + "/id", ""),
            enabled=checked,
            enabled_orig=orig,
            index_orig=data.get(p + "/index@orig", ""),
            definition=service.middlewares.get(data.get(p + "/name", "")),
        )
        use: dict[str, Any] = {"name": row.name, "id": row.id}
        if enabled is not None:
            use["enabled"] = enabled
        if row.definition is not None:
            # The config this row was shown with: the stored use's slot at its stored position
            # (rows move and renumber while editing; a new row has none).
            stored = None
            if row.index_orig.isdigit():
                stored = stored_config(
                    current.extensions,
                    definition_key(row.definition),
                    MiddlewareUse(name=row.name, id=row.id),
                    int(row.index_orig),
                )
            if has_under(data, p + "/config"):
                row.config, value, changed = schema_section(
                    row.definition.schema,
                    data,
                    p + "/config",
                    stored,
                    f"runtime.middlewares[{i}].config",
                    problems,
                )
                if changed:
                    use["config"] = value
            else:
                row.config = build_widget(row.definition.schema, stored, p + "/config")
        form.middlewares.append(row)
        uses.append(use)
    return uses


def read_extensions(
    service: RegistryService,
    data: MultiDict[str, str],
    current: Profile,
    form: EditorForm,
    problems: list[FieldError],
    uses: list[dict[str, Any]],
) -> dict[str, Any]:
    """The posted extension keys -> `form.extensions` and the extensions to store."""
    posted: dict[str, str] = {}  # key -> "ext" (codec form) or "xraw" (JSON textarea)
    for k in data:
        m = EXT_GROUP.match(k)
        if m:
            posted.setdefault(m.group(2), m.group(1))
    out: dict[str, Any] = {}
    for key in sorted(set(current.extensions) | set(posted)):
        codec = service.codecs.get(key)
        stored = key in current.extensions
        original = current.extensions.get(key)
        if isinstance(codec, MiddlewareConfigCodec):
            if stored:  # moved with their uses, orphans dropped: RegistryService.prepare_update
                out[key] = original
            form.extensions.append(
                ExtensionRow(key, "middleware", codec.display_name, codec.description)
            )
            continue
        if key not in posted:  # removed by the user (`complete` restores everything else)
            continue
        path = f"profile.extensions[{key}]"
        if codec is not None and posted[key] == EXT:
            row = ExtensionRow(key, "codec", codec.display_name or key, codec.description)
            row.widget, value, changed = schema_section(
                codec.schema, data, f"{EXT}/{key}", original, path, problems
            )
            if not stored and not changed:  # newly added: store what the form shows
                value = parse_form(codec.schema, data, f"{EXT}/{key}")[0]
            form.extensions.append(row)
            out[key] = value
            continue
        row = ExtensionRow(key, "raw", key, "No codec knows this key; it is kept as JSON.")
        row.raw = data.get(f"{RAW}/{key}", "")
        value = json_field(row.raw, original, path, problems)
        form.extensions.append(row)
        if stored or value is not None:
            out[key] = value
    return out
