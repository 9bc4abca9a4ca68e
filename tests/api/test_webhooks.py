"""Webhooks in one process: the admin API, the outbox written with each change, delivery to a
real local receiver (signature checked independently), retries, disabling, redelivery, URL
safety. The worker thread is off (TESTING); tests drain the outbox with `drain()`."""

from __future__ import annotations

import socket
import time

import pytest

from registry.domain.importer import import_yaml
from registry.domain.model import Profile
from registry.domain.ports import WriteOptions
from registry.domain.service import ProfilePatch
from registry.webhook_worker import drain
from tests.conftest import FIXTURES
from tests.receiver import FAST_DELIVERY, Receiver, receivers, verify

receiver = pytest.fixture(receivers)
FAST = FAST_DELIVERY


@pytest.fixture
def hook_app(make_app):
    app = make_app(**FAST)
    prepare(app)
    return app


def prepare(app) -> None:
    """The default registry with a first profile (which also made it the registry's default,
    a registry change of its own), before any subscription exists."""
    service = app.extensions["registry"]
    service.ensure_default_registry(actor="t", source="cli")
    service.create_profile("default", Profile(slug="first"), actor="t")


def add(client, url: str, **body) -> dict:
    response = client.post("/api/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.json
    return response.json


def drain_until(app, done, rounds: int = 200) -> None:
    """Drain the outbox until `done()` (retries are due within milliseconds here)."""
    store = app.extensions["webhooks"]
    for _ in range(rounds):
        drain(store, app.config, limit=100)
        if done():
            return
        time.sleep(0.01)
    raise AssertionError("the outbox did not drain")


def test_add_shows_the_secret_once_and_events_are_signed(hook_app, receiver: Receiver):
    client = hook_app.test_client()
    created = add(client, receiver.url)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/api/webhooks").json["items"]
    assert [s["id"] for s in listed] == [created["id"]]
    assert secret not in str(listed) and "secret" not in listed[0]
    assert secret not in str(client.get(f"/api/webhooks/{created['id']}").json)

    service = hook_app.extensions["registry"]
    service.create_profile("default", Profile(slug="bot"), actor="alice")
    drain_until(hook_app, lambda: len(receiver.accepted()) == 1)
    (request,) = receiver.requests
    assert verify(secret, request["headers"], request["body"])
    assert not verify(secret, request["headers"], request["body"] + " ")
    body = receiver.accepted()[0]
    assert body["type"] == "profile.created"
    assert body["data"]["profile"] == "bot" and body["data"]["actor"] == "alice"
    change = client.get("/api/changes").json["items"][-1]
    assert body["data"] == change
    assert request["headers"]["webhook-id"] == f"msg_change_{change['id']}"
    assert request["path"] == "/hook"


def test_event_types_and_registry_filter(hook_app, receiver: Receiver):
    client = hook_app.test_client()
    service = hook_app.extensions["registry"]
    from registry.domain.model import Registry

    service.create_registry(Registry(slug="team"), actor="t")
    add(client, receiver.url, registry="team", events=["profile.updated", "profile.deleted"])
    service.create_profile("team", Profile(slug="a0"), actor="t")
    service.create_profile("team", Profile(slug="a"), actor="t")
    service.create_profile("default", Profile(slug="b"), actor="t")
    service.update_profile("team", "a", ProfilePatch(description="x"), actor="t")
    service.update_profile("default", "b", ProfilePatch(description="x"), actor="t")
    service.delete_profile("team", "a", actor="t")
    drain_until(hook_app, lambda: len(receiver.accepted()) == 2)
    drain(hook_app.extensions["webhooks"], hook_app.config)
    got = [(b["type"], b["data"]["registry"], b["data"]["profile"]) for b in receiver.accepted()]
    assert got == [("profile.updated", "team", "a"), ("profile.deleted", "team", "a")]


def test_a_rolled_back_write_queues_nothing(hook_app, receiver: Receiver, app_store=None):
    add(hook_app.test_client(), receiver.url)
    store = hook_app.extensions["registry"]._store
    with pytest.raises(RuntimeError), store.atomic():
        store.create_profile("default", Profile(slug="ghost"), WriteOptions(actor="t"))
        raise RuntimeError("rolled back")
    D = hook_app.extensions["webhooks"].m.delivery
    assert D.select().count() == 0
    assert drain(hook_app.extensions["webhooks"], hook_app.config) == 0
    assert receiver.requests == []


def test_an_import_is_one_event_with_counts(hook_app, receiver: Receiver):
    add(hook_app.test_client(), receiver.url)
    service = hook_app.extensions["registry"]
    import_yaml(service, (FIXTURES / "canonical-bundle.yaml").read_text(), actor="imp")
    drain_until(hook_app, lambda: len(receiver.accepted()) >= 1)
    drain(hook_app.extensions["webhooks"], hook_app.config)
    (body,) = receiver.accepted()
    assert body["type"] == "import.completed"
    assert body["data"]["registries"] == ["default", "team"]
    assert body["data"]["counts"]["profiles_created"] == 4
    assert body["data"]["actor"] == "imp"


def test_a_failing_receiver_is_retried_and_every_attempt_logged(hook_app, receiver: Receiver):
    client = hook_app.test_client()
    sub = add(client, receiver.url)
    receiver.statuses = [500, 503]
    service = hook_app.extensions["registry"]
    service.create_profile("default", Profile(slug="bot"), actor="t")
    store = hook_app.extensions["webhooks"]
    assert drain(store, hook_app.config) == 1
    (pending,) = client.get(f"/api/webhooks/{sub['id']}").json["deliveries"]
    assert pending["status"] == "pending" and pending["attempts"] == 1
    assert pending["next_attempt_ms"] > pending["attempt_log"][0]["at_ms"]  # backed off
    drain_until(hook_app, lambda: len(receiver.accepted()) == 1)
    (done,) = client.get(f"/api/webhooks/{sub['id']}").json["deliveries"]
    assert done["status"] == "delivered" and done["attempts"] == 3
    log = done["attempt_log"]
    assert [a["status"] for a in log] == [500, 503, 200]
    assert len(log[0]["response_excerpt"]) == 1024  # truncated
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1  # every attempt carries the same webhook-id


def test_receiver_down_then_back_gets_exactly_the_missed_events_in_order(
    hook_app, receiver: Receiver
):
    add(hook_app.test_client(), receiver.url)
    receiver.statuses = [500] * 6  # down for a while
    service = hook_app.extensions["registry"]
    service.create_profile("default", Profile(slug="a"), actor="t")
    for i in range(3):
        service.update_profile("default", "a", ProfilePatch(description=f"v{i}"), actor="t")
    drain_until(hook_app, lambda: len(receiver.accepted()) >= 4)
    versions = [(b["data"]["profile"], b["data"]["version"]) for b in receiver.accepted()]
    profile_events = [v for v in versions if v[0] == "a"]
    assert profile_events == [("a", 1), ("a", 2), ("a", 3), ("a", 4)]
    assert len(versions) == len(set(versions))


def test_repeated_failure_disables_the_subscription(make_app, receiver: Receiver):
    app = make_app(**FAST, REGISTRY_WEBHOOK_DISABLE_AFTER=3)
    prepare(app)
    client = app.test_client()
    sub = add(client, receiver.url)
    receiver.statuses = [500] * 10
    app.extensions["registry"].create_profile("default", Profile(slug="x"), actor="t")
    store = app.extensions["webhooks"]
    drain_until(app, lambda: store.get_subscription(sub["id"]).disabled_at_ms is not None)
    data = client.get(f"/api/webhooks/{sub['id']}").json
    assert data["disabled"] is True and "3 failed attempts" in data["disabled_reason"]
    assert len(receiver.requests) == 3
    assert drain(store, app.config) == 0  # nothing goes to a disabled subscription
    receiver.statuses = []  # the receiver is fixed
    enabled = client.post(f"/api/webhooks/{sub['id']}/enable")
    assert enabled.json["disabled"] is False
    drain_until(app, lambda: len(receiver.accepted()) == 1)


def test_redeliver_sends_the_same_event_again(hook_app, receiver: Receiver):
    client = hook_app.test_client()
    sub = add(client, receiver.url)
    hook_app.extensions["registry"].create_profile("default", Profile(slug="x"), actor="t")
    drain_until(hook_app, lambda: len(receiver.accepted()) == 1)
    (delivery,) = client.get(f"/api/webhooks/{sub['id']}").json["deliveries"]
    url = f"/api/webhooks/{sub['id']}/deliveries/{delivery['id']}/redeliver"
    response = client.post(url)
    assert response.status_code == 202
    assert response.json["message_id"] == delivery["message_id"]
    drain_until(hook_app, lambda: len(receiver.accepted()) == 2)
    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert client.post(f"/api/webhooks/{sub['id']}/deliveries/999/redeliver").status_code == 404


def test_test_event_is_sent_at_once(hook_app, receiver: Receiver):
    client = hook_app.test_client()
    sub = add(client, receiver.url)
    response = client.post(f"/api/webhooks/{sub['id']}/test")
    assert response.status_code == 200
    assert response.json["attempt"]["status"] == 200
    assert response.json["delivery"]["status"] == "delivered"
    assert receiver.accepted()[0]["type"] == "webhook.test"
    assert verify(sub["secret"], receiver.requests[0]["headers"], receiver.requests[0]["body"])


def test_remove(hook_app, receiver: Receiver):
    client = hook_app.test_client()
    sub = add(client, receiver.url)
    assert client.delete(f"/api/webhooks/{sub['id']}").status_code == 204
    assert client.get("/api/webhooks").json["items"] == []
    assert client.delete(f"/api/webhooks/{sub['id']}").status_code == 404
    assert client.get(f"/api/webhooks/{sub['id']}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2/hook",
        "http://localhost:8080/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://metadata.google.internal/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "http://user:pw@example.com/",
        "http:///nohost",
        "",
        "http://exa mple.com/",
    ],
)
def test_unsafe_urls_are_refused_at_add_time(hook_app, url):
    client = hook_app.test_client()
    response = client.post("/api/webhooks", json={"url": url})
    assert response.status_code == 400, response.json
    assert [e["field"] for e in response.json["errors"]] == ["url"]
    assert client.get("/api/webhooks").json["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://example.com/", "events": ["profile.exploded"]}, "events"),
        ({"url": "https://example.com/", "events": "nope"}, "events"),
        ({"url": "https://example.com/", "registry": "Bad Slug"}, "registry"),
        ({"url": "https://example.com/", "registry": None}, "registry"),
        ({"url": "https://example.com/", "events": None}, "events"),
        ({"url": 5}, "url"),
        ({"url": "https://example.com/", "secret": "mine"}, "secret"),
    ],
)
def test_bad_bodies_are_400_with_the_field(hook_app, body, field):
    client = hook_app.test_client()
    response = client.post("/api/webhooks", json=body)
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json["errors"]]
    assert client.get("/api/webhooks").json["items"] == []


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(
    hook_app, receiver: Receiver, monkeypatch
):
    client = hook_app.test_client()
    sub = add(client, "https://hooks.example.com/in")  # a public-looking name
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    hook_app.extensions["registry"].create_profile("default", Profile(slug="x"), actor="t")
    drain(hook_app.extensions["webhooks"], hook_app.config)
    (delivery,) = client.get(f"/api/webhooks/{sub['id']}").json["deliveries"]
    (attempt,) = delivery["attempt_log"]
    assert attempt["status"] == 0
    assert "10.0.0.7" in attempt["error"] and "private" in attempt["error"]


def test_redirects_are_not_followed(hook_app, receiver: Receiver):
    client = hook_app.test_client()
    sub = add(client, receiver.url)
    receiver.statuses = [302]
    response = client.post(f"/api/webhooks/{sub['id']}/test")
    assert response.json["attempt"]["status"] == 302
    assert "not followed" in response.json["attempt"]["error"]
    assert len(receiver.requests) == 1


def test_yaml_store_answers_that_webhooks_need_sql(make_app, tmp_path):
    app = make_app(
        REGISTRY_STORE=f"yaml:{tmp_path / 'r.yaml'}", REGISTRY_INSTANCE_PATH=str(tmp_path)
    )
    response = app.test_client().post("/api/webhooks", json={"url": "https://example.com/"})
    assert response.status_code == 409
    assert "SQL store" in response.json["detail"]
