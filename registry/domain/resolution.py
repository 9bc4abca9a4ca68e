"""Resolution: which profile a request selects, and what runtime it gets (README, Concepts
and decisions: "Resolution").

Pure functions; the service feeds them stored data. Selection precedence for chat requests is
`select_profile`; request overrides are canonicalized, checked against the profile's policy
and applied by `apply_overrides`; `fingerprint` hashes what a backend's runtime depends on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import FieldError, PolicyViolation, ValidationError
from .jsonutil import canonical_digest
from .model import MiddlewareUse, PolicySpec, RuntimeSpec, copy_value, runtime_to_data
from .slugs import SlugError, parse_slug

LEGACY_SELECTORS = ("runtime_key", "registry_slug")
SUPPORTED_OVERRIDES = ("middlewares", "step_settings_patch", "system_prompt", "tools")
COOKIE_NAME = "chat_profile"


# --- selection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What a request asked for; None means "fall back" (registry default, then `default`)."""

    registry: str | None = None
    profile: str | None = None
    # The cookie held a bare profile slug (legacy form): use it only if that profile exists
    # in the default registry.
    legacy_cookie_profile: str | None = None


def parse_cookie(value: str | None) -> tuple[str | None, str | None, bool]:
    """`registry/profile` -> (registry, profile, False); a bare `profile` -> (None, p, True).

    Unparseable cookies are ignored rather than failing the request: the browser keeps
    sending them and the user can't easily clear them.
    """
    if not value or not value.strip():
        return None, None, False
    reg, sep, prof = value.strip().partition("/")
    try:
        if sep:
            return parse_slug(reg, "registry slug"), parse_slug(prof, "profile slug"), False
        return None, parse_slug(reg, "profile slug"), True
    except SlugError:
        return None, None, False


def select_profile(
    *,
    path_profile: str | None = None,
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
    cookie: str | None = None,
) -> Selection:
    """Profile: path > body > query > cookie. Registry: body > query > cookie.

    Legacy selectors (`runtime_key`, `registry_slug`) are rejected: no current client sends
    them, and silently ignoring them would select the wrong profile.
    """
    body = body or {}
    query = query or {}
    for data in (query, body):
        for name in LEGACY_SELECTORS:
            value = data.get(name)
            if value not in (None, ""):
                raise ValidationError(
                    FieldError(name, f"unsupported legacy selector: {name}"),
                    message=f"unsupported legacy selector: {name}",
                )
    cookie_registry, cookie_profile, legacy = parse_cookie(cookie)

    def pick(*candidates: tuple[str, Any]) -> tuple[str, str] | None:
        for name, value in candidates:
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            return name, value
        return None

    registry = None
    chosen = pick(("registry", body.get("registry")), ("registry", query.get("registry")))
    if chosen:
        registry = _selector(chosen[1], "registry", "registry slug")
    elif cookie_registry:
        registry = cookie_registry

    chosen = pick(
        ("profile", path_profile),
        ("profile", body.get("profile")),
        ("profile", query.get("profile")),
    )
    if chosen:
        return Selection(registry, _selector(chosen[1], "profile", "profile slug"))
    if cookie_profile and not legacy:
        return Selection(registry, cookie_profile)
    if cookie_profile and legacy and registry is None:
        return Selection(None, None, legacy_cookie_profile=cookie_profile)
    return Selection(registry, None)


def _selector(value: Any, field_name: str, label: str) -> str:
    try:
        return parse_slug(value, label)
    except SlugError as exc:
        raise ValidationError(FieldError(field_name, str(exc))) from None


# --- request overrides -------------------------------------------------------------------------

_UPPER = re.compile(r"(?<!^)([A-Z])")


def canonical_override_key(raw: str) -> str:
    """camelCase and kebab-case to snake_case, as the reference does (quirks included)."""
    text = raw.strip()
    if not text:
        return ""
    return _UPPER.sub(r"_\1", text).lower().replace("-", "_")


def normalize_overrides(overrides: Any) -> dict[str, Any]:
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ValidationError(FieldError("request_overrides", "must be an object"))
    out: dict[str, Any] = {}
    for raw in sorted(overrides, key=str):
        key = canonical_override_key(raw) if isinstance(raw, str) else ""
        if not key:
            raise ValidationError(
                FieldError("request_overrides", "override keys must not be empty")
            )
        if key in out:
            raise ValidationError(
                FieldError(
                    f"request_overrides.{key}", "duplicate override key after canonicalization"
                )
            )
        out[key] = copy_value(overrides[raw])
    return out


def enforce_policy(policy: PolicySpec, keys: list[str], profile_slug: str = "") -> None:
    """Raise `PolicyViolation` unless every override key is allowed (checked in sorted order)."""
    if not keys:
        return
    if not policy.allow_overrides:
        raise PolicyViolation("request overrides are disabled for this profile")
    denied = {canonical_override_key(k) for k in policy.denied_override_keys} - {""}
    allowed = {canonical_override_key(k) for k in policy.allowed_override_keys} - {""}
    for key in sorted(keys):
        if key in denied:
            raise PolicyViolation(f'override key "{key}" is denied')
        if allowed and key not in allowed:
            raise PolicyViolation(f'override key "{key}" is not allowed')


