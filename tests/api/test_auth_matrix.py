"""Every /api route x {no token, reader, editor, admin}, with auth on (see README, JSON API).

Routes are enumerated from `app.url_map`, and each one's expectation comes from what its view
declares with `@require(role, public=)`: a new route is covered as soon as it exists, and a
route without the decorator fails here. "Allowed" means neither 401 nor 403.
"""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import Rule

from registry.domain.importer import import_yaml
from registry.domain.tokens import RANK, ROLES, issue
from tests.conftest import FIXTURES

CALLERS = ("anonymous", *ROLES)
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def api_routes(app: Flask) -> list[tuple[Rule, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule == "/api" or rule.rule.startswith("/api/"):
            for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
                routes.append((rule, method))
    return sorted(routes, key=lambda r: (r[0].rule, r[1]))


def undeclared(app: Flask) -> list[str]:
    """Routes whose view does not declare its role with `@require`."""
    out = []
    for rule, method in api_routes(app):
        view = app.view_functions[rule.endpoint]
        if getattr(view, "required_role", None) not in ROLES or not isinstance(
            getattr(view, "public", None), bool
        ):
            out.append(f"{method} {rule.rule}")
    return out


def sample_url(app: Flask, rule: Rule, method: str) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = 1 if "Integer" in type(converter).__name__ else "default"
    adapter = app.url_map.bind("localhost")
    url = adapter.build(rule.endpoint, values, method=method)
    if rule.endpoint == "api.stream.change_stream":
        # anonymous callers may follow one registry, not the whole store (test_change_stream)
        url += "?registry=default"
    return url


def expected(caller: str, role: str, public: bool, public_reads: bool) -> str:
    if caller == "anonymous":
        return "allowed" if public and public_reads else "401"
    return "allowed" if RANK[caller] >= RANK[role] else "403"


def outcome(status: int) -> str:
    return str(status) if status in (401, 403) else "allowed"


@pytest.fixture
def make_matrix_app(make_app):
    def _make(public_reads: bool):
        app = make_app(
            REGISTRY_AUTH="on",
            REGISTRY_PUBLIC_READS=public_reads,
            REGISTRY_STREAM_MAX_SECONDS=0.05,  # a change stream ends at once
        )
        service = app.extensions["registry"]
        import_yaml(service, (FIXTURES / "canonical-bundle.yaml").read_text(), actor="seed")
        tokens = {
            role: issue(app.extensions["tokens"], f"matrix-{role}", role).secret for role in ROLES
        }
        return app, tokens

    return _make


def test_every_api_route_declares_its_role(make_app):
    app = make_app(REGISTRY_AUTH="on")
    routes = api_routes(app)
    paths = {rule.rule for rule, _ in routes}
    # the enumeration sees the admin and chat APIs (not an empty map)
    assert {"/api/registries", "/api/tokens", "/api/import", "/api/changes"} <= paths
    assert undeclared(app) == []


def test_a_route_without_the_decorator_is_caught(make_app):
    app = make_app(REGISTRY_AUTH="on")
    app.add_url_rule("/api/zz-undeclared", "zz_undeclared", lambda: "open", methods=["GET"])
    assert undeclared(app) == ["GET /api/zz-undeclared"]


@pytest.mark.parametrize("public_reads", [True, False], ids=["public-reads", "no-public-reads"])
def test_auth_matrix(make_matrix_app, public_reads):
    app, tokens = make_matrix_app(public_reads)
    client = app.test_client()
    mismatches = []
    checked = 0
    for rule, method in api_routes(app):
        view = app.view_functions[rule.endpoint]
        role, public = view.required_role, view.public
        url = sample_url(app, rule, method)
        for caller in CALLERS:
            headers = {} if caller == "anonymous" else {"Authorization": f"Bearer {tokens[caller]}"}
            kwargs = {} if method == "GET" else {"json": {}}
            response = client.open(url, method=method, headers=headers, **kwargs)
            want = expected(caller, role, public, public_reads)
            got = outcome(response.status_code)
            checked += 1
            if got != want:
                mismatches.append(f"{caller:9} {method} {url} ({role}, public={public}): {got}")
            if got == "401":
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert response.mimetype == "application/problem+json"
            if got == "403" and want == "403":
                assert response.json["type"].endswith("/forbidden"), response.json
    assert checked >= 4 * 15
    assert mismatches == []
