"""The profile editor's form: a profile -> the form data it posts, posted data -> a patch.

Field names (the schema-form convention: prefix + `/path`, arrays by index, `@bool`/`@array`
markers, see `registry.forms`):

- `display_name`, `description`, `system_prompt`; string lists `tools/<i>`, `tags/<i>`,
  `policy/allowed_override_keys/<i>`, `policy/denied_override_keys/<i>`; checkboxes
  `policy/allow_overrides`, `policy/read_only`;
- `step_settings_patch` (raw JSON), or `step/...` when a step-settings schema is configured;
- `mw/<i>/name|id|enabled` (+ `enabled@orig`: the stored tri-state, so "absent" survives) and
  `mw/<i>/config/...` (the config form of that use, from its definition's schema);
- `ext/<key>/...` (+ `ext/<key>@present`): one form per known codec; `xraw/<key>`: unknown keys
  as JSON; `ext_removed`: keys the user removed. `middleware.*_config@v1` keys are edited on
  their middleware rows only.

Rules that keep data safe: a group of fields missing from the post (hand-made or stale forms)
means "unchanged" (it is filled from the current profile); a section whose posted value equals
what the untouched form would post keeps the stored value exactly (so form round trips never
rewrite data); extension keys are dropped only when listed in `ext_removed`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from registry.domain.errors import FieldError, ValidationError
from registry.domain.extensions import Codec
from registry.domain.jsonutil import canonical_json, parse_json, textarea_message
from registry.domain.middleware import (
    MiddlewareConfigCodec,
    MiddlewareDefinition,
    config_extension_key,
    slot_for,
    stored_config,
)
from registry.domain.model import MiddlewareUse, Profile, profile_from_data
from registry.domain.service import ProfilePatch, RegistryService
from registry.forms import Widget, build_widget, errors_from_fields, parse_form
from registry.forms.ops import apply_op

MW = "mw"
EXT = "ext"
RAW = "xraw"
REMOVED = "ext_removed"
STEP_RAW = "step_settings_patch"
STEP = "step"

# form array name -> (item title, array title, domain field path)
LISTS: dict[str, tuple[str, str, str]] = {
    "tools": ("Tool", "Tools", "runtime.tools"),
    "tags": ("Tag", "Tags", "metadata.tags"),
    "policy/allowed_override_keys": (
        "Key",
        "Allowed override keys",
        "policy.allowed_override_keys",
    ),
    "policy/denied_override_keys": ("Key", "Denied override keys", "policy.denied_override_keys"),
}
TEXTS = {  # form name -> domain field path
    "display_name": "display_name",
    "description": "description",
    "system_prompt": "runtime.system_prompt",
}
FLAGS = ("allow_overrides", "read_only")


def list_schema(name: str) -> dict[str, Any]:
    item, title, _ = LISTS[name]
    return {"type": "array", "title": title, "items": {"type": "string", "title": item}}


@dataclass
class MiddlewareRow:
    """One `runtime.middlewares` entry as the editor shows it."""

    index: int
    name: str
    id: str = ""
    enabled: bool = True
    enabled_orig: str = ""  # "" (absent), "true" or "false": what the stored use said
    index_orig: str = ""  # the stored use's position ("" for a new row): where its config is
    definition: MiddlewareDefinition | None = None
    config: Widget | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)  # name/id/enabled/"" -> messages

    @property
    def prefix(self) -> str:
        return f"{MW}/{self.index}"

    @property
    def section(self) -> str:
        return f"mw-{self.index}"

    @property
    def title(self) -> str:
        return (self.definition.display_name if self.definition else "") or self.name


@dataclass
class ExtensionRow:
    """One extension key: a codec form, a JSON textarea (unknown key) or a middleware config."""

    key: str
    kind: str  # codec | raw | middleware
    title: str = ""
    description: str = ""
    widget: Widget | None = None
    raw: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def section(self) -> str:
        return f"ext-{self.key}"


@dataclass
class EditorForm:
    """Everything the editor template draws, plus the patch the posted values make."""

    texts: dict[str, str] = field(default_factory=dict)
    lists: dict[str, Widget] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)
    step: Widget | None = None  # with a configured schema
    step_raw: str = ""
    middlewares: list[MiddlewareRow] = field(default_factory=list)
    extensions: list[ExtensionRow] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)  # section -> messages
    form_errors: list[FieldError] = field(default_factory=list)  # attached nowhere else
    parse_errors: list[FieldError] = field(default_factory=list)  # the form itself is bad
    patch: ProfilePatch = field(default_factory=ProfilePatch)
    base_version: int = 0
    expected_version: int = 0
    middleware_choices: list[MiddlewareDefinition] = field(default_factory=list)
    extension_choices: list[Codec] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        count = sum(len(v) for v in self.errors.values()) + len(self.form_errors)
        for w in [*self.lists.values(), self.step]:
            count += sum(len(x.errors) for x in w.walk()) if w else 0
        for row in self.middlewares:
            count += sum(len(v) for v in row.errors.values())
            count += sum(len(x.errors) for x in row.config.walk()) if row.config else 0
        for ext in self.extensions:
            count += len(ext.errors)
            count += sum(len(x.errors) for x in ext.widget.walk()) if ext.widget else 0
        return count

    def sections(self) -> list[str]:
        """Every fragment the validate endpoint can return."""
        names = [*TEXTS, "tools", "step", "policy", "tags"]
        names += [row.section for row in self.middlewares]
        names += [ext.section for ext in self.extensions]
        return names


# --- profile -> form data ----------------------------------------------------------------------


def _emit(data: MultiDict, w: Widget) -> None:
    """The fields a browser posts for widget `w` untouched (the schema-form templates' names)."""
    if w.kind == "object":
        for child in w.children:
            _emit(data, child)
    elif w.kind == "array":
        data.add(w.name + "@array", "1")
        for child in w.children:
            _emit(data, child)
    elif w.kind == "boolean":
        data.add(w.name + "@bool", "1")
        if w.value:
            data.add(w.name, "true")
    else:
        data.add(w.name, w.value)


def _untouched(schema: dict[str, Any], value: Any, prefix: str) -> Any:
    """What the form for `value` posts back untouched, parsed."""
    data: MultiDict = MultiDict()
    _emit(data, build_widget(schema, value, prefix))
    return parse_form(schema, data, prefix)[0]


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _definition_key(definition: MiddlewareDefinition) -> str:
    return config_extension_key(definition.name)


def form_data(
    service: RegistryService, profile: Profile, *, step_schema: dict[str, Any] | None = None
) -> MultiDict:
    """The form data the editor posts for `profile` when nothing is changed."""
    data: MultiDict = MultiDict()
    data.add("display_name", profile.display_name)
    data.add("description", profile.description)
    data.add("system_prompt", profile.runtime.system_prompt)
    for name in LISTS:
        _emit(data, build_widget(list_schema(name), _list_value(profile, name), name))
    for flag in FLAGS:
        data.add(f"policy/{flag}@bool", "1")
        if getattr(profile.policy, flag):
            data.add(f"policy/{flag}", "true")
    patch = profile.runtime.step_settings_patch
    if step_schema:
        _emit(data, build_widget(step_schema, patch, STEP))
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
            stored = stored_config(profile.extensions, _definition_key(definition), use, i)
            _emit(data, build_widget(definition.schema, stored, p + "/config"))
    for key in sorted(profile.extensions):
        codec = service.codecs.get(key)
        if isinstance(codec, MiddlewareConfigCodec):
            continue
        if codec is not None:
            data.add(f"{EXT}/{key}@present", "1")
            _emit(data, build_widget(codec.schema, profile.extensions[key], f"{EXT}/{key}"))
        else:
            data.add(f"{RAW}/{key}", _dumps(profile.extensions[key]))
    return data


def _list_value(profile: Profile, name: str) -> list[str]:
    if name == "tools":
        return list(profile.runtime.tools)
    if name == "tags":
        return list(profile.metadata.tags)
    return list(getattr(profile.policy, name.split("/", 1)[1]))


# --- posted data -> form + patch ---------------------------------------------------------------

_EXT_GROUP = re.compile(rf"^({EXT}|{RAW})/([^/@]+@v\d+)")


def _group(name: str) -> str:
    """The section a field belongs to; a section missing from a post is left unchanged."""
    m = _EXT_GROUP.match(name)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    if name.startswith("policy/"):
        return "policy/" + re.split(r"[/@]", name[len("policy/") :])[0]
    return re.split(r"[/@]", name)[0]


def _complete(data: MultiDict, base: MultiDict) -> MultiDict:
    """`data` plus every section of `base` (the current profile's form) that was not posted."""
    removed = set(data.getlist(REMOVED))
    posted = {_group(k) for k in data}
    out = MultiDict(data.items(multi=True))
    for key, value in base.items(multi=True):
        group = _group(key)
        if group in posted:
            continue
        m = _EXT_GROUP.match(key)
        if m and m.group(2) in removed:
            continue
        out.add(key, value)
    return out


def _renumber(data: MultiDict, array: str) -> MultiDict:
    """Item indices of `array` made contiguous (0, 1, 2...) in posted order."""
    pattern = re.compile(re.escape(array) + r"/(\d+)((?:[/@].*)?)$")
    order = sorted({int(m.group(1)) for k in data for m in [pattern.match(k)] if m})
    mapping = {old: new for new, old in enumerate(order)}
    if all(old == new for old, new in mapping.items()):
        return data
    out: MultiDict = MultiDict()
    for key, value in data.items(multi=True):
        m = pattern.match(key)
        out.add(f"{array}/{mapping[int(m.group(1))]}{m.group(2)}" if m else key, value)
    return out


def _overlay(w: Widget, data: MultiDict) -> Widget:
    """Show what was typed (even when it did not parse) instead of the parsed value."""
    for node in w.walk():
        if node.kind not in ("object", "array", "boolean") and node.name in data:
            node.value = data.get(node.name)
    return w


def _has_under(data: MultiDict, name: str) -> bool:
    return any(k == name or k.startswith(name + "/") or k.startswith(name + "@") for k in data)


def _text(posted: str | None, original: str) -> str:
    """Browsers post textareas with CRLF line ends: an unchanged text keeps its bytes."""
    if posted is None:
        return original
    if posted.replace("\r\n", "\n") == original.replace("\r\n", "\n"):
        return original
    return posted.replace("\r\n", "\n")


def _domain_path(base: str, path: str) -> str:
    """`/items/2` under `x` -> `x.items[2]` (the domain's field path style)."""
    out = base
    for part in [p for p in path.split("/") if p]:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _schema_section(
    schema: dict[str, Any],
    data: MultiDict,
    prefix: str,
    original: Any,
    domain_base: str,
    problems: list[FieldError],
) -> tuple[Widget, Any, bool]:
    """Parse one schema form: (widget showing the post, value to store, changed?)."""
    value, errors = parse_form(schema, data, prefix)
    problems += [
        FieldError(_domain_path(domain_base, path), message)
        for path, messages in sorted(errors.items())
        for message in messages
    ]
    widget = _overlay(build_widget(schema, value, prefix), data)
    if errors:
        return widget, original, False
    if canonical_json(value) == canonical_json(_untouched(schema, original, prefix)):
        return widget, original, False
    described = schema.get("properties")
    if described and isinstance(original, dict) and isinstance(value, dict):
        # keys the schema does not describe have no inputs: carry them over, never drop them
        value = {**value, **{k: v for k, v in original.items() if k not in described}}
    return widget, value, True


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
    data = _complete(data, form_data(service, current, step_schema=step_schema))
    data = _renumber(data, MW)
    problems: list[FieldError] = []
    form = EditorForm(removed=sorted(set(data.getlist(REMOVED))))
    form.base_version = _int(data.get("base_version"), current.metadata.version)
    form.expected_version = _int(data.get("expected_version"), form.base_version)

    form.texts["display_name"] = _text(data.get("display_name"), current.display_name)
    form.texts["description"] = _text(data.get("description"), current.description)
    form.texts["system_prompt"] = _text(data.get("system_prompt"), current.runtime.system_prompt)

    lists: dict[str, list[str]] = {}
    for name, (_, _, path) in LISTS.items():
        widget, lists[name], _ = _schema_section(
            list_schema(name), data, name, _list_value(current, name), path, problems
        )
        form.lists[name] = widget

    for flag in FLAGS:
        raw = data.get(f"policy/{flag}")
        form.flags[flag] = raw is not None and raw not in ("", "0", "false", "off")

    step = current.runtime.step_settings_patch
    if step_schema:
        form.step, step, _ = _schema_section(
            step_schema, data, STEP, step, "runtime.step_settings_patch", problems
        )
    else:
        form.step_raw = data.get(STEP_RAW, "")
        step = _json_field(form.step_raw, step, "runtime.step_settings_patch", problems, empty={})

    uses = _read_middlewares(service, data, current, form, problems)
    extensions = _read_extensions(service, data, current, form, problems, uses)

    document = {
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


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def _json_field(
    raw: str, original: Any, path: str, problems: list[FieldError], empty: Any = None
) -> Any:
    """A JSON textarea: the parsed value, the original when equal (bytes kept) or invalid."""
    if not raw.strip():
        if empty is None:
            problems.append(FieldError(path, "must be valid JSON (remove the key to delete it)"))
            return original
        parsed: Any = empty
    else:
        try:
            parsed = parse_json(raw, field=path, base=path)
        except ValidationError as exc:
            problems.extend(
                FieldError(e.field, textarea_message(e.message)) if e.field == path else e
                for e in exc.errors
            )
            return original
    return original if canonical_json(parsed) == canonical_json(original) else parsed


def _read_middlewares(
    service: RegistryService,
    data: MultiDict,
    current: Profile,
    form: EditorForm,
    problems: list[FieldError],
) -> list[dict[str, Any]]:
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
                    _definition_key(row.definition),
                    MiddlewareUse(name=row.name, id=row.id),
                    int(row.index_orig),
                )
            if _has_under(data, p + "/config"):
                row.config, value, changed = _schema_section(
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


def _read_extensions(
    service: RegistryService,
    data: MultiDict,
    current: Profile,
    form: EditorForm,
    problems: list[FieldError],
    uses: list[dict[str, Any]],
) -> dict[str, Any]:
    posted: dict[str, str] = {}  # key -> "ext" (codec form) or "xraw" (JSON textarea)
    for k in data:
        m = _EXT_GROUP.match(k)
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
        if key not in posted:  # removed by the user (`_complete` restores everything else)
            continue
        path = f"profile.extensions[{key}]"
        if codec is not None and posted[key] == EXT:
            row = ExtensionRow(key, "codec", codec.display_name or key, codec.description)
            row.widget, value, changed = _schema_section(
                codec.schema, data, f"{EXT}/{key}", original, path, problems
            )
            if not stored and not changed:  # newly added: store what the form shows
                value = parse_form(codec.schema, data, f"{EXT}/{key}")[0]
            form.extensions.append(row)
            out[key] = value
            continue
        row = ExtensionRow(key, "raw", key, "No codec knows this key; it is kept as JSON.")
        row.raw = data.get(f"{RAW}/{key}", "")
        value = _json_field(row.raw, original, path, problems)
        form.extensions.append(row)
        if stored or value is not None:
            out[key] = value
    return out


# --- errors beside their fields ----------------------------------------------------------------

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
    return f"{rest}: {err.message}" if rest else err.message


def attach_errors(form: EditorForm, errors: list[FieldError]) -> None:
    """Put each problem beside its field; the rest become form-level errors."""
    for err in errors:
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
        row = next((e for e in form.extensions if e.key == key), None)
        if row is None:
            return False
        if row.kind == "middleware" and _route_slot(form, key, rest, err):
            return True
        base = f"profile.extensions[{key}]"
        if row.widget is not None:
            _put(row.widget, err, base)
        else:
            row.errors.append(_rest(err, base))
        return True
    return False


def _route_slot(form: EditorForm, key: str, rest: str, err: FieldError) -> bool:
    """A stored middleware config that fails its schema: show it on the middleware's row."""
    m = _SLOT_ERR.match(rest)
    if not m:
        return False
    for row in form.middlewares:
        if row.definition is None or _definition_key(row.definition) != key:
            continue
        if slot_for(MiddlewareUse(name=row.name, id=row.id), row.index) != m.group(1):
            continue
        message = FieldError(f"c{m.group(2)}", err.message)
        if row.config is not None:
            _put(row.config, message, "c")
        else:
            row.errors.setdefault("", []).append(err.message)
        return True
    return False


# --- the array and extension buttons -----------------------------------------------------------


def apply_editor_op(data: Any, op: str) -> MultiDict:
    """The form after one button: the editor's own ops, else the schema-form array ops."""
    data = MultiDict(data.items(multi=True) if hasattr(data, "getlist") else data.items())
    data.pop("op", None)
    action, _, target = op.partition(":")
    if action == "add-middleware":
        name = data.get("new_middleware", "")
        pattern = re.compile(rf"{MW}/(\d+)/")
        used = {int(m.group(1)) for k in data for m in [pattern.match(k)] if m}
        n = max(used) + 1 if used else 0
        if name:
            for suffix, value in (
                ("/name", name),
                ("/id", ""),
                ("/enabled@bool", "1"),
                ("/enabled", "true"),
                ("/enabled@orig", ""),
            ):
                data.add(f"{MW}/{n}{suffix}", value)
        return data
    if action == "add-extension":
        key = data.get("new_extension", "").strip()
        if key and not any(_EXT_GROUP.match(k) and k.startswith(f"{EXT}/{key}") for k in data):
            data.add(f"{EXT}/{key}@present", "1")
        kept = [k for k in data.getlist(REMOVED) if k != key]
        data.setlist(REMOVED, kept)
        return data
    if action == "remove-extension" and target:
        out: MultiDict = MultiDict()
        for k, v in data.items(multi=True):
            m = _EXT_GROUP.match(k)
            if m and m.group(2) == target:
                continue
            out.add(k, v)
        if target not in out.getlist(REMOVED):
            out.add(REMOVED, target)
        return out
    return apply_op(data, op)


# --- validation shared by save and the per-field endpoint --------------------------------------


def validate(service: RegistryService, form: EditorForm, current: Profile) -> list[FieldError]:
    """The service's validation of the edited profile (the same as the API's), attached."""
    try:
        service.prepare_update(current, form.patch)
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return exc.errors
    return []
