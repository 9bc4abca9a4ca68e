"""Hostile and malformed input on the chat routes: a clear problem+json 4xx, nothing stored,
no cookie set (see README, Concepts and decisions and README, JSON API)."""

from __future__ import annotations

import io

import pytest

from registry.domain.model import Profile, Registry

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}

DEEP = b'{"slug": "deep", "extensions": {"vendor.x@v1": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}"
NESTED_100 = (
    b'{"slug": "nested", "extensions": {"vendor.x@v1": '
    + b'{"a": ' * 100
    + b"1"
    + b"}" * 100
    + b"}}"
)

BAD_BODIES = {
    "malformed": b'{"slug": "x",',
    "trailing garbage": b'{"slug": "x"} {}',
    "nan": b'{"slug": "x", "extensions": {"vendor.x@v1": NaN}}',
    "infinity": b'{"slug": "x", "extensions": {"vendor.x@v1": -Infinity}}',
    "deep 10,000": DEEP,
    "nested 100": NESTED_100,
    "invalid utf-8": b'{"slug": "\xff\xfe"}',
    "latin-1": '{"slug": "caf\u00e9"}'.encode("latin-1"),
    "array": b'[{"slug": "x"}]',
    "string": b'"x"',
    "number": b"1",
    "null": b"null",
    "blank": b"   ",
}

WRITES = [
    ("post", "/api/chat/profiles"),
    ("patch", "/api/chat/profiles/inventory"),
    ("post", "/api/chat/profile"),
    ("post", "/api/chat/resolve"),
]


def assert_problem(resp, status: int, *, field: str = ""):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert set(body) == PROBLEM_KEYS and body["status"] == status
    if field:
        assert [e["field"] for e in body["errors"]] == [field]
    return body


# resolve takes an optional body: a blank one is fine there (test_resolve_body_is_optional)
CASES = [
    (method, path, name)
    for method, path in WRITES
    for name in sorted(BAD_BODIES)
    if not (path == "/api/chat/resolve" and name == "blank")
]


@pytest.mark.parametrize(("method", "path", "name"), CASES)
def test_bad_bodies_are_400_and_change_nothing(client, seeded, service, method, path, name):
    before = service.latest_change_id()
    resp = getattr(client, method)(path, data=BAD_BODIES[name], content_type="application/json")
    body = assert_problem(resp, 400, field="body")
    assert body["detail"].startswith("bad request")
    assert "Set-Cookie" not in resp.headers
    assert service.latest_change_id() == before
    assert len(client.get("/api/chat/profiles").get_json()) == 4


def test_resolve_body_is_optional(client, seeded):
    assert client.post("/api/chat/resolve").status_code == 200
    assert (
        client.post("/api/chat/resolve", data=b"  ", content_type="application/json").status_code
        == 200
    )
    resp = client.post("/api/chat/resolve", data=b"null", content_type="application/json")
    assert_problem(resp, 400, field="body")


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_bodies_over_the_limit_are_413(client, seeded, service, method, path):
    before = service.latest_change_id()
    big = b'{"slug": "big", "description": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = getattr(client, method)(path, data=big, content_type="application/json")
    body = assert_problem(resp, 413)
    assert body["detail"] == "request body is larger than the limit"
    assert service.latest_change_id() == before


def chunked(body: bytes) -> dict:
    """Test-client arguments for a body framed like `Transfer-Encoding: chunked`: no
    Content-Length, a stream the server ends at the end of the body (as gunicorn and the
    development server say with `wsgi.input_terminated`)."""
    return {
        "input_stream": io.BytesIO(body),
        "headers": {"Transfer-Encoding": "chunked"},
        "environ_overrides": {"wsgi.input_terminated": True},
    }


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_chunked_bodies_over_the_limit_are_413_not_cut(client, seeded, service, method, path):
    before = service.latest_change_id()
    big = b'{"slug": "big", "description": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = getattr(client, method)(path, content_type="application/json", **chunked(big))
    body = assert_problem(resp, 413)
    assert body["detail"] == "request body is larger than the limit"
    assert service.latest_change_id() == before


