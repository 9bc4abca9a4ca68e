"""HTTP layer: the JSON API (`api/`), the HTML pages (`pages/`), errors, auth, htmx helpers."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from registry import __version__
from registry.domain.service import RegistryService

core = Blueprint("core", __name__)


def get_service() -> RegistryService:
    return current_app.extensions["registry"]


@core.get("/healthz")
def healthz():
    """Liveness plus what a operator wants to know first: backend and data counts."""
    service = get_service()
    registries = service.list_registries()
    return jsonify(
        {
            "status": "ok",
            "version": __version__,
            "store": service.store.kind,
            "registries": len(registries),
            "profiles": sum(r.profile_count for r in registries),
        }
    )


def register_blueprints(app: Flask) -> None:
    from .api import bp as api
    from .errors import register_error_handlers
    from .http import bound_request_bodies
    from .ui import init_ui

    register_error_handlers(app)
    app.register_blueprint(core)
    app.register_blueprint(api)
    init_ui(app)
    bound_request_bodies(app)  # after init_ui: htmx replaces the request class
