"""Request parsing and conditional-request helpers shared by every JSON route.

Bodies are parsed strictly: UTF-8 only, no NaN/Infinity, bounded nesting, an object at the
top. Every problem is a `ValidationError` on field `body` (400), so the one error mapping
applies. ETags are strong validators built from versions and change ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import quote_etag
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_content_length, get_input_stream

from registry.domain.errors import FieldError, ValidationError
from registry.domain.jsonutil import MAX_PARSE_DEPTH, parse_json
from registry.domain.slugs import SlugError, parse_slug

from .errors import APIProblem
from .guards import check_body_type

MAX_JSON_DEPTH = MAX_PARSE_DEPTH


# --- request bodies ------------------------------------------------------------------------


class BoundedBody(LimitedStream):
    """A body of unknown length (chunked) read up to `limit` bytes, never truncated.

    werkzeug's own limited stream stops at the limit and `read()` returns the first `limit`
    bytes as if they were the whole body: a chunked 3 MiB import was applied cut at 2 MiB.
    Here, reaching the limit peeks one more byte from the server's stream (which ends at the
    end of the body: `wsgi.input_terminated`); if there is one, the body is over the limit
    and the request is refused with 413 before anything parses it.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__(stream, limit, is_max=True)

    def on_exhausted(self) -> None:
        if self._stream.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class BoundedBodyMixin(Request):
    """A request whose body stream refuses (413) whatever is over the limit however it is
    framed: `Content-Length` over `MAX_CONTENT_LENGTH` (werkzeug does this) or a chunked
    body that goes on past it (see `BoundedBody`). Every reader (JSON, YAML, forms, CSRF)
    goes through `stream`."""

    @cached_property
    def stream(self) -> Any:
        if self.shallow:
            raise RuntimeError("reading the body of a shallow request")
        limit = self.max_content_length
        if limit is None or "wsgi.input_terminated" not in self.environ:
            # Without the server's word that the stream ends with the body, werkzeug reads
            # only `Content-Length` bytes (an unframed body reads as empty).
            return get_input_stream(self.environ, max_content_length=limit)
        length = get_content_length(self.environ)
        if length is not None and length > limit:
            raise RequestEntityTooLarge()
        return BoundedBody(self.environ["wsgi.input"], limit)


def bound_request_bodies(app: Flask) -> None:
    """Make the app's request class (whatever extensions made it, e.g. htmx's) bounded."""
    if not issubclass(app.request_class, BoundedBodyMixin):
        app.request_class = type("BoundedRequest", (BoundedBodyMixin, app.request_class), {})


def _bad_body(message: str) -> ValidationError:
    return ValidationError(FieldError("body", message), message=f"bad request: {message}")


