"""Posted data over the stored profile -> the editor form and the patch it makes."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from registry.domain.errors import FieldError, ValidationError
from registry.domain.middleware import MiddlewareConfigCodec
from registry.domain.model import Profile, profile_from_data
from registry.domain.service import ProfilePatch, RegistryService

from .errors import attach_errors
from .fields import complete, json_field, parse_int, renumber, schema_section, text_value
from .form_data import form_data
from .model import (
    FLAGS,
    LISTS,
    MW,
    REMOVED,
    STEP,
    STEP_RAW,
    EditorForm,
    list_schema,
    list_value,
    parse_ref,
    stack_choices,
)
from .rows import read_extensions, read_middlewares


def read_form(
    service: RegistryService,
    data: Any,
    current: Profile,
    *,
    step_schema: dict[str, Any] | None = None,
) -> EditorForm:
    """The editor for posted `data` over the stored `current` profile, and the patch it makes.

    Values that do not parse (bad JSON, a word in a number field) are redisplayed as typed and
    reported in `parse_errors`; the patch then keeps the stored value for that part, so the
    rest can still be validated by the service.
    """
    data = MultiDict(data.items(multi=True) if hasattr(data, "getlist") else data.items())
    choices = stack_choices(service.stack_choices(), current)
    data = complete(data, form_data(service, current, step_schema=step_schema, choices=choices))
    data = renumber(data, MW)
    problems: list[FieldError] = []
    form = EditorForm(removed=sorted(set(data.getlist(REMOVED))))
    form.base_version = parse_int(data.get("base_version"), current.metadata.version)
    form.expected_version = parse_int(data.get("expected_version"), form.base_version)

    form.texts["display_name"] = text_value(data.get("display_name"), current.display_name)
    form.texts["description"] = text_value(data.get("description"), current.description)
    form.texts["system_prompt"] = text_value(
        data.get("system_prompt"), current.runtime.system_prompt
    )

    lists: dict[str, list[str]] = {}
    for name, (_, _, path) in LISTS.items():
        widget, lists[name], _ = schema_section(
            list_schema(name, choices), data, name, list_value(current, name), path, problems
        )
        form.lists[name] = widget

    for flag in FLAGS:
        raw = data.get(f"policy/{flag}")
        form.flags[flag] = raw is not None and raw not in ("", "0", "false", "off")

    step = current.runtime.step_settings_patch
    if step_schema:
        form.step, step, _ = schema_section(
            step_schema, data, STEP, step, "runtime.step_settings_patch", problems
        )
    else:
        form.step_raw = data.get(STEP_RAW, "")
        step = json_field(form.step_raw, step, "runtime.step_settings_patch", problems, empty={})

    uses = read_middlewares(service, data, current, form, problems)
    extensions = read_extensions(service, data, current, form, problems, uses)

    document: dict[str, Any] = {
        "slug": current.slug,
        "display_name": form.texts["display_name"],
        "description": form.texts["description"],
        "runtime": {
            "system_prompt": form.texts["system_prompt"],
            "tools": lists["tools"],
            "step_settings_patch": step,
            "middlewares": uses,
        },
        "policy": {
            "allow_overrides": form.flags["allow_overrides"],
            "read_only": form.flags["read_only"],
            "allowed_override_keys": lists["policy/allowed_override_keys"],
            "denied_override_keys": lists["policy/denied_override_keys"],
        },
        "extensions": extensions,
    }
    try:
        parsed = profile_from_data(document)
    except ValidationError as exc:  # shapes only (e.g. a step-settings section not an object)
        problems += exc.errors
        document["runtime"]["step_settings_patch"] = current.runtime.step_settings_patch
        parsed = profile_from_data(document)
    form.patch = ProfilePatch(
        display_name=parsed.display_name,
        description=parsed.description,
        runtime=parsed.runtime,
        policy=parsed.policy,
        extensions=parsed.extensions,
        tags=lists["tags"],
        stack=[parse_ref(text) for text in lists["stack"]],
    )
    form.middleware_choices = service.middlewares.all()
    present = {ext.key for ext in form.extensions}
    form.extension_choices = [
        c
        for c in service.codecs.all()
        if not isinstance(c, MiddlewareConfigCodec) and c.key not in present
    ]
    form.parse_errors = problems
    attach_errors(form, problems)
    return form
