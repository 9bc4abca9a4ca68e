"""The registries pages: list, create, edit, delete; a registry's profile table with search,
tag filter, cursor pagination and row actions; htmx fragments; CSRF, escaping, roles."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from registry.domain.importer import import_yaml
from registry.domain.model import Metadata, Profile, Registry
from registry.domain.service import ProfilePatch, RegistryPatch
from registry.domain.tokens import issue
from tests.conftest import FIXTURES
from tests.pages.conftest import csrf_token, form_fields, soup

HX = {"HX-Request": "true"}
XSS = "<script>alert(1)</script>"


def main_text(response) -> str:
    return " ".join(soup(response).find("main").get_text(" ").split())


def table_slugs(page) -> list[str]:
    return [row.find("td").find("code").get_text() for row in page.select("#profiles tbody tr")]


def row(page, slug: str):
    """The table row of profile `slug`."""
    for tr in page.select("#profiles tbody tr"):
        if tr.find("td").find("code").get_text() == slug:
            return tr
    raise AssertionError(f"no row for {slug}")


def visible_text(element) -> str:
    """An element's text as seen on screen (without its `.visually-hidden` parts)."""
    hidden = "".join(h.get_text() for h in element.select(".visually-hidden"))
    text = element.get_text()
    return (text.replace(hidden, "", 1) if hidden else text).strip()


def controls(page, text: str) -> list:
    """Links and buttons showing `text`."""
    return [el for el in page.find_all(["a", "button"]) if visible_text(el) == text]


def row_action(page, slug: str, text: str):
    (found,) = controls(row(page, slug), text)
    return found


def field_errors(page, field_id: str) -> list[str]:
    """The error messages rendered beside (in the same .field as) the input `field_id`."""
    control = page.find(id=field_id)
    assert control is not None, field_id
    box = control.find_parent(class_="field")
    assert "invalid" in box["class"]
    assert control.get("aria-invalid") == "true"
    return [p.get_text() for p in box.select("p.error")]


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def seed_big(service, n: int = 120) -> None:
    """Registry `big` with profiles p000..p{n-1}: tag `group-a` on every third, the word
    "needle" in every tenth description."""
    profiles = {
        f"p{i:03d}": {
            "display_name": f"Profile {i}",
            "description": "has a needle" if i % 10 == 0 else "plain",
            "metadata": {"tags": ["group-a" if i % 3 == 0 else "group-b"]},
        }
        for i in range(n)
    }
    doc = {"slug": "big", "display_name": "Big", "default_profile_slug": "p000"}
    doc["profiles"] = profiles
    import_yaml(service, yaml.safe_dump(doc), actor="seed")


@pytest.fixture
def managed_app(make_app):
    """An app where registry `support` is managed by single-registry.yaml, plus the bundle."""
    app = make_app(REGISTRY_SEED_FILES=str(FIXTURES / "single-registry.yaml"))
    import_yaml(
        app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text(), actor="t"
    )
    return app


# --- the registry list ----------------------------------------------------------------------


