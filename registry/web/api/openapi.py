"""`GET /api/openapi.json`: the OpenAPI 3.1 document of the JSON API (see README, JSON API).

The document lives next to this module as `openapi.yaml`, loaded once; tests keep it true
(tests/api/test_openapi.py: every route documented with its role, nothing stale; the API
suite validates every response against it; tests/api/test_fuzz.py fuzzes a live server and
checks that it accepts what the document allows and refuses what it forbids).

What a deployment configures is filled in when served, so the document says exactly what this
server accepts: the middleware names it knows with each one's config schema, and the schema
of every extension key a codec owns.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, current_app

from registry import __version__
from registry.domain.jsonutil import canonical_digest
from registry.domain.tokens import READER

from ..auth import require
from ..deps import auth_enabled, get_service
from ..http import json_response

bp = Blueprint("openapi", __name__)

DOCUMENT_FILE = "openapi.yaml"


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Any], str]:
    text = resources.files(__package__).joinpath(DOCUMENT_FILE).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["info"]["version"] = __version__
    refuse_nul(doc)
    return doc, f"openapi:{canonical_digest(doc)}"


def openapi_document() -> dict[str, Any]:
    """A copy of the document (callers may mutate it)."""
    return copy.deepcopy(_load()[0])


def _trimmed(text: str, *, ignore_case: bool = False) -> str:
    """A pattern matching `text` with spaces around it (the server trims), optionally in any
    case (the server lower-cases extension keys); spelled out with classes because JSON
    Schema patterns have no flags."""
    if not ignore_case:
        return rf"^\s*{re.escape(text)}\s*$"
    parts = [
        f"[{ch.lower()}{ch.upper()}]" if ch.lower() != ch.upper() else re.escape(ch) for ch in text
    ]
    return rf"^\s*{''.join(parts)}\s*$"


# The strings the server coerces to a declared number type (registry/domain/schema.py);
# `pattern` applies to strings only, so numbers keep their own constraints.
_NUMERIC_TEXT = {
    "integer": r"^\s*[-+]?[0-9]+\s*$",
    "number": r"^\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$",
}


def _coercible(node: dict[str, Any]) -> None:
    """Widen a scalar type to the values the server coerces into it: numeric text for a
    number, a number for a string."""
    kind = node.get("type")
    if kind in _NUMERIC_TEXT and "pattern" not in node:
        node["type"] = [kind, "string"]
        node["pattern"] = _NUMERIC_TEXT[kind]
    elif kind == "string" and not {"pattern", "enum", "const", "format"} & set(node):
        node["type"] = ["string", "number"]


def _input_schema(schema: Any) -> dict[str, Any]:
    """A config or codec schema as input: the server fills defaults and coerces scalars
    before validating, so a required property that has a default may be left out and
    numeric text stands for a number."""
    if not isinstance(schema, dict) or not schema:
        return {"type": "object"}
    out = copy.deepcopy(schema)
    stack = [out]
    while stack:
        node = stack.pop()
        _coercible(node)
        props = node.get("properties")
        if isinstance(props, dict):
            stack.extend(v for v in props.values() if isinstance(v, dict))
            if isinstance(node.get("required"), list):
                node["required"] = [
                    k
                    for k in node["required"]
                    if not (isinstance(props.get(k), dict) and "default" in props[k])
                ]
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                stack.append(node[key])
    return out


def deployment_document(
    middlewares: list[dict[str, Any]], codecs: list[dict[str, Any]]
) -> dict[str, Any]:
    """The document with this deployment's middlewares and extension codecs filled in.

    `middlewares`: `{name, schema}` of each known middleware (`MiddlewareDefinition.describe`);
    a use must name one of them and its inline `config` must match that one's schema.
    `codecs`: `{key, schema}` of each codec; an extension under its key (any case, as keys
    are lower-cased) must match the codec's schema.
    """
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    use = schemas["MiddlewareUseInput"]
    # one variant per middleware: its name, and its config schema for an inline config
    use["oneOf"] = [
        {
            "properties": {
                "name": {"pattern": _trimmed(m["name"])},
                "config": {"anyOf": [_input_schema(m.get("schema")), {"type": "null"}]},
            }
        }
        for m in middlewares
    ] or [{"not": {}}]
    schemas["ExtensionsInput"]["patternProperties"] = {
        _trimmed(c["key"], ignore_case=True): _input_schema(c.get("schema")) for c in codecs
    }
    refuse_nul(doc)
    return doc


NO_NUL = "^[^\\x00]*$"
_NOT_SCHEMAS = frozenset({"example", "examples", "default", "enum", "const"})
# Query parameters and headers are read, never stored: NUL there is not refused.
_NOT_BODIES = frozenset({"parameters", "headers"})


def refuse_nul(node: Any) -> None:
    """State the text rule in every body schema, in place: no string and no object key holds NUL
    (the API refuses it with a 400 naming the field; see README "Text"). Strings that already
    have a pattern that excludes NUL are left alone (slugs, keys); others get the rule as an
    `allOf` beside their pattern. Lone surrogates
    are refused too, but a JSON Schema pattern cannot name them portably, so the document says
    so only in prose."""
    if isinstance(node, list):
        for item in node:
            refuse_nul(item)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and "format" not in node:
        pattern = node.get("pattern")
        if pattern is None:
            node["pattern"] = NO_NUL
        elif not _excludes_nul(pattern) and {"pattern": NO_NUL} not in node.get("allOf", []):
            node["allOf"] = [*node.get("allOf", []), {"pattern": NO_NUL}]
    if (
        ("object" in types or "properties" in node)
        and node.get("additionalProperties") is not False
        and "propertyNames" not in node
    ):
        node["propertyNames"] = {"pattern": NO_NUL}
    for key, value in node.items():
        if key not in _NOT_SCHEMAS and key not in _NOT_BODIES:
            refuse_nul(value)


def _excludes_nul(pattern: str) -> bool:
    """Whether a pattern already cannot match text holding NUL: anchored at both ends, no
    alternation and no `.` (slugs, keys, ids). A conservative check: False may be wrong, never
    True."""
    if pattern == NO_NUL:
        return True
    outside_classes = re.sub(r"\[[^\]^][^\]]*\]", "", pattern.replace("\\.", ""))
    return (
        pattern.startswith("^")
        and pattern.endswith("$")
        and "|" not in pattern
        and "[^" not in pattern
        and "\\S" not in pattern
        and "." not in outside_classes
    )


def _without_auth(doc: dict[str, Any]) -> None:
    """With `REGISTRY_AUTH=off` no operation needs a token: say so (anonymous allowed)."""
    doc["security"] = [{}]
    for item in doc["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = [{}]


def _served() -> tuple[dict[str, Any], str]:
    """The app's document and its ETag, built once per app."""
    cached = current_app.extensions.get("openapi_document")
    if cached is None:
        service = get_service()
        doc = deployment_document(
            [d.describe() for d in service.middlewares.all()],
            [c.describe() for c in service.codecs.all()],
        )
        if not auth_enabled():
            _without_auth(doc)
        digest = canonical_digest(doc)[:32]
        cached = current_app.extensions["openapi_document"] = (doc, f"openapi:{digest}")
    return cached


@bp.get("/openapi.json")
@require(READER, public=True)
def openapi_json() -> Response:
    doc, etag = _served()
    return json_response(doc, etag=etag)
