"""API tokens: format, hashing at rest, verification, authentication, the tokens API and the
first-start admin token (see README, JSON API)."""

from __future__ import annotations

import hmac
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import peewee as pw
import pytest

from app import create_app
from registry.config import from_environ
from registry.domain import tokens as tk
from registry.domain.errors import AlreadyExists, ValidationError
from registry.domain.tokens import issue
from registry.store.migrations import LATEST_VERSION, current_version, migrate
from registry.store.sql_tokens import SQLTokenStore, open_token_store
from registry.store.yaml_store import YAMLFileStore
from registry.web.tokens import announce_login, bootstrap_admin

TOKEN_RE = re.compile(r"^prt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# --- domain helpers and the SQL store ----------------------------------------------------------


def test_generated_tokens_have_the_documented_format_and_only_a_hash_is_kept(token_store):
    issued = issue(token_store, "ci", "editor", created_by="tester")
    assert TOKEN_RE.match(issued.secret), issued.secret
    token_id, secret = tk.parse(issued.secret)
    assert token_id == issued.token.id
    found, stored_hash = token_store.find(token_id)
    assert stored_hash == tk.hash_secret(secret) and secret not in stored_hash
    assert found.to_data() == {
        "id": token_id,
        "name": "ci",
        "role": "editor",
        "created_at_ms": found.created_at_ms,
        "created_by": "tester",
        "last_used_at_ms": None,
        "revoked": False,
    }
    assert found.created_at_ms > 0


def test_secret_is_not_in_the_database_files(make_app, tmp_path):
    app = make_app(REGISTRY_AUTH="on")
    issued = issue(app.extensions["tokens"], "ci", "admin")
    secret = tk.parse(issued.secret)[1]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("app")]
    assert files
    for path in files:
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert issued.secret.encode() not in data, path
    assert any(tk.hash_secret(secret).encode() in p.read_bytes() for p in files)


def test_verify_accepts_only_the_exact_active_token(token_store):
    issued = issue(token_store, "ci", "reader")
    token_id, secret = tk.parse(issued.secret)
    assert tk.verify(token_store, issued.secret).id == token_id
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in (
        f"prt_{token_id}_{wrong}",
        f"prt_{'0' * 16}_{secret}",  # unknown id
        f"prt_{token_id}",
        f"prt_{token_id}_",
        f"xyz_{token_id}_{secret}",
        f"prt_{token_id.upper()}_{secret}",
        "",
        "prt_" + "a" * 500,
    ):
        assert tk.verify(token_store, bad) is None, bad
    token_store.revoke(token_id)
    assert tk.verify(token_store, issued.secret) is None


def test_verify_compares_in_constant_time_even_for_unknown_ids(token_store, monkeypatch):
    issued = issue(token_store, "ci", "reader")
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tk.hmac, "compare_digest", spy)
    assert tk.verify(token_store, issued.secret) is not None
    assert tk.verify(token_store, f"prt_{'0' * 16}_whatever") is None
    assert len(calls) == 2


def test_names_are_validated_and_unique_among_active_tokens(token_store):
    for name, message in (
        ("", "token name cannot be empty"),
        ("   ", "token name cannot be empty"),
        ("x" * 101, "must be at most 100 characters"),
        ("bad\nname", "must not contain control characters"),
        (7, "must be a string"),
    ):
        with pytest.raises(ValidationError) as err:
            issue(token_store, name, "reader")
        assert (err.value.errors[0].field, err.value.errors[0].message) == ("name", message)
    with pytest.raises(ValidationError) as err:
        issue(token_store, "ok", "root")
    assert err.value.errors[0].field == "role"
    assert issue(token_store, "  " + "x" * 100 + "  ", "READER").token.name == "x" * 100
    first = issue(token_store, "bot", "reader")
    with pytest.raises(AlreadyExists, match='token "bot" already exists'):
        issue(token_store, "bot", "editor")
    token_store.revoke(first.token.id)
    assert issue(token_store, "bot", "editor").token.role == "editor"  # the name is free again
    assert [t.name for t in token_store.all() if t.name == "bot"] == ["bot"]
    assert len([t for t in token_store.all(include_revoked=True) if t.name == "bot"]) == 2


