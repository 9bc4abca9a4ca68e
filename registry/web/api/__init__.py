"""The JSON API under `/api`: the chat-client contract and the admin API."""

from __future__ import annotations

# Route modules register on `bp` (defined in .blueprint) when imported.
from . import admin, chat, openapi  # noqa: F401
from .blueprint import bp

__all__ = ["bp"]
