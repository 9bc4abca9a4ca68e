"""A profile -> the form data the editor posts for it untouched.

Reading a post compares against this (a section posted unchanged keeps the stored bytes)
and fills in the sections a post lacks from it.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.datastructures import MultiDict

from registry.domain.middleware import MiddlewareConfigCodec, stored_config
from registry.domain.model import Profile
from registry.domain.service import RegistryService
from registry.forms import Widget, build_widget, parse_form

from .model import (
    EXT,
    FLAGS,
    LISTS,
    MW,
    RAW,
    STEP,
    STEP_RAW,
    definition_key,
    list_schema,
    list_value,
    stack_choices,
)


def emit(data: MultiDict[str, str], w: Widget) -> None:
    """The fields a browser posts for widget `w` untouched (the schema-form templates' names)."""
    if w.kind == "object":
        for child in w.children:
            emit(data, child)
    elif w.kind == "array":
        data.add(w.name + "@array", "1")
        for child in w.children:
            emit(data, child)
    elif w.kind == "boolean":
        data.add(w.name + "@bool", "1")
        if w.value:
            data.add(w.name, "true")
    else:
        data.add(w.name, w.value)


def untouched(schema: dict[str, Any], value: Any, prefix: str) -> Any:
    """What the form for `value` posts back untouched, parsed."""
    data: MultiDict[str, str] = MultiDict()
    emit(data, build_widget(schema, value, prefix))
    return parse_form(schema, data, prefix)[0]


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def form_data(
    service: RegistryService,
    profile: Profile,
    *,
    step_schema: dict[str, Any] | None = None,
    choices: list[str] | None = None,
) -> MultiDict[str, str]:
    """The form data the editor posts for `profile` when nothing is changed (`choices`: the
    stack picker's options when the caller has them already)."""
    data: MultiDict[str, str] = MultiDict()
    data.add("display_name", profile.display_name)
    data.add("description", profile.description)
    data.add("system_prompt", profile.runtime.system_prompt)
    if choices is None:
        choices = stack_choices(service.stack_choices(), profile)
    for name in LISTS:
        schema = list_schema(name, choices)
        emit(data, build_widget(schema, list_value(profile, name), name))
    for flag in FLAGS:
        data.add(f"policy/{flag}@bool", "1")
        if getattr(profile.policy, flag):
            data.add(f"policy/{flag}", "true")
    patch = profile.runtime.step_settings_patch
    if step_schema:
        emit(data, build_widget(step_schema, patch, STEP))
    else:
        data.add(STEP_RAW, _dumps(patch) if patch else "")
    data.add(MW + "@array", "1")
    for i, use in enumerate(profile.runtime.middlewares):
        p = f"{MW}/{i}"
        data.add(p + "/name", use.name)
        data.add(p + "/id", use.id)
        data.add(p + "/enabled@bool", "1")
        if use.enabled is not False:
            data.add(p + "/enabled", "true")
        data.add(p + "/enabled@orig", "" if use.enabled is None else str(use.enabled).lower())
        data.add(p + "/index@orig", str(i))
        definition = service.middlewares.get(use.name)
        if definition is not None:
            stored = stored_config(profile.extensions, definition_key(definition), use, i)
            emit(data, build_widget(definition.schema, stored, p + "/config"))
    for key in sorted(profile.extensions):
        codec = service.codecs.get(key)
        if isinstance(codec, MiddlewareConfigCodec):
            continue
        if codec is not None:
            data.add(f"{EXT}/{key}@present", "1")
            emit(data, build_widget(codec.schema, profile.extensions[key], f"{EXT}/{key}"))
        else:
            data.add(f"{RAW}/{key}", _dumps(profile.extensions[key]))
    return data
