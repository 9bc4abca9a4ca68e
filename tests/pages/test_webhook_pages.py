"""The webhook admin pages: list and add (the secret shown once), a subscription's delivery log
with Send test and Redeliver, enabling a disabled one (and the dashboard's notice), removing
with a confirmation, the JSON twins, roles and CSRF. Real SQLite, a real local receiver."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import MultiDict

from registry.domain.model import Profile
from registry.domain.tokens import issue
from registry.webhook_worker import drain
from tests.pages.conftest import csrf_token, form_fields, soup
from tests.receiver import FAST_DELIVERY, Receiver, receivers, verify

receiver = pytest.fixture(receivers)
FAST = FAST_DELIVERY


@pytest.fixture
def hook_app(make_app):
    app = make_app(**FAST, REGISTRY_WEBHOOK_DISABLE_AFTER=2)
    service = app.extensions["registry"]
    service.ensure_default_registry(actor="t", source="cli")
    # a first profile, which also made it the registry's default (an event of its own)
    service.create_profile("default", Profile(slug="first"), actor="t")
    return app


@pytest.fixture
def client(hook_app):
    return hook_app.test_client()


def add_form(client, **fields):
    """Fill the page's add form like a browser (text, select, checkboxes) and post it."""
    page = soup(client.get("/webhooks"))
    form = page.find("form", action="/webhooks")
    data = [(k, v) for k, v in form_fields(form) if k not in fields and k != "events"]
    for name, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            data.append((name, v))
    return client.post("/webhooks", data=MultiDict(data))


def post_data(form) -> MultiDict:
    return MultiDict(form_fields(form))


def subscriptions(client) -> list[dict]:
    return client.get("/api/webhooks").json["items"]


def test_empty_list_says_how_to_add_one(client):
    page = soup(client.get("/webhooks"))
    assert "No webhooks yet" in page.find(class_="empty").get_text()
    assert page.find("link", rel="alternate")["href"] == "/api/webhooks"
    assert page.find("nav").find("a", string="Webhooks")["aria-current"] == "page"
    boxes = [b["value"] for b in page.find_all("input", attrs={"name": "events"})]
    assert boxes == client.get("/api/webhooks").json["event_types"]


def test_adding_shows_the_secret_once_and_it_signs_deliveries(client, receiver: Receiver):
    response = add_form(client, url=receiver.url, events=["profile.created", "profile.updated"])
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = soup(response)
    secret = page.find("input", id="webhook-secret")["value"]
    assert secret.startswith("whsec_")
    assert page.find("input", id="webhook-secret").has_attr("readonly")
    assert page.find("button", attrs={"data-copy": "webhook-secret"}) is not None
    (sub,) = subscriptions(client)
    assert sub["url"] == receiver.url
    assert sub["events"] == ["profile.created", "profile.updated"] and sub["registry"] == ""
    assert sub["created_by"] == "local"
    for path in ("/webhooks", f"/webhooks/{sub['id']}", "/", f"/api/webhooks/{sub['id']}"):
        assert secret not in client.get(path).get_data(as_text=True), path

    listing = soup(client.get("/webhooks"))
    row = listing.find("a", string=receiver.url).find_parent("tr")
    assert "every registry" in row.get_text() and "active" in row.get_text()
    assert "profile.created, profile.updated" in " ".join(row.get_text().split())

    detail = soup(client.get(f"/webhooks/{sub['id']}"))
    test_form = detail.find("form", action=f"/webhooks/{sub['id']}/test")
    client.post(test_form["action"], data=post_data(test_form))
    (request,) = receiver.requests
    assert verify(secret, request["headers"], request["body"])


