"""Response validation against the served OpenAPI document (see README, JSON API).

`ResponseChecker.problems(method, path, response)` lists how a response differs from what the
document says for `(path template, method, status)`: an undocumented status, a content type
the operation does not declare, a body that breaks the schema, a missing required header, a
body on a response documented without one. Paths under `/api` that the document lacks must be
a problem+json 404, and an undocumented method on a documented path a problem+json 405 with
`Allow` (see README, JSON API).

`ValidatingClient` (installed for every test under tests/api by the conftest) runs the check
on every response a test receives and fails the test on the first mismatch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse
from werkzeug.wrappers import Response

from registry.web.api.openapi import openapi_document

JSON_TYPES = ("application/json", "application/problem+json")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_MIMETYPE = "application/problem+json"


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


@dataclass(frozen=True)
class PathEntry:
    template: str
    pattern: re.Pattern[str]
    item: dict[str, Any]


class ResponseChecker:
    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.components = doc.get("components", {})
        self.paths = [self._entry(t, item) for t, item in doc["paths"].items()]
        self._validators: dict[str, Draft202012Validator] = {}

    # --- document lookups ---------------------------------------------------------------------

    def resolve(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Follow a local `$ref` (`#/components/...`) to the object it names."""
        seen = 0
        while "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#/"), f"non-local $ref {ref}"
            node: Any = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
            seen += 1
            assert seen < 20, f"$ref loop at {ref}"
        return obj

    def _entry(self, template: str, item: dict[str, Any]) -> PathEntry:
        params = {p["name"]: p for p in map(self.resolve, item.get("parameters", []))}
        for method in METHODS:
            for p in map(self.resolve, item.get(method, {}).get("parameters", [])):
                params.setdefault(p["name"], p)

        def segment(match: re.Match[str]) -> str:
            schema = params.get(match.group(1), {}).get("schema", {})
            # what Flask's converters accept: `int` = digits, the default = no slash
            return "([0-9]+)" if schema.get("type") == "integer" else "([^/]+)"

        regex = re.sub(r"\\\{(\w+)\\\}", segment, re.escape(template))
        return PathEntry(template, re.compile(f"^{regex}$"), item)

    def match(self, path: str) -> PathEntry | None:
        for entry in self.paths:
            if entry.pattern.match(path):
                return entry
        return None

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        """`(METHOD, path template, operation)` for every documented operation."""
        return [
            (method.upper(), entry.template, entry.item[method])
            for entry in self.paths
            for method in METHODS
            if method in entry.item
        ]

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            # `#/components/...` references resolve inside the wrapper, which carries them.
            wrapper = {"components": self.components, "allOf": [schema]}
            self._validators[key] = Draft202012Validator(wrapper)
        return self._validators[key]

    # --- checks -------------------------------------------------------------------------------

    def problems(self, method: str, path: str, response: Response) -> list[str]:
        method = method.upper()
        status = response.status_code
        if not is_api_path(path) or method == "OPTIONS":
            return []
        entry = self.match(path)
        if entry is None:
            return self._generic_problem(response, 404, "an undocumented path")
        op_method = "get" if method == "HEAD" else method.lower()
        if op_method not in entry.item:
            out = self._generic_problem(response, 405, f"{method} on {entry.template}")
            if status == 405 and "Allow" not in response.headers:
                out.append("405 without an Allow header")
            return out
        operation = entry.item[op_method]
        spec = operation["responses"].get(str(status)) or operation["responses"].get("default")
        where = f"{method} {entry.template} -> {status}"
        if spec is None:
            documented = ", ".join(sorted(operation["responses"]))
            return [f"{where}: status not documented (documented: {documented})"]
        return [f"{where}: {p}" for p in self._check_response(self.resolve(spec), response, method)]

    def _generic_problem(self, response: Response, want: int, what: str) -> list[str]:
        if response.status_code != want:
            return [f"{what} answered {response.status_code}, expected a problem+json {want}"]
        return self._check_body(
            response, {PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        )

    def _check_response(self, spec: dict[str, Any], response: Response, method: str) -> list[str]:
        out: list[str] = []
        for name, header in spec.get("headers", {}).items():
            header = self.resolve(header)
            value = response.headers.get(name)
            if value is None:
                if header.get("required"):
                    out.append(f"missing required header {name}")
                continue
            errors = list(self.validator(header.get("schema", {})).iter_errors(value))
            out += [f"header {name}={value!r}: {e.message}" for e in errors[:3]]
        content = spec.get("content")
        if method == "HEAD":
            return out
        if not content:
            if response.get_data():
                out.append(
                    f"body on a response documented without one: {response.get_data()[:200]!r}"
                )
            return out
        return out + self._check_body(response, content)

    def _check_body(self, response: Response, content: dict[str, Any]) -> list[str]:
        mimetype = response.mimetype or ""
        if mimetype not in content:
            return [f"content type {mimetype!r} not documented (documented: {sorted(content)})"]
        schema = content[mimetype].get("schema")
        if schema is None:
            return []
        raw = response.get_data()
        if mimetype in JSON_TYPES or mimetype.endswith("+json"):
            try:
                body: Any = json.loads(raw)
            except ValueError as exc:
                return [f"{mimetype} body is not JSON ({exc}): {raw[:200]!r}"]
        elif "yaml" in mimetype:
            # YAML media types are documented by the schema of the parsed document
            try:
                body = yaml.safe_load(raw.decode("utf-8"))
            except (UnicodeDecodeError, yaml.YAMLError) as exc:
                return [f"{mimetype} body is not a YAML document ({exc})"]
        else:
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                return [f"{mimetype} body is not UTF-8 text"]
        errors = sorted(
            self.validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path)
        )
        return [
            f"body{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message[:300]}"
            for e in errors[:5]
        ]


@lru_cache(maxsize=1)
def checker() -> ResponseChecker:
    return ResponseChecker(openapi_document())


class ValidatingClient(FlaskClient):
    """A test client that checks every /api response against the OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        request = response.request
        problems = checker().problems(request.method, request.path, response)
        if problems:
            raise AssertionError(
                f"response breaks the OpenAPI document ({request.method} {request.full_path}):\n  "
                + "\n  ".join(problems)
            )
        return response