def test_registry_list_shows_every_registry_and_links_its_json_twin(client, seeded):
    response = client.get("/registries")
    assert response.status_code == 200
    page = soup(response)
    rows = {
        tr.find("code").get_text(): [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        for tr in page.select("#registries-listing tbody tr")
    }
    assert list(rows) == ["default", "team"]
    assert rows["default"][1:5] == [
        "Default",
        "Profiles shared by every chat app.",
        "3",
        "inventory default",
    ]
    assert rows["team"][3] == "1" and rows["team"][4] == "analyst default"
    assert page.find("a", href="/registries/team") is not None
    alternate = page.find("link", rel="alternate", type="application/json")
    assert alternate["href"] == "/api/registries"
    assert response.headers["Link"] == '</api/registries>; rel="alternate"; type="application/json"'
    assert client.get(alternate["href"]).status_code == 200
    form = page.find("form", action="/registries", method="post")
    assert form.find("input", attrs={"name": "csrf_token"})["value"]
    for name in ("slug", "display_name", "description"):
        control = form.find(attrs={"name": name})
        assert page.find("label", attrs={"for": control["id"]}) is not None


def test_registry_list_empty_state(client):
    response = client.get("/registries")
    assert response.status_code == 200
    assert "No registries yet." in main_text(response)
    assert soup(response).select("#registries-listing table") == []


def test_registry_list_fragment_for_htmx(client, seeded):
    response = client.get("/registries", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert "HX-Request" in response.headers["Vary"]
    assert soup(response).find(id="registries-listing") is not None


def test_managed_registries_are_marked_read_only_in_the_list(managed_app):
    page = soup(managed_app.test_client().get("/registries"))
    row = page.find("a", href="/registries/support").find_parent("tr")
    assert row.find(class_="badge ro").get_text() == "read-only"
    assert "managed by single-registry.yaml" in row.get_text(" ", strip=True)


# --- creating registries --------------------------------------------------------------------


def test_create_registry(client, service, csrf):
    data = {"csrf_token": csrf(), "slug": "ops", "display_name": "Ops", "description": "On call"}
    response = client.post("/registries", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/registries/ops"
    reg = service.get_registry("ops")
    assert (reg.display_name, reg.description) == ("Ops", "On call")
    follow = client.get("/registries/ops")
    assert 'Registry "ops" created.' in main_text(follow)
    assert "No profiles in this registry yet." in main_text(follow)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        (
            "Bad Slug!",
            'Registry slug "Bad Slug!" is invalid: spaces and "!" are not allowed (use '
            'lower-case letters, digits, ".", "_" and "-"); try "bad-slug"',
        ),
        ("", "Must not be empty"),
    ],
)
def test_create_registry_rejects_bad_slugs_beside_the_field(client, service, csrf, slug, message):
    data = {"csrf_token": csrf(), "slug": slug, "display_name": "Kept <b>", "description": "d"}
    response = client.post("/registries", data=data)
    assert response.status_code == 422
    page = soup(response)
    assert field_errors(page, "new-slug") == [message]
    assert page.find(id="new-display-name")["value"] == "Kept <b>"
    assert page.find(id="new-description").get_text() == "d"
    assert [s.registry.slug for s in service.list_registries()] == []


def test_create_registry_twice_is_a_conflict(client, seeded, csrf):
    response = client.post("/registries", data={"csrf_token": csrf(), "slug": "team"})
    assert response.status_code == 409
    assert field_errors(soup(response), "new-slug") == ["a registry with this slug already exists"]


# --- the registry page ----------------------------------------------------------------------


def test_registry_page_shows_profiles_and_links_its_json_twin(client, seeded):
    response = client.get("/registries/default")
    assert response.status_code == 200
    page = soup(response)
    assert table_slugs(page) == ["analyst", "default", "inventory"]
    inventory = row(page, "inventory")
    cells = [td.get_text(" ", strip=True) for td in inventory.find_all("td")]
    assert cells[1:3] == ["Inventory Tool-first inventory assistant.", "ops inventory"]
    assert inventory.find_all("td")[3].find("time")["datetime"]  # updated
    assert cells[4] == "1"  # version
    assert inventory.find(class_="badge default").get_text() == "default"
    assert len(page.select("#profiles .badge.default")) == 1
    analyst = row(page, "analyst")
    assert analyst.find(class_="badge ro") is not None  # policy.read_only
    assert analyst.find("a", string="Delete") is None
    json_url = "/api/registries/default/profiles"
    assert page.find("link", rel="alternate")["href"] == json_url
    assert page.select_one("#profiles-summary a")["href"] == json_url
    assert client.get(json_url).json["total"] == 3
    assert page.find("h1").get_text(" ", strip=True).startswith("Default default")
    search = page.find(id="profile-search")
    assert search["hx-trigger"] == "input changed delay:300ms, search"
    assert search["hx-target"] == "#profiles" and search["hx-push-url"] == "true"
    assert page.find("label", attrs={"for": search["id"]}) is not None
    assert page.find("form", action="/registries/default/new-profile") is not None


def test_unknown_registry_is_404(client, seeded):
    assert client.get("/registries/nope").status_code == 404
    assert client.get("/registries/nope", headers=HX).status_code == 404


def test_profile_table_fragment_for_htmx(client, seeded):
    response = client.get("/registries/default?q=inv", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and "<header" not in body
    assert "HX-Request" in response.headers["Vary"]
    assert "HX-Request" in client.get("/registries/default").headers["Vary"]
    page = soup(response)
    assert page.find(id="profiles") is not None
    assert table_slugs(page) == ["analyst", "inventory"]  # "Investigation" matches too
    assert (
        page.select_one("#profiles-summary a")["href"] == "/api/registries/default/profiles?q=inv"
    )


def test_history_restore_requests_get_the_whole_page(client, seeded):
    headers = {**HX, "HX-History-Restore-Request": "true"}
    assert "<html" in client.get("/registries/default", headers=headers).get_data(as_text=True)


def test_search_and_tag_filter(client, service):
    seed_big(service)
    page = soup(client.get("/registries/big?q=needle", headers=HX))
    assert table_slugs(page) == [f"p{i:03d}" for i in range(0, 120, 10)]
    assert "12 of 120 profiles match" in page.find(id="profiles-summary").get_text(" ")

    page = soup(client.get("/registries/big?tag=group-a&limit=100"))
    assert table_slugs(page) == [f"p{i:03d}" for i in range(0, 120, 3)]
    assert page.select_one("#profile-tag option[selected]")["value"] == "group-a"
    picker = [o["value"] for o in page.select("#profile-tag option")]
    assert picker == ["", "group-a", "group-b"]  # the registry's tags, to pick from
    assert page.find("link", rel="alternate")["href"] == (
        "/api/registries/big/profiles?tag=group-a&limit=100"
    )

    page = soup(client.get("/registries/big?q=needle&tag=group-a", headers=HX))
    assert table_slugs(page) == ["p000", "p030", "p060", "p090"]
    twin = page.select_one("#profiles-summary a")["href"]
    assert query(twin) == {"q": ["needle"], "tag": ["group-a"]}
    assert [d["slug"] for d in client.get(twin).json["items"]] == ["p000", "p030", "p060", "p090"]

    empty = client.get("/registries/big?q=nothing-like-this")
    assert table_slugs(soup(empty)) == []
    assert "No profiles match." in main_text(empty)


def test_tag_badges_link_to_the_tag_filter(client, seeded):
    page = soup(client.get("/registries/default"))
    link = page.find("a", class_="tag", string="ops")
    assert link["href"] == "/registries/default?tag=ops"
    assert table_slugs(soup(client.get(link["href"]))) == ["inventory"]


def test_pagination_with_positions_first_previous_next_last(client, service):
    seed_big(service)
    first = soup(client.get("/registries/big"))
    assert table_slugs(first) == [f"p{i:03d}" for i in range(50)]
    assert first.select_one(".pager-position").get_text(" ", strip=True) == "1–50 of 120"
    assert len(first.select("nav.pager")) == 2  # above and below the table
    assert first.find("a", rel="prev") is None
    next_url = first.find("a", rel="next")["href"]
    assert query(next_url) == {"cursor": ["p049"]}

    second = soup(client.get(next_url, headers=HX))
    assert table_slugs(second) == [f"p{i:03d}" for i in range(50, 100)]
    assert second.select_one(".pager-position").get_text(" ", strip=True) == "51–100 of 120"
    assert second.find("a", rel="next")["hx-push-url"] == "true"
    previous = second.find("a", rel="prev")["href"]
    assert query(previous) == {"before": ["p050"]}
    assert table_slugs(soup(client.get(previous))) == [f"p{i:03d}" for i in range(50)]

    last_url = second.find("a", string="Last »")["href"]
    assert query(last_url) == {"last": ["1"]}
    last = soup(client.get(last_url))
    assert table_slugs(last) == [f"p{i:03d}" for i in range(70, 120)]
    assert last.select_one(".pager-position").get_text(" ", strip=True) == "71–120 of 120"
    assert last.find("a", rel="next") is None
    assert table_slugs(soup(client.get(last.find("a", rel="prev")["href"])))[-1] == "p069"
    assert last.find("a", string="« First")["href"] == "/registries/big"

    small = soup(client.get("/registries/big?limit=7&tag=group-b"))
    assert len(table_slugs(small)) == 7
    assert query(small.find("a", rel="next")["href"]) == {
        "tag": ["group-b"],
        "cursor": ["p010"],
        "limit": ["7"],
    }
    sizes = {a.get_text(): query(a["href"]) for a in small.select(".pager-sizes a")}
    assert sizes["100"] == {"tag": ["group-b"], "limit": ["100"]}  # back to the first page
    # nonsense parameters fall back to the defaults
    assert len(table_slugs(soup(client.get("/registries/big?limit=abc")))) == 50
    assert len(table_slugs(soup(client.get("/registries/big?limit=99999")))) == 50
    assert len(table_slugs(soup(client.get("/registries/big?limit=%D9%A7")))) == 50  # not 7
    # a cursor naming no position (a stale bookmark): that sort's first page, not an error
    stale = soup(client.get("/registries/big?sort=updated&cursor=gone-by-now"))
    assert table_slugs(stale) == table_slugs(soup(client.get("/registries/big?sort=updated")))


def test_sortable_columns(client, service):
    seed_big(service, n=5)
    time.sleep(0.003)  # a later millisecond than the creations, so "newest" is unambiguous
    service.update_profile("big", "p002", ProfilePatch(display_name="Aardvark"), actor="x")
    page = soup(client.get("/registries/big"))
    headers = {a.get_text(strip=True).rstrip("▲▼ "): a["href"] for a in page.select("th a.sort")}
    assert page.select_one("th[aria-sort]").get_text(strip=True) == "Slug▲"
    assert query(headers["Slug"]) == {"order": ["desc"]}  # the active column flips
    by_name = soup(client.get(headers["Display name"], headers=HX))
    assert table_slugs(by_name)[0] == "p002"
    assert by_name.select_one("th[aria-sort]")["aria-sort"] == "ascending"
    newest = soup(client.get(headers["Updated"]))
    assert query(headers["Updated"]) == {"sort": ["updated"]}  # newest first by default
    assert table_slugs(newest)[0] == "p002"
    assert newest.select_one("th[aria-sort]")["aria-sort"] == "descending"
    # filtering keeps the sort: the hidden fields belong to the filter form
    kept = {i["name"]: i["value"] for i in newest.select("input[form=profile-filters]")}
    assert kept == {"sort": "updated"}


def test_the_registry_page_loads_one_page_only(client, service, app_store, monkeypatch):
    """However large the registry, the page reads one page of profiles from the store."""
    seed_big(service)
    store = app_store
    limits = []
    original = store.list_profiles

    def spy(registry, query):
        limits.append(query.limit)
        return original(registry, query)

    def forbidden(*args, **kwargs):
        raise AssertionError("the page must not read every profile")

    monkeypatch.setattr(store, "list_profiles", spy)
    monkeypatch.setattr(store, "iter_profiles", forbidden)
    assert client.get("/registries/big").status_code == 200
    assert client.get("/registries/big?q=needle", headers=HX).status_code == 200
    assert limits == [50, 50]


# --- row actions ----------------------------------------------------------------------------


def test_set_default_without_javascript(client, seeded, csrf):
    page = soup(client.get("/registries/default?q=a"))
    button = row(page, "default").find("button", attrs={"name": "profile", "value": "default"})
    assert visible_text(button) == "Make default"
    assert button.get_text() == "Make default: default"  # its accessible name holds the text
    form = button.find_parent("form")
    assert form["action"] == "/registries/default/default-profile"
    assert form["hx-post"] == form["action"] and form["hx-target"] == "#profiles"
    data = {i["name"]: i["value"] for i in form.find_all("input")}
    assert data["q"] == "a" and data["csrf_token"]
    data["profile"] = button["value"]
    # without JavaScript's dialog, the post goes to a confirmation page first
    response = client.post(form["action"], data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == (
        "/registries/default/default-profile?profile=default&q=a"
    )
    assert seeded.get_registry("default").default_profile_slug == "inventory"  # not yet
    confirm = soup(client.get(response.headers["Location"]))
    assert "instead of inventory" in " ".join(confirm.find("main").get_text().split())
    confirm_form = confirm.find("form", action="/registries/default/default-profile")
    yes = confirm_form.find("button", attrs={"name": "profile"})
    assert yes.get_text() == "Make default the default"
    response = client.post(confirm_form["action"], data=dict(form_fields(confirm_form, yes)))
    assert response.status_code == 303
    assert response.headers["Location"] == "/registries/default?q=a"
    assert seeded.get_registry("default").default_profile_slug == "default"
    follow = client.get(response.headers["Location"])
    assert '"default" is now the default profile.' in main_text(follow)


def test_set_default_asks_in_a_dialog_with_javascript(client, seeded):
    button = row(soup(client.get("/registries/default")), "default").find(
        "button", attrs={"name": "profile"}
    )
    assert button["data-confirm-title"] == "Make “default” the default profile?"
    assert "instead of “inventory”" in button["data-confirm"]
    assert button["data-confirm-button"] == "Make default the default"


def test_set_default_confirmation_page_for_a_missing_profile(client, seeded):
    response = client.get("/registries/default/default-profile?profile=ghost")
    assert response.status_code == 303
    assert 'no profile "ghost"' in main_text(client.get(response.headers["Location"]))


def test_set_default_inline_with_htmx(client, seeded, csrf):
    data = {"csrf_token": csrf(), "profile": "analyst"}
    unconfirmed = client.post("/registries/default/default-profile", data=data, headers=HX)
    assert unconfirmed.headers["HX-Redirect"].endswith("/default-profile?profile=analyst")
    assert seeded.get_registry("default").default_profile_slug == "inventory"
    data["confirmed"] = "1"
    response = client.post("/registries/default/default-profile", data=data, headers=HX)
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    page = soup(response)
    # the page header's facts come along, swapped out of band: no stale "Default profile"
    meta = page.find(id="registry-meta")
    assert meta["hx-swap-oob"] == "true"
    assert meta.find(id="registry-default").get_text(strip=True) == "analyst"
    analyst = row(page, "analyst")
    assert analyst.find(class_="badge default") is not None
    assert len(page.select(".badge.default")) == 1
    assert '"analyst" is now the default profile.' in page.find(class_="flash").get_text()
    assert seeded.get_registry("default").default_profile_slug == "analyst"
    # nothing left to flash on the next full page
    assert soup(client.get("/registries")).select("#flashes .flash") == []


def test_set_default_to_a_missing_profile(client, seeded, csrf):
    data = {"csrf_token": csrf(), "profile": "ghost", "confirmed": "1"}
    response = client.post("/registries/default/default-profile", data=data, headers=HX)
    assert response.status_code == 422
    assert "profile not found" in soup(response).find(class_="flash error").get_text()
    response = client.post("/registries/default/default-profile", data=data)
    assert response.status_code == 303
    assert "profile not found" in main_text(client.get(response.headers["Location"]))
    assert seeded.get_registry("default").default_profile_slug == "inventory"


def test_clone_profile(client, seeded, csrf):
    link = row_action(soup(client.get("/registries/default")), "inventory", "Clone")
    form_page = soup(client.get(link["href"]))
    assert form_page.find(id="clone-slug")["value"] == "inventory-copy"
    response = client.post(
        link["href"],
        data={"csrf_token": csrf(), "slug": "inv2", "display_name": "Inv 2", "registry": "team"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/registries/team/profiles/inv2"
    clone = seeded.get_profile("team", "inv2")
    assert clone.display_name == "Inv 2" and clone.metadata.version == 1
    assert clone.runtime.tools == ["stock_lookup", "reorder"]


def test_clone_rejects_bad_and_taken_slugs(client, seeded, csrf):
    url = "/registries/default/clone-profile/inventory"
    before = table_slugs(soup(client.get("/registries/default")))
    bad = client.post(url, data={"csrf_token": csrf(), "slug": "No Good", "registry": "default"})
    assert bad.status_code == 422
    page = soup(bad)
    assert field_errors(page, "clone-slug")[0].startswith(
        'Profile slug "No Good" is invalid: spaces are not allowed'
    )
    assert page.find(id="clone-slug")["value"] == "No Good"
    taken = client.post(url, data={"csrf_token": csrf(), "slug": "analyst", "registry": "default"})
    assert taken.status_code == 409
    assert field_errors(soup(taken), "clone-slug") == [
        "a profile with this slug already exists in that registry"
    ]
    assert table_slugs(soup(client.get("/registries/default"))) == before


def test_delete_profile_says_its_history_is_kept_and_it_can_be_restored(client, seeded, csrf):
    seeded.update_registry("default", RegistryPatch(default_profile_slug="default"))
    assert soup(client.get("/registries/default")).find(id="deleted-profiles") is None
    link = row_action(soup(client.get("/registries/default")), "inventory", "Delete…")
    confirm = client.get(link["href"])
    text = main_text(confirm)
    assert "the profile Inventory ( inventory , version 1)" in text
    assert "Its history ( 1 revision ) is kept" in text
    assert "permanently" not in text and "and its history" not in text
    form = soup(confirm).find("form", action=link["href"])
    assert form.find("button").get_text() == "Delete inventory"
    data = {i["name"]: i["value"] for i in form.find_all("input")}
    assert data["expected_version"] == "1"
    response = client.post(link["href"], data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/registries/default"
    page = client.get("/registries/default")
    assert 'Profile "inventory" deleted. Its history is kept' in main_text(page)
    assert table_slugs(soup(page)) == ["analyst", "default"]

    # listed under "Deleted profiles", and "Restore…" brings it back as it was
    deleted = soup(page).find(id="deleted-profiles")
    cells = [td.get_text(" ", strip=True) for td in deleted.find("tbody").find("tr")("td")]
    assert cells[:2] == ["inventory", "Inventory"] and cells[3] == "local"
    restore = deleted.find("a", attrs={"aria-label": "Restore inventory"})
    restore_page = soup(client.get(restore["href"]))
    restore_form = restore_page.find("form", method="post")
    response = client.post(restore_form["action"], data=dict(form_fields(restore_form)))
    assert response.status_code == 303
    restored = seeded.get_profile("default", "inventory")
    assert restored.display_name == "Inventory" and restored.metadata.version == 1
    after = soup(client.get("/registries/default"))
    assert "inventory" in table_slugs(after) and after.find(id="deleted-profiles") is None


def test_the_default_profile_cannot_be_deleted_while_others_exist(client, seeded, csrf):
    url = "/registries/default/delete-profile/inventory"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Make another profile the default first" in main_text(confirm)
    assert soup(confirm).find("form", action=url) is None
    response = client.post(url, data={"csrf_token": csrf()})
    assert response.status_code == 422
    assert "is the default profile; set another default first" in main_text(response)
    assert seeded.get_profile("default", "inventory") is not None


def test_read_only_profiles_cannot_be_deleted(client, seeded, csrf):
    url = "/registries/default/delete-profile/analyst"
    assert "it cannot be deleted" in main_text(client.get(url))
    assert client.post(url, data={"csrf_token": csrf()}).status_code == 403
    assert seeded.get_profile("default", "analyst") is not None


def test_stale_delete_is_a_conflict(client, seeded, csrf):
    url = "/registries/default/delete-profile/default"
    response = client.post(url, data={"csrf_token": csrf(), "expected_version": "9"})
    assert response.status_code == 409
    assert "changed since the page was shown" in main_text(response)
    assert seeded.get_profile("default", "default") is not None


def test_new_profile_opens_the_editor(client, seeded, csrf):
    data = {"csrf_token": csrf(), "slug": "writer", "display_name": "Writer"}
    response = client.post("/registries/default/new-profile", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "/registries/default/profiles/writer/edit"
    assert seeded.get_profile("default", "writer").display_name == "Writer"
    editor = client.get(response.headers["Location"])
    assert "Add its prompt, tools and the rest, then save." in main_text(editor)


def test_first_profile_of_an_empty_registry_becomes_its_default(client, service, csrf):
    service.create_registry(Registry(slug="empty"))
    assert "No profiles in this registry yet." in main_text(client.get("/registries/empty"))
    client.post("/registries/empty/new-profile", data={"csrf_token": csrf(), "slug": "one"})
    assert service.get_registry("empty").default_profile_slug == "one"


def test_new_profile_rejects_bad_input_beside_the_field(client, seeded, csrf):
    data = {"csrf_token": csrf(), "slug": "Bad/Slug", "display_name": "Kept"}
    response = client.post("/registries/default/new-profile", data=data)
    assert response.status_code == 422
    page = soup(response)
    assert field_errors(page, "new-profile-slug")[0].endswith(
        'Profile slug "Bad/Slug" is invalid: "/" is not allowed (use lower-case letters, '
        'digits, ".", "_" and "-"); try "bad-slug"'
    )
    assert page.find(id="new-profile-display-name")["value"] == "Kept"
    assert table_slugs(page) == ["analyst", "default", "inventory"]
    long = client.post(
        "/registries/default/new-profile",
        data={"csrf_token": csrf(), "slug": "ok", "display_name": "x" * 5000},
    )
    assert long.status_code == 422
    assert field_errors(soup(long), "new-profile-display-name")[0].startswith("Must be at most")
    taken = client.post(
        "/registries/default/new-profile", data={"csrf_token": csrf(), "slug": "analyst"}
    )
    assert taken.status_code == 409
    assert [p.slug for p in seeded.iter_profiles("default")] == ["analyst", "default", "inventory"]


# --- editing and deleting registries --------------------------------------------------------


def test_edit_registry(client, seeded, csrf):
    page = soup(client.get("/registries/default/edit"))
    assert page.find(id="reg-display-name")["value"] == "Default"
    options = [o["value"] for o in page.find(id="reg-default").find_all("option")]
    assert options == ["analyst", "default", "inventory"]
    data = {
        "csrf_token": csrf(),
        "expected_version": page.find("input", attrs={"name": "expected_version"})["value"],
        "display_name": "Main",
        "description": "Shared",
        "default_profile_slug": "default",
    }
    response = client.post("/registries/default/edit", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/registries/default"
    reg = seeded.get_registry("default")
    assert (reg.display_name, reg.description, reg.default_profile_slug) == (
        "Main",
        "Shared",
        "default",
    )
    assert 'Registry "default" saved.' in main_text(client.get("/registries/default"))


def test_edit_registry_errors_stay_beside_their_fields(client, seeded, csrf):
    base = {"csrf_token": csrf(), "display_name": "Kept", "description": ""}
    missing = client.post("/registries/default/edit", data={**base, "default_profile_slug": "nope"})
    assert missing.status_code == 422
    page = soup(missing)
    assert field_errors(page, "reg-default") == ["no profile with this slug in the registry"]
    assert page.find(id="reg-display-name")["value"] == "Kept"
    bad = client.post("/registries/default/edit", data={**base, "default_profile_slug": "A B"})
    assert field_errors(soup(bad), "reg-default")[0].startswith('Profile slug "A B" is invalid')
    assert seeded.get_registry("default").display_name == "Default"


def test_stale_registry_edit_is_a_conflict_keeping_the_values(client, seeded, csrf):
    data = {
        "csrf_token": csrf(),
        "expected_version": "1",
        "display_name": "Mine",
        "description": "",
        "default_profile_slug": "inventory",
    }
    seeded.update_registry("default", RegistryPatch(description="theirs"))
    response = client.post("/registries/default/edit", data=data)
    assert response.status_code == 409
    page = soup(response)
    assert "Someone else changed this registry meanwhile" in main_text(response)
    assert page.find(id="reg-display-name")["value"] == "Mine"
    assert page.find("input", attrs={"name": "expected_version"})["value"] == "2"
    assert seeded.get_registry("default").display_name == "Default"


def test_delete_registry_names_the_profiles_it_takes(client, seeded, csrf):
    confirm = client.get("/registries/default/delete")
    assert "3 profiles in it, with their history" in main_text(confirm)
    form = soup(confirm).find("form", action="/registries/default/delete")
    assert form.find("button").get_text() == "Delete registry and 3 profiles"
    data = {i["name"]: i["value"] for i in form.find_all("input")}
    response = client.post("/registries/default/delete", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/registries"
    assert 'Registry "default" and its profiles were deleted.' in main_text(
        client.get("/registries")
    )
    assert [s.registry.slug for s in seeded.list_registries()] == ["team"]


def test_stale_registry_delete_is_a_conflict(client, seeded, csrf):
    response = client.post(
        "/registries/team/delete", data={"csrf_token": csrf(), "expected_version": "5"}
    )
    assert response.status_code == 409
    assert seeded.get_registry("team") is not None


# --- CSRF, escaping ------------------------------------------------------------------------

WRITES = [
    ("/registries", {"slug": "x"}),
    ("/registries/default/edit", {"display_name": "x"}),
    ("/registries/default/delete", {}),
    ("/registries/default/new-profile", {"slug": "x"}),
    ("/registries/default/default-profile", {"profile": "default"}),
    ("/registries/default/clone-profile/inventory", {"slug": "x"}),
    ("/registries/default/delete-profile/default", {}),
]


@pytest.mark.parametrize(("url", "data"), WRITES)
def test_posts_without_a_csrf_token_are_rejected(client, seeded, url, data):
    before = client.get("/api/registries").json
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "security token" in main_text(response)
    assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400
    assert client.get("/api/registries").json == before
    assert seeded.get_profile("default", "default") is not None


def test_script_payloads_are_rendered_escaped(client, service, csrf):
    created = client.post(
        "/registries",
        data={"csrf_token": csrf(), "slug": "evil", "display_name": XSS, "description": XSS},
    )
    assert created.status_code == 303
    service.create_profile(
        "evil",
        Profile(slug="p", display_name=XSS, description=XSS, metadata=Metadata(tags=[XSS])),
    )
    service.create_profile("evil", Profile(slug="q", display_name=XSS))
    bad = client.post("/registries", data={"csrf_token": csrf(), "slug": XSS})
    pages = [
        client.get("/registries"),
        client.get("/registries", headers=HX),
        client.get("/registries/evil"),
        client.get("/registries/evil", headers=HX),
        client.get(f"/registries/evil?q={XSS}", headers=HX),
        client.get(f"/registries/evil?tag={XSS}"),
        client.get("/registries/evil/edit"),
        client.get("/registries/evil/delete"),
        client.get("/registries/evil/clone-profile/p"),
        client.get("/registries/evil/delete-profile/q"),
        bad,
    ]
    for response in pages:
        body = response.get_data(as_text=True)
        assert "<script>alert" not in body, response.request.url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[2].get_data(as_text=True)
    tagged = soup(client.get(f"/registries/evil?tag={XSS}"))
    assert table_slugs(tagged) == ["p"]
    assert tagged.find("a", class_="tag").get_text() == XSS
    assert field_errors(soup(bad), "new-slug")[0].startswith(f'Registry slug "{XSS}" is invalid')


# --- registries managed by a file -----------------------------------------------------------


def test_managed_registry_is_read_only(managed_app):
    client, service = managed_app.test_client(), managed_app.extensions["registry"]
    response = client.get("/registries/support")
    page = soup(response)
    note = page.find(class_="readonly-note").get_text(" ", strip=True)
    assert "managed by single-registry.yaml" in note and "cannot be edited" in note
    posts = [f["action"] for f in page.find_all("form", method="post")]
    assert posts == []
    for text in ("Edit registry", "Delete registry", "New profile", "Make default", "Delete…"):
        assert controls(page, text) == [], text
    # cloning out of it into an editable registry stays possible
    assert row_action(page, "triage", "Clone") is not None
    assert client.get("/registries/support/edit").status_code == 403
    assert client.get("/registries/support/delete").status_code == 403
    assert client.get("/registries/support/delete-profile/triage").status_code == 403

    token = csrf_token(client, "/registries")
    before = client.get("/api/registries/support/profiles").json
    for url, data in [
        ("/registries/support/edit", {"display_name": "x"}),
        ("/registries/support/delete", {}),
        ("/registries/support/new-profile", {"slug": "Not Valid"}),
        ("/registries/support/default-profile", {"profile": "escalation"}),
        ("/registries/support/delete-profile/escalation", {}),
        ("/registries/support/clone-profile/triage", {"slug": "t2", "registry": "support"}),
    ]:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, url
        assert "managed by single-registry.yaml" in main_text(response)
    assert client.get("/api/registries/support/profiles").json == before
    assert service.get_registry("support").default_profile_slug == "triage"

    clone = client.post(
        "/registries/support/clone-profile/triage",
        data={"csrf_token": token, "slug": "triage", "registry": "team"},
    )
    assert clone.status_code == 303
    assert clone.headers["Location"] == "/registries/team/profiles/triage"


# --- roles (auth on) ------------------------------------------------------------------------


@pytest.fixture
def seeded_auth_app(make_app):
    app = make_app(REGISTRY_AUTH="on")
    import_yaml(
        app.extensions["registry"], (FIXTURES / "canonical-bundle.yaml").read_text(), actor="t"
    )
    return app


def logged_in(app, role: str):
    client = app.test_client()
    secret = issue(app.extensions["tokens"], f"ui-{role}", role).secret
    response = client.post(
        "/login", data={"token": secret, "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 302
    return client


def test_anonymous_viewers_are_sent_to_log_in(seeded_auth_app):
    response = seeded_auth_app.test_client().get("/registries/default")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_readers_see_no_write_controls_and_cannot_write(seeded_auth_app):
    client = logged_in(seeded_auth_app, "reader")
    listing = soup(client.get("/registries"))
    assert listing.find("form", action="/registries") is None
    assert listing.find("a", string="New registry") is None
    page = soup(client.get("/registries/default"))
    assert table_slugs(page) == ["analyst", "default", "inventory"]
    assert page.find_all("form", method="post") == [] or all(
        f["action"] == "/logout" for f in page.find_all("form", method="post")
    )
    for text in ("Edit registry", "Delete registry", "New profile", "Make default", "Clone"):
        assert controls(page, text) == [], text
    for url in ("/registries/default/edit", "/registries/default/delete"):
        assert client.get(url).status_code == 403
    assert client.get("/registries/default/clone-profile/inventory").status_code == 403

    token = csrf_token(client, "/registries")
    service = seeded_auth_app.extensions["registry"]
    for url, data in WRITES:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, url
    assert service.get_registry("default").default_profile_slug == "inventory"
    assert [s.registry.slug for s in service.list_registries()] == ["default", "team"]


def test_editors_edit_profiles_but_not_registries(seeded_auth_app):
    client = logged_in(seeded_auth_app, "editor")
    page = soup(client.get("/registries/default"))
    assert page.find("a", string="Edit registry") is not None
    assert page.find("a", string="Delete registry") is None
    assert controls(page, "Make default") != []
    assert soup(client.get("/registries")).find("form", action="/registries") is None
    token = csrf_token(client, "/registries")
    assert client.post("/registries", data={"csrf_token": token, "slug": "x"}).status_code == 403
    response = client.post("/registries/team/delete", data={"csrf_token": token})
    assert response.status_code == 403
    response = client.post(
        "/registries/default/default-profile",
        data={"csrf_token": token, "profile": "default", "confirmed": "1"},
    )
    assert response.status_code == 303
    service = seeded_auth_app.extensions["registry"]
    assert service.get_registry("default").default_profile_slug == "default"
    assert service.get_registry("default").metadata.updated_by == "ui-editor"


def test_admins_create_and_delete_registries(seeded_auth_app):
    client = logged_in(seeded_auth_app, "admin")
    assert soup(client.get("/registries")).find("form", action="/registries") is not None
    token = csrf_token(client, "/registries")
    assert client.post("/registries", data={"csrf_token": token, "slug": "x"}).status_code == 303
    assert client.post("/registries/x/delete", data={"csrf_token": token}).status_code == 303
