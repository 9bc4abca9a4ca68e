"""The domain model: registries, profiles and their parts (see README, Concepts and decisions).

Field names are the JSON/YAML keys. `*_to_data` gives the serialized form (JSON form: runtime,
policy and metadata always present; YAML form: empty parts omitted) and `*_from_data` parses
untyped input, reporting every shape problem with its field path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .errors import FieldError, ReadOnlyStore, ValidationError

JSONDict = dict[str, Any]
MAX_INT = 2**63 - 1  # metadata integers are stored as SQL BIGINT


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})  # exact types, kept as they are


def _copy(value: Any) -> Any:
    """A deep copy of model values (dataclasses of JSON data). Several times faster than
    `copy.deepcopy`, which memoizes every object: a 20,000-profile import clones each profile
    while it is validated, and deepcopy was the largest cost of planning it. Scalars are
    kept without a call each (most values are), by exact type: subclasses take deepcopy."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else _copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else _copy(v) for v in value]
    fields = getattr(kind, "__dataclass_fields__", None)
    if fields is None:
        return copy.deepcopy(value)
    new = object.__new__(kind)
    state = value.__dict__
    new.__dict__.update(
        {
            name: state[name] if type(state[name]) in _IMMUTABLE else _copy(state[name])
            for name in fields
        }
    )
    return new


copy_value = _copy  # the fast deep copy, for the other domain modules


@dataclass
class MiddlewareUse:
    name: str
    id: str = ""
    enabled: bool | None = None
    # Only on input: moved into `middleware.<name>_config@v1` on write (README, Concepts and
    # decisions: "Middleware configs").
    config: Any = None


@dataclass
class RuntimeSpec:
    step_settings_patch: dict[str, dict[str, Any]] = field(default_factory=dict)
    system_prompt: str = ""
    middlewares: list[MiddlewareUse] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.step_settings_patch or self.system_prompt or self.middlewares or self.tools
        )


@dataclass
class PolicySpec:
    allow_overrides: bool = False
    allowed_override_keys: list[str] = field(default_factory=list)
    denied_override_keys: list[str] = field(default_factory=list)
    read_only: bool = False

    def is_empty(self) -> bool:
        return self == PolicySpec()


@dataclass
class Metadata:
    source: str = ""
    version: int = 0
    created_at_ms: int = 0
    updated_at_ms: int = 0
    created_by: str = ""
    updated_by: str = ""
    tags: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return self == Metadata()


@dataclass
class ProfileRef:
    """A base profile in a stack (README, "Stacks"); a blank `registry_slug` means the
    registry of the profile that holds the ref."""

    profile_slug: str
    registry_slug: str = ""


def stacks_on(profile: Profile, registry: str, target: tuple[str, str | None]) -> bool:
    """Whether `profile` (of `registry`) lists `target` (registry, slug) in its stack (any
    profile of that registry when slug is None); a ref without registry means its own."""
    for ref in profile.stack:
        ref_registry = ref.registry_slug.strip().lower() or registry
        if ref_registry == target[0] and target[1] in (None, ref.profile_slug.strip().lower()):
            return True
    return False


@dataclass
class Profile:
    slug: str
    display_name: str = ""
    description: str = ""
    runtime: RuntimeSpec = field(default_factory=RuntimeSpec)
    policy: PolicySpec = field(default_factory=PolicySpec)
    metadata: Metadata = field(default_factory=Metadata)
    extensions: JSONDict = field(default_factory=dict)
    stack: list[ProfileRef] = field(default_factory=list)
    # Read state, never data: field paths whose stored text held refused characters (see
    # `text`), shown as U+FFFD. Set by stores; `profile-registry doctor` rewrites them.
    repaired: list[str] = field(default_factory=list, compare=False, repr=False)

    def clone(self) -> Profile:
        copied: Profile = _copy(self)
        return copied