def json_body(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; `{}` for an absent body when not `required`.

    A body sent as anything but JSON is refused (415) before it is read: a cross-site page
    can send `text/plain` or form bodies without a CORS preflight (see `guards`). The body is
    parsed by the domain's one strict parser (`jsonutil.parse_json`): a repeated key or a
    string holding NUL or a lone surrogate is a 400 naming its field path."""
    check_body_type()
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise _bad_body("request body must be a JSON object")
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_body(f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = parse_json(text, field="body", max_depth=MAX_JSON_DEPTH)
    except ValidationError as exc:
        raise ValidationError(exc.errors, message=f"bad request: {exc.errors[0]}") from None
    if not isinstance(data, dict):
        raise _bad_body("request body must be a JSON object")
    return data


def text_param(name: str, source: dict[str, Any] | None = None) -> str | None:
    """A string parameter from `source` (a JSON body) or the query; None when absent/blank."""
    if source is not None and source.get(name) is not None:
        value = source[name]
        if not isinstance(value, str):
            raise ValidationError(FieldError(name, "must be a string"))
        return value.strip() or None
    value = request.args.get(name)
    return value.strip() if value and value.strip() else None


def version_param(name: str = "expected_version", source: dict[str, Any] | None = None) -> int:
    """A non-negative integer (0 when absent) from a JSON body, else the query string.

    The query is checked even when the body's value wins: a malformed parameter is a 400
    whatever else the request carries (and comes before any `If-Match` 412)."""
    queried = _query_version(name)
    if source is not None and source.get(name) is not None:
        value = source[name]
        # JSON Schema (and so the OpenAPI document and its clients) counts 169.0 as an integer
        if isinstance(value, float) and value.is_integer() and 0 <= value < 2**63:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(
                FieldError(name, "must be a non-negative integer"), message=f"invalid {name}"
            )
        return value
    return queried


def _query_version(name: str) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return 0
    return parse_int(
        raw,
        name,
        maximum=10**18 - 1,
        reason="must be a non-negative integer",
        message=f"invalid {name}",
    )


def parse_int(
    raw: str,
    field: str,
    *,
    minimum: int = 0,
    maximum: int = 10**9,
    reason: str = "",
    message: str | None = None,
) -> int:
    """The one rule for an integer in a URL or a form field: ASCII digits (a leading `-` when
    `minimum` allows it), within `[minimum, maximum]`; else a ValidationError on `field`."""
    text = raw.strip()
    digits = text[1:] if text.startswith("-") and minimum < 0 else text
    well_formed = digits.isascii() and digits.isdigit() and len(digits) <= 19
    if not well_formed or not minimum <= int(text) <= maximum:
        why = reason or f"must be an integer from {minimum} to {maximum}"
        raise ValidationError(FieldError(field, why), message=message)
    return int(text)


def int_param(name: str, default: int, *, minimum: int = 0, maximum: int = 10**9) -> int:
    """An integer query parameter within `[minimum, maximum]`; `default` when absent/blank."""
    raw = request.args.get(name, "").strip()
    return parse_int(raw, name, minimum=minimum, maximum=maximum) if raw else default


_SLUG_MESSAGES = {"registry": "invalid registry", "profile": "invalid profile slug"}


def slug_param(raw: Any, field: str, kind: str = "profile") -> str:
    """A registry or profile slug from a path segment, the query or a body, canonical (so
    `Analyst` finds `analyst`); a bad one is a 400 on `field`."""
    try:
        return parse_slug(raw, f"{kind} slug")
    except SlugError as exc:
        raise ValidationError(FieldError(field, str(exc)), message=_SLUG_MESSAGES[kind]) from None


# --- conditional requests --------------------------------------------------------------------
# werkzeug parses the headers (`request.if_none_match`, `request.if_match`) and writes the
# ETag (`response.set_etag`). If-None-Match compares weakly, If-Match strongly (RFC 9110
# 13.1.1-2): `If-Match: W/"..."` never matches, so such a write answers 412.


def not_modified(etag: str) -> bool:
    """True when If-None-Match names `etag` (or `*`): answer 304 without building the body."""
    return request.if_none_match.contains_weak(etag)


def json_response(data: Any, *, status: int = 200, etag: str = "") -> Response:
    """JSON with an ETag; a matching If-None-Match on a GET gives 304 with no body."""
    if _answered_unchanged(etag):
        response = Response(status=304)
    else:
        response = jsonify(data)
        response.status_code = status
    if etag:
        response.set_etag(etag)
    return response


def encoded_json(data: Any) -> bytes:
    """`data` encoded as `jsonify` sends it: what a cache of JSON answers keeps."""
    return cast(Response, current_app.json.response(data)).get_data()


def encoded_json_response(body: bytes, *, etag: str = "") -> Response:
    """`json_response` of an answer already encoded (`encoded_json`), 304 handling included."""
    if _answered_unchanged(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    if etag:
        response.set_etag(etag)
    return response


def _answered_unchanged(etag: str) -> bool:
    return bool(etag) and request.method in ("GET", "HEAD") and not_modified(etag)


def expected_version_from_request(current: Callable[[], tuple[str, int]]) -> int:
    """The `expected_version` an If-Match header stands for, so the store enforces it too.

    No If-Match: 0 (unconditional) and `current` is not called. Otherwise `current()` gives
    the resource's ETag and version; a missing resource raises its not-found error (404,
    whatever the header says: there is nothing to compare). `*` matches any existing
    resource (0); a list must name the current ETag strongly, else 412 carrying it."""
    if "If-Match" not in request.headers:
        return 0
    etag, version = current()
    if not request.if_match.contains(etag):
        quoted = quote_etag(etag)
        raise APIProblem(
            412,
            f"precondition failed: the resource changed (current ETag {quoted})",
            kind="precondition-failed",
            headers={"ETag": quoted},
        )
    return 0 if request.if_match.star_tag else version
