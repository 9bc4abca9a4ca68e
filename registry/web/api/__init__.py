"""The JSON API under `/api`: the chat-client contract and the admin API."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

# Route modules register on `bp` when imported.
from . import admin, chat, openapi  # noqa: E402,F401