@dataclass
class Registry:
    """A registry header. `profiles` is filled only where a whole registry travels (YAML)."""

    slug: str
    display_name: str = ""
    description: str = ""
    default_profile_slug: str = ""
    metadata: Metadata = field(default_factory=Metadata)
    extensions: JSONDict = field(default_factory=dict)
    read_only: bool = False
    managed_by: str = ""
    profiles: dict[str, Profile] = field(default_factory=dict)
    # Read state, as `Profile.repaired` (the header's fields only).
    repaired: list[str] = field(default_factory=list, compare=False, repr=False)

    # The one home of the managed-registry rule: a registry owned by a seed file
    # (`managed_by`) or marked read-only by the deployment's configuration is changed at its
    # source, never through the service, the API or the pages.
    @property
    def is_managed(self) -> bool:
        """True when this registry cannot be changed here (seed file or configuration)."""
        return self.read_only or bool(self.managed_by)

    @property
    def manager_label(self) -> str:
        """Who manages it, for messages: the seed file, else "its configuration"."""
        return self.managed_by or "its configuration"

    def require_writable(self) -> None:
        """Refuse (ReadOnlyStore, 403) any change to a managed registry."""
        if self.is_managed:
            raise ReadOnlyStore(f'registry "{self.slug}" is managed by {self.manager_label}')

    def clone(self) -> Registry:
        return copy.deepcopy(self)

    def header(self) -> Registry:
        """A copy without profiles."""
        profiles, self.profiles = self.profiles, {}
        try:
            return copy.deepcopy(self)
        finally:
            self.profiles = profiles


# --- serialization -------------------------------------------------------------------------


def middleware_to_data(use: MiddlewareUse, *, shared: bool = False) -> JSONDict:
    out: JSONDict = {"name": use.name}
    if use.id:
        out["id"] = use.id
    if use.enabled is not None:
        out["enabled"] = use.enabled
    if use.config is not None:
        out["config"] = use.config if shared else _copy(use.config)
    return out


def runtime_to_data(rt: RuntimeSpec, *, shared: bool = False) -> JSONDict:
    out: JSONDict = {}
    if rt.step_settings_patch:
        patch = rt.step_settings_patch
        out["step_settings_patch"] = patch if shared else _copy(patch)
    if rt.system_prompt:
        out["system_prompt"] = rt.system_prompt
    if rt.middlewares:
        out["middlewares"] = [middleware_to_data(m, shared=shared) for m in rt.middlewares]
    if rt.tools:
        out["tools"] = list(rt.tools)
    return out


def policy_to_data(p: PolicySpec, *, full: bool = True) -> JSONDict:
    out: JSONDict = {}
    if full or p.allow_overrides:
        out["allow_overrides"] = p.allow_overrides
    if p.allowed_override_keys:
        out["allowed_override_keys"] = list(p.allowed_override_keys)
    if p.denied_override_keys:
        out["denied_override_keys"] = list(p.denied_override_keys)
    if full or p.read_only:
        out["read_only"] = p.read_only
    return out


def metadata_to_data(m: Metadata) -> JSONDict:
    out: JSONDict = {}
    for key in ("source", "version", "created_at_ms", "updated_at_ms", "created_by", "updated_by"):
        value = getattr(m, key)
        if value:
            out[key] = value
    if m.tags:
        out["tags"] = list(m.tags)
    return out


def profile_to_data(p: Profile, *, compact: bool = False, shared: bool = False) -> JSONDict:
    """The serialized profile. `compact` (YAML) omits empty runtime/policy/metadata.
    `shared`: the free-form maps (extensions, middleware configs, step settings) are the
    profile's own, not copies, for a caller that only reads the result (hashing, checking,
    encoding): copying them was most of the cost of serializing."""
    out: JSONDict = {"slug": p.slug}
    if p.display_name:
        out["display_name"] = p.display_name
    if p.description:
        out["description"] = p.description
    if p.stack:
        out["stack"] = [_ref_to_data(r) for r in p.stack]
    if not compact or not p.runtime.is_empty():
        out["runtime"] = runtime_to_data(p.runtime, shared=shared)
    if not compact or not p.policy.is_empty():
        out["policy"] = policy_to_data(p.policy, full=not compact)
    if not compact or not p.metadata.is_empty():
        out["metadata"] = metadata_to_data(p.metadata)
    if p.extensions:
        out["extensions"] = p.extensions if shared else _copy(p.extensions)
    return out


def _ref_to_data(ref: ProfileRef) -> JSONDict:
    out: JSONDict = {}
    if ref.registry_slug:
        out["registry_slug"] = ref.registry_slug
    out["profile_slug"] = ref.profile_slug
    return out