def test_revoke_is_idempotent_and_unknown_ids_raise(token_store):
    issued = issue(token_store, "ci", "reader")
    assert token_store.revoke(issued.token.id).revoked
    assert token_store.revoke(issued.token.id).revoked
    with pytest.raises(tk.TokenNotFound):
        token_store.revoke("0" * 16)


def test_tokens_beside_a_yaml_store_live_in_the_instance_folder(tmp_path):
    profiles = YAMLFileStore(tmp_path / "profiles.yaml")
    tokens = open_token_store(profiles, "", str(tmp_path / "instance"))
    issued = issue(tokens, "ci", "admin")
    assert (tmp_path / "instance" / "tokens.db").exists()
    reopened = SQLTokenStore.open(f"sqlite:///{tmp_path / 'instance' / 'tokens.db'}")
    assert tk.verify(reopened, issued.secret).name == "ci"
    tokens.close()
    reopened.close()
    profiles.close()


def test_an_existing_database_upgrades_to_the_tokens_step_without_data_loss(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = pw.SqliteDatabase(str(tmp_path / "old.db"))
    migrate(db, target=2)
    db.execute_sql(
        "INSERT INTO registries (slug, display_name, description, default_profile_slug,"
        " version, created_ms, updated_ms, data) VALUES ('kept', '', '', '', 1, 0, 0, '{}')"
    )
    db.close()
    tokens = SQLTokenStore.open(url)
    assert current_version(tokens.db) == LATEST_VERSION
    assert tokens.db.execute_sql("SELECT slug FROM registries").fetchall() == [("kept",)]
    assert issue(tokens, "ci", "reader").token.name == "ci"
    tokens.close()


# --- authentication over HTTP ----------------------------------------------------------------


def test_missing_malformed_and_revoked_tokens_get_401_with_a_bearer_challenge(
    auth_on_app, token_store
):
    client = auth_on_app.test_client()
    issued = issue(token_store, "ci", "admin")
    token_store.revoke(issued.token.id)
    cases = {
        "no header": {},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": bearer("garbage"),
        "revoked": bearer(issued.secret),
    }
    for label, headers in cases.items():
        response = client.get("/api/registries", headers=headers)
        assert response.status_code == 401, label
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), label
        assert response.json["status"] == 401
    # a bad token is reported even where anonymous callers are welcome
    assert client.get("/api/chat/profiles", headers=bearer("garbage")).status_code == 401
    assert client.get("/api/chat/profiles").status_code == 200


def test_an_insufficient_role_gets_403_naming_the_roles(auth_on_app, token_store):
    client = auth_on_app.test_client()
    reader = issue(token_store, "viewer", "reader").secret
    response = client.post("/api/registries", json={"slug": "x"}, headers=bearer(reader))
    assert response.status_code == 403
    assert response.json["detail"] == 'forbidden: token "viewer" has role reader; this needs admin'
    assert auth_on_app.extensions["registry"].list_registries() == []


def test_public_reads_can_be_turned_off(make_app):
    app = make_app(REGISTRY_AUTH="on", REGISTRY_PUBLIC_READS="false")
    client = app.test_client()
    assert client.get("/api/chat/profiles").status_code == 401
    secret = issue(app.extensions["tokens"], "ci", "reader").secret
    assert client.get("/api/chat/profiles", headers=bearer(secret)).status_code == 200


def test_the_actor_is_the_token_name_and_use_is_recorded(auth_on_app, token_store):
    client = auth_on_app.test_client()
    issued = issue(token_store, "release-bot", "admin")
    response = client.post("/api/registries", json={"slug": "team"}, headers=bearer(issued.secret))
    assert response.status_code == 201
    assert response.json["metadata"]["created_by"] == "release-bot"
    assert token_store.get(issued.token.id).last_used_at_ms >= issued.token.created_at_ms


