"""The `api` blueprint, apart from the package so route modules import it without a cycle."""

from __future__ import annotations

from flask import Blueprint

from ..guards import check_api_request

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(check_api_request)  # cross-site writes: origin, then body media type