def test_a_chunked_mirror_import_cut_at_the_limit_is_not_applied(make_app):
    app = make_app(MAX_CONTENT_LENGTH=4096)
    service = app.extensions["registry"]
    service.create_registry(Registry(slug="default"), actor="seed")
    for slug in ("a", "b", "c"):
        service.create_profile("default", Profile(slug=slug), actor="seed")
    # Its first 4096 bytes are a valid document naming only "a": a mirror of it deletes b, c.
    document = b"slug: default\nprofiles:\n  a: {}\n#" + b"x" * 4096 + b"\n  b: {}\n  c: {}\n"
    resp = app.test_client().post(
        "/api/import?mode=mirror&confirm=2", content_type="application/yaml", **chunked(document)
    )
    assert_problem(resp, 413)
    assert [p.slug for p in service.iter_profiles("default")] == ["a", "b", "c"]


def test_chunked_bodies_within_the_limit_are_read_whole(make_app):
    client = make_app(MAX_CONTENT_LENGTH=64).test_client()
    exactly = b'{"registry": "nope", "slug": "x", "display_name": "' + b"y" * 10 + b'"}'
    exactly = exactly[:-1] + b" " * (64 - len(exactly)) + b"}"
    assert len(exactly) == 64
    resp = client.post("/api/chat/profiles", content_type="application/json", **chunked(exactly))
    assert_problem(resp, 404)  # parsed whole: the registry it names does not exist
    resp = client.post(
        "/api/chat/profiles", content_type="application/json", **chunked(exactly + b" ")
    )
    assert_problem(resp, 413)


def test_the_body_limit_is_configurable(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    resp = client.post(
        "/api/chat/resolve", data=b"{" + b" " * 2048 + b"}", content_type="application/json"
    )
    assert_problem(resp, 413)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # <form enctype="text/plain">: no CORS preflight
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/yaml",
        "",  # a fetch() of a Blob without type sends none
    ],
)
@pytest.mark.parametrize(("method", "path"), WRITES)
def test_json_routes_refuse_other_media_types(client, seeded, service, method, path, content_type):
    before = service.latest_change_id()
    kwargs = {"content_type": content_type} if content_type else {}
    resp = getattr(client, method)(path, data=b'{"slug": "plain"}', **kwargs)
    body = assert_problem(resp, 415)
    assert "application/json" in body["detail"]
    assert resp.headers["Accept-Post"] == "application/json"
    assert service.latest_change_id() == before
    assert "Set-Cookie" not in resp.headers


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_media_types_are_accepted(client, seeded, content_type):
    resp = client.post("/api/chat/profiles", data=b'{"slug": "typed"}', content_type=content_type)
    assert resp.status_code == 201, resp.json


def test_bodyless_writes_need_no_content_type(client, seeded):
    resp = client.post("/api/chat/resolve", content_type="text/plain")
    assert resp.status_code == 200, resp.json


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/chat/nope", 404),
        ("get", "/api/nope", 404),
        ("get", "/api/chat/profiles/", 404),
        ("get", "/api/chat/profiles/inventory/extra", 404),
        ("post", "/api/chat/profiles/inventory/other", 404),
        ("get", "/api/chat/profiles/inventory/default/more", 404),
        ("put", "/api/chat/profiles", 405),
        ("delete", "/api/chat/profiles", 405),
        ("put", "/api/chat/profiles/inventory", 405),
        ("post", "/api/chat/profiles/inventory", 405),
        ("get", "/api/chat/profiles/inventory/default", 405),
        ("delete", "/api/chat/profile", 405),
        ("get", "/api/chat/resolve", 405),
        ("post", "/api/chat/schemas/middlewares", 405),
    ],
)
def test_unknown_routes_and_wrong_methods_are_problem_json(client, seeded, method, path, status):
    resp = getattr(client, method)(path)
    body = assert_problem(resp, status)
    assert body["detail"] == ("not found" if status == 404 else "method not allowed")
    if status == 405:
        assert resp.headers["Allow"]


def test_script_tags_are_data_not_markup(client, seeded):
    payload = {"slug": "xss", "display_name": "<script>alert(1)</script>"}
    resp = client.post("/api/chat/profiles", json=payload)
    assert resp.status_code == 201 and resp.mimetype == "application/json"
    assert resp.get_json()["display_name"] == "<script>alert(1)</script>"


def test_hostile_slugs_at_the_boundary(client, seeded, service):
    before = service.latest_change_id()
    for slug in ("a" * 129, "../etc", "a/b", "ä", "a\nb", "a b", "."):
        resp = client.post("/api/chat/profiles", json={"slug": slug})
        assert_problem(resp, 400)
    assert service.latest_change_id() == before
    assert client.post("/api/chat/profiles", json={"slug": "a" * 128}).status_code == 201
    assert client.post("/api/chat/profiles", json={"slug": "team.alpha-1"}).status_code == 201
