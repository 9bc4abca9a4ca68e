"""Stored data that would not pass today's checks: shown on the dashboard.

A profile can drift out of line without being edited: a middleware definition changes, a
codec is added, a key was imported before it had a codec. Each problem names its field.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ValidationError
from .service import RegistryService


@dataclass(frozen=True)
class Problem:
    registry: str
    profile: str
    field: str
    message: str


def find_problems(
    service: RegistryService, *, limit: int = 50, scan: int = 20_000
) -> list[Problem]:
    """Profiles failing strict validation (unknown extension keys included), at most `limit`
    problems from the first `scan` profiles (a dashboard must stay fast on huge stores)."""
    out: list[Problem] = []
    seen = 0
    for summary in service.list_registries():
        for profile in service.iter_profiles(summary.registry.slug):
            seen += 1
            if seen > scan or len(out) >= limit:
                return out
            try:
                service.prepare_profile(profile, strict=True)
            except ValidationError as exc:
                for err in exc.errors:
                    out.append(Problem(summary.registry.slug, profile.slug, err.field, err.message))
    return out[:limit]
