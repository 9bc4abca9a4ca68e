"""JSON shapes of the chat-client contract, built once here.

Key allow-lists are exact: clients' tests fail on extra keys. `is_default` is always a boolean
in documents and present only when true in list items.
"""

from __future__ import annotations

from typing import Any

from registry.domain.model import Profile, Registry, metadata_to_data, profile_to_data
from registry.domain.ports import Change, Revision
from registry.domain.service import RegistryService
from registry.domain.webhooks import change_data

LIST_ITEM_KEYS = (
    "registry",
    "slug",
    "display_name",
    "description",
    "default_prompt",
    "extensions",
    "is_default",
    "version",
)
DOCUMENT_KEYS = (
    "registry",
    "slug",
    "display_name",
    "description",
    "stack",
    "runtime",
    "policy",
    "metadata",
    "extensions",
    "is_default",
)


def list_item(registry: Registry, p: Profile) -> dict[str, Any]:
    item: dict[str, Any] = {"registry": registry.slug, "slug": p.slug}
    if p.display_name:
        item["display_name"] = p.display_name
    if p.description:
        item["description"] = p.description
    if p.runtime.system_prompt:
        item["default_prompt"] = p.runtime.system_prompt
    if p.extensions:
        item["extensions"] = p.extensions
    if registry.default_profile_slug == p.slug:
        item["is_default"] = True
    if p.metadata.version:
        item["version"] = p.metadata.version
    return item


def document(registry: Registry, p: Profile) -> dict[str, Any]:
    data = profile_to_data(p)
    data.setdefault("stack", [])  # always present in documents, base to leaf
    doc: dict[str, Any] = {"registry": registry.slug}
    doc.update(data)
    doc["is_default"] = registry.default_profile_slug == p.slug
    return doc


def dependants_data(service: RegistryService, registry: str, slug: str) -> dict[str, Any]:
    """`{items: [{registry, slug, version, depth, stack}]}`: who stacks on a profile, nearest
    first (`depth` 1 = directly), for impact checks before changing or deleting it."""
    return {
        "items": [
            {
                "registry": d.registry,
                "slug": d.profile.slug,
                "version": d.profile.metadata.version,
                "depth": d.depth,
                "stack": profile_to_data(d.profile)["stack"],
            }
            for d in service.dependants(registry, slug)
        ]
    }


def document_etag(registry: Registry, p: Profile) -> str:
    """Changes with the profile's version and with whether it is its registry's default."""
    return f"{registry.slug}/{p.slug}/v{p.metadata.version}/d{int(registry.default_profile_slug == p.slug)}"


def document_state(service: RegistryService, registry: str | None, slug: str) -> tuple[str, int]:
    """A profile document's ETag and version, for `If-Match` (404 when either is missing)."""
    reg = service.get_registry(registry)
    p = service.get_profile(reg.slug, slug)
    return document_etag(reg, p), p.metadata.version


def registry_summary(reg: Registry, profile_count: int) -> dict[str, Any]:
    """A registry header with its profile count; every key always present."""
    return {
        "slug": reg.slug,
        "display_name": reg.display_name,
        "description": reg.description,
        "default_profile_slug": reg.default_profile_slug,
        "read_only": reg.is_managed,
        "managed_by": reg.managed_by,
        "metadata": metadata_to_data(reg.metadata),
        "extensions": reg.extensions,
        "profile_count": profile_count,
    }


def registry_etag(reg: Registry, profile_count: int) -> str:
    """Changes with the registry's version and with its profile count."""
    return f"registry:{reg.slug}:v{reg.metadata.version}:n{profile_count}"


def revision_item(rev: Revision) -> dict[str, Any]:
    return {
        "id": rev.id,
        "version": rev.version,
        "operation": rev.operation,
        "actor": rev.actor,
        "at_ms": rev.at_ms,
    }


def change_item(change: Change) -> dict[str, Any]:
    """A change-feed item: the same JSON as a webhook event's `data` (one shape, one home)."""
    return change_data(change)
