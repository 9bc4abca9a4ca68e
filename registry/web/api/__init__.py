"""The JSON API under `/api`: the chat-client contract and the admin API."""

from __future__ import annotations

from flask import Blueprint

from ..guards import check_api_request

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(check_api_request)  # cross-site writes: origin, then body media type

# Route modules register on `bp` when imported.
from . import admin, chat, openapi  # noqa: E402,F401