def test_auth_off_needs_no_token_and_records_local(make_app):
    app = make_app(REGISTRY_AUTH="off")
    response = app.test_client().post("/api/registries", json={"slug": "team"})
    assert response.status_code == 201
    assert response.json["metadata"]["created_by"] == "local"


@pytest.mark.parametrize("value", ["no", "off", "false", "0", "NO", " Off ", False])
def test_every_false_spelling_of_registry_auth_turns_auth_off(make_app, value):
    """`REGISTRY_AUTH` is read by `registry.config.flag` like every switch (`no` kept auth on)."""
    client = make_app(REGISTRY_AUTH=value).test_client()
    response = client.post("/api/registries", json={"slug": "team"})
    assert response.status_code == 201
    assert response.json["metadata"]["created_by"] == "local"


@pytest.mark.parametrize("value", ["on", "yes", "true", "1", "TRUE", True])
def test_every_true_spelling_of_registry_auth_needs_a_token(make_app, value):
    client = make_app(REGISTRY_AUTH=value).test_client()
    assert client.post("/api/registries", json={"slug": "team"}).status_code == 401
    assert client.get("/api/registries/team").status_code == 401


@pytest.mark.parametrize("value", ["maybe", "", "of"])
def test_a_registry_auth_typo_fails_the_start(make_app, value):
    with pytest.raises(ValueError, match="REGISTRY_AUTH must be true or false"):
        make_app(REGISTRY_AUTH=value)


def test_boolean_environment_variables_refuse_typos():
    """Environment booleans go through the same `flag`: a typo is an error, not false."""
    assert from_environ({"REGISTRY_COOKIE_SECURE": "no"})["REGISTRY_COOKIE_SECURE"] is False
    assert from_environ({"REGISTRY_COOKIE_SECURE": "On"})["REGISTRY_COOKIE_SECURE"] is True
    with pytest.raises(ValueError, match="REGISTRY_COOKIE_SECURE must be true or false"):
        from_environ({"REGISTRY_COOKIE_SECURE": "ture"})
    assert from_environ({"REGISTRY_AUTH": "no"}) == {"REGISTRY_AUTH": "no"}


# --- the tokens API --------------------------------------------------------------------------


def test_tokens_api_create_list_revoke(auth_on_app, token_store):
    client = auth_on_app.test_client()
    admin = bearer(issue(token_store, "root", "admin").secret)
    created = client.post("/api/tokens", json={"name": "ci", "role": "editor"}, headers=admin)
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    body = created.json
    assert TOKEN_RE.match(body["token"])
    assert body["name"] == "ci" and body["role"] == "editor" and body["created_by"] == "root"
    assert tk.verify(token_store, body["token"]).id == body["id"]

    listed = client.get("/api/tokens", headers=admin)
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json["items"]] == ["root", "ci"]
    assert body["token"] not in listed.get_data(as_text=True)
    assert all("token" not in t and "secret_hash" not in t for t in listed.json["items"])
    etag = listed.headers["ETag"]
    assert client.get("/api/tokens", headers={**admin, "If-None-Match": etag}).status_code == 304

    ci = bearer(body["token"])
    assert client.get("/api/registries", headers=ci).status_code == 200
    assert client.delete(f"/api/tokens/{body['id']}", headers=admin).status_code == 204
    assert client.get("/api/registries", headers=ci).status_code == 401
    assert client.delete(f"/api/tokens/{body['id']}", headers=admin).status_code == 204
    assert client.get("/api/tokens", headers=admin).json["items"][-1]["name"] == "root"
    everything = client.get("/api/tokens?include_revoked=true", headers=admin).json["items"]
    assert [(t["name"], t["revoked"]) for t in everything] == [("root", False), ("ci", True)]
    missing = client.delete("/api/tokens/0000000000000000", headers=admin)
    assert missing.status_code == 404 and missing.json["detail"] == "token not found"


