"""The OpenAPI document: valid OpenAPI 3.1, served publicly, complete and not stale
against `app.url_map`, security matching each view's `@require`, and schemas strict enough to
catch wrong shapes. (Every response of the API suite is validated against it by the
`ValidatingClient` the conftest installs; tests/api/test_fuzz.py fuzzes a live server.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask, Response
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from registry.domain.importer import ImportPlan, PlanItem
from registry.domain.model import Profile, Registry
from registry.domain.ports import Change, Revision
from registry.domain.resolution import ResolvedProfile
from registry.domain.tokens import ROLES, Token, issue
from registry.web.api.openapi import openapi_document
from registry.web.api.shapes import (
    DOCUMENT_KEYS,
    LIST_ITEM_KEYS,
    change_item,
    registry_summary,
    revision_item,
)
from tests.api.openapi_check import METHODS, ResponseChecker, checker, is_api_path

SKIPPED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi_document()


def routes(app: Flask) -> dict[tuple[str, str], str]:
    """`(METHOD, /api/path/{param})` -> endpoint, for every /api rule of the app."""
    out = {}
    for rule in app.url_map.iter_rules():
        if not is_api_path(rule.rule):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - SKIPPED_METHODS:
            out[(method, path)] = rule.endpoint
    return out


def documented(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): item[method]
        for path, item in doc["paths"].items()
        for method in METHODS
        if method in item
    }


def schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return doc["components"]["schemas"][name]


# --- the document -----------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1.")
    validate(doc)  # openapi-spec-validator: raises on any violation


def test_every_reference_resolves(doc):
    check = ResponseChecker(doc)
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert len(refs) > 100
    for ref in sorted(set(refs)):
        try:
            check.resolve({"$ref": ref})
        except (KeyError, AssertionError):
            pytest.fail(f"unresolvable $ref {ref}")


def test_every_schema_is_valid_draft_2020_12(doc):
    schemas = dict(doc["components"]["schemas"])
    for path, item in doc["paths"].items():
        for method in METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                for mimetype, media in response.get("content", {}).items():
                    schemas[f"{method} {path} {status} {mimetype}"] = media["schema"]
    for name, value in schemas.items():
        try:
            Draft202012Validator.check_schema(value)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{name}: {exc}")


def test_served_publicly_with_etag_and_304(make_app):
    app = make_app(REGISTRY_AUTH="on", REGISTRY_PUBLIC_READS=True)
    client = app.test_client()
    response = client.get("/api/openapi.json")  # anonymous
    assert response.status_code == 200 and response.mimetype == "application/json"
    served = response.get_json()
    # the file, with this deployment's middlewares and codecs filled in (and nothing else)
    static = openapi_document()
    for doc in (served, static):
        doc["components"]["schemas"]["MiddlewareUseInput"].pop("oneOf", None)
        doc["components"]["schemas"]["ExtensionsInput"].pop("patternProperties", None)
    assert served == static
    assert served["info"]["version"] and served["info"]["version"] != "0"
    again = client.get("/api/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


# --- completeness -------------------------------------------------------------------------


def test_every_route_is_documented_and_nothing_is_stale(app, doc):
    actual = routes(app)
    docs = documented(doc)
    assert len(actual) >= 30
    assert sorted(set(actual) - set(docs)) == [], "routes missing from the document"
    assert sorted(set(docs) - set(actual)) == [], "documented operations that do not exist"
    for key, endpoint in actual.items():
        assert docs[key]["operationId"] == endpoint.rpartition(".")[2], key


def test_path_parameters_match_the_rules(app, doc):
    check = ResponseChecker(doc)
    for rule in app.url_map.iter_rules():
        if not is_api_path(rule.rule):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        item = doc["paths"][path]
        for method in (rule.methods or set()) - SKIPPED_METHODS:
            op = item[method.lower()]
            params = [check.resolve(p) for p in item.get("parameters", [])]
            params += [check.resolve(p) for p in op.get("parameters", [])]
            in_path = {p["name"]: p for p in params if p["in"] == "path"}
            assert set(in_path) == set(rule.arguments), (method, path)
            for name, param in in_path.items():
                assert param["required"] is True
                is_int = type(rule._converters[name]).__name__ == "IntegerConverter"
                assert (param["schema"].get("type") == "integer") == is_int, (path, name)


def test_security_matches_each_views_declared_role(app, doc):
    global_security = doc["security"]
    assert global_security == [{"bearerAuth": []}]
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    docs = documented(doc)
    for key, endpoint in routes(app).items():
        view = app.view_functions[endpoint]
        op = docs[key]
        security = op.get("security", global_security)
        assert op["x-required-role"] == view.required_role, key
        if view.public:
            assert security == [{}, {"bearerAuth": []}], key
        else:
            assert security == [{"bearerAuth": []}], key
        statuses = set(op["responses"])
        assert "401" in statuses, key  # no token (or a bad one) is possible everywhere
        if view.required_role != "reader":
            assert "403" in statuses, key  # a token whose role is too low


def test_every_operation_documents_errors_as_problems(doc):
    check = ResponseChecker(doc)
    for (method, path), op in documented(doc).items():
        for status, response in op["responses"].items():
            content = check.resolve(response).get("content", {})
            if int(status) >= 400:
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
            if status == "304":
                assert content == {} and "ETag" in check.resolve(response)["headers"]


# --- schemas are the shapes the code builds ------------------------------------------------


def test_exact_key_lists_match_the_code(doc):
    def props(name: str) -> set[str]:
        s = schema(doc, name)
        assert s.get("additionalProperties") is False, name
        return set(s["properties"])

    assert props("ListItem") == set(LIST_ITEM_KEYS)
    assert props("ProfileDocument") == set(DOCUMENT_KEYS)
    assert set(schema(doc, "ProfileDocument")["required"]) >= {"is_default", "runtime", "policy"}
    assert props("RegistrySummary") == set(registry_summary(Registry(slug="x"), 0))
    assert set(schema(doc, "RegistrySummary")["required"]) == props("RegistrySummary")
    rev = Revision(id=1, registry="r", profile="p", version=1, operation="x", actor="a", at_ms=1)
    assert props("Revision") == set(revision_item(rev))
    assert props("RevisionDetail") == set(revision_item(rev)) | {"snapshot"}
    change = Change(id=1, registry="r", profile="", operation="x", version=1, actor="a", at_ms=1)
    assert props("Change") == set(change_item(change))
    token = Token(id="0" * 16, name="n", role="reader", created_at_ms=1)
    assert props("Token") == set(token.to_data())
    assert props("IssuedToken") == set(token.to_data()) | {"token"}
    plan = ImportPlan(mode="upsert", format="bundle", dry_run=True)
    plan.items.append(PlanItem("profile", "r", "p", "created", reason="managed by f.yaml"))
    assert props("ImportPlan") == set(plan.to_data())
    assert props("ImportPlanItem") == set(plan.to_data()["items"][0])
    resolved = ResolvedProfile("r", "p", 1, "p", Profile(slug="p").runtime, [], {})
    assert props("ResolveResult") == set(resolved.to_data())
    assert props("CurrentProfile") == {"profile", "registry", "slug"}
    for name in ("Problem", "MiddlewareSchema", "ExtensionSchema", "Runtime", "Policy"):
        props(name)


def problem_json(status: int) -> dict[str, Any]:
    return {"type": "https://profile-registry.dev/problems/x", "title": "T", "status": status,
            "detail": "d", "errors": []}  # fmt: skip


def fake(body: Any, status: int = 200, mimetype: str = "application/json", **headers: str):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return Response(data, status=status, mimetype=mimetype, headers=headers)


DOCUMENT = {
    "registry": "default",
    "slug": "a",
    "stack": [],
    "runtime": {},
    "policy": {"allow_overrides": False, "read_only": False},
    "metadata": {"version": 1},
    "is_default": False,
}


@pytest.mark.parametrize(
    ("method", "path", "response", "complaint"),
    [
        ("GET", "/api/chat/profiles/a", fake(DOCUMENT, ETag='"x"'), None),
        (
            "GET",
            "/api/chat/profiles/a",
            fake({k: v for k, v in DOCUMENT.items() if k != "is_default"}, ETag='"x"'),
            "'is_default' is a required property",
        ),
        (
            "GET",
            "/api/chat/profiles/a",
            fake({**DOCUMENT, "is_default": "true"}, ETag='"x"'),
            "is not of type 'boolean'",
        ),
        ("GET", "/api/chat/profiles/a", fake(DOCUMENT), "missing required header ETag"),
        (
            "GET",
            "/api/chat/profiles",
            fake([{"registry": "default", "slug": "a", "stack": []}], ETag='"x"'),
            "'stack' was unexpected",
        ),
        (
            "GET",
            "/api/chat/profiles",
            fake([{"registry": "default", "slug": "a", "is_default": False}], ETag='"x"'),
            "True was expected",
        ),
        (
            "GET",
            "/api/chat/schemas/middlewares",
            fake([{"name": "m", "version": 1, "display_name": "M", "schema": None}], ETag='"x"'),
            "None is not of type 'object'",
        ),
        (
            "GET",
            "/api/chat/schemas/extensions",
            fake([{"key": "a.b@v1", "schema": None}], ETag='"x"'),
            "None is not of type 'object'",
        ),
        ("GET", "/api/chat/profiles/a", fake(problem_json(418), 418), "status not documented"),
        (
            "GET",
            "/api/chat/profiles/a",
            fake(problem_json(404), 404, "application/json"),
            "content type 'application/json' not documented",
        ),
        (
            "GET",
            "/api/chat/profiles/a",
            fake({"error": "nope"}, 404, "application/problem+json"),
            "'type' is a required property",
        ),
        ("GET", "/api/nope", fake(problem_json(404), 404, "application/problem+json"), None),
        ("GET", "/api/nope", fake("x", 200, "text/html"), "expected a problem+json 404"),
        (
            "PUT",
            "/api/chat/profiles",
            fake(problem_json(405), 405, "application/problem+json"),
            "405 without an Allow header",
        ),
        ("DELETE", "/api/registries/a", fake("oops", 204), "body on a response documented"),
        ("GET", "/api/chat/profile", fake("", 304, ETag='"x"'), None),
        ("GET", "/healthz", fake("anything", 500), None),  # outside /api: not checked
    ],
)
def test_the_checker_catches_wrong_shapes(method, path, response, complaint):
    problems = checker().problems(method, path, response)
    if complaint is None:
        assert problems == []
    else:
        assert any(complaint in p for p in problems), problems


def test_the_validating_client_is_in_use(client, seeded):
    from tests.api.openapi_check import ValidatingClient

    assert isinstance(client, ValidatingClient)
    assert client.get("/api/chat/profiles").status_code == 200


def test_roles_in_the_document_are_known(doc):
    for op in documented(doc).values():
        assert op["x-required-role"] in ROLES


def test_documented_token_shape_matches_a_real_token(make_app):
    app = make_app()
    issued = issue(app.extensions["tokens"], "shape", "editor")
    problems = checker().problems(
        "POST",
        "/api/tokens",
        fake(
            {**issued.token.to_data(), "token": issued.secret}, 201, **{"Cache-Control": "no-store"}
        ),
    )
    assert problems == []


def test_served_document_states_this_deployments_middlewares_and_codecs(make_app):
    """The document says exactly what the server accepts: a middleware use must name a known
    middleware and its inline config must match that one's schema (the server refuses
    anything else with 400), an extension under a codec's key (any case) must match the
    codec's schema, with required-but-defaulted properties optional (defaults are filled)."""
    from jsonschema import Draft202012Validator

    served = make_app().test_client().get("/api/openapi.json").get_json()
    schemas = served["components"]["schemas"]

    def valid(name: str, value: object) -> bool:
        schema = {"$ref": f"#/components/schemas/{name}", "components": served["components"]}
        return Draft202012Validator(schema).is_valid(value)

    assert valid("MiddlewareUseInput", {"name": " sqlite ", "config": {"dsn": "x.db"}})
    assert valid("MiddlewareUseInput", {"name": "agentmode", "config": None})
    assert not valid("MiddlewareUseInput", {"name": "unknown"})
    assert not valid("MiddlewareUseInput", {"name": "sqlite", "config": {"max_rows": 5}})
    assert not valid("MiddlewareUseInput", {"name": "agentmode", "config": {"x": 1}})
    assert valid("ExtensionsInput", {"WebChat.Starter_Suggestions@V1": {}})
    assert not valid("ExtensionsInput", {"webchat.starter_suggestions@v1": {"items": "no"}})
    assert len(schemas["MiddlewareUseInput"]["oneOf"]) == 2


