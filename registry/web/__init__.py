"""HTTP layer: the JSON API (`api/`), the HTML pages (`pages/`), errors, auth, htmx helpers."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify

from registry import __version__
from registry.domain.errors import StoreClosed, StoreUnavailable

from .deps import get_service

log = logging.getLogger(__name__)
core = Blueprint("core", __name__)


@core.get("/healthz")
def healthz():
    """Liveness plus what an operator wants to know first: backend and data counts.

    Always JSON, for monitors: 200 `{"status": "ok", ...}` when the store answers, else 503
    `{"status": "unavailable", "store", "detail"}` (with `Retry-After` when waiting helps).
    """
    service = get_service()
    base = {"version": __version__, "store": service.backend_kind}
    try:
        registries = service.list_registries()
    except (StoreUnavailable, StoreClosed) as exc:
        return _unavailable(base, str(exc), getattr(exc, "retry_after", None))
    except Exception:  # a health check must answer, whatever broke
        log.exception("health check failed")
        return _unavailable(base, "the store failed to answer", None)
    return jsonify(
        {
            "status": "ok",
            **base,
            "registries": len(registries),
            "profiles": sum(r.profile_count for r in registries),
        }
    )


def _unavailable(base: dict, detail: str, retry_after: int | None):
    response = jsonify({"status": "unavailable", **base, "detail": detail})
    response.status_code = 503
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


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
