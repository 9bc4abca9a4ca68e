"""Fixtures for HTTP tests: apps on a fresh SQLite store, clients, the contract fixture data.

Every Flask test client created under tests/api validates each /api response it receives
against the OpenAPI document (`openapi_check.ValidatingClient`): an undocumented status or a
body that breaks its documented schema fails the test that received it.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.api.openapi_check import ValidatingClient


@pytest.fixture(autouse=True)
def validate_responses_against_openapi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built in any way (`make_app`, `create_app`) hand out validating test clients."""
    monkeypatch.setattr(Flask, "test_client_class", ValidatingClient)
