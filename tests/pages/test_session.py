"""Admin UI sessions and login: server-side sessions that logout and token
revocation end, idle and absolute expiry, one-time login codes, no secret in a URL, and the
session cookie's attributes. Real SQLite and the Flask test client (real HTTP servers are in
tests/cli/test_first_run.py)."""

from __future__ import annotations

import pytest

from registry.domain import sessions
from registry.domain import tokens as tk
from registry.domain.metadata import now_ms
from tests.pages.conftest import csrf_token, soup


def login_token(client, secret: str, base: str = ""):
    token = csrf_token(client, f"{base}/login")
    referer = {"Referer": f"{base}/login"} if base.startswith("https") else {}  # CSRF SSL strict
    return client.post(
        f"{base}/login", data={"token": secret, "csrf_token": token}, headers=referer
    )


def login_code(client, code: str):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"code": code, "csrf_token": token})


def logged_in(client) -> bool:
    response = client.get("/registries")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_of_cookie(auth_on_app, client):
    """A second client holding a copy of `client`'s session cookie (a stolen cookie)."""
    thief = auth_on_app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def session_rows(token_store) -> int:
    return token_store.sessions.select().count()


# --- logout and revocation end sessions -------------------------------------------------------


def test_logout_makes_a_copied_session_cookie_useless(auth_on_app, token_store):
    issued = tk.issue(token_store, "ops", tk.ADMIN)
    client = auth_on_app.test_client()
    assert login_token(client, issued.secret).status_code == 302
    thief = copy_of_cookie(auth_on_app, client)
    assert logged_in(thief) and session_rows(token_store) == 1
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert session_rows(token_store) == 0
    assert not logged_in(thief)
    assert not logged_in(client)


def test_revoking_a_token_ends_its_sessions_and_only_its(auth_on_app, token_store):
    ops = tk.issue(token_store, "ops", tk.ADMIN)
    other = tk.issue(token_store, "other", tk.EDITOR)
    first, second, bystander = (
        auth_on_app.test_client(),
        auth_on_app.test_client(),
        auth_on_app.test_client(),
    )
    login_token(first, ops.secret)
    login_token(second, ops.secret)
    login_token(bystander, other.secret)
    assert session_rows(token_store) == 3
    api = auth_on_app.test_client()
    response = api.delete(
        f"/api/tokens/{ops.token.id}", headers={"Authorization": f"Bearer {other.secret}"}
    )
    assert response.status_code == 403  # an editor may not revoke; nothing ended
    assert session_rows(token_store) == 3 and logged_in(first)
    token_store.revoke(ops.token.id)
    assert session_rows(token_store) == 1
    assert not logged_in(first) and not logged_in(second)
    assert logged_in(bystander)


def test_a_cookie_naming_no_session_is_logged_out(auth_on_app, token_store):
    client = auth_on_app.test_client()
    with client.session_transaction() as s:  # a forged id, properly signed
        s["sid"] = "made-up"
    assert not logged_in(client)
    with client.session_transaction() as s:  # a cookie of the old kind (token id only)
        s["token_id"] = tk.issue(token_store, "ops", tk.ADMIN).token.id
    assert not logged_in(client)


def test_only_a_hash_of_the_session_id_is_stored(auth_on_app, token_store):
    client = auth_on_app.test_client()
    login_token(client, tk.issue(token_store, "ops", tk.ADMIN).secret)
    with client.session_transaction() as s:
        sid = s["sid"]
    [row] = token_store.sessions.select()
    assert row.id_hash == sessions.hash_value(sid) and sid not in row.id_hash


# --- expiry -----------------------------------------------------------------------------------


def test_idle_sessions_expire(make_app):
    auth_on_app = make_app(REGISTRY_AUTH="on", REGISTRY_SESSION_IDLE_MINUTES=0)
    client = auth_on_app.test_client()
    assert login_token(client, tk.issue(auth_on_app.extensions["tokens"], "ops", "admin").secret)
    assert not logged_in(client)
    assert session_rows(auth_on_app.extensions["tokens"]) == 0  # deleted when found expired


