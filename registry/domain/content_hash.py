"""Content hashes of profiles: what lets an import skip validating what did not change.

A stored profile row keeps `sha256(rules digest + canonical JSON of its content)`, computed by
the store on every write from the data it stores (`Store` writes take the digest in
`WriteOptions.rules`). An incoming profile whose hash under today's digest equals the stored
one is the stored content, and the stored content passed today's rules when it was written
(the digest says which rules): validating it again would give the same answer. A change of the
rules (a codec or middleware schema, a limit, the source of the validating modules) changes
the digest, so every profile takes the full path again until it is written under the new rules.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

# The modules whose code decides what a profile write accepts and how it is normalized. Their
# source is in the digest, so a release that changes validation (or any edit of these files)
# stops stored hashes from matching without anyone having to remember a version number.
VALIDATING_MODULES = (
    "content_hash",
    "extensions",
    "jsonutil",
    "metadata",
    "middleware",
    "model",
    "schema",
    "service",
    "slugs",
    "stacks",
    "text",
    "validation",
)


def content_json(data: dict[str, Any]) -> str:
    """The canonical JSON of a serialized profile's content (`diff.profile_content`: all but
    server-managed metadata, tags kept): sorted keys, no spaces, ASCII."""
    content = {k: v for k, v in data.items() if k != "metadata"}
    tags = (data.get("metadata") or {}).get("tags")
    if tags:
        content["tags"] = tags
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content_hash(data: dict[str, Any], rules: str) -> str:
    """The hash a row keeps for `data` (`profile_to_data`) written under `rules`; "" without
    a digest (a write that did not go through validation: it never matches)."""
    if not rules:
        return ""
    text = f"{rules}\n{content_json(data)}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def rules_digest(codecs: list[Any], middlewares: list[Any], limits: Any) -> str:
    """A digest of the rules a profile is validated with: every codec (its class, which may
    add checks, and its schema), every middleware definition, the limits."""
    rules = {
        "code": code_digest(),
        "codecs": [[f"{type(c).__module__}.{type(c).__qualname__}", c.describe()] for c in codecs],
        "middlewares": [dataclasses.asdict(d) for d in middlewares],
        "limits": dataclasses.asdict(limits),
    }
    text = json.dumps(rules, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.cache
def code_digest() -> str:
    """sha256 of the validating modules' source; random (never matching a stored hash) when
    the source files are not there to read."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in VALIDATING_MODULES:
        try:
            digest.update((here / f"{name}.py").read_bytes())
        except OSError:
            return secrets.token_hex(16)
    return digest.hexdigest()
