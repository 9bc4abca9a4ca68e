"""The JSON API under `/api`: the chat-client contract and the admin API.

Each route module holds its own blueprint, nested under `api` (which carries the `/api` prefix
and the cross-site guard), so endpoints read `api.<module>.<view>`; the OpenAPI `operationId`
of an operation is its view name alone.
"""

from __future__ import annotations

from flask import Blueprint

from ..guards import check_api_request
from . import (
    changes,
    chat,
    openapi,
    registries,
    registry_profiles,
    revisions,
    search,
    tokens,
    transfer,
)

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(check_api_request)  # cross-site writes: origin, then body media type
# The route modules' own blueprints, for the few settings Flask applies per blueprint rather
# than per tree (Flask-WTF's CSRF exemption looks up the request's innermost blueprint).
ROUTE_BLUEPRINTS = tuple(
    module.bp
    for module in (
        chat,
        registries,
        registry_profiles,
        revisions,
        transfer,
        changes,
        tokens,
        search,
        openapi,
    )
)
for _child in ROUTE_BLUEPRINTS:
    bp.register_blueprint(_child)

__all__ = ["ROUTE_BLUEPRINTS", "bp"]