def test_sessions_end_after_their_absolute_lifetime_even_when_used(auth_on_app, token_store):
    client = auth_on_app.test_client()
    login_token(client, tk.issue(token_store, "ops", tk.ADMIN).secret)
    assert logged_in(client)
    week_and_a_bit = 7 * 24 * 3600 * 1000 + 60_000
    token_store.sessions.update(created_at_ms=now_ms() - week_and_a_bit).execute()
    assert not logged_in(client)


def test_a_used_session_is_kept_alive(auth_on_app, token_store):
    client = auth_on_app.test_client()
    login_token(client, tk.issue(token_store, "ops", tk.ADMIN).secret)
    an_hour_ago = now_ms() - 3600 * 1000
    token_store.sessions.update(last_seen_at_ms=an_hour_ago).execute()
    assert logged_in(client)
    [row] = token_store.sessions.select()
    assert row.last_seen_at_ms > an_hour_ago


# --- login: tokens in URLs, one-time codes ----------------------------------------------------


def test_a_token_in_the_address_no_longer_logs_in(auth_on_app, token_store):
    issued = tk.issue(token_store, "ops", tk.ADMIN)
    client = auth_on_app.test_client()
    response = client.get(f"/login?token={issued.secret}")
    assert response.status_code == 400
    assert "no longer accepted" in soup(response).select_one('.panel [role="alert"]').get_text()
    assert not logged_in(client) and session_rows(token_store) == 0


def test_a_token_post_without_csrf_is_refused(auth_on_app, token_store):
    client = auth_on_app.test_client()
    response = client.post("/login", data={"token": tk.issue(token_store, "ops", "admin").secret})
    assert response.status_code == 400 and session_rows(token_store) == 0


def test_a_login_code_works_once(auth_on_app, token_store):
    token = sessions.link_token(token_store, tk.ADMIN, None, now_ms())
    code = sessions.make_login_link(token_store, token, now_ms(), 15 * 60_000)
    client = auth_on_app.test_client()
    response = login_code(client, code)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert logged_in(client)
    assert token_store.get(token.id).last_used_at_ms is not None  # the first admin login is known
    again = auth_on_app.test_client()
    refused = login_code(again, code)
    assert refused.status_code == 400
    alert = soup(refused).select_one('.panel [role="alert"]').get_text()
    assert "already been used" in alert and "profile-registry login-link" in alert
    assert not logged_in(again) and session_rows(token_store) == 1


def test_expired_unknown_and_revoked_login_codes_are_refused(auth_on_app, token_store):
    token = sessions.link_token(token_store, tk.EDITOR, "bob", now_ms())
    expired = sessions.make_login_link(token_store, token, now_ms(), 0)
    revoked = sessions.make_login_link(token_store, token, now_ms(), 60_000)
    client = auth_on_app.test_client()
    cases = [(expired, "has expired"), ("nonsense", "not valid"), ("", "not valid")]
    for code, message in cases:
        response = login_code(client, code)
        assert response.status_code == 400, code
        assert message in soup(response).select_one('.panel [role="alert"]').get_text()
    token_store.revoke(token.id)
    response = login_code(client, revoked)
    assert response.status_code == 400
    assert "revoked" in soup(response).select_one('.panel [role="alert"]').get_text()
    assert session_rows(token_store) == 0 and not logged_in(client)


def test_login_code_links_name_their_token_and_refuse_a_role_mismatch(auth_on_app, token_store):
    bob = sessions.link_token(token_store, tk.EDITOR, "bob", now_ms())
    assert (bob.name, bob.role, bob.created_by) == ("bob", "editor", "login-link")
    assert sessions.link_token(token_store, tk.EDITOR, "bob", now_ms()).id == bob.id  # reused
    with pytest.raises(sessions.LinkRefused, match="has role editor, not admin"):
        sessions.link_token(token_store, tk.ADMIN, "bob", now_ms())
    client = auth_on_app.test_client()
    login_code(client, sessions.make_login_link(token_store, bob, now_ms(), 60_000))
    header = soup(client.get("/registries")).select_one("header .who").get_text()
    assert "bob" in header and "editor" in header


