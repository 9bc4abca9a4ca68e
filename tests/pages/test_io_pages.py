"""Import (dry run, apply, stale plans, errors, roles) and export pages."""

from __future__ import annotations

import io

import pytest
from bs4 import BeautifulSoup

from registry.domain import tokens as tk
from registry.domain.errors import ValidationError
from registry.domain.importer import export_yaml, import_yaml
from registry.domain.model import RuntimeSpec
from registry.domain.service import ProfilePatch
from registry.web.pages.io import unpack_document
from tests.conftest import FIXTURES
from tests.pages.conftest import plan_items

HX = {"HX-Request": "true"}
XSS = "<script>alert(1)</script>"
BUNDLE = (FIXTURES / "canonical-bundle.yaml").read_text()
CHANGED = BUNDLE.replace("You are the team's analyst.", "You are the team's new analyst.")


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def snapshot(service) -> str:
    return export_yaml(service)


def dry_run(client, csrf, text: str, mode: str = "upsert", **extra):
    data = {"csrf_token": csrf(), "action": "dry-run", "mode": mode, "yaml": text}
    return client.post("/import", data=data, **extra)


def textarea_value(textarea) -> str:
    """What a browser submits: HTML drops one newline right after `<textarea>`."""
    text = textarea.string or ""
    return text[1:] if text.startswith("\n") else text


def apply_form(response) -> dict[str, str]:
    """The fields the plan's Apply form posts back."""
    form = soup(response).select_one("form.apply-form")
    assert form is not None, response.get_data(as_text=True)
    data = {i["name"]: i["value"] for i in form.find_all("input")}
    assert form.find("textarea") is None  # the document travels packed, not as text
    data["yaml"] = unpack_document(data["document"], 1 << 24)  # what Apply will import
    return data


def test_import_page_renders_modes_and_api_twin(client, seeded):
    response = client.get("/import")
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    modes = [i["value"] for i in page.select("input[name=mode]")]
    assert modes == ["create-only", "upsert", "mirror"]
    assert "never changed" in page.select_one("#mode-create-only-help").get_text()
    assert "delete" in page.select_one("#mode-mirror-help").get_text()
    assert page.select_one("form.import-form")["enctype"] == "multipart/form-data"
    assert "/api/import" in page.select_one("details.twin").get_text()
    assert "No plan yet" in page.select_one("#import-result").get_text()


def test_dry_run_writes_nothing_and_shows_diffs(client, seeded, csrf):
    before, latest = snapshot(seeded), seeded.latest_change_id()
    response = dry_run(client, csrf, CHANGED)
    assert response.status_code == 200
    assert snapshot(seeded) == before and seeded.latest_change_id() == latest
    page = soup(response)
    counts = {
        p.select_one(".sub").get_text().split()[-1]: int(p.select_one(".stat").get_text())
        for p in page.select(".import-counts .panel")
    }
    assert counts == {"created": 0, "updated": 1, "deleted": 0, "unchanged": 3, "skipped": 0}
    action, row = plan_items(page)["team/analyst"]
    assert action == "updated"
    assert row.find("a")["href"] == "/registries/team/profiles/analyst"  # items link
    diff = row.select_one("table.diff tbody tr")
    assert diff.find("code").get_text() == "runtime.system_prompt"
    assert diff.select_one("td.before").get_text() == "You are the team's analyst."
    assert diff.select_one("td.after").get_text() == "You are the team's new analyst."
    fields = apply_form(response)
    assert fields["latest_change_id"] == str(latest)
    assert fields["action"] == "apply" and fields["mode"] == "upsert"
    assert fields["yaml"] == CHANGED


