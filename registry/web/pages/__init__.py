"""The HTML admin UI (see README, Admin UI): server-rendered pages, htmx fragments from page blocks.

Pages call the same service functions as the JSON API and link their JSON twin. Each route
module holds its own blueprint (as in Flask's tutorial), nested under `pages`, so endpoints
read `pages.<module>.<view>` (`url_for("pages.registries.registry", slug=...)`).
"""

from __future__ import annotations

from flask import Blueprint

from . import dashboard, history, io, profiles, registries, resolve, search, session, webhooks

bp = Blueprint("pages", __name__)
for _module in (
    dashboard,
    registries,
    profiles,
    history,
    resolve,
    io,
    search,
    session,
    webhooks,
):
    bp.register_blueprint(_module.bp)

__all__ = ["bp"]
