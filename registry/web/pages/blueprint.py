"""The `pages` blueprint, apart from the package so route modules import it without a cycle."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