def test_tokens_api_bad_input(auth_on_app, token_store):
    client = auth_on_app.test_client()
    admin = bearer(issue(token_store, "root", "admin").secret)
    before = [t.id for t in token_store.all(include_revoked=True)]
    response = client.post("/api/tokens", json={"name": "", "role": "god", "x": 1}, headers=admin)
    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == ["x"]
    response = client.post("/api/tokens", json={"name": "", "role": "god"}, headers=admin)
    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == ["name", "role"]
    response = client.post("/api/tokens", json={"name": "root", "role": "reader"}, headers=admin)
    assert response.status_code == 409
    assert response.json["detail"] == 'token "root" already exists'
    response = client.post("/api/tokens", data="{", content_type="application/json", headers=admin)
    assert response.status_code == 400
    assert client.get("/api/tokens?include_revoked=maybe", headers=admin).status_code == 400
    assert [t.id for t in token_store.all(include_revoked=True)] == before


# --- first start -----------------------------------------------------------------------------


def test_no_admin_token_is_bootstrapped_in_testing_mode_unless_asked(make_app, capsys):
    app = make_app(REGISTRY_AUTH="on")
    assert bootstrap_admin(app) is None
    announce_login(app, "127.0.0.1", 5000)
    assert app.extensions["tokens"].all() == []
    assert capsys.readouterr().err == ""


def test_no_admin_token_is_bootstrapped_with_auth_off(make_app, capsys):
    app = make_app(REGISTRY_AUTH="off", REGISTRY_BOOTSTRAP_ADMIN=True)
    assert bootstrap_admin(app) is None
    announce_login(app, "127.0.0.1", 5000)
    assert app.extensions["tokens"].all() == []
    assert capsys.readouterr().err == ""


