"""The editor's form model: field names, the rows and the form the template draws.

Also the small helpers every other module of the editor shares (a profile's list values,
canonical JSON for "unchanged?" checks, the extension key of a middleware's config).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from registry.domain.errors import FieldError
from registry.domain.extensions import Codec
from registry.domain.middleware import MiddlewareDefinition, config_extension_key
from registry.domain.model import Profile, ProfileRef
from registry.domain.service import ProfilePatch
from registry.forms import Widget

MW = "mw"
EXT = "ext"
RAW = "xraw"
REMOVED = "ext_removed"
STEP_RAW = "step_settings_patch"
STEP = "step"

# form array name -> (item title, array title, domain field path)
LISTS: dict[str, tuple[str, str, str]] = {
    "stack": ("Base profile", "Stack (base profiles, low to high precedence)", "stack"),
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

EXT_GROUP = re.compile(rf"^({EXT}|{RAW})/([^/@]+@v\d+)")


def list_schema(name: str, choices: list[str] | None = None) -> dict[str, Any]:
    """The schema of a string-list section; `choices` makes the stack's items a picker."""
    item, title, _ = LISTS[name]
    items: dict[str, Any] = {"type": "string", "title": item}
    if name == "stack" and choices:
        items["enum"] = choices
    return {"type": "array", "title": title, "items": items}


def stack_choices(choices: list[str] | None, profile: Profile) -> list[str] | None:
    """The picker's options: every profile (`registry/profile`) plus the refs already stacked,
    as stored (a ref to a registry that does not exist yet stays selectable)."""
    if choices is None:
        return None
    return sorted(set(choices) | set(list_value(profile, "stack")))


def parse_ref(text: str) -> ProfileRef:
    """`registry/profile`, or a bare `profile` (this profile's own registry)."""
    registry, sep, slug = text.strip().partition("/")
    return ProfileRef(profile_slug=slug, registry_slug=registry) if sep else ProfileRef(registry)


def ref_text(registry: str, slug: str) -> str:
    return f"{registry}/{slug}" if registry else slug


def list_value(profile: Profile, name: str) -> list[str]:
    """The stored value of the string list that form array `name` edits."""
    if name == "stack":
        return [ref_text(r.registry_slug, r.profile_slug) for r in profile.stack]
    if name == "tools":
        return list(profile.runtime.tools)
    if name == "tags":
        return list(profile.metadata.tags)
    return list(getattr(profile.policy, name.split("/", 1)[1]))


def definition_key(definition: MiddlewareDefinition) -> str:
    """The extension key where a middleware's configs are stored."""
    return config_extension_key(definition.name)


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
        names = [*TEXTS, "stack", "tools", "step", "policy", "tags"]
        names += [row.section for row in self.middlewares]
        names += [ext.section for ext in self.extensions]
        return names
