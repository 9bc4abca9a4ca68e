"""Services built straight on each backend's store (the `store` fixture), without an app."""

from __future__ import annotations

import pytest

from registry.domain.model import Registry
from registry.domain.service import RegistryService


@pytest.fixture
def empty_backend_service(store):
    """A service on a fresh store of every backend: no registry yet."""
    return RegistryService(store)


@pytest.fixture
def backend_service(empty_backend_service):
    """`empty_backend_service` with registry `default` ("Default", created by alice)."""
    empty_backend_service.create_registry(
        Registry(slug="default", display_name="Default"), actor="alice"
    )
    return empty_backend_service
