"""The HTML admin UI (see README, Admin UI): server-rendered pages, htmx fragments from page blocks.

Pages call the same service functions as the JSON API and link their JSON twin. Each module
registers its routes on `bp`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)

from . import dashboard, history, io, profiles, registries, resolve, session  # noqa: E402,F401
