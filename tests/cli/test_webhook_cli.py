"""`profile-registry webhook add|list|remove|test`, against a real local receiver."""

from __future__ import annotations

import inspect

import pytest
from click.testing import CliRunner

from tests.receiver import Receiver, receivers, verify

receiver = pytest.fixture(receivers)


@pytest.fixture
def hook_cli(cli_app):
    cli_app.config["REGISTRY_WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
    separate = "mix_stderr" in inspect.signature(CliRunner.__init__).parameters
    runner = cli_app.test_cli_runner(mix_stderr=False) if separate else cli_app.test_cli_runner()

    def _run(*args: str):
        return runner.invoke(args=list(args))

    return _run


def test_add_prints_the_secret_alone_then_list_test_remove(hook_cli, receiver: Receiver):
    added = hook_cli("webhook", "add", receiver.url, "--events", "profile.created,profile.updated")
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert added.stdout.count("\n") == 1 and secret.startswith("whsec_")

    listed = hook_cli("webhook", "list")
    assert listed.exit_code == 0
    assert receiver.url in listed.stdout and "profile.created,profile.updated" in listed.stdout
    assert secret not in listed.stdout

    sub_id = listed.stdout.splitlines()[1].split()[0]
    tested = hook_cli("webhook", "test", sub_id)
    assert tested.exit_code == 0, tested.output
    assert "delivered: HTTP 200" in tested.stdout
    (request,) = receiver.requests
    assert verify(secret, request["headers"], request["body"])

    receiver.statuses = [500]
    failed = hook_cli("webhook", "test", sub_id)
    assert failed.exit_code != 0 and "HTTP 500" in failed.output

    removed = hook_cli("webhook", "remove", sub_id)
    assert removed.exit_code == 0
    assert hook_cli("webhook", "list").stdout.splitlines()[1:] == []
    assert hook_cli("webhook", "remove", sub_id).exit_code != 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://169.254.169.254/"], "link-local"),
        (["ftp://example.com/"], "http"),
        (["https://example.com/", "--events", "nope"], "unknown event type"),
        (["https://example.com/", "--registry", "missing"], "not found"),
    ],
)
def test_add_refuses_bad_input_and_stores_nothing(hook_cli, args, message):
    result = hook_cli("webhook", "add", *args)
    assert result.exit_code != 0
    assert message in result.output.lower()
    assert result.stdout.strip() == ""
    assert hook_cli("webhook", "list").stdout.splitlines()[1:] == []
