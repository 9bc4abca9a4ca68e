"""API tokens: list (never secrets), create (the secret shown once), revoke."""

from __future__ import annotations

from flask import Blueprint, Response

from registry.domain.jsonutil import canonical_digest
from registry.domain.tokens import ADMIN, TokenNotFound, issue

from ..auth import current_actor, require
from ..http import (
    json_body,
    json_response,
)
from .common import (
    TOKEN_KEYS,
    bool_param,
    no_unknown,
    tokens,
)

bp = Blueprint("tokens", __name__)


@bp.get("/tokens")
@require(ADMIN)
def list_tokens() -> Response:
    """`{items: [{id, name, role, created_at_ms, created_by, last_used_at_ms, revoked}]}`:
    active tokens (`include_revoked=true` for all). Secrets are never shown."""
    include_revoked = bool_param("include_revoked")
    items = [t.to_data() for t in tokens().all(include_revoked=include_revoked)]
    data = {"items": items}
    return json_response(data, etag=f"tokens:{canonical_digest(data)}")


@bp.post("/tokens")
@require(ADMIN)
def create_token() -> Response:
    """`{name, role}` -> 201 with the token record and `token`, the secret (shown once)."""
    body = json_body()
    no_unknown(body, TOKEN_KEYS).raise_if_any()
    issued = issue(tokens(), body.get("name", ""), body.get("role", ""), created_by=current_actor())
    data = issued.token.to_data()
    data["token"] = issued.secret
    response = json_response(data, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/tokens/<token_id>")
@require(ADMIN)
def revoke_token(token_id: str) -> Response:
    """Revoke a token (idempotent for a revoked one); 404 for an unknown id."""
    store = tokens()
    if store.get(token_id) is None:
        raise TokenNotFound(token_id)
    store.revoke(token_id)
    return Response(status=204)
