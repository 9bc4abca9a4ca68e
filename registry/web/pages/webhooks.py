"""Webhook subscriptions (admin): the list with an add form, the secret shown once after
adding, one subscription's delivery log with Redeliver, Send test, Enable and Remove (see
README, Admin UI and Change notifications).

Every page calls the same functions as the admin API (`registry/web/webhook_actions.py`,
`registry/domain/webhooks.py`) and links it as its JSON twin. Writes are plain form posts
answered by a redirect and a flash, except adding: its answer is the page that shows the
secret, marked `no-store`, because a redirect would have to carry the secret (in the URL or
the signed but readable session cookie). Removing asks on a page first (no JavaScript needed).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from registry.domain import webhooks as wh
from registry.domain.errors import NotFoundError, ValidationError
from registry.domain.metadata import now_ms

from ..deps import get_service, webhook_store
from ..htmx import render
from ..webhook_actions import create_subscription, delivery_log, send_test
from .session import actor, page_require

bp = Blueprint("webhooks", __name__)

LOG_SIZE = 50  # deliveries shown on a subscription's page (the API's default limit too)
FIELDS = ("url", "registry", "events")

Errors = dict[str, list[str]]


def _page(template: str, *, status: int = 200, **ctx: Any) -> Response:
    response = render(template, status=status, nav="webhooks", **ctx)
    if ctx.get("json_url"):
        response.headers["Link"] = f'<{ctx["json_url"]}>; rel="alternate"; type="application/json"'
    return response


def _list_page(
    *, status: int = 200, form: dict[str, Any] | None = None, errors: Errors | None = None
) -> Response:
    subs = webhook_store().list_subscriptions()
    return _page(
        "webhooks/list.html",
        status=status,
        subscriptions=subs,
        registries=[s.registry.slug for s in get_service().list_registries()],
        event_types=wh.EVENT_TYPES,
        form=form or {"url": "", "registry": "", "events": []},
        errors=errors or {},
        json_url=url_for("api.webhooks.list_webhooks"),
    )


def _field_errors(exc: ValidationError) -> Errors:
    """Each `FieldError` beside its form field; others in the form-level list under ""."""
    out: Errors = {}
    for e in exc.errors:
        name = e.field.split(".", 1)[0].split("[", 1)[0]
        key = name if name in FIELDS else ""
        out.setdefault(key, []).append(e.text if key else f"{e.field}: {e.text}")
    return out


def _back(sub_id: int) -> Response:
    return redirect(url_for("pages.webhooks.webhook", sub_id=sub_id), code=303)


@bp.get("/webhooks")
@page_require("admin")
def webhooks() -> Response:
    """Every subscription (URL, filter, events, state) and the add form."""
    return _list_page()


@bp.post("/webhooks")
@page_require("admin")
def add_webhook() -> Response:
    """Add a subscription; the answer shows its secret, once."""
    url = request.form.get("url", "")
    registry = request.form.get("registry", "")
    events = request.form.getlist("events")
    form = {"url": url, "registry": registry, "events": events}
    try:
        new = create_subscription(url, registry, events, actor())
    except ValidationError as exc:
        return _list_page(status=422, form=form, errors=_field_errors(exc))
    except NotFoundError:
        errors = {"registry": [f"no registry {registry!r}"]}
        return _list_page(status=422, form=form, errors=errors)
    response = _page(
        "webhooks/created.html",
        status=201,
        sub=new.subscription,
        secret=new.secret,
        json_url=url_for("api.webhooks.get_webhook", sub_id=new.subscription.id),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/webhooks/<int:sub_id>")
@page_require("admin")
def webhook(sub_id: int) -> Response:
    """One subscription with its newest deliveries and their attempts."""
    sub = wh.subscription(webhook_store(), sub_id)
    return _page(
        "webhooks/detail.html",
        sub=sub,
        log=delivery_log(sub, LOG_SIZE),
        log_size=LOG_SIZE,
        pending=wh.PENDING,
        delivered=wh.DELIVERED,
        json_url=url_for("api.webhooks.get_webhook", sub_id=sub.id),
    )


@bp.route("/webhooks/<int:sub_id>/remove", methods=["GET", "POST"])
@page_require("admin")
def remove_webhook(sub_id: int) -> Response:
    """Confirm, then remove the subscription with its pending deliveries and log."""
    store = webhook_store()
    sub = wh.subscription(store, sub_id)
    if request.method == "POST":
        store.remove_subscription(sub.id)
        flash(f"Webhook {sub.id} ({sub.url}) removed.", "success")
        return redirect(url_for("pages.webhooks.webhooks"), code=303)
    return _page(
        "webhooks/remove.html",
        sub=sub,
        json_url=url_for("api.webhooks.get_webhook", sub_id=sub.id),
    )


@bp.post("/webhooks/<int:sub_id>/enable")
@page_require("admin")
def enable_webhook(sub_id: int) -> Response:
    store = webhook_store()
    sub = wh.subscription(store, sub_id)
    store.enable_subscription(sub.id)
    flash(f"Webhook {sub.id} enabled: its pending deliveries go out now.", "success")
    return _back(sub.id)


@bp.post("/webhooks/<int:sub_id>/test")
@page_require("admin")
def test_webhook(sub_id: int) -> Response:
    """Send a `webhook.test` event now and say how the receiver answered."""
    sub = wh.subscription(webhook_store(), sub_id)
    _delivery, attempt = send_test(sub)
    if attempt is None:
        flash("The subscription was removed meanwhile; nothing was sent.", "error")
    elif attempt.ok:
        flash(f"Test event delivered: HTTP {attempt.status} in {attempt.latency_ms} ms.", "success")
    else:
        answer = f"HTTP {attempt.status}" if attempt.status else "no response"
        detail = f" ({attempt.error})" if attempt.error else ""
        flash(f"Test event failed: {answer}{detail}; it will be retried.", "error")
    return _back(sub.id)


@bp.post("/webhooks/<int:sub_id>/deliveries/<int:delivery_id>/redeliver")
@page_require("admin")
def redeliver(sub_id: int, delivery_id: int) -> Response:
    """Queue an event again (same `webhook-id` and body)."""
    again = wh.redeliver(webhook_store(), sub_id, delivery_id, now_ms())
    flash(f"Event {again.message_id} queued again (delivery {again.id}).", "success")
    return _back(sub_id)
