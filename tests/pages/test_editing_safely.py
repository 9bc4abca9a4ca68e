"""The server side of "an edit is never lost" (README, Admin UI: "Editing safely"): htmx
requests never get a whole page back (a lost session or form token answers a problem the
page's script shows, keeping the form), a fresh token for the page, the editor's focus
targets and error summary, the read-only confirmation without JavaScript."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug.datastructures import MultiDict

from registry.domain import tokens as tk
from registry.domain.importer import import_yaml
from tests.conftest import FIXTURES
from tests.pages.conftest import HX, csrf_token, form_fields, soup

EDIT = "/registries/default/profiles/inventory/edit"
SESSION_ENDED = (
    "Your session ended: log in in a new tab, then save again; your changes are still here."
)


@pytest.fixture
def auth_app(make_app):
    app = make_app(REGISTRY_AUTH="on")
    import_yaml(app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text())
    return app


def _login(app, client) -> str:
    secret = tk.issue(app.extensions["tokens"], "ed", tk.EDITOR).secret
    response = client.post(
        "/login", data={"token": secret, "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 302
    return secret


def _editor_post(client, **changes: str) -> MultiDict:
    form = soup(client.get(EDIT)).find("form", id="profile-editor")
    data = MultiDict(form_fields(form))
    for name, value in changes.items():
        data.setlist(name, [value])
    return data


def _logout_elsewhere(app, client) -> None:
    """Log the same browser out (another tab: the cookie is shared)."""
    assert client.post("/logout", data={"csrf_token": csrf_token(client)}).status_code == 302


def test_a_save_after_logout_elsewhere_answers_a_problem_not_a_page(auth_app):
    client = auth_app.test_client()
    _login(auth_app, client)
    data = _editor_post(client, system_prompt="Typed before the session ended.")
    _logout_elsewhere(auth_app, client)

    for extra in ({}, {"op": "add:tools"}):  # Save, and an editor button
        response = client.post(
            EDIT, data=MultiDict([*data.items(multi=True), *extra.items()]), headers=HX
        )
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        body = response.json
        assert body["type"].endswith("/session-ended") and body["detail"] == SESSION_ENDED
        assert "<html" not in response.get_data(as_text=True)
    service = auth_app.extensions["registry"]
    assert service.get_profile("default", "inventory").metadata.version == 1

    # without htmx: the error page says what happened and that nothing was saved
    page = client.post(EDIT, data=data)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "Your session ended, so nothing was saved." in page.get_data(as_text=True)


def test_an_expired_session_on_an_htmx_request_is_a_401_problem(auth_app):
    client = auth_app.test_client()
    _login(auth_app, client)
    token = csrf_token(client)
    tokens = auth_app.extensions["tokens"]
    tokens.sessions.delete().execute()  # expired or revoked: the record is gone
    response = client.post(f"{EDIT}/validate?field=tools", data={"csrf_token": token}, headers=HX)
    assert response.status_code == 401 and response.json["type"].endswith("/session-ended")
    # a plain navigation still goes to the login page
    assert client.get(EDIT).status_code == 302


def test_a_stale_form_token_with_auth_off_is_a_csrf_expired_problem(client, seeded):
    response = client.post(EDIT, data={"csrf_token": "stale"}, headers=HX)
    assert response.status_code == 400
    assert response.json["type"].endswith("/csrf-expired")
    assert "your changes are still here" in response.json["detail"]


def test_a_fresh_token_for_the_page_after_logging_in_again(auth_app):
    client = auth_app.test_client()
    secret = _login(auth_app, client)
    data = _editor_post(client, system_prompt="Saved after all.")
    _logout_elsewhere(auth_app, client)
    fresh = client.get("/session/csrf")
    assert fresh.headers["Cache-Control"] == "no-store"
    assert fresh.json["logged_in"] is False
    # log in again (another tab), then the page's script swaps in a fresh token
    client.post("/login", data={"token": secret, "csrf_token": fresh.json["csrf_token"]})
    fresh = client.get("/session/csrf").json
    assert fresh["logged_in"] is True
    assert client.post(EDIT, data=data, headers=HX).status_code == 400  # the old token
    data.setlist("csrf_token", [fresh["csrf_token"]])
    response = client.post(EDIT, data=data, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"]
    stored = auth_app.extensions["registry"].get_profile("default", "inventory")
    assert stored.runtime.system_prompt == "Saved after all."


def test_errors_of_fragment_requests_are_problems(client, seeded):
    response = client.post(
        f"{EDIT}/validate?field=nope", data={"csrf_token": csrf_token(client)}, headers=HX
    )
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.json["detail"] == 'The editor has no field "nope".'
    missing = client.get("/registries/nope", headers=HX)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    # boosted navigations and plain requests still get the page
    assert client.get("/registries/nope", headers={**HX, "HX-Boosted": "true"}).mimetype == (
        "text/html"
    )


# --- focus targets and the error summary ---------------------------------------------------


def test_editor_buttons_name_where_the_focus_goes(client, seeded):
    page = soup(client.get(EDIT))
    tools = page.find("fieldset", id="f-tools")
    items = tools.select("ol.items > li")
    assert [li["id"] for li in items] == ["f-tools-item-0", "f-tools-item-1"]

    def action(label: str) -> str:
        return page.find("button", attrs={"aria-label": label})["formaction"]

    assert page.find("button", id="f-tools-add")["formaction"] == "#f-tools-item-2"
    assert action("Move Tools 2 up") == "#f-tools-item-0"
    assert action("Move Tools 1 down") == "#f-tools-item-1"
    assert action("Remove Tools 1") == "#f-tools-item-0"  # the next item moves up
    assert action("Remove Tools 2") == "#f-tools-add"  # the last: the Add button
    assert action("Remove middleware 1") == "#f-new-middleware"
    add_mw = page.find("button", attrs={"value": "add-middleware"})
    assert add_mw["formaction"] == "#sec-mw-1"
    # every target exists once the op is applied (a plain post lands there)
    data = _editor_post(client)
    data.add("op", "add:tools")
    after = soup(client.post(EDIT, data=data))
    assert after.find(id="f-tools-item-2").find("input")["name"] == "tools/2"


def test_a_refused_save_lists_each_invalid_field_as_a_link(client, seeded):
    data = _editor_post(
        client, step_settings_patch="{nope", **{"xraw/inventory.capabilities@v1": "[1"}
    )
    response = client.post(EDIT, data=data)
    assert response.status_code == 422
    page = soup(response)
    summary = page.find(id="editor-errors")
    assert summary.has_attr("autofocus") and summary["tabindex"] == "-1"
    links = [(a["href"], a.get_text()) for a in summary.find_all("a")]
    assert links[0] == ("#f-step", "Step settings")
    assert links[1][0] == "#f-xraw_inventory_capabilities_v1"
    for href, _ in links:  # each link lands on an element of the page
        assert page.find(id=href[1:]) is not None
    # an editor button after that re-renders without stealing the focus
    data.add("op", "add:tools")
    assert not soup(client.post(EDIT, data=data)).find(id="editor-errors").has_attr("autofocus")


# --- read-only needs a confirmation ------------------------------------------------------------


def test_saving_read_only_without_confirmation_asks_and_saves_nothing(client, seeded):
    data = _editor_post(client, **{"policy/read_only": "true"})
    response = client.post(EDIT, data=data)
    assert response.status_code == 200
    page = soup(response)
    panel = page.find(id="confirm-read-only")
    assert "can no longer be edited or deleted" in panel.get_text()
    assert not seeded.get_profile("default", "inventory").policy.read_only
    assert page.find(id="f-policy-read_only").has_attr("checked")  # kept

    keep = page.find("button", attrs={"value": "keep-editable"})
    form = page.find("form", id="profile-editor")
    again = client.post(EDIT, data=MultiDict(form_fields(form, keep)))
    assert not soup(again).find(id="f-policy-read_only").has_attr("checked")
    assert soup(again).find(id="confirm-read-only") is None

    yes = page.find("button", attrs={"name": "confirm_read_only"})
    saved = client.post(EDIT, data=MultiDict(form_fields(form, yes)))
    assert saved.status_code == 303
    assert seeded.get_profile("default", "inventory").policy.read_only


def test_the_read_only_checkbox_carries_its_dialog(client, seeded):
    box = soup(client.get(EDIT)).find(id="f-policy-read_only")
    assert box["data-confirm-field"] == "confirm_read_only" and box["data-stored"] == "false"
    assert box["data-confirm-button"] == "Save as read-only"
    assert re.search(r"no longer be edited", box["data-confirm"])
    assert json.loads(soup(client.get(EDIT)).body["hx-headers"])["X-CSRFToken"]
