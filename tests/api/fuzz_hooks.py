"""Schemathesis hooks for tests/api/test_fuzz.py (loaded with SCHEMATHESIS_HOOKS).

Schemathesis reuses identifiers it saw in responses: it finds the fuzzer's own admin token in
`GET /api/tokens` and revokes it, after which every request is a 401 and the rest of the run
exercises nothing. The token named by FUZZ_PROTECTED_TOKEN_ID is swapped for an unknown id
(a 404, still a documented answer) so the run keeps its credentials. Webhook URLs that the
schema allows are made public ones (see `before_call`).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

UNKNOWN_TOKEN_ID = "0" * 16


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    # Whether a webhook URL is refused depends on where it points (private addresses,
    # REGISTRY_WEBHOOK_ALLOW_HOSTS), which no schema says; tests/api/test_webhooks.py covers
    # refusals. A schema-valid URL is made a public one.
    body = case.body if isinstance(case.body, dict) else {}
    url = body.get("url")
    if case.path == "/api/webhooks" and isinstance(url, str) and url.startswith("http"):
        body["url"] = "https://hooks.example.com/in"
    protected = os.environ.get("FUZZ_PROTECTED_TOKEN_ID", "")
    params = case.path_parameters
    if protected and params and str(params.get("token_id", "")).strip() == protected:
        params["token_id"] = UNKNOWN_TOKEN_ID