def test_the_registry_filter_is_chosen_from_existing_registries(client):
    page = soup(client.get("/webhooks"))
    options = [
        o["value"] for o in page.find("select", attrs={"name": "registry"}).find_all("option")
    ]
    assert options == ["", "default"]
    response = add_form(client, url="http://127.0.0.1:9/h", registry="default")
    assert response.status_code == 201
    (sub,) = subscriptions(client)
    assert sub["registry"] == "default" and sub["events"] == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": ""}, "url", "required"),
        ({"url": "ftp://example.com/h"}, "url", "http"),
        ({"url": "http://169.254.169.254/latest"}, "url", "link-local"),
        ({"url": "http://10.0.0.5/h"}, "url", "REGISTRY_WEBHOOK_ALLOW_HOSTS"),
        ({"url": "http://127.0.0.1:9/h", "events": ["profile.exploded"]}, "events", "unknown"),
        ({"url": "http://127.0.0.1:9/h", "registry": "nope"}, "registry", "no registry"),
        ({"url": "http://127.0.0.1:9/h", "registry": "Bad Slug!"}, "registry", ""),
    ],
)
def test_bad_input_is_422_beside_its_field_and_stores_nothing(client, fields, field, message):
    response = add_form(client, **fields)
    assert response.status_code == 422
    page = soup(response)
    control_id = {"url": "new-url", "registry": "new-registry", "events": "new-events"}[field]
    errors = page.select(f"[id^='{control_id}-err-']")
    assert errors, page.select(".error")
    assert message.lower() in " ".join(e.get_text() for e in errors).lower()
    described = page.find(id=control_id)["aria-describedby"].split()
    assert errors[0]["id"] in described
    if field == "url":
        assert page.find("input", id="new-url")["value"] == fields["url"]  # kept for fixing
    if "events" in fields:
        checked = [
            b["value"]
            for b in page.find_all("input", attrs={"name": "events"})
            if b.has_attr("checked")
        ]
        assert checked == [e for e in fields["events"] if e != "profile.exploded"]
    assert subscriptions(client) == []
    assert "whsec_" not in response.get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(client, receiver: Receiver):
    assert client.post("/webhooks", data={"url": receiver.url}).status_code == 400
    assert subscriptions(client) == []
    add_form(client, url=receiver.url)
    (sub,) = subscriptions(client)
    for action in ("test", "enable", "remove", "deliveries/1/redeliver"):
        assert client.post(f"/webhooks/{sub['id']}/{action}").status_code == 400, action
    assert receiver.requests == [] and len(subscriptions(client)) == 1


def test_the_delivery_log_shows_attempts_and_redeliver_sends_the_same_event(
    client, hook_app, receiver: Receiver
):
    add_form(client, url=receiver.url)
    (sub,) = subscriptions(client)
    receiver.statuses = [500]
    hook_app.extensions["registry"].create_profile("default", Profile(slug="bot"), actor="t")
    store = hook_app.extensions["webhooks"]
    assert drain(store, hook_app.config) == 1  # the first attempt: 500
    detail = soup(client.get(f"/webhooks/{sub['id']}"))
    (article,) = detail.select("article.delivery")
    assert "profile.created" in article.find("h3").get_text()
    assert "pending" in article.find(class_="badge").get_text()
    assert "next attempt" in article.get_text()
    (row,) = article.select("table.attempts tbody tr")
    cells = {td["data-label"]: td.get_text(" ", strip=True) for td in row.find_all("td")}
    assert cells["Status"] == "500" and cells["Latency"].endswith("ms")
    assert cells["Response"].startswith("nope nope")

    for _ in range(50):
        if receiver.accepted():
            break
        drain(store, hook_app.config)
    article = soup(client.get(f"/webhooks/{sub['id']}")).select_one("article.delivery")
    assert "delivered" in article.find(class_="badge").get_text()
    statuses = [
        r.find("td", attrs={"data-label": "Status"}).get_text() for r in article.select("tbody tr")
    ]
    assert statuses == ["500", "200"]

    form = article.find("form", action=lambda a: a and a.endswith("/redeliver"))
    response = client.post(form["action"], data=post_data(form))
    assert response.status_code == 303 and response.headers["Location"] == f"/webhooks/{sub['id']}"
    page = soup(client.get(response.headers["Location"]))
    assert "queued again" in page.find(class_="flash").get_text()
    newest, oldest = page.select("article.delivery")
    assert "Not attempted yet" in newest.get_text()
    drain(store, hook_app.config)
    first, second = receiver.accepted()[0], receiver.requests[-1]
    assert (
        second["status"] == 200
        and second["headers"]["webhook-id"] == receiver.requests[0]["headers"]["webhook-id"]
    )
    assert first == json.loads(second["body"])


def test_send_test_says_how_the_receiver_answered(client, receiver: Receiver):
    add_form(client, url=receiver.url)
    (sub,) = subscriptions(client)
    page = soup(client.get(f"/webhooks/{sub['id']}"))
    form = page.find("form", action=f"/webhooks/{sub['id']}/test")
    response = client.post(form["action"], data=post_data(form), follow_redirects=True)
    assert "Test event delivered: HTTP 200" in soup(response).find(class_="flash").get_text()
    receiver.statuses = [503]
    response = client.post(form["action"], data=post_data(form), follow_redirects=True)
    flash = soup(response).find(class_="flash")
    assert "error" in flash["class"] and "HTTP 503" in flash.get_text()
    assert [b["type"] for b in receiver.accepted()] == ["webhook.test"]


