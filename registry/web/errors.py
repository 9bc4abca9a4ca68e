"""One error-to-HTTP mapping and one JSON error shape (README, JSON API: errors are
problem+json).

Every error under `/api` is `application/problem+json`:
`{"type", "title", "status", "detail", "errors": [{"field", "message"}]}`, where `detail` is
the domain message (clients that show the body text show the reason).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, render_template, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from registry.domain.errors import (
    ConflictError,
    FieldError,
    MergeConflict,
    NotFoundError,
    PayloadTooLarge,
    PolicyViolation,
    ReadOnlyStore,
    RegistryError,
    StoreClosed,
    StoreUnavailable,
    ValidationError,
)
from registry.domain.merge import MISSING

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://profile-registry.dev/problems/"
PROBLEM_MIMETYPE = "application/problem+json"

# The one place that says which domain error is which HTTP status.
STATUS_BY_KIND: list[tuple[type[RegistryError], int]] = [
    (ValidationError, 400),
    (NotFoundError, 404),
    (PolicyViolation, 403),
    (ReadOnlyStore, 403),
    (ConflictError, 409),
    (PayloadTooLarge, 413),
    (StoreClosed, 503),
    (StoreUnavailable, 503),
]

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    428: "Precondition Required",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_for(exc: RegistryError) -> int:
    for kind, status in STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status
    return 500


class APIProblem(Exception):
    """An HTTP-level problem raised by the web layer (auth, preconditions, bad parameters)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str = "",
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = errors or []
        self.headers = headers or {}


def problem(
    status: int,
    detail: str,
    *,
    kind: str = "",
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    items: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The problem+json response; every JSON error goes through here. `items` are
    `errors[]` entries with more than `field` and `message` (merge conflicts' values);
    `extra` adds top-level members."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (kind or TITLES.get(status, "error").lower().replace(" ", "-")),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "errors": [{"field": e.field, "message": e.text} for e in errors or []],
    }
    body["errors"] += items or []
    body.update(extra or {})
    response = Response(json.dumps(body) + "\n", status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def domain_headers(exc: RegistryError) -> dict[str, str]:
    """Headers an error kind adds to its answer, JSON or HTML (Retry-After of outages)."""
    retry_after = getattr(exc, "retry_after", None)
    return {"Retry-After": str(retry_after)} if retry_after else {}


def merge_conflict_items(exc: MergeConflict) -> list[dict[str, Any]]:
    """One `errors[]` entry per colliding path, with the values at the base, theirs (the
    current version) and yours; a side without a value there (absent, deleted) is left out."""
    out = []
    for c in exc.collisions:
        item: dict[str, Any] = {"field": c.path, "message": "changed by both sides"}
        for side in ("base", "theirs", "yours"):
            value = getattr(c, side)
            if value is not MISSING:
                item[side] = value
        out.append(item)
    return out


def from_domain(exc: RegistryError) -> Response:
    if isinstance(exc, MergeConflict):
        return problem(
            409,
            str(exc),
            kind="merge-conflict",
            items=merge_conflict_items(exc),
            extra={"base_version": exc.base_version, "current_version": exc.current_version},
        )
    errors: list[FieldError] = getattr(exc, "errors", None) or []
    return problem(
        status_for(exc),
        str(exc),
        kind=exc.kind.replace("_", "-"),
        errors=errors,
        headers=domain_headers(exc),
    )


def wants_problem_json() -> bool:
    """The API's errors, and the errors of htmx fragment requests: htmx swaps answers into a
    part of the page, so a whole error page (a second header, a second footer) must never
    come back to it. static/js/app.js shows a problem's `detail` in the page's error box."""
    return request.path == "/api" or request.path.startswith("/api/") or is_fragment_request()


def is_fragment_request() -> bool:
    """An htmx request that swaps a fragment (not a boosted navigation or a history restore,
    both of which want the whole page). Read from the headers so this module works before
    (and without) the htmx extension."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RegistryError)
    def handle_domain_error(exc: RegistryError):
        if isinstance(exc, StoreUnavailable):
            log.warning("store unavailable on %s %s: %s", request.method, request.path, exc)
        if wants_problem_json():
            return from_domain(exc)
        return _html_error(status_for(exc), str(exc), domain_headers(exc))

    @app.errorhandler(APIProblem)
    def handle_api_problem(exc: APIProblem):
        if wants_problem_json():
            return problem(
                exc.status, exc.detail, kind=exc.kind, errors=exc.errors, headers=exc.headers
            )
        return _html_error(exc.status, exc.detail)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        if not wants_problem_json():
            if exc.code and exc.code >= 400:
                return _html_error(exc.code, exc.description or TITLES.get(exc.code, "Error"))
            return exc
        status = exc.code or 500
        headers = {}
        valid = getattr(exc, "valid_methods", None)
        if status == 405 and valid:
            headers["Allow"] = ", ".join(sorted(valid))
        detail = (exc.description if is_fragment_request() else "") or (
            _HTTP_DETAILS.get(status) or exc.description or TITLES.get(status, "error")
        )
        return problem(status, detail, headers=headers)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return handle_http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_problem_json():
            return problem(500, "profile registry unavailable", kind="internal")
        return _html_error(500, "Something went wrong on our side.")


_HTTP_DETAILS = {
    404: "not found",
    405: "method not allowed",
    413: "request body is larger than the limit",
}


def _html_error(status: int, message: str, headers: dict[str, str] | None = None):
    """The HTML error page (escaped by the template)."""
    body, status = render_error(status, message)
    return body, status, headers or {}


def render_error(status: int, message: str) -> tuple[str, int]:
    try:
        return render_template("error.html", status=status, message=message, nav=""), status
    except Exception:  # the error page must never fail itself (e.g. outside a request)
        return f"<!doctype html><title>{status}</title><p>{escape(message)}</p>", status