def merge_step_settings_patches(
    base: dict[str, dict[str, Any]], overlay: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Union of sections; overlay fields replace base fields one key at a time."""
    out: dict[str, dict[str, Any]] = copy_value(base)
    for section, fields in overlay.items():
        out.setdefault(section, {}).update(copy_value(fields))
    return out


def apply_overrides(runtime: RuntimeSpec, overrides: dict[str, Any]) -> RuntimeSpec:
    """The runtime after canonical overrides; replaces prompt/tools/middlewares, merges the
    step settings patch. Raises `ValidationError` with `request_overrides...` paths."""
    out: RuntimeSpec = copy_value(runtime)
    for key in sorted(overrides):
        if key not in SUPPORTED_OVERRIDES:
            raise ValidationError(
                FieldError(f"request_overrides.{key}", "unsupported override key")
            )
    errors: list[FieldError] = []
    if "system_prompt" in overrides:
        value = overrides["system_prompt"]
        if not isinstance(value, str):
            errors.append(FieldError("request_overrides.system_prompt", "must be a string"))
        else:
            out.system_prompt = value
    if "tools" in overrides:
        out.tools = _tools(overrides["tools"], errors)
    if "middlewares" in overrides:
        out.middlewares = _middlewares(overrides["middlewares"], errors)
    if "step_settings_patch" in overrides:
        patch = _patch(overrides["step_settings_patch"], errors)
        out.step_settings_patch = merge_step_settings_patches(out.step_settings_patch, patch)
    if errors:
        raise ValidationError(errors)
    return out


def _tools(value: Any, errors: list[FieldError]) -> list[str]:
    if not isinstance(value, list):
        errors.append(FieldError("request_overrides.tools", "must be an array"))
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            errors.append(FieldError(f"request_overrides.tools[{i}]", "must be a string"))
        elif not item.strip():
            errors.append(FieldError(f"request_overrides.tools[{i}]", "must not be empty"))
        else:
            out.append(item.strip())
    return out


def _middlewares(value: Any, errors: list[FieldError]) -> list[MiddlewareUse]:
    if not isinstance(value, list):
        errors.append(FieldError("request_overrides.middlewares", "must be an array"))
        return []
    out = []
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        path = f"request_overrides.middlewares[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(path, "must be an object"))
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(FieldError(f"{path}.name", "must not be empty"))
            continue
        use_id = item.get("id")
        if use_id is not None and (not isinstance(use_id, str) or not use_id.strip()):
            errors.append(FieldError(f"{path}.id", "must not be empty"))
            continue
        enabled = item.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            errors.append(FieldError(f"{path}.enabled", "must be a boolean"))
            continue
        config = item.get("config")
        if config is not None and not isinstance(config, dict):
            errors.append(FieldError(f"{path}.config", "must be an object"))
            continue
        use_id = (use_id or "").strip()
        if use_id:
            if use_id in seen:
                errors.append(
                    FieldError(
                        f"{path}.id",
                        f'duplicate middleware instance id "{use_id}" '
                        f"(first seen at request_overrides.middlewares[{seen[use_id]}].id)",
                    )
                )
                continue
            seen[use_id] = i
        out.append(
            MiddlewareUse(name=name.strip(), id=use_id, enabled=enabled, config=copy_value(config))
        )
    return out


def _patch(value: Any, errors: list[FieldError]) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        errors.append(FieldError("request_overrides.step_settings_patch", "must be an object"))
        return {}
    out = {}
    for section in sorted(value, key=str):
        fields = value[section]
        if not isinstance(fields, dict):
            errors.append(
                FieldError(f"request_overrides.step_settings_patch.{section}", "must be an object")
            )
            continue
        if not str(section).strip():
            errors.append(
                FieldError("request_overrides.step_settings_patch", "section slug cannot be empty")
            )
            continue
        out[str(section).strip()] = copy_value(fields)
    return out


# --- result ------------------------------------------------------------------------------------


@dataclass
class ResolvedProfile:
    registry: str
    profile: str
    version: int
    runtime_key: str
    effective_runtime: RuntimeSpec
    middleware_configs: list[dict[str, Any]]
    extensions: dict[str, Any]
    source: str = ""
    stack_lineage: list[dict[str, Any]] = field(default_factory=list)
    stack_trace: dict[str, Any] = field(default_factory=lambda: {"paths": []})
    fingerprint: str = ""

    def to_data(self, *, shared: bool = False) -> dict[str, Any]:
        """The JSON shape. Nested values are copies, unless `shared`: then they are this
        result's own, for a caller that serializes the data at once and keeps nothing (the
        API's answer; copying a resolved stack's trace cost as much as resolving it)."""
        own: Callable[[Any], Any] = _as_is if shared else copy_value
        runtime = runtime_to_data(self.effective_runtime)
        return {
            "registry": self.registry,
            "profile": self.profile,
            "version": self.version,
            "runtime_key": self.runtime_key,
            "effective_runtime": runtime,
            "effective_step_settings_patch": own(self.effective_runtime.step_settings_patch),
            "middleware_configs": own(self.middleware_configs),
            "extensions": own(self.extensions),
            "fingerprint": self.fingerprint,
            "metadata": {
                "profile.registry": self.registry,
                "profile.slug": self.profile,
                "profile.version": self.version,
                "profile.source": self.source,
                "profile.stack.lineage": own(self.stack_lineage),
                "profile.stack.trace": own(self.stack_trace),
            },
        }


def _as_is(value: Any) -> Any:
    return value


def fingerprint(resolved: ResolvedProfile) -> str:
    """`sha256:` + hex of the canonical JSON of what the runtime depends on (README, Concepts
    and decisions: "Resolution").

    Inputs: registry, profile, version, stack lineage, effective runtime and effective
    middleware configs. Not inputs: policy, display fields, extensions other than configs.
    """
    payload = {
        "registry_slug": resolved.registry,
        "profile_slug": resolved.profile,
        "profile_version": resolved.version,
        "stack_lineage": resolved.stack_lineage,
        "runtime": runtime_to_data(resolved.effective_runtime),
        "middleware_configs": resolved.middleware_configs,
    }
    return "sha256:" + canonical_digest(payload)