def test_served_document_needs_no_token_with_auth_off(make_app):
    """With auth off no request needs a token, and the served document says so (a fuzzer
    omitting the token must not expect a 401)."""
    on = make_app(REGISTRY_AUTH="on").test_client().get("/api/openapi.json").get_json()
    off = make_app(REGISTRY_AUTH="off").test_client().get("/api/openapi.json").get_json()
    assert on["security"] == [{"bearerAuth": []}]
    assert on["paths"]["/api/tokens"]["post"].get("security") is None
    assert off["security"] == [{}]
    assert all(
        op["security"] == [{}]
        for item in off["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "security" in op
    )


def test_every_served_string_and_key_schema_states_the_nul_rule(make_app):
    """The API refuses NUL in every string and key (README "Text"); the document says so, so
    clients (and the fuzzer's acceptance check) never send it expecting success."""
    import re

    served = make_app().test_client().get("/api/openapi.json").get_json()
    schemas = served["components"]["schemas"]
    assert schemas["NonBlankString"]["allOf"] == [{"pattern": "^[^\\x00]*$"}]
    assert "pattern" in schemas["Slug"] and "allOf" not in schemas["Slug"]
    unguarded = []

    def walk(node, path):
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, dict):
            if node.get("type") == "string" and "format" not in node:
                patterns = [node.get("pattern")] + [p.get("pattern") for p in node.get("allOf", [])]
                if not any(p and not re.search(p, "a\x00b") for p in patterns):
                    unguarded.append(path)
            for key, value in node.items():
                if key not in (
                    "example",
                    "examples",
                    "default",
                    "enum",
                    "const",
                    "parameters",
                    "headers",
                ):
                    walk(value, f"{path}.{key}")

    walk(served["components"], "components")
    walk(served["paths"], "paths")
    assert unguarded == []