def test_dry_run_from_uploaded_file(client, seeded, csrf):
    data = {
        "csrf_token": csrf(),
        "action": "dry-run",
        "mode": "upsert",
        "yaml": "",
        "file": (io.BytesIO(CHANGED.encode()), "bundle.yaml"),
    }
    response = client.post("/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert apply_form(response)["yaml"] == CHANGED
    assert soup(response).select_one("#import-yaml").get_text() == "\n"  # not echoed


def test_htmx_dry_run_gets_only_the_result_block(client, seeded, csrf):
    response = dry_run(client, csrf, CHANGED, headers=HX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="import-result"')
    assert "<html" not in body and "import-form" not in body


def test_apply_writes_the_plan(client, seeded, csrf):
    fields = apply_form(dry_run(client, csrf, CHANGED))
    response = client.post("/import", data=fields)
    assert response.status_code == 200
    assert "Import applied (upsert): 0 created, 1 updated" in soup(response).get_text()
    analyst = seeded.get_profile("team", "analyst")
    assert analyst.runtime.system_prompt == "You are the team's new analyst."
    assert analyst.metadata.version == 8
    assert seeded.list_revisions("team", "analyst")[0].actor == "local"


def test_apply_without_csrf_is_refused(client, seeded, csrf):
    fields = apply_form(dry_run(client, csrf, CHANGED))
    fields.pop("csrf_token")
    before = snapshot(seeded)
    assert client.post("/import", data=fields).status_code == 400
    assert snapshot(seeded) == before


def test_stale_plan_is_refused(client, seeded, csrf):
    fields = apply_form(dry_run(client, csrf, CHANGED))
    runtime = RuntimeSpec(system_prompt="Edited meanwhile.")
    seeded.update_profile("default", "default", ProfilePatch(runtime=runtime))
    before = snapshot(seeded)
    response = client.post("/import", data=fields, headers=HX)
    assert response.status_code == 409
    page = soup(response)
    assert "changed since the dry run" in page.get_text()
    assert snapshot(seeded) == before
    # the same document is ready for a new dry run
    again = page.find("form")
    assert again.find("input", attrs={"name": "action"})["value"] == "dry-run"
    packed = again.find("input", attrs={"name": "document"})["value"]
    assert unpack_document(packed, 1 << 24) == CHANGED


@pytest.mark.parametrize(
    "packed",
    ["not base64!", "eJzLSM3JyQcABiwCFQ", "eJzLSM3JyQcABiwCFQ=="[:-6]],
)
def test_a_damaged_packed_document_is_refused(client, seeded, csrf, packed):
    before = snapshot(seeded)
    data = {"csrf_token": csrf(), "action": "apply", "mode": "upsert", "document": packed}
    data["latest_change_id"] = str(seeded.latest_change_id())
    response = client.post("/import", data=data)
    assert response.status_code in (400, 422)
    assert snapshot(seeded) == before


def test_a_packed_bomb_stops_at_the_limit():
    import base64
    import zlib

    bomb = base64.urlsafe_b64encode(zlib.compress(b"a" * (8 << 20))).decode()
    with pytest.raises(ValidationError) as caught:
        unpack_document(bomb, 1 << 20)
    assert "larger than" in caught.value.errors[0].message


def test_nothing_to_change_has_no_apply(client, seeded, csrf):
    response = dry_run(client, csrf, BUNDLE)
    assert response.status_code == 200
    page = soup(response)
    assert "Nothing to change" in page.get_text()
    assert page.select_one("form.apply-form") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("registries: [unclosed", "invalid yaml"),
        ("!!python/object:os.system {}\n", "python/object"),
        ("registries:\n  x: !!python/object/apply:os.system ['true']\n", "python/object"),
        (
            "registries:\n  new:\n    default_profile_slug: p\n    profiles:\n"
            "      p:\n        runtime:\n          tools: ['']\n",
            "registries[new].profiles[p].runtime.tools[0]",
        ),
        ("slug: 'Bad Slug!'\nprofiles: {}\n", "invalid"),
        ("   \n", "choose a YAML file or paste a YAML document"),
    ],
)
def test_bad_documents_are_422_and_store_nothing(client, seeded, csrf, text, message):
    before = snapshot(seeded)
    response = dry_run(client, csrf, text, headers=HX)
    assert response.status_code == 422, response.get_data(as_text=True)
    page = soup(response)
    assert "Nothing was imported" in page.get_text()
    assert message in page.select_one(".errors").get_text()
    assert snapshot(seeded) == before
    data = {"csrf_token": csrf(), "action": "apply", "mode": "upsert", "yaml": text}
    data["latest_change_id"] = str(seeded.latest_change_id())
    assert client.post("/import", data=data).status_code == 422
    assert snapshot(seeded) == before


