"""`GET /api/openapi.json`: the OpenAPI 3.1 document of the JSON API (see README, JSON API).

The document lives next to this module as `openapi.yaml`, loaded once; tests keep it true
(tests/api/test_openapi.py: every route documented with its role, nothing stale; the API
suite validates every response against it; tests/api/test_fuzz.py fuzzes a live server).
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from flask import Response

from registry import __version__

from ..auth import READER, require
from ..http import json_response
from . import bp

DOCUMENT_FILE = "openapi.yaml"


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Any], str]:
    text = resources.files(__package__).joinpath(DOCUMENT_FILE).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["info"]["version"] = __version__
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]
    return doc, f"openapi:{digest}"


def openapi_document() -> dict[str, Any]:
    """A copy of the document (callers may mutate it)."""
    return copy.deepcopy(_load()[0])


@bp.get("/openapi.json")
@require(READER, public=True)
def openapi_json() -> Response:
    doc, etag = _load()
    return json_response(doc, etag=etag)
