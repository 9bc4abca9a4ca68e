"""Fixtures for HTML page tests: an app (auth off) on a fresh SQLite file, the canonical
bundle seeded, and helpers for CSRF tokens and htmx requests."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup

HX = {"HX-Request": "true"}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token of the client's session, read from a rendered page."""
    page = soup(client.get(path))
    field = page.find("input", attrs={"name": "csrf_token"})
    if field is not None:
        return field["value"]
    return json.loads(page.body["hx-headers"])["X-CSRFToken"]


@pytest.fixture
def csrf(client):
    """`csrf()` -> a valid token for `client` (fetched once per test)."""
    cache: dict[str, str] = {}

    def _token() -> str:
        if "t" not in cache:
            cache["t"] = csrf_token(client)
        return cache["t"]

    return _token


def form_fields(form, submitter=None) -> list[tuple[str, str]]:
    """What a browser posts for `form` (a BeautifulSoup tag), in tree order.

    Disabled and unchecked controls are left out, only the `submitter` button is sent, and a
    textarea loses the one leading newline the HTML parser drops.
    """
    out: list[tuple[str, str]] = []
    for el in form.find_all(["input", "select", "textarea", "button"]):
        name = el.get("name")
        if not name or el.has_attr("disabled"):
            continue
        if el.name == "textarea":
            text = el.get_text()
            out.append((name, text[1:] if text.startswith("\n") else text))
        elif el.name == "select":
            options = el.find_all("option")
            chosen = [o for o in options if o.has_attr("selected")] or options[:1]
            out += [(name, o.get("value", o.get_text())) for o in chosen]
        elif el.name == "button" or el.get("type") in ("submit", "button", "reset", "image"):
            if el is submitter:
                out.append((name, el.get("value", "")))
        elif el.get("type") in ("checkbox", "radio"):
            if el.has_attr("checked"):
                out.append((name, el.get("value", "on")))
        else:
            out.append((name, el.get("value", "")))
    return out


def plan_items(page) -> dict[str, tuple[str, object]]:
    """An import plan's listed items: `"registry r"` or `"r/p"` -> (action, its <li>)."""
    out = {}
    for group in page.select("details.plan-group"):
        action = group.select_one("summary .badge").get_text()
        for li in group.select("ul.plan-items > li"):
            code = li.find("code").get_text()
            name = code if "/" in code else f"registry {code}"
            out[name] = (action, li)
    return out
