"""History page: revision list, diffs between any two states, restore as a new revision."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from registry.domain.importer import import_yaml
from registry.domain.model import RuntimeSpec
from registry.domain.service import ProfilePatch

HX = {"HX-Request": "true"}
BASE = "/registries/default/profiles/inventory/history"
XSS = "<script>alert(1)</script>"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def edit_prompt(service, prompt: str, registry: str = "default", slug: str = "inventory"):
    current = service.get_profile(registry, slug)
    runtime = current.runtime
    runtime.system_prompt = prompt
    return service.update_profile(registry, slug, ProfilePatch(runtime=runtime), actor="alice")


@pytest.fixture
def edited(seeded):
    """inventory edited once by alice: revisions [update, import]."""
    edit_prompt(seeded, "You count boxes.")
    return seeded


def revision_ids(service, slug: str = "inventory") -> list[int]:
    return [r.id for r in service.list_revisions("default", slug)]


def test_history_lists_revisions_and_links_json_twin(client, edited):
    response = client.get(BASE)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    rows = page.select("section[aria-labelledby=revisions-h] tbody tr")
    assert len(rows) == 2
    newest = [td.get_text(strip=True) for td in rows[0].find_all("td")]
    assert newest[0] == "2" and newest[1].startswith("update") and newest[3] == "alice"
    assert newest[2] == "runtime.system_prompt"  # what changed, by field
    assert rows[1].find_all("td")[1].get_text(strip=True) == "import"
    assert "#" not in page.select_one("section[aria-labelledby=revisions-h]").get_text()
    assert rows[0].find("time")["datetime"]
    twin = "/api/registries/default/profiles/inventory/revisions"
    assert page.find("link", rel="alternate")["href"] == twin
    assert page.find("a", href=twin)
    assert client.get(twin).status_code == 200


def test_diff_between_two_revisions_shows_changed_field(client, edited):
    new, old = revision_ids(edited)
    response = client.get(f"{BASE}/diff?a={old}&b={new}")
    assert response.status_code == 200
    page = soup(response)
    assert page.find("h1")  # the whole page without htmx
    rows = page.select("#diff table.diff tbody tr")
    paths = [r.find("code").get_text() for r in rows]
    assert paths == ["runtime.system_prompt"]
    assert rows[0].select_one("td.before").get_text() == (
        "You are an inventory assistant. Answer with stock figures first."
    )
    assert rows[0].select_one("td.after").get_text() == "You count boxes."
    assert page.find(
        "a", href=f"/api/registries/default/profiles/inventory/revisions/{old}/diff?against={new}"
    )


def test_diff_htmx_gets_only_the_block(client, edited):
    _new, old = revision_ids(edited)
    response = client.get(f"{BASE}/diff?a={old}&b=current", headers=HX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert "<html" not in body and "<h1" not in body
    assert body.lstrip().startswith('<section id="compare"')
    assert "runtime.system_prompt" in body
    # the selects are swapped with the diff, so they name what is shown
    page = soup(response)
    assert page.select_one("#diff-a option[selected]")["value"] == str(old)
    assert page.select_one("#diff-b option[selected]")["value"] == "current"


def test_diff_same_content_says_so(client, edited):
    new, _old = revision_ids(edited)
    page = soup(client.get(f"{BASE}/diff?a={new}&b=current", headers=HX))
    assert "No differences" in page.get_text()


def test_diff_bad_references_are_400_in_the_block(client, edited):
    response = client.get(f"{BASE}/diff?a=zzz&b=current", headers=HX)
    assert response.status_code == 400
    assert "revision number" in response.get_data(as_text=True)
    # a revision of another profile is not one of this profile's
    other = revision_ids(edited, "analyst")[0]
    response = client.get(f"{BASE}/diff?a={other}", headers=HX)
    assert response.status_code == 400
    assert "No such revision" in response.get_data(as_text=True)


@pytest.mark.parametrize("ref", ["-1", "0", "\u0661", "1e3", "99999999999999999999"])
def test_diff_refs_follow_the_one_integer_rule(client, edited, ref):
    """Revision refs are ASCII digits (Python's `isdigit` also takes '\u0661', Arabic one)."""
    response = client.get(f"{BASE}/diff", query_string={"a": ref}, headers=HX)
    assert response.status_code == 400
    assert "revision number" in response.get_data(as_text=True)


def test_unknown_profile_is_404(client, seeded):
    assert client.get("/registries/default/profiles/nope/history").status_code == 404
    assert client.get("/registries/nope/profiles/inventory/history").status_code == 404


def test_restore_confirmation_then_new_revision_with_old_content(client, edited, csrf):
    _new, old = revision_ids(edited)
    url = f"{BASE}/{old}/restore"
    confirm = client.get(url)
    assert confirm.status_code == 200
    page = soup(confirm)
    assert "runtime.system_prompt" in page.select_one("table.diff").get_text()
    form = page.find("form", action=url)
    assert form.find("input", attrs={"name": "expected_version"})["value"] == "2"

    assert client.post(url, data={"expected_version": "2"}).status_code == 400  # no CSRF
    assert edited.get_profile("default", "inventory").metadata.version == 2

    response = client.post(url, data={"expected_version": "2", "csrf_token": csrf()})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(BASE)
    restored = edited.get_profile("default", "inventory")
    assert restored.metadata.version == 3
    assert restored.runtime.system_prompt.startswith("You are an inventory assistant")
    revisions = edited.list_revisions("default", "inventory")
    assert [r.operation for r in revisions] == ["restore", "update", "import"]
    assert revisions[0].actor == "local"
    followed = client.get(response.headers["Location"])
    assert "Restored version 1: the profile is now version 3" in followed.get_data(as_text=True)


def test_restore_with_stale_version_is_a_conflict(client, edited, csrf):
    _new, old = revision_ids(edited)
    edit_prompt(edited, "Changed meanwhile.")  # now version 3
    response = client.post(
        f"{BASE}/{old}/restore", data={"expected_version": "2", "csrf_token": csrf()}
    )
    assert response.status_code == 409
    page = soup(response)
    assert "you saw version 2, it is now version 3" in page.get_text()
    # the form is ready for a conscious retry against what is stored now
    assert page.find("input", attrs={"name": "expected_version"})["value"] == "3"
    current = edited.get_profile("default", "inventory")
    assert current.metadata.version == 3 and current.runtime.system_prompt == "Changed meanwhile."


def test_restore_read_only_profile_is_refused(client, seeded, csrf):
    url = "/registries/default/profiles/analyst/history"
    page = soup(client.get(url))
    assert "read-only" in page.select_one(".readonly-note").get_text()
    assert not page.find("a", string="Restore…")
    rev = revision_ids(seeded, "analyst")[0]
    response = client.post(
        f"{url}/{rev}/restore", data={"expected_version": "1", "csrf_token": csrf()}
    )
    assert response.status_code == 403
    assert "profile is read-only" in response.get_data(as_text=True)


def test_restore_needs_a_whole_expected_version(client, edited, csrf):
    _new, old = revision_ids(edited)
    response = client.post(
        f"{BASE}/{old}/restore", data={"expected_version": "x", "csrf_token": csrf()}
    )
    assert response.status_code == 400


def test_deleted_profile_history_and_restore(client, seeded, csrf):
    seeded.delete_profile("default", "default", actor="bob")
    url = "/registries/default/profiles/default/history"
    page = soup(client.get(url))
    assert "deleted" in page.select_one(".sub").get_text()
    ops = [r.find_all("td")[1].get_text(strip=True) for r in page.select("tbody tr")]
    assert ops == ["delete", "import"]
    rev = revision_ids(seeded, "default")[-1]
    response = client.post(
        f"{url}/{rev}/restore", data={"expected_version": "0", "csrf_token": csrf()}
    )
    assert response.status_code == 303
    assert seeded.get_profile("default", "default").runtime.system_prompt == (
        "You are a concise assistant."
    )


def test_yaml_store_explains_there_is_no_history(make_app, tmp_path: Path):
    app = make_app(REGISTRY_STORE=f"yaml:{tmp_path / 'profiles.yaml'}")
    service = app.extensions["registry"]
    import_yaml(service, Path("tests/fixtures/canonical-bundle.yaml").read_text())
    client = app.test_client()
    response = client.get(BASE)
    assert response.status_code == 200
    page = soup(response)
    assert "No history on this store" in page.select_one("#no-history").get_text()
    assert not page.find("table")
    assert client.get(f"{BASE}/1/restore").status_code == 404


def test_script_payload_is_escaped_in_history_diff(client, seeded):
    doc = f"""
registries:
  xss:
    default_profile_slug: evil
    profiles:
      evil:
        display_name: '{XSS}'
        description: '{XSS}'
        runtime:
          system_prompt: '{XSS}'
          tools: ['{XSS}']
        metadata:
          tags: ['{XSS}']
"""
    import_yaml(seeded, doc)
    profile = seeded.get_profile("xss", "evil")
    runtime = RuntimeSpec(system_prompt="safe", tools=["x"])
    seeded.update_profile("xss", "evil", ProfilePatch(runtime=runtime, display_name="ok"))
    new, old = [r.id for r in seeded.list_revisions("xss", "evil")]
    assert profile.display_name == XSS
    for url in (
        f"/registries/xss/profiles/evil/history/diff?a={old}&b={new}",
        f"/registries/xss/profiles/evil/history/{old}/restore",
        "/registries/xss/profiles/evil/history",
    ):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body, url
    body = client.get(f"/registries/xss/profiles/evil/history/diff?a={old}&b={new}").get_data(
        as_text=True
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_long_text_gets_an_inline_word_diff(client, seeded):
    base = "You are an inventory assistant. Answer with stock figures first, then the details."
    edit_prompt(seeded, base)
    edit_prompt(seeded, base.replace("stock figures", "warehouse numbers"))
    new, old = revision_ids(seeded)[:2]
    row = soup(client.get(f"{BASE}/diff?a={old}&b={new}", headers=HX)).select_one("tbody tr")
    assert [d.get_text() for d in row.select("td.before del")] == ["stock figures"]
    assert [i.get_text() for i in row.select("td.after ins")] == ["warehouse numbers"]
    assert row.select_one("td.after").get_text() == base.replace(
        "stock figures", "warehouse numbers"
    )


def test_nested_changes_are_diffed_to_the_leaf(client, seeded):
    """One middleware config value changed: one row for that value, not two JSON blobs."""
    current = seeded.get_profile("default", "inventory")
    runtime = current.runtime
    runtime.tools = ["a", "b"]
    seeded.update_profile("default", "inventory", ProfilePatch(runtime=runtime), actor="a")
    runtime.tools = ["a", "c"]
    seeded.update_profile("default", "inventory", ProfilePatch(runtime=runtime), actor="a")
    new, old = revision_ids(seeded)[:2]
    page = soup(client.get(f"{BASE}/diff?a={old}&b={new}", headers=HX))
    rows = page.select("tbody tr")
    assert [r.find("code").get_text() for r in rows] == ["runtime.tools[1]"]
    assert rows[0].select_one("td.before").get_text() == "b"
    assert rows[0].select("del, ins") == []  # short values are shown whole
