"""`flask --app app ...` finds the factory here; it lives in registry/factory.py."""

from registry.factory import create_app

__all__ = ["create_app"]
