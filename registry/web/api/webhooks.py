"""Webhook subscriptions (admin): add (the secret shown once), list, read with recent
deliveries, remove, re-enable, send a test event, redeliver (`/api/webhooks...`)."""

from __future__ import annotations

from flask import Blueprint, Response

from registry.domain import webhooks as wh
from registry.domain.metadata import now_ms
from registry.domain.tokens import ADMIN

from ..auth import current_actor, require
from ..deps import webhook_store
from ..http import int_param, json_body, json_response
from ..webhook_actions import create_subscription, delivery_log, send_test
from .common import no_unknown

bp = Blueprint("webhooks", __name__)

WEBHOOK_KEYS = frozenset({"url", "registry", "events"})


@bp.get("/webhooks")
@require(ADMIN)
def list_webhooks() -> Response:
    """`{items: [subscription]}` (secrets are never shown)."""
    items = [s.to_data() for s in webhook_store().list_subscriptions()]
    return json_response({"items": items, "event_types": list(wh.EVENT_TYPES)})


@bp.post("/webhooks")
@require(ADMIN)
def add_webhook() -> Response:
    """`{url, registry?, events?}` -> 201 with the subscription and `secret` (shown once)."""
    body = json_body()
    no_unknown(body, WEBHOOK_KEYS).raise_if_any()
    new = create_subscription(
        body.get("url"), body.get("registry", ""), body.get("events", []), current_actor()
    )
    data = new.subscription.to_data()
    data["secret"] = new.secret
    response = json_response(data, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/webhooks/<int:sub_id>")
@require(ADMIN)
def get_webhook(sub_id: int) -> Response:
    """The subscription and its newest deliveries (`limit`, default 50) with their attempts."""
    store = webhook_store()
    sub = wh.subscription(store, sub_id)
    limit = int_param("limit", 50, minimum=1, maximum=500)
    deliveries = [
        {**logged.delivery.to_data(), "attempt_log": [a.to_data() for a in logged.attempts]}
        for logged in delivery_log(sub, limit)
    ]
    return json_response({**sub.to_data(), "deliveries": deliveries})


@bp.delete("/webhooks/<int:sub_id>")
@require(ADMIN)
def remove_webhook(sub_id: int) -> Response:
    """Remove a subscription with its pending deliveries and log."""
    webhook_store().remove_subscription(sub_id)
    return Response(status=204)


@bp.post("/webhooks/<int:sub_id>/enable")
@require(ADMIN)
def enable_webhook(sub_id: int) -> Response:
    """Re-enable a disabled subscription (its failure count starts again)."""
    store = webhook_store()
    store.enable_subscription(sub_id)
    return json_response(wh.subscription(store, sub_id).to_data())


@bp.post("/webhooks/<int:sub_id>/test")
@require(ADMIN)
def test_webhook(sub_id: int) -> Response:
    """Send a signed `webhook.test` event now; the delivery and the attempt made."""
    sub = wh.subscription(webhook_store(), sub_id)
    delivery, attempt = send_test(sub)
    return json_response(
        {"delivery": delivery.to_data(), "attempt": attempt.to_data() if attempt else None}
    )


@bp.post("/webhooks/<int:sub_id>/deliveries/<int:delivery_id>/redeliver")
@require(ADMIN)
def redeliver_webhook(sub_id: int, delivery_id: int) -> Response:
    """Queue the event again (same `webhook-id` and body); 202 with the new delivery."""
    again = wh.redeliver(webhook_store(), sub_id, delivery_id, now_ms())
    return json_response(again.to_data(), status=202)