def test_a_disabled_subscription_is_on_the_dashboard_and_can_be_enabled(
    client, hook_app, receiver: Receiver
):
    add_form(client, url=receiver.url)
    (sub,) = subscriptions(client)
    assert soup(client.get("/")).find(class_="webhook-notice") is None
    receiver.statuses = [500, 500]
    hook_app.extensions["registry"].create_profile("default", Profile(slug="bot"), actor="t")
    store = hook_app.extensions["webhooks"]
    for _ in range(50):
        if store.get_subscription(sub["id"]).disabled_at_ms is not None:
            break
        drain(store, hook_app.config)
    notice = soup(client.get("/")).find(class_="webhook-notice")
    assert "1 webhook disabled" in notice.get_text()
    link = notice.find("a", href=f"/webhooks/{sub['id']}")
    assert link is not None and "2 failed attempts" in notice.get_text()

    detail = soup(client.get(link["href"]))
    assert "disabled" in detail.find(id="disabled-notice").get_text()
    form = detail.find("form", action=f"/webhooks/{sub['id']}/enable")
    response = client.post(form["action"], data=post_data(form))
    assert response.status_code == 303
    assert subscriptions(client)[0]["disabled"] is False
    assert soup(client.get("/")).find(class_="webhook-notice") is None
    drain(store, hook_app.config)  # the held delivery goes out once enabled
    assert [b["type"] for b in receiver.accepted()] == ["profile.created"]


def test_remove_asks_first_then_removes(client, receiver: Receiver):
    add_form(client, url=receiver.url)
    (sub,) = subscriptions(client)
    detail = soup(client.get(f"/webhooks/{sub['id']}"))
    confirm_url = detail.find("a", string="Remove…")["href"]
    confirm = soup(client.get(confirm_url))
    assert receiver.url in confirm.find("h1").find_next("p").get_text()
    assert len(subscriptions(client)) == 1  # asking removed nothing
    form = confirm.find("form", method="post", action=confirm_url)
    response = client.post(form["action"], data=post_data(form))
    assert response.status_code == 303 and response.headers["Location"] == "/webhooks"
    assert subscriptions(client) == []
    assert "removed" in soup(client.get("/webhooks")).find(class_="flash").get_text()
    assert client.get(f"/webhooks/{sub['id']}").status_code == 404
    assert client.get(confirm_url).status_code == 404


def test_unknown_subscriptions_and_deliveries_are_404(client, receiver: Receiver):
    token = csrf_token(client, "/webhooks")
    assert client.get("/webhooks/99").status_code == 404
    assert client.post("/webhooks/99/test", data={"csrf_token": token}).status_code == 404
    add_form(client, url=receiver.url)
    (sub,) = subscriptions(client)
    response = client.post(
        f"/webhooks/{sub['id']}/deliveries/12345/redeliver", data={"csrf_token": token}
    )
    assert response.status_code == 404


def test_only_admins_see_and_use_the_webhook_pages(make_app):
    app = make_app(**FAST, REGISTRY_AUTH="on")
    tokens = app.extensions["tokens"]
    anonymous = app.test_client()
    response = anonymous.get("/webhooks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

    def logged_in(role: str):
        c = app.test_client()
        secret = issue(tokens, f"ui-{role}", role).secret
        c.post("/login", data={"token": secret, "csrf_token": csrf_token(c, "/login")})
        return c

    editor = logged_in("editor")
    assert editor.get("/webhooks").status_code == 403
    assert soup(editor.get("/")).find("nav").find("a", string="Webhooks") is None
    token = csrf_token(editor, "/")
    response = editor.post("/webhooks", data={"csrf_token": token, "url": "http://127.0.0.1:9/h"})
    assert response.status_code == 403
    assert app.extensions["webhooks"].list_subscriptions() == []

    admin = logged_in("admin")
    assert soup(admin.get("/")).find("nav").find("a", string="Webhooks")["href"] == "/webhooks"
    assert add_form(admin, url="http://127.0.0.1:9/h").status_code == 201
    (sub,) = app.extensions["webhooks"].list_subscriptions()
    assert sub.created_by == "ui-admin"
    assert editor.get(f"/webhooks/{sub.id}").status_code == 403
    assert editor.post(f"/webhooks/{sub.id}/remove", data={"csrf_token": token}).status_code == 403
    assert len(app.extensions["webhooks"].list_subscriptions()) == 1


def test_a_yaml_store_says_webhooks_need_sql(make_app, tmp_path):
    app = make_app(REGISTRY_STORE=f"yaml:{tmp_path / 'p.yaml'}")
    client = app.test_client()
    response = client.get("/webhooks")
    assert response.status_code == 409
    assert "SQL store" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # the dashboard has no notice to show
