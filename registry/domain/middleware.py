"""Middleware definitions and their configs stored as extensions (README, Concepts and
decisions: "Middleware configs").

A deployment knows a set of middlewares, each with a JSON Schema for its config. Profiles list
middleware uses in `runtime.middlewares` (identity, order, enabled flag); the config of each use
lives in the extension `middleware.<name>_config@v1` under `{"instances": {slot: config}}`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import FieldError, ValidationError
from .extensions import Codec, parse_extension_key
from .model import MiddlewareUse, Profile
from .schema import JSONSchema, SchemaNormalizer, check_schema

_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")


@dataclass
class MiddlewareDefinition:
    name: str
    schema: JSONSchema
    version: int = 1
    display_name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        self.name = self.name.strip()
        if not self.name:
            raise ValueError("middleware definition name must not be empty")
        check_schema(self.schema)
        self.normalizer = SchemaNormalizer(self.schema)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "display_name": self.display_name or self.schema.get("title") or self.name,
        }
        if self.description:
            out["description"] = self.description
        out["schema"] = copy.deepcopy(self.schema)
        return out


def config_extension_key(name: str) -> str:
    """`middleware.<name>_config@v1` for a middleware name."""
    normalized = name.strip().lower()
    if not normalized:
        raise ValueError("middleware name must not be empty")
    if not _NAME_RE.fullmatch(normalized):
        raise ValueError(f'middleware name "{name}" is invalid for typed-key extension mapping')
    return parse_extension_key(f"middleware.{normalized}_config@v1")


def slot_for(use: MiddlewareUse, index: int) -> str:
    use_id = use.id.strip()
    return f"id:{use_id}" if use_id else f"index:{max(index, 0)}"


class MiddlewareConfigCodec(Codec):
    """The codec of `middleware.<name>_config@v1`: every slot must match the config schema."""

    def __init__(self, definition: MiddlewareDefinition):
        self.definition = definition
        super().__init__(
            key=config_extension_key(definition.name),
            schema={
                "type": "object",
                "properties": {
                    "instances": {
                        "type": "object",
                        "additionalProperties": copy.deepcopy(definition.schema)
                        or {"type": "object"},
                    }
                },
                "required": ["instances"],
                "additionalProperties": False,
            },
            display_name=f"{definition.display_name or definition.name} config",
            description=definition.description,
        )


class MiddlewareRegistry:
    """The middlewares a deployment knows, listed by name."""

    def __init__(self, definitions: list[MiddlewareDefinition] | None = None):
        self._defs: dict[str, MiddlewareDefinition] = {}
        for d in definitions or []:
            self.register(d)

    def register(self, definition: MiddlewareDefinition) -> None:
        if definition.name in self._defs:
            raise ValueError(f"middleware definition already registered: {definition.name}")
        self._defs[definition.name] = definition

    def get(self, name: str) -> MiddlewareDefinition | None:
        return self._defs.get(name.strip())

    def all(self) -> list[MiddlewareDefinition]:
        return [self._defs[k] for k in sorted(self._defs)]

    def codecs(self) -> list[Codec]:
        return [MiddlewareConfigCodec(d) for d in self.all()]


def parse_definitions(text: str, source: str = "definitions") -> list[MiddlewareDefinition]:
    """Parse a definitions file (`middlewares: [{name, version, display_name, description,
    schema}]`)."""
    data = yaml.safe_load(text) or {}
    items = data.get("middlewares") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{source}: expected a top-level 'middlewares' list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{source}: middlewares[{i}] must be a mapping")
        try:
            out.append(
                MiddlewareDefinition(
                    name=str(item.get("name") or ""),
                    schema=item.get("schema") or {"type": "object"},
                    version=int(item.get("version") or 1),
                    display_name=str(item.get("display_name") or ""),
                    description=str(item.get("description") or ""),
                )
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source}: middlewares[{i}]: {exc}") from None
    return out


def load_definitions(path: str | Path | None = None) -> list[MiddlewareDefinition]:
    """Definitions from a file, or the shipped defaults (`agentmode`, `sqlite`)."""
    if path is None:
        text = (
            resources.files("registry.domain")
            .joinpath("data/middleware-definitions.yaml")
            .read_text()
        )
        return parse_definitions(text, "shipped middleware definitions")
    return parse_definitions(Path(path).read_text(), str(path))


# --- write path --------------------------------------------------------------------------------


def project_configs(profile: Profile, middlewares: MiddlewareRegistry) -> list[FieldError]:
    """Validate middleware uses and move inline configs into their extension slots, in place.

    Unknown names are errors. An inline config is normalized against its schema (defaults
    filled, types coerced) and stored in slot `id:<id>` / `index:<i>`; an invalid one is
    reported at `runtime.middlewares[i].config...` and left out. A use without a stored config
    must still satisfy the schema's required fields.
    """
    errors: list[FieldError] = []
    for i, use in enumerate(profile.runtime.middlewares):
        path = f"runtime.middlewares[{i}]"
        use.name = use.name.strip()
        use.id = use.id.strip()
        config, use.config = use.config, None
        if not use.name:
            continue  # reported by validate_runtime
        definition = middlewares.get(use.name)
        if definition is None:
            errors.append(FieldError(f"{path}.name", f'unknown middleware "{use.name}"'))
            continue
        key = config_extension_key(definition.name)
        slot = slot_for(use, i)
        if config is not None:
            if not isinstance(config, dict):
                errors.append(FieldError(f"{path}.config", "must be an object"))
                continue
            # the profile is the caller's own copy (see the docstring): no second copy
            value, problems = definition.normalizer.normalize(config, owned=True)
            if problems:
                errors.extend(FieldError(f"{path}.config{p.field}", p.message) for p in problems)
                continue
            payload = profile.extensions.get(key)
            if not isinstance(payload, dict) or not isinstance(payload.get("instances"), dict):
                payload = {"instances": {}}
            payload = copy.deepcopy(payload)
            payload["instances"][slot] = value
            profile.extensions[key] = payload
        elif stored_config(profile.extensions, key, use, i) is None:
            _, problems = definition.normalizer.normalize({})
            errors.extend(
                FieldError(f"{path}.config{p.field}", p.message)
                for p in problems
                if p.message == "is required"
            )
    return errors


def _instances(payload: Any) -> dict[str, Any] | None:
    instances = payload.get("instances") if isinstance(payload, dict) else None
    return instances if isinstance(instances, dict) else None


def _uses_by_key(
    uses: list[MiddlewareUse], middlewares: MiddlewareRegistry
) -> dict[str, list[tuple[int, MiddlewareUse]]]:
    """Uses of known middlewares, with their positions, grouped by config extension key."""
    out: dict[str, list[tuple[int, MiddlewareUse]]] = {}
    for i, use in enumerate(uses):
        definition = middlewares.get(use.name)
        if definition is not None:
            out.setdefault(config_extension_key(definition.name), []).append((i, use))
    return out


def live_slots(uses: list[tuple[int, MiddlewareUse]]) -> set[str]:
    """The slots some use reads: `id:<id>` / `index:<i>`, and `default` while a use has no id."""
    slots = {slot_for(use, i) for i, use in uses}
    if any(not use.id.strip() for _, use in uses):
        slots.add("default")
    return slots


def orphan_slots(profile: Profile, middlewares: MiddlewareRegistry) -> dict[str, list[str]]:
    """Config slots no middleware use of `profile` reads, by extension key (sorted)."""
    by_key = _uses_by_key(profile.runtime.middlewares, middlewares)
    out: dict[str, list[str]] = {}
    for definition in middlewares.all():
        key = config_extension_key(definition.name)
        instances = _instances(profile.extensions.get(key))
        if instances is None:
            continue
        dead = sorted(set(instances) - live_slots(by_key.get(key, [])))
        if dead:
            out[key] = dead
    return out


def remap_configs(
    old_uses: list[MiddlewareUse],
    new_uses: list[MiddlewareUse],
    extensions: dict[str, Any],
    stored: dict[str, Any],
    middlewares: MiddlewareRegistry,
) -> None:
    """Make stored middleware configs follow their uses through an edit of the list, in place.

    The contract, the same for the editor, the API and every other caller of
    `RegistryService.update_profile`:
    - a config with an id (`id:<id>`) follows the use with that id wherever it moves;
    - a positional config (`index:<i>`) follows its use when the edit sends no config for it:
      the k-th use without id of a middleware before the edit is the k-th use without id of that
      middleware after it (so removing or reordering uses never shifts a config onto another use);
    - slots no use reads any more (removed uses, unmatched positions) are dropped, and so is a
      config extension left with no slot;
    - a config extension the edit itself replaced (`extensions` differs from `stored` for that
      key) is taken as given, in the new positions: only its orphans are dropped.
    Inline configs sent with the uses are applied afterwards by `project_configs`, and win.
    """
    old_by_key = _uses_by_key(old_uses, middlewares)
    new_by_key = _uses_by_key(new_uses, middlewares)
    for definition in middlewares.all():
        key = config_extension_key(definition.name)
        payload = extensions.get(key)
        instances = _instances(payload)
        if instances is None or not isinstance(payload, dict):
            continue
        new = new_by_key.get(key, [])
        if payload == stored.get(key):
            old_positional = [i for i, use in old_by_key.get(key, []) if not use.id.strip()]
            new_positional = [i for i, use in new if not use.id.strip()]
            renamed = {
                f"index:{before}": f"index:{after}"
                for before, after in zip(old_positional, new_positional, strict=False)
            }
            instances = {  # in the stored order, so an edit that moves nothing changes nothing
                renamed.get(s, s): v
                for s, v in instances.items()
                if s in renamed or not s.startswith("index:")
            }
        live = live_slots(new)
        remaining = {s: copy.deepcopy(v) for s, v in instances.items() if s in live}
        if remaining == payload["instances"] and list(remaining) == list(payload["instances"]):
            continue
        if not remaining and set(payload) == {"instances"}:
            del extensions[key]
        else:
            extensions[key] = {**payload, "instances": remaining}


def stored_config(extensions: dict[str, Any], key: str, use: MiddlewareUse, index: int) -> Any:
    """The stored config of one use: its slot, else (for a use without id) slot `default`."""
    payload = extensions.get(key)
    if not isinstance(payload, dict):
        return None
    instances = payload.get("instances")
    if not isinstance(instances, dict):
        return None
    slot = slot_for(use, index)
    if slot in instances:
        return copy.deepcopy(instances[slot])
    if not use.id.strip() and "default" in instances:
        return copy.deepcopy(instances["default"])
    return None


def effective_configs(
    uses: list[MiddlewareUse],
    extensions: dict[str, Any],
    middlewares: MiddlewareRegistry,
    *,
    origins: list[tuple[dict[str, Any], int]] | None = None,
) -> list[dict[str, Any]]:
    """Each use with its effective config: schema defaults, then the stored config, then the
    inline config (request overrides may carry one).

    `origins` (one per use) says where a use's stored config lives when the uses were merged
    from a stack: the extensions of the layer it came from and its position there (its slot
    is that layer's); without it, every use reads `extensions` at its own position."""
    out = []
    for i, use in enumerate(uses):
        source, position = origins[i] if origins is not None else (extensions, i)
        definition = middlewares.get(use.name)
        config: Any = {}
        if definition is not None:
            config = definition.normalizer.defaults() or {}
            stored = stored_config(source, config_extension_key(definition.name), use, position)
            if isinstance(stored, dict):
                config.update(stored)
        if isinstance(use.config, dict):
            config.update(copy.deepcopy(use.config))
            if definition is not None:
                config, problems = definition.normalizer.normalize(config)
                if problems:
                    raise ValidationError(
                        [
                            FieldError(
                                f"request_overrides.middlewares[{i}].config{p.field}", p.message
                            )
                            for p in problems
                        ]
                    )
        entry: dict[str, Any] = {"name": use.name}
        if use.id:
            entry["id"] = use.id
        entry["enabled"] = use.enabled is not False
        entry["slot"] = slot_for(use, position)
        entry["config"] = config
        out.append(entry)
    return out
