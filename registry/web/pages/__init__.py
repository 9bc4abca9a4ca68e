"""The HTML admin UI (see README, Admin UI): server-rendered pages, htmx fragments from page blocks.

Pages call the same service functions as the JSON API and link their JSON twin. Each module
registers its routes on `bp` (defined in .blueprint).
"""

from __future__ import annotations

from . import dashboard, history, io, profiles, registries, resolve, session  # noqa: F401
from .blueprint import bp

__all__ = ["bp"]
