"""Cross-site write guards of the JSON API: body media types and request origins.

A web page can make a browser send a "simple" request anywhere without asking (no CORS
preflight): POST with a `text/plain`, form or multipart body and no custom headers. With
`REGISTRY_AUTH=off` nothing else stands between such a request and a write, so:

- Bodies must be sent with the media type the route reads (`application/json`, or
  `application/*+json`; YAML types for imports, never `text/plain`). A simple request
  cannot carry those types, so a cross-site page cannot send a body the API accepts.
  Otherwise 415, checked where the body is read (after authentication).
- Unsafe requests (POST, PUT, PATCH, DELETE) that a browser marks as coming from another
  site or origin are refused with 403, unless they carry `Authorization: Bearer`: a page
  cannot add that header without a preflight the API never grants, so such a request is a
  deliberate client's. What counts as "another origin", in order:
  1. `Origin` equal to `REGISTRY_BASE_URL`'s origin (when that setting exists): allowed.
  2. `Sec-Fetch-Site` (set by the browser, pages cannot forge it): `same-origin` and `none`
     (typed by the user) pass; `same-site` and `cross-site` are refused (a sibling
     subdomain is another origin, and may be less trusted).
  3. No `Sec-Fetch-Site` and no `Origin`: not a browser (curl, scripts, chat backends),
     nothing to check.
  4. `Origin: null` (sandboxed frames, `data:` and `file:` pages, some redirects): refused,
     it names no origin that could be ours.
  5. Otherwise the `Origin`'s host and port must equal the request's `Host` (the scheme is
     not compared: behind a TLS proxy the app sees http for an https origin).

Same-origin browser use (the htmx pages post forms to their own routes, not to /api) is
never affected. The origin check runs before authentication, whatever `REGISTRY_AUTH` says.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request

from .errors import APIProblem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
JSON_TYPES = ("application/json",)
DEFAULT_PORTS = {"http": "80", "https": "443"}


def check_api_request() -> None:
    """`before_request` of the API blueprint: refuse unsafe cross-origin requests.

    The media type is checked where a body is read (`check_body_type`), after
    authentication, so that an anonymous caller learns 401 before 415."""
    if request.method not in SAFE_METHODS:
        check_origin()


# --- media types ---------------------------------------------------------------------------


def _has_body() -> bool:
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _is_json(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def check_body_type(accepted: tuple[str, ...] = ()) -> None:
    """A request with a body must declare one of `accepted` (default: JSON): 415 otherwise.

    Called by every reader of a body before it reads (`http.json_body`, the import route).
    Charset parameters are ignored (bodies are decoded as UTF-8 and refused otherwise). An
    absent body (no Content-Length or 0) is not checked: there is nothing to parse.
    """
    if not _has_body():
        return
    mimetype = request.mimetype
    if mimetype in accepted or (not accepted and _is_json(mimetype)):
        return
    names = ", ".join(accepted) or "application/json"
    sent = f"Content-Type {mimetype}" if mimetype else "no Content-Type"
    raise APIProblem(
        415,
        f"unsupported media type: {sent}; send the body as {names}",
        kind="unsupported-media-type",
        headers={"Accept-Post": names},
    )


# --- origins -------------------------------------------------------------------------------


def _origin_netloc(origin: str) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an Origin or base URL, without the scheme's default port."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    if not scheme or not netloc:
        return None
    default = DEFAULT_PORTS.get(scheme)
    if default and netloc.endswith(f":{default}"):
        netloc = netloc[: -len(default) - 1]
    return scheme, netloc


def _own_host() -> str:
    host = request.host.lower()
    for port in DEFAULT_PORTS.values():
        host = host.removesuffix(f":{port}")
    return host


def _trusted(origin: str) -> bool:
    """The origin of `REGISTRY_BASE_URL` (the address users are given) is ours."""
    base = current_app.config.get("REGISTRY_BASE_URL")
    if not base:
        return False
    ours, theirs = _origin_netloc(str(base)), _origin_netloc(origin)
    return ours is not None and ours == theirs


def _has_bearer() -> bool:
    return request.headers.get("Authorization", "")[:7].lower() == "bearer "


def check_origin() -> None:
    """Refuse (403) an unsafe request a browser sent from another origin; see the module
    docstring for the rules and why a bearer token lifts them."""
    if _has_bearer():
        return
    origin = request.headers.get("Origin")
    if origin is not None and _trusted(origin):
        return
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if site:
        if site in ("same-origin", "none"):
            return
        _refuse(f"the browser marks it {site} (Sec-Fetch-Site)")
    if origin is None:
        return
    parsed = _origin_netloc(origin)
    if parsed is None:
        _refuse(f"Origin {origin.strip()[:100]!r} names no origin")
    elif parsed[1] != _own_host():
        _refuse(f"Origin {origin.strip()[:100]} is not this server ({_own_host()})")


def _refuse(reason: str) -> None:
    raise APIProblem(
        403,
        f"cross-origin write refused: {reason}; call the API from its own origin or send "
        "an Authorization: Bearer token",
        kind="cross-origin",
    )
