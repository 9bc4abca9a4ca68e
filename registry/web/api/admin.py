"""The admin API: registries, profiles listing, clone, revisions, import/export, changes,
tokens (SPEC 8.2)."""

from __future__ import annotations

from . import bp  # noqa: F401