def test_a_new_start_link_replaces_the_previous_unused_one_but_not_cli_links(
    auth_on_app, token_store
):
    admin = sessions.link_token(token_store, tk.ADMIN, None, now_ms())
    cli = sessions.make_login_link(token_store, admin, now_ms(), 60_000)
    old = sessions.make_login_link(token_store, admin, now_ms(), 60_000, purpose="start")
    new = sessions.make_login_link(token_store, admin, now_ms(), 60_000, purpose="start")
    client = auth_on_app.test_client()
    assert login_code(client, old).status_code == 400
    assert login_code(client, new).status_code == 302
    assert login_code(auth_on_app.test_client(), cli).status_code == 302


def test_the_login_page_explains_both_ways_in(auth_on_app):
    text = soup(auth_on_app.test_client().get("/login")).get_text(" ")
    assert "profile-registry login-link" in text
    assert "profile-registry token create --role admin --name you" in text


# --- the session cookie -----------------------------------------------------------------------


def set_cookie_attrs(auth_on_app, base: str = "http://localhost", **config) -> set[str]:
    auth_on_app.config.update(config)
    client = auth_on_app.test_client()
    response = login_token(
        client, tk.issue(auth_on_app.extensions["tokens"], base, "admin").secret, base
    )
    assert response.status_code == 302
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return {part.strip().split("=")[0] for part in cookie.split(";")[1:]}


def test_session_cookie_is_httponly_and_samesite_lax(auth_on_app):
    assert auth_on_app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    client = auth_on_app.test_client()
    client.get("/login")
    response = login_token(client, tk.issue(auth_on_app.extensions["tokens"], "x", "admin").secret)
    [cookie] = response.headers.getlist("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


@pytest.mark.parametrize(
    ("base", "config", "secure"),
    [
        ("http://localhost", {}, False),  # the development server on loopback
        ("http://127.0.0.1:5000", {}, False),
        ("http://registry.internal", {}, True),  # REGISTRY_COOKIE_SECURE defaults to true
        ("http://registry.internal", {"REGISTRY_COOKIE_SECURE": "false"}, False),
        ("https://registry.internal", {"REGISTRY_COOKIE_SECURE": "false"}, True),  # HTTPS
        ("https://localhost", {}, True),
        # behind a TLS-terminating proxy the request is plain HTTP; the base URL tells
        ("http://localhost", {"REGISTRY_BASE_URL": "https://registry.example.com"}, True),
    ],
)
def test_session_cookie_secure_attribute(auth_on_app, base, config, secure):
    attrs = set_cookie_attrs(auth_on_app, base, **config)
    assert ("Secure" in attrs) is secure, attrs
    assert {"HttpOnly", "SameSite"} <= attrs


@pytest.mark.postgres
def test_sessions_and_login_codes_on_postgresql(pg_url, make_app):
    auth_on_app = make_app(REGISTRY_AUTH="on", DATABASE_URL=pg_url)
    token_store = auth_on_app.extensions["tokens"]
    token = sessions.link_token(token_store, tk.ADMIN, None, now_ms())
    code = sessions.make_login_link(token_store, token, now_ms(), 60_000)
    client = auth_on_app.test_client()
    assert login_code(client, code).status_code == 302
    assert login_code(auth_on_app.test_client(), code).status_code == 400  # claimed once
    thief = copy_of_cookie(auth_on_app, client)
    assert logged_in(thief)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert not logged_in(thief)
    login_code(client, sessions.make_login_link(token_store, token, now_ms(), 60_000))
    assert logged_in(client)
    token_store.revoke(token.id)
    assert not logged_in(client) and session_rows(token_store) == 0
