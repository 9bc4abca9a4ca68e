"""The dashboard: registries, recent changes, problems, store backend, and (for admins) a
notice naming each webhook subscription disabled after repeated failure."""

from __future__ import annotations

from flask import Blueprint, current_app, url_for

from registry.domain.health import find_problems

from ..deps import get_service
from ..htmx import render
from ..webhook_actions import disabled_subscriptions
from .session import current_viewer, page_require

bp = Blueprint("dashboard", __name__)

RECENT = 15


@bp.get("/")
@page_require("reader")
def dashboard():
    service = get_service()
    latest = service.latest_change_id()
    problems = _problems(service, latest)
    viewer = current_viewer()
    disabled = disabled_subscriptions() if viewer and viewer.can("admin") else []
    return render(
        "dashboard.html",
        registries=service.list_registries(),
        recent=service.recent_activity(RECENT),
        problems=problems,
        disabled_webhooks=disabled,
        history_enabled=service.supports_history,
        nav="dashboard",
        json_url=url_for("api.registries.list_registries"),
    )


def _problems(service, latest: int):
    """Strict-validation problems, recomputed only when the store changed."""
    cache = current_app.extensions.setdefault("dashboard_problems", {})
    if cache.get("change") != latest or latest == 0:
        cache["problems"] = find_problems(service)
        cache["change"] = latest
    return cache["problems"]
