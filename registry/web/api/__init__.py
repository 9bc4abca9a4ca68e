"""The JSON API under `/api`: the chat-client contract and the admin API."""

from __future__ import annotations

# Route modules register on `bp` (defined in .blueprint) when imported.
from . import changes, chat, openapi, registries, registry_profiles, revisions, tokens, transfer  # noqa: F401
from .blueprint import bp

__all__ = ["bp"]