def registry_to_data(
    r: Registry,
    *,
    compact: bool = False,
    with_profiles: bool = True,
    with_state: bool = True,
    shared: bool = False,
) -> JSONDict:
    """The serialized registry. `with_state` adds `read_only`/`managed_by` (deployment state,
    never exported to files); `shared` as in `profile_to_data`."""
    out: JSONDict = {"slug": r.slug}
    if r.display_name:
        out["display_name"] = r.display_name
    if r.description:
        out["description"] = r.description
    if r.default_profile_slug:
        out["default_profile_slug"] = r.default_profile_slug
    if with_state and r.read_only:
        out["read_only"] = True
    if with_state and r.managed_by:
        out["managed_by"] = r.managed_by
    if not compact or not r.metadata.is_empty():
        out["metadata"] = metadata_to_data(r.metadata)
    if r.extensions:
        out["extensions"] = r.extensions if shared else copy.deepcopy(r.extensions)
    if with_profiles and r.profiles:
        out["profiles"] = {
            slug: profile_to_data(r.profiles[slug], compact=compact, shared=shared)
            for slug in sorted(r.profiles)
        }
    return out


# --- parsing untyped input -------------------------------------------------------------------


class _Collector:
    """Collects shape problems while parsing so that one pass reports all of them."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def string(self, data: JSONDict, key: str, path: str) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return ""
        return value

    def boolean(self, data: JSONDict, key: str, path: str) -> bool:
        value = data.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.add(path, "must be a boolean")
            return False
        return value

    def integer(self, data: JSONDict, key: str, path: str) -> int:
        value = data.get(key)
        if value is None:
            return 0
        # JSON Schema (so the OpenAPI document and its clients) counts 3.0 as an integer
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.add(path, "must be a non-negative integer")
            return 0
        if value > MAX_INT:
            self.add(path, f"must be at most {MAX_INT}")
            return 0
        return value

    def string_list(self, data: JSONDict, key: str, path: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return []
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.add(f"{path}[{i}]", "must be a string")
            else:
                out.append(item)
        return out

    def mapping(self, value: Any, path: str) -> JSONDict | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return None
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            self.add(path, "keys must be strings")
            return None
        return value

    def unknown(self, data: JSONDict, allowed: frozenset[str], path: str) -> None:
        for key in sorted(k for k in data if k not in allowed):
            self.add(f"{path}.{key}" if path else key, "unknown field")


PROFILE_KEYS = frozenset(
    {"slug", "display_name", "description", "runtime", "policy", "metadata", "extensions", "stack"}
)
RUNTIME_KEYS = frozenset({"step_settings_patch", "system_prompt", "middlewares", "tools"})
POLICY_KEYS = frozenset(
    {"allow_overrides", "allowed_override_keys", "denied_override_keys", "read_only"}
)
METADATA_KEYS = frozenset(
    {"source", "version", "created_at_ms", "updated_at_ms", "created_by", "updated_by", "tags"}
)
MIDDLEWARE_KEYS = frozenset({"name", "id", "enabled", "config"})
REF_KEYS = frozenset({"registry_slug", "profile_slug"})
REGISTRY_KEYS = frozenset(
    {
        "slug",
        "display_name",
        "description",
        "default_profile_slug",
        "metadata",
        "extensions",
        "profiles",
        "read_only",
        "managed_by",
    }
)


def runtime_from_data(data: Any, c: _Collector, path: str = "runtime") -> RuntimeSpec:
    rt = RuntimeSpec()
    data = c.mapping(data, path)
    if data is None:
        return rt
    c.unknown(data, RUNTIME_KEYS, path)
    patch = c.mapping(data.get("step_settings_patch"), f"{path}.step_settings_patch")
    if patch:
        for section in sorted(patch):
            value = c.mapping(patch[section], f"{path}.step_settings_patch.{section}")
            if value is not None:
                rt.step_settings_patch[section] = copy.deepcopy(value)
    rt.system_prompt = c.string(data, "system_prompt", f"{path}.system_prompt")
    rt.tools = c.string_list(data, "tools", f"{path}.tools")
    mws = data.get("middlewares")
    if mws is not None and not isinstance(mws, list):
        c.add(f"{path}.middlewares", "must be an array")
    elif mws:
        for i, item in enumerate(mws):
            ipath = f"{path}.middlewares[{i}]"
            item = c.mapping(item, ipath)
            if item is None:
                if mws[i] is None:
                    c.add(ipath, "must be an object")
                continue
            c.unknown(item, MIDDLEWARE_KEYS, ipath)
            enabled = item.get("enabled")
            if enabled is not None and not isinstance(enabled, bool):
                c.add(f"{ipath}.enabled", "must be a boolean")
                enabled = None
            rt.middlewares.append(
                MiddlewareUse(
                    name=c.string(item, "name", f"{ipath}.name"),
                    id=c.string(item, "id", f"{ipath}.id"),
                    enabled=enabled,
                    config=copy.deepcopy(item.get("config")),
                )
            )
    return rt


def policy_from_data(data: Any, c: _Collector, path: str = "policy") -> PolicySpec:
    data = c.mapping(data, path)
    if data is None:
        return PolicySpec()
    c.unknown(data, POLICY_KEYS, path)
    return PolicySpec(
        allow_overrides=c.boolean(data, "allow_overrides", f"{path}.allow_overrides"),
        allowed_override_keys=c.string_list(
            data, "allowed_override_keys", f"{path}.allowed_override_keys"
        ),
        denied_override_keys=c.string_list(
            data, "denied_override_keys", f"{path}.denied_override_keys"
        ),
        read_only=c.boolean(data, "read_only", f"{path}.read_only"),
    )


def metadata_from_data(data: Any, c: _Collector, path: str = "metadata") -> Metadata:
    data = c.mapping(data, path)
    if data is None:
        return Metadata()
    c.unknown(data, METADATA_KEYS, path)
    return Metadata(
        source=c.string(data, "source", f"{path}.source"),
        version=c.integer(data, "version", f"{path}.version"),
        created_at_ms=c.integer(data, "created_at_ms", f"{path}.created_at_ms"),
        updated_at_ms=c.integer(data, "updated_at_ms", f"{path}.updated_at_ms"),
        created_by=c.string(data, "created_by", f"{path}.created_by"),
        updated_by=c.string(data, "updated_by", f"{path}.updated_by"),
        tags=c.string_list(data, "tags", f"{path}.tags"),
    )


def _extensions_from_data(data: Any, c: _Collector, path: str) -> JSONDict:
    ext = c.mapping(data, path)
    return copy.deepcopy(ext) if ext else {}


def _stack_from_data(data: Any, c: _Collector, path: str) -> list[ProfileRef]:
    if data is None:
        return []
    if not isinstance(data, list):
        c.add(path, "must be an array")
        return []
    refs = []
    for i, item in enumerate(data):
        item = c.mapping(item, f"{path}[{i}]")
        if item is None:
            if data[i] is None:
                c.add(f"{path}[{i}]", "must be an object")
            continue
        c.unknown(item, REF_KEYS, f"{path}[{i}]")
        refs.append(
            ProfileRef(
                profile_slug=c.string(item, "profile_slug", f"{path}[{i}].profile_slug"),
                registry_slug=c.string(item, "registry_slug", f"{path}[{i}].registry_slug"),
            )
        )
    return refs


def profile_fields_from_data(data: JSONDict, c: _Collector) -> JSONDict:
    """Parse the fields present in `data` (for patches): absent keys stay absent."""
    out: JSONDict = {}
    if "slug" in data:
        out["slug"] = data["slug"] if isinstance(data["slug"], str) else ""
        if data["slug"] is not None and not isinstance(data["slug"], str):
            c.add("profile.slug", "must be a string")
    for key in ("display_name", "description"):
        if key in data:
            out[key] = c.string(data, key, key)
    if "runtime" in data:
        out["runtime"] = runtime_from_data(data["runtime"], c)
    if "policy" in data:
        out["policy"] = policy_from_data(data["policy"], c)
    if "metadata" in data:
        out["metadata"] = metadata_from_data(data["metadata"], c)
    if "extensions" in data:
        out["extensions"] = _extensions_from_data(data["extensions"], c, "profile.extensions")
    if "stack" in data:
        out["stack"] = _stack_from_data(data["stack"], c, "profile.stack")
    return out


def profile_from_data(data: Any, *, slug: str = "", strict_keys: bool = True) -> Profile:
    """Parse a whole profile. `slug` is the fallback when the data has none (map keys)."""
    c = _Collector()
    data = c.mapping(data, "profile")
    if data is None:
        c.add("profile", "must be an object")
        c.raise_if_any()
        raise AssertionError  # unreachable
    if strict_keys:
        c.unknown(data, PROFILE_KEYS, "")
    fields = profile_fields_from_data(data, c)
    c.raise_if_any()
    fields.setdefault("slug", "")
    if not fields["slug"]:
        fields["slug"] = slug
    return Profile(**fields)


def registry_from_data(data: Any, *, slug: str = "", path: str = "registry") -> Registry:
    """Parse a whole registry document, profiles included; map keys are slug fallbacks."""
    c = _Collector()
    data = c.mapping(data, path)
    if data is None:
        c.add(path, "must be an object")
        c.raise_if_any()
        raise AssertionError  # unreachable
    c.unknown(data, REGISTRY_KEYS, path)
    reg = Registry(
        slug=c.string(data, "slug", f"{path}.slug") or slug,
        display_name=c.string(data, "display_name", f"{path}.display_name"),
        description=c.string(data, "description", f"{path}.description"),
        default_profile_slug=c.string(data, "default_profile_slug", f"{path}.default_profile_slug"),
        metadata=metadata_from_data(data.get("metadata"), c, f"{path}.metadata"),
        extensions=_extensions_from_data(data.get("extensions"), c, f"{path}.extensions"),
        read_only=c.boolean(data, "read_only", f"{path}.read_only"),
        managed_by=c.string(data, "managed_by", f"{path}.managed_by"),
    )
    profiles = c.mapping(data.get("profiles"), f"{path}.profiles")
    c.raise_if_any()
    for key in sorted(profiles or {}):
        ppath = f"{path}.profiles[{key}]"
        try:
            reg.profiles[key] = profile_from_data((profiles or {})[key], slug=key)
        except ValidationError as exc:
            c.errors.extend(e.rerooted(ppath) for e in exc.errors)
    c.raise_if_any()
    return reg


def profile_from_stored(data: Any, *, slug: str = "") -> Profile:
    """Fast path for profiles the stores wrote themselves (already validated on write).

    Builds the dataclasses directly from freshly decoded JSON (nothing shared, so no copies);
    anything unexpected falls back to `profile_from_data`, which reports the problem.
    """
    try:
        if not isinstance(data, dict) or not PROFILE_KEYS.issuperset(data):
            raise TypeError
        rt = data.get("runtime") or {}
        pol = data.get("policy") or {}
        meta = data.get("metadata") or {}
        p = Profile(
            slug=data.get("slug") or slug,
            display_name=data.get("display_name", ""),
            description=data.get("description", ""),
            runtime=RuntimeSpec(
                step_settings_patch=rt.get("step_settings_patch") or {},
                system_prompt=rt.get("system_prompt", ""),
                middlewares=[
                    MiddlewareUse(m["name"], m.get("id", ""), m.get("enabled"), m.get("config"))
                    for m in rt.get("middlewares") or ()
                ],
                tools=list(rt.get("tools") or ()),
            ),
            policy=PolicySpec(
                allow_overrides=pol.get("allow_overrides", False),
                allowed_override_keys=list(pol.get("allowed_override_keys") or ()),
                denied_override_keys=list(pol.get("denied_override_keys") or ()),
                read_only=pol.get("read_only", False),
            ),
            metadata=Metadata(
                source=meta.get("source", ""),
                version=meta.get("version", 0),
                created_at_ms=meta.get("created_at_ms", 0),
                updated_at_ms=meta.get("updated_at_ms", 0),
                created_by=meta.get("created_by", ""),
                updated_by=meta.get("updated_by", ""),
                tags=list(meta.get("tags") or ()),
            ),
            extensions=data.get("extensions") or {},
            stack=[
                ProfileRef(r["profile_slug"], r.get("registry_slug", ""))
                for r in data.get("stack") or ()
            ],
        )
        if not isinstance(p.slug, str) or not isinstance(p.extensions, dict):
            raise TypeError
        return p
    except (KeyError, TypeError, AttributeError):
        return profile_from_data(data, slug=slug)
