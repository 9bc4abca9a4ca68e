"""The chat-client contract: `/api/chat/...` (SPEC 8.1, reference contract sections 2-9)."""

from __future__ import annotations

from . import bp  # noqa: F401