def test_invalid_utf8_upload_is_422(client, seeded, csrf):
    data = {
        "csrf_token": csrf(),
        "action": "dry-run",
        "mode": "upsert",
        "file": (io.BytesIO(b"registries: {\xff}"), "bad.yaml"),
    }
    response = client.post("/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "not valid UTF-8" in response.get_data(as_text=True)


def test_too_large_upload_is_422(make_app, csrf):
    app = make_app(REGISTRY_MAX_IMPORT_BYTES=100)
    client = app.test_client()
    from tests.pages.conftest import csrf_token

    data = {
        "csrf_token": csrf_token(client),
        "action": "dry-run",
        "file": (io.BytesIO(BUNDLE.encode()), "big.yaml"),
    }
    response = client.post("/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "larger than the limit of 100 bytes" in response.get_data(as_text=True)


def test_read_only_registry_is_422(make_app):
    app = make_app(REGISTRY_SEED_FILES=str(FIXTURES / "single-registry.yaml"))
    client = app.test_client()
    from tests.pages.conftest import csrf_token

    text = (FIXTURES / "single-registry.yaml").read_text().replace("Support desk", "Changed")
    data = {"csrf_token": csrf_token(client), "action": "dry-run", "mode": "upsert", "yaml": text}
    response = client.post("/import", data=data)
    assert response.status_code == 422
    assert "managed by single-registry.yaml" in soup(response).select_one(".errors").get_text()


def test_mirror_deletes_only_after_apply(client, seeded, csrf):
    only_team = (
        "registries:\n  team:\n    default_profile_slug: analyst\n    profiles:\n"
        "      analyst:\n        runtime: {system_prompt: x}\n"
    )
    response = dry_run(client, csrf, only_team, mode="mirror")
    assert response.status_code == 200
    actions = {name: action for name, (action, _) in plan_items(soup(response)).items()}
    assert actions["registry default"] == "deleted"
    assert seeded.get_profile("default", "inventory")
    confirmed = {**apply_form(response), "confirm_word": "delete"}
    assert client.post("/import", data=confirmed).status_code == 200
    assert [s.registry.slug for s in seeded.list_registries()] == ["team"]


def _login(make_app, role: str):
    app = make_app(REGISTRY_AUTH="on")
    issued = tk.issue(app.extensions["tokens"], f"{role}-user", role)
    client = app.test_client()
    assert client.post("/login", data={"token": issued.secret}).status_code == 400  # CSRF
    from tests.pages.conftest import csrf_token

    response = client.post(
        "/login", data={"token": issued.secret, "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 302
    return app, client


def test_roles_editor_imports_but_not_mirror_reader_cannot_import(make_app):
    from tests.pages.conftest import csrf_token

    app, client = _login(make_app, "editor")
    import_yaml(app.extensions["registry"], BUNDLE)
    page = soup(client.get("/import"))
    assert page.select_one("#mode-mirror").has_attr("disabled")
    token = csrf_token(client, "/import")
    data = {"csrf_token": token, "action": "dry-run", "mode": "mirror", "yaml": BUNDLE}
    assert client.post("/import", data=data).status_code == 403
    data["mode"] = "upsert"
    response = client.post("/import", data={**data, "yaml": CHANGED})
    assert response.status_code == 200
    assert client.post("/import", data=apply_form(response)).status_code == 200
    assert app.extensions["registry"].list_revisions("team", "analyst")[0].actor == "editor-user"

    _app, reader = _login(make_app, "reader")
    page = soup(reader.get("/import"))
    assert page.select_one("form.import-form") is None
    assert "needs the editor role" in page.get_text()
    data["csrf_token"] = csrf_token(reader, "/import")
    assert reader.post("/import", data=data).status_code == 403
    assert reader.get("/export").status_code == 200


def test_script_payload_is_escaped_in_import_plan(client, seeded, csrf):
    doc = f"""
registries:
  default:
    default_profile_slug: inventory
    profiles:
      inventory:
        display_name: '{XSS}'
        description: '{XSS}'
        runtime:
          system_prompt: '{XSS}'
          tools: ['{XSS}']
        metadata:
          tags: ['{XSS}']
"""
    response = dry_run(client, csrf, doc)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    # the apply form's hidden copy round-trips exactly
    assert apply_form(response)["yaml"] == doc


def test_export_page_and_download_are_byte_identical(client, seeded):
    response = client.get("/export")
    assert response.status_code == 200
    page = soup(response)
    assert [o["value"] for o in page.select("#export-registry option")] == ["", "default", "team"]
    assert page.find("a", href="/api/export")
    download = client.get("/export/download")
    assert download.status_code == 200
    assert download.mimetype == "application/yaml"
    assert download.headers["Content-Disposition"] == 'attachment; filename="profiles.yaml"'
    assert download.get_data() == export_yaml(seeded).encode()
    assert download.get_data() == client.get("/api/export").get_data()
    one = client.get("/export/download?registry=team")
    assert one.headers["Content-Disposition"] == 'attachment; filename="team.yaml"'
    assert one.get_data() == export_yaml(seeded, "team").encode()
    assert client.get("/export/download?registry=nope").status_code == 404
    assert client.get("/export/download?registry=Bad!").status_code == 400  # as the API


def test_error_page_keeps_the_pasted_text(client, seeded, csrf):
    response = dry_run(client, csrf, "registries: [unclosed")
    assert response.status_code == 422
    page = soup(response)
    assert textarea_value(page.select_one("#import-yaml")) == "registries: [unclosed"
    assert page.select_one("form.import-form") is not None


def test_a_2000_profile_plan_is_a_short_page(client, seeded, csrf):
    """Groups per action list their first 50 items; the document goes back packed: the whole
    dry-run page of 2,000 new profiles (an 860 KB document) stays far under 300 KB."""
    profiles = "".join(
        f"      eng-{i:04d}:\n        display_name: Assistant {i}\n"
        f"        runtime:\n          system_prompt: '{'You are helpful. ' * 10}'\n"
        for i in range(2000)
    )
    doc = f"registries:\n  big:\n    default_profile_slug: eng-0000\n    profiles:\n{profiles}"
    data = {"csrf_token": csrf(), "action": "dry-run", "mode": "upsert", "yaml": doc}
    response = client.post("/import", data=data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert len(response.data) < 300 * 1024, len(response.data)
    page = soup(response)
    created = page.select_one("details.plan-created")
    assert "2,001 items" in created.summary.get_text(" ", strip=True)  # and the registry
    assert created.get("open") is None  # collapsed: creations are the least surprising
    assert len(created.select("ul.plan-items > li")) == 50
    assert "And 1,951 more created" in created.get_text(" ", strip=True)
    fields = apply_form(response)
    assert fields["yaml"] == doc
    applied = client.post("/import", data=fields, headers={"HX-Request": "true"})
    assert applied.status_code == 200 and len(applied.data) < 300 * 1024
    assert seeded.registry_summary("big").profile_count == 2000
    result = soup(applied).select_one("#import-result")
    assert result.has_attr("data-focus-on-swap") and result["tabindex"] == "-1"
    # after the apply the created items exist: they link to their profiles
    links = [a["href"] for a in result.select("details.plan-created li a")][:2]
    assert links == ["/registries/big", "/registries/big/profiles/eng-0000"]
