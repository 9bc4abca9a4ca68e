"""Hypothesis puts strings it does not generate by default (lone surrogates, NUL, U+FFFE, bidi
overrides, whitespace-only and very long text) into each string field and key of profile and
registry create/patch bodies: never a 5xx, a 400 naming the field whenever a refused character
is present, and the public readers keep answering 200."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.domain.text import child_path, has_refused

HOSTILE = st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\ufffe", "\uffff", "\u202e", " ", "\t\n", "\u3000", "x" * 300]
)
hostile_text = st.lists(st.one_of(HOSTILE, st.text(max_size=5)), min_size=1, max_size=4).map(
    "".join
)

PROFILE = {
    "display_name": "D",
    "description": "Desc",
    "runtime": {
        "system_prompt": "P",
        "tools": ["t"],
        "step_settings_patch": {"ai-chat": {"ai-engine": "m"}},
        "middlewares": [{"name": "agentmode", "id": "i"}],
    },
    "policy": {"allowed_override_keys": ["system_prompt"]},
    "metadata": {"tags": ["tag"]},
    "extensions": {"webchat.starter_suggestions@v1": {"items": ["s"]}, "acme.x@v1": {"k": "v"}},
}
REGISTRY = {"display_name": "R", "description": "Desc", "metadata": {"tags": ["tag"]}}


def _slots(value, path=()):
    """(path, is_key) of every string value and key in `value`."""
    if isinstance(value, str):
        yield path, False
    elif isinstance(value, dict):
        for k, v in value.items():
            yield (*path, k), True
            yield from _slots(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _slots(v, (*path, i))


def _put(doc, path, is_key, text):
    doc = json.loads(json.dumps(doc))
    holder = doc
    for part in path[:-1]:
        holder = holder[part]
    if is_key:
        holder[text] = holder.pop(path[-1])
    else:
        holder[path[-1]] = text
    return doc


def _encode(doc) -> bytes:
    # json.dumps escapes lone surrogates as \udXXX (what a client would send)
    return json.dumps(doc).encode()


TARGETS = [
    ("post", "/api/chat/profiles", {"slug": "h", **PROFILE}),
    ("patch", "/api/chat/profiles/inventory", PROFILE),
    ("post", "/api/registries", {"slug": "hr", **REGISTRY}),
    ("patch", "/api/registries/team", REGISTRY),
]
SLOTS = [(i, path, is_key) for i, (_, _, doc) in enumerate(TARGETS) for path, is_key in _slots(doc)]
READERS = [
    "/api/chat/profiles",
    "/api/chat/profiles/inventory",
    "/api/export",
    "/",
    "/registries/default",
]


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    from app import create_app
    from registry.domain.importer import import_yaml
    from tests.conftest import FIXTURES

    db = tmp_path_factory.mktemp("hostile") / "h.db"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "DATABASE_URL": f"sqlite:///{db}",
            "REGISTRY_AUTH": "off",
        }
    )
    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())
    return app


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(slot=st.sampled_from(SLOTS), text=hostile_text)
def test_hostile_strings_in_every_field_and_key(hostile_app, slot, text):
    client = hostile_app.test_client()
    target, path, is_key = slot
    method, url, doc = TARGETS[target]
    body = _put(doc, path, is_key, text)
    resp = getattr(client, method)(url, data=_encode(body), content_type="application/json")
    assert resp.status_code < 500, resp.get_data(as_text=True)
    # what the server decodes: an adjacent high + low surrogate pair is one valid character
    text = json.loads(json.dumps(text))
    if has_refused(text):
        assert resp.status_code == 400
        fields = [e["field"] for e in resp.get_json()["errors"]]
        named = [*path[:-1], text] if is_key else list(path)
        expected = ""
        for part in named:
            expected = child_path(expected, part)
        assert expected in fields, (expected, fields)
    if resp.status_code in (200, 201) and url.startswith("/api/chat/profiles") and method == "post":
        client.delete(f"/api/chat/profiles/{resp.get_json()['slug']}")
    if method == "post" and url == "/api/registries" and resp.status_code == 201:
        client.delete("/api/registries/hr")
    for reader in READERS:
        assert client.get(reader).status_code == 200, reader