def test_building_the_app_creates_and_prints_no_credentials(tmp_path, capsys):
    """Only `init`, `run` and `serve` bootstrap (registry/cli.py); `create_app` never does."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'boot.db'}",
            "REGISTRY_BOOTSTRAP_ADMIN": True,
        }
    )
    assert app.extensions["tokens"].all() == []
    assert capsys.readouterr().err == ""


def test_first_start_creates_admin_and_prints_a_login_link_until_an_admin_logs_in(tmp_path, capsys):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'boot.db'}",
        "REGISTRY_BOOTSTRAP_ADMIN": True,
    }
    app = create_app(config)
    announce_login(app, "0.0.0.0", 8123)
    err = capsys.readouterr().err
    first = re.search(r"http://127\.0\.0\.1:8123/login#code=(\S+)$", err, re.M)
    assert first, err
    assert "prt_" not in err  # no reusable secret is printed
    [admin] = app.extensions["tokens"].all()
    assert (admin.name, admin.role, admin.created_by) == ("admin", "admin", "bootstrap")

    announce_login(create_app(config), "127.0.0.1", 8123)  # a restart: a fresh link
    second = re.search(r"/login#code=(\S+)$", capsys.readouterr().err, re.M)
    assert second and second.group(1) != first.group(1)
    assert len(app.extensions["tokens"].all()) == 1

    client = app.test_client()
    refused = login_with_code(client, first.group(1))  # replaced by the second start's link
    assert refused.status_code == 400 and "not valid" in refused.text
    assert login_with_code(client, second.group(1)).status_code == 302
    assert client.get("/").status_code == 200

    announce_login(create_app(config), "127.0.0.1", 8123)  # an admin has logged in
    err = capsys.readouterr().err
    assert "/login#code=" not in err and "profile-registry login-link" in err


def test_base_url_setting_wins_and_a_malformed_one_fails_the_start(tmp_path, capsys):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'boot.db'}",
        "REGISTRY_BOOTSTRAP_ADMIN": True,
        "REGISTRY_BASE_URL": "https://registry.example.com/",
    }
    announce_login(create_app(config), "127.0.0.1", 8000)
    assert "\n  https://registry.example.com/login#code=" in capsys.readouterr().err
    with pytest.raises(ValueError, match="REGISTRY_BASE_URL must be an http"):
        create_app({**config, "REGISTRY_BASE_URL": "registry.example.com"})


def login_with_code(client, code: str):
    from tests.pages.conftest import csrf_token

    return client.post("/login", data={"code": code, "csrf_token": csrf_token(client, "/login")})


def test_bootstrap_picks_a_free_name_when_a_non_admin_holds_admin(tmp_path, capsys):
    token_store = SQLTokenStore.open(f"sqlite:///{tmp_path / 't.db'}")
    issue(token_store, "admin", "reader")
    issued = tk.bootstrap_admin(token_store)
    assert (issued.token.name, issued.token.role) == ("admin-2", "admin")
    assert tk.bootstrap_admin(token_store) is None
    token_store.close()


def test_concurrent_first_starts_create_one_admin_token(tmp_path, capsys):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'race.db'}",
        "REGISTRY_BOOTSTRAP_ADMIN": True,
    }
    barrier = threading.Barrier(4)
    created, errors = [], []
    # The apps are built first: building apps in threads at once trips a CPython 3.11.7 bug in
    # werkzeug's rule compilation ("AST constructor recursion depth mismatch"). The race under
    # test is the bootstrap, which the threads start together.
    apps = [create_app(config) for _ in range(4)]

    def start(app):
        try:
            barrier.wait()
            created.append(bootstrap_admin(app))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len([c for c in created if c is not None]) == 1
    assert capsys.readouterr().err == ""
    admins = [t for t in apps[0].extensions["tokens"].all() if t.role == "admin"]
    assert len(admins) == 1


def test_store_level_bootstrap_race_has_one_winner(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    SQLTokenStore.open(url).close()  # migrated once; the race is on the token itself
    stores = [SQLTokenStore.open(url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    results = []

    def race(token_store):
        barrier.wait()
        results.append(tk.bootstrap_admin(token_store))

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [r for r in results if r is not None]
    assert len(results) == len(stores) and len(winners) == 1
    assert [t.name for t in stores[0].all()] == ["admin"]
    for s in stores:
        s.close()


@pytest.mark.slow
def test_worker_processes_starting_together_create_one_admin_token(tmp_path):
    """What gunicorn workers without preload do: several processes build the app at once."""
    db = tmp_path / "workers.db"
    code = (
        "from app import create_app; from registry.web.tokens import bootstrap_admin; "
        "bootstrap_admin(create_app({'SECRET_KEY': 'x', 'REGISTRY_AUTH': 'on'}))"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    env.pop("REGISTRY_STORE", None)
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert all(out == "" and err == "" for out, err in outputs), outputs
    token_store = SQLTokenStore.open(f"sqlite:///{db}")
    assert [(t.name, t.role) for t in token_store.all()] == [("admin", "admin")]
    token_store.close()


@pytest.mark.postgres
def test_token_store_on_postgresql(pg_url, make_app):
    stores = [SQLTokenStore.open(pg_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results = []

    def race(token_store):
        barrier.wait()
        results.append(tk.bootstrap_admin(token_store))

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len([r for r in results if r is not None]) == 1
    token_store = stores[0]
    issued = issue(token_store, "ci", "editor")
    with pytest.raises(AlreadyExists):
        issue(token_store, "ci", "reader")
    token_store.revoke(issued.token.id)
    assert tk.verify(token_store, issued.secret) is None
    assert issue(token_store, "ci", "reader").token.role == "reader"
    for s in stores:
        s.close()

    app = make_app(DATABASE_URL=pg_url, REGISTRY_AUTH="on")
    secret = issue(app.extensions["tokens"], "pg-admin", "admin").secret
    client = app.test_client()
    response = client.post("/api/registries", json={"slug": "pg"}, headers=bearer(secret))
    assert response.status_code == 201 and response.json["metadata"]["created_by"] == "pg-admin"
