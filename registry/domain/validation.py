"""Structural validation of profiles and registries (see README, Concepts and decisions).

Each function returns every problem it finds as `FieldError`s, in a deterministic order; the
service combines them with extension and middleware checks and raises one `ValidationError`.
"""

from __future__ import annotations

from .errors import FieldError
from .model import (
    Metadata,
    PolicySpec,
    Profile,
    Registry,
    RuntimeSpec,
    profile_to_data,
    registry_to_data,
)
from .slugs import SlugError, parse_slug
from .text import refused_fields

MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_TAG = 64


def validate_slug(value: str, field: str, label: str) -> list[FieldError]:
    if not value.strip():
        return [FieldError(field, "must not be empty")]
    try:
        parse_slug(value, label)
    except SlugError as exc:
        return [FieldError(field, str(exc))]
    return []


def validate_runtime(rt: RuntimeSpec, prefix: str = "runtime") -> list[FieldError]:
    errors: list[FieldError] = []
    first_seen: dict[str, int] = {}
    for i, use in enumerate(rt.middlewares):
        path = f"{prefix}.middlewares[{i}]"
        if not use.name.strip():
            errors.append(FieldError(f"{path}.name", "must not be empty"))
        if use.id and not use.id.strip():
            errors.append(FieldError(f"{path}.id", "must not be empty"))
        use_id = use.id.strip()
        if use_id:
            if use_id in first_seen:
                errors.append(
                    FieldError(
                        f"{path}.id",
                        f'duplicate middleware instance id "{use_id}" '
                        f"(first seen at {prefix}.middlewares[{first_seen[use_id]}].id)",
                    )
                )
            else:
                first_seen[use_id] = i
    for i, tool in enumerate(rt.tools):
        if not tool.strip():
            errors.append(FieldError(f"{prefix}.tools[{i}]", "must not be empty"))
    for section in sorted(rt.step_settings_patch):
        if not section.strip():
            errors.append(
                FieldError(f"{prefix}.step_settings_patch", "section slug cannot be empty")
            )
            continue
        for name in sorted(rt.step_settings_patch[section]):
            if not name.strip():
                errors.append(
                    FieldError(
                        f"{prefix}.step_settings_patch.{section}", "field name cannot be empty"
                    )
                )
    return errors


def validate_policy(p: PolicySpec, prefix: str = "policy") -> list[FieldError]:
    errors: list[FieldError] = []
    for name in ("allowed_override_keys", "denied_override_keys"):
        for i, key in enumerate(getattr(p, name)):
            if not key.strip():
                errors.append(FieldError(f"{prefix}.{name}[{i}]", "must not be empty"))
    allowed = {k.strip() for k in p.allowed_override_keys if k.strip()}
    for key in sorted({k.strip() for k in p.denied_override_keys if k.strip()} & allowed):
        errors.append(
            FieldError(
                f"{prefix}.override_keys", f'key "{key}" appears in both allow and deny lists'
            )
        )
    return errors


def validate_tags(meta: Metadata, prefix: str = "metadata") -> list[FieldError]:
    errors = []
    for i, tag in enumerate(meta.tags):
        if not tag.strip():
            errors.append(FieldError(f"{prefix}.tags[{i}]", "must not be empty"))
        elif len(tag) > MAX_TAG:
            errors.append(
                FieldError(f"{prefix}.tags[{i}]", f"must be at most {MAX_TAG} characters")
            )
    return errors


def validate_text(display_name: str, description: str, prefix: str = "") -> list[FieldError]:
    errors = []
    if len(display_name) > MAX_NAME:
        errors.append(FieldError(f"{prefix}display_name", f"must be at most {MAX_NAME} characters"))
    if len(description) > MAX_DESCRIPTION:
        errors.append(
            FieldError(f"{prefix}description", f"must be at most {MAX_DESCRIPTION} characters")
        )
    return errors


# Top-level profile fields whose errors carry the `profile.` prefix (as the other checks do).
_PROFILE_PREFIXED = ("slug", "stack", "extensions")


def refused_text(p: Profile) -> list[FieldError]:
    """Strings and keys holding NUL or a lone surrogate (the rule in `text`), by field path.

    Checked before anything else: other messages quote the values they reject.
    """
    errors = []
    for path, reason in refused_fields(profile_to_data(p, shared=True)):
        if path.split(".")[0].split("[")[0] in _PROFILE_PREFIXED:
            path = f"profile.{path}"
        errors.append(FieldError(path, reason))
    return errors


def refused_registry_text(r: Registry) -> list[FieldError]:
    """`refused_text` for a registry header."""
    data = registry_to_data(r, with_profiles=False)
    return [FieldError(path, reason) for path, reason in refused_fields(data, "registry")]


def validate_profile(p: Profile) -> list[FieldError]:
    """Slug, text, runtime, policy, tags and stack refs (extensions are checked by codecs)."""
    errors = validate_slug(p.slug, "profile.slug", "profile slug")
    errors += validate_text(p.display_name, p.description)
    errors += validate_runtime(p.runtime)
    errors += validate_policy(p.policy)
    errors += validate_tags(p.metadata)
    for i, ref in enumerate(p.stack):
        errors += validate_slug(
            ref.profile_slug, f"profile.stack[{i}].profile_slug", "profile slug"
        )
        if ref.registry_slug.strip():
            errors += validate_slug(
                ref.registry_slug, f"profile.stack[{i}].registry_slug", "registry slug"
            )
    return errors


def validate_registry_header(r: Registry) -> list[FieldError]:
    errors = validate_slug(r.slug, "registry.slug", "registry slug")
    errors += validate_text(r.display_name, r.description, "registry.")
    if r.default_profile_slug.strip():
        errors += validate_slug(
            r.default_profile_slug, "registry.default_profile_slug", "profile slug"
        )
    errors += validate_tags(r.metadata, "registry.metadata")
    return errors
