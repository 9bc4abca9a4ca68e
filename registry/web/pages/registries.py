"""Registries and their profile tables (see README, Admin UI).

Pages: the registry list (with a create form), one registry's profiles (search, tag filter,
cursor pagination, per-row set default / clone / delete, a "new profile" form), the registry
header editor and the delete confirmations.

Every write is a plain form POST answered by a redirect and a flash (POST-redirect-GET);
validation errors re-render the form with the submitted values and each message beside its
field (422; 409 for conflicts). htmx only enhances: search-as-you-type, the pager and
"make default" swap the `profiles` block of `registries/detail.html` ("make default" also
sends the header's `meta` block out of band). "Make default" is confirmed first (a dialog with
JavaScript, a confirmation page without). Deleted profiles (the store keeps their history) are
listed below the table with a link to restore them.

Roles: reading needs `reader`; profile writes and the header editor `editor`; creating and
deleting registries `admin` (as the admin API). Registries managed by a file refuse every
write with 403 before any input is looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from registry.domain.errors import (
    AlreadyExists,
    ConflictError,
    DefaultProfileInUse,
    DefaultProfileRequired,
    NotFoundError,
    PolicyViolation,
    ValidationError,
)
from registry.domain.model import Profile, Registry
from registry.domain.ports import ProfilePage
from registry.domain.service import SOURCE_UI, RegistryPatch, RegistryService

from ..deps import get_service
from ..htmx import htmx_redirect, is_htmx, render
from ..http import parse_int
from .page_cache import cached_page
from .session import actor, page_require

bp = Blueprint("registries", __name__)

PAGE_SIZE = 50
PAGE_MAX = 200
CURSOR_MAX = 200  # longer cursors are not slugs: ignored
SELECT_MAX = 200  # the header editor offers a select of profiles up to this many
HISTORY_MAX = 1000
DELETED_SHOWN = 20  # deleted profiles listed (with restore) on the registry page

Errors = dict[str, list[str]]


# --- helpers ---------------------------------------------------------------------------------


def form_errors(exc: ValidationError, fields: Iterable[str]) -> Errors:
    """Attach each `FieldError` to its form field (`registry.slug` -> `slug`); problems of
    other fields go to the form-level list under ""."""
    names = set(fields)
    out: Errors = {}
    for e in exc.errors:
        name = e.relative
        if name in names:
            out.setdefault(name, []).append(e.text)
        else:
            out.setdefault("", []).append(f"{e.field}: {e.text}" if e.field else e.text)
    return out


def _text(source: Mapping[str, Any], name: str) -> str:
    value = source.get(name, "")
    return value if isinstance(value, str) else ""


def _expected_version() -> int:
    """The posted `expected_version` (0, unconditional, when absent or not a number)."""
    raw = _text(request.form, "expected_version").strip()
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def _page(
    template: str, block: str | list[str] | None = None, *, status: int = 200, **ctx: Any
) -> Response:
    """Render with the registries nav; the JSON twin also goes in a `Link` header."""
    response = render(template, block, status=status, nav="registries", **ctx)
    if ctx.get("json_url"):
        response.headers["Link"] = f'<{ctx["json_url"]}>; rel="alternate"; type="application/json"'
    return response


def _count(service: RegistryService, reg: Registry) -> int:
    return service.registry_summary(reg.slug).profile_count


# --- listing state (search, tag, sort, position) -----------------------------------------------

PAGE_SIZES = (25, 50, 100, 200)
SORTS = {"slug": "Slug", "display_name": "Display name", "updated": "Updated"}
# the natural first direction of each sort: names A-Z, the newest updates first
FIRST_ORDER = {"slug": "asc", "display_name": "asc", "updated": "desc"}


@dataclass
class Listing:
    """What the profiles table shows: filters, a sort, and a keyset position.

    The position is one of `cursor` (the page after it), `before` (the page before it) and
    `last`; none means the first page. Links carry the filters and the sort, so every page
    can be bookmarked and works without JavaScript.
    """

    q: str = ""
    tag: str = ""
    sort: str = "slug"
    order: str = "asc"
    cursor: str = ""
    before: str = ""
    last: bool = False
    limit: int = PAGE_SIZE

    @classmethod
    def parse(cls, source: Any) -> Listing:
        """From query args or posted hidden fields; bad values fall back to defaults
        (navigation stays lenient: a bad value in a bookmark shows the default page)."""
        try:
            limit = parse_int(_text(source, "limit"), "limit", minimum=1, maximum=PAGE_MAX)
        except ValidationError:
            limit = PAGE_SIZE
        sort = _text(source, "sort")
        sort = sort if sort in SORTS else "slug"
        order = _text(source, "order")
        cursor, before = _text(source, "cursor"), _text(source, "before")
        return cls(
            q=_text(source, "q").strip()[:200],
            tag=_text(source, "tag").strip()[:200],
            sort=sort,
            order=order if order in ("asc", "desc") else FIRST_ORDER[sort],
            cursor=cursor if len(cursor) <= CURSOR_MAX else "",
            before=before if len(before) <= CURSOR_MAX and not cursor else "",
            last=_text(source, "last") == "1" and not (cursor or before),
            limit=limit,
        )

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.tag)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments for `url_for` (defaults left out)."""
        values: dict[str, Any] = {
            "q": self.q,
            "tag": self.tag,
            "sort": self.sort if self.sort != "slug" else None,
            "order": self.order if self.order != FIRST_ORDER[self.sort] else None,
            "cursor": self.cursor,
            "before": self.before,
            "last": "1" if self.last else None,
            "limit": self.limit if self.limit != PAGE_SIZE else None,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    def filters(self, **changes: Any) -> dict[str, Any]:
        """The same listing from its first page (filters, sort and page size kept)."""
        return self.args(**({"cursor": None, "before": None, "last": None} | changes))

    def sorted_by(self, sort: str) -> dict[str, Any]:
        """First page sorted by `sort`; the current sort's header flips the direction."""
        if sort == self.sort:
            order = "desc" if self.order == "asc" else "asc"
        else:
            order = FIRST_ORDER[sort]
        return self.args(
            sort=sort if sort != "slug" else None,
            order=order if order != FIRST_ORDER[sort] else None,
            cursor=None,
            before=None,
            last=None,
        )


def _read_page(service: RegistryService, reg: Registry, listing: Listing) -> ProfilePage:
    """The page the listing names; a cursor that does not fit (another sort, a stale
    bookmark) falls back to the first page instead of an error."""
    try:
        return _query(service, reg, listing)
    except (ValidationError, NotFoundError):
        listing.cursor, listing.before, listing.last = "", "", False
        return _query(service, reg, listing)


def _query(service: RegistryService, reg: Registry, listing: Listing) -> ProfilePage:
    return service.list_profiles(
        reg.slug,
        q=listing.q,
        tag=listing.tag,
        limit=listing.limit,
        sort=listing.sort,
        descending=listing.order == "desc",
        cursor=listing.cursor,
        before=listing.before,
        last=listing.last,
    )


def _registry_page(
    service: RegistryService,
    reg: Registry,
    listing: Listing,
    *,
    block: str | None = "profiles",
    status: int = 200,
    new_form: dict[str, str] | None = None,
    new_errors: Errors | None = None,
    notice: dict[str, str] | None = None,
    header: bool = False,
) -> Response:
    """The registry page (or its `profiles` block for htmx): one page of profiles only.
    `header`: htmx also gets the page header's facts, swapped out of band (after a write
    that changes them, e.g. the default profile)."""
    page = _read_page(service, reg, listing)
    count = _count(service, reg) if listing.filtered else page.total
    json_args = listing.args(last="true" if listing.last else None)
    json_url = url_for("api.registry_profiles.registry_profiles", slug=reg.slug, **json_args)
    here = "pages.registries.registry"

    def link(**args: Any) -> str:
        return url_for(here, slug=reg.slug, **args)

    pager = {
        "first": link(**listing.filters()) if page.prev_cursor else "",
        "previous": link(**listing.filters(before=page.prev_cursor)) if page.prev_cursor else "",
        "next": link(**listing.filters(cursor=page.next_cursor)) if page.next_cursor else "",
        "last": link(**listing.filters(last="1")) if page.next_cursor else "",
        "start": page.offset + 1 if page.items else 0,
        "end": page.offset + len(page.items),
        "sizes": [
            (size, link(**listing.filters(limit=size if size != PAGE_SIZE else None)))
            for size in PAGE_SIZES
        ],
    }
    sort_links = {name: link(**listing.sorted_by(name)) for name in SORTS}
    marker = "__profile__"  # per-row URLs: built once, the slug put in per row (url_for is slow)
    row_urls = {
        name: url_for(endpoint, slug=reg.slug, profile=marker)
        for name, endpoint in (
            ("profile", "pages.profiles.profile"),
            ("edit", "pages.profiles.edit_profile"),
            ("history", "pages.history.history"),
            ("clone", "pages.registries.registry_clone_profile"),
            ("delete", "pages.registries.registry_delete_profile"),
        )
    }
    deleted = []
    if block is None or not is_htmx():  # the full page lists them below the table
        deleted = service.list_deleted_profiles(reg.slug, DELETED_SHOWN)
    return _page(
        "registries/detail.html",
        ["profiles", "meta"] if header and block else block,
        status=status,
        reg=reg,
        deleted=deleted,
        oob=header,
        writable=not reg.is_managed,
        page=page,
        count=count,
        listing=listing,
        pager=pager,
        sort_links=sort_links,
        sort_names=SORTS,
        first_order=FIRST_ORDER[listing.sort],
        default_limit=PAGE_SIZE,
        tags=lambda: service.list_tags(reg.slug),  # the picker is outside the htmx block
        row_urls=row_urls,
        marker=marker,
        json_url=json_url,
        clone_targets=_clone_targets(service, reg) if reg.is_managed else [],
        new_form=new_form or {"slug": "", "display_name": ""},
        new_errors=new_errors or {},
        notice=notice,
    )


def _clone_targets(service: RegistryService, source: Registry) -> list[Registry]:
    """Registries a profile of `source` may be cloned into (writable ones, source first)."""
    regs = [s.registry for s in service.list_registries() if not s.registry.is_managed]
    return sorted(regs, key=lambda r: (r.slug != source.slug, r.slug))


def _back(reg: Registry, listing: Listing | None = None) -> Response:
    args = listing.args() if listing else {}
    return redirect(url_for("pages.registries.registry", slug=reg.slug, **args), code=303)


# --- the registry list -----------------------------------------------------------------------


def _list_page(
    service: RegistryService,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: Errors | None = None,
) -> Response:
    return _page(
        "registries/list.html",
        "listing" if status == 200 else None,
        status=status,
        registries=service.list_registries(),
        form=form or {"slug": "", "display_name": "", "description": ""},
        errors=errors or {},
        json_url=url_for("api.registries.list_registries"),
    )


@bp.get("/registries")
@page_require("reader")
def registries() -> Response:
    """Every registry with its profile count, default and read-only state."""
    return _list_page(get_service())


@bp.post("/registries")
@page_require("admin")
def create_registry() -> Response:
    """Create an empty registry, then go to its page."""
    service = get_service()
    form = {k: _text(request.form, k) for k in ("slug", "display_name", "description")}
    reg = Registry(
        slug=form["slug"], display_name=form["display_name"], description=form["description"]
    )
    try:
        created = service.create_registry(reg, actor=actor(), source=SOURCE_UI)
    except ValidationError as exc:
        return _list_page(service, status=422, form=form, errors=form_errors(exc, form))
    except AlreadyExists:
        errors = {"slug": ["a registry with this slug already exists"]}
        return _list_page(service, status=409, form=form, errors=errors)
    flash(f'Registry "{created.slug}" created.', "success")
    return redirect(url_for("pages.registries.registry", slug=created.slug), code=303)


# --- one registry ----------------------------------------------------------------------------


@bp.get("/registries/<slug>")
@page_require("reader")
@cached_page
def registry(slug: str) -> Response:
    """The registry's profiles: `q`, `tag`, `sort`, `order`, a position and `limit`."""
    service = get_service()
    return _registry_page(service, service.get_registry(slug), Listing.parse(request.args))


REGISTRY_FIELDS = ("display_name", "description", "default_profile_slug")


def _edit_page(
    service: RegistryService,
    reg: Registry,
    form: dict[str, str],
    *,
    errors: Errors | None = None,
    status: int = 200,
    expected_version: int | None = None,
) -> Response:
    total = _count(service, reg)
    choices: list[str] | None = None
    if total <= SELECT_MAX:
        choices = [p.slug for p in service.list_profiles(reg.slug, limit=SELECT_MAX).items]
    return _page(
        "registries/edit.html",
        status=status,
        reg=reg,
        form=form,
        errors=errors or {},
        choices=choices,
        profile_count=total,
        expected_version=reg.metadata.version if expected_version is None else expected_version,
        json_url=url_for("api.registries.get_registry", slug=reg.slug),
    )


@bp.route("/registries/<slug>/edit", methods=["GET", "POST"])
@page_require("editor")
def edit_registry(slug: str) -> Response:
    """Edit the header: display name, description, default profile (guarded by version)."""
    service = get_service()
    reg = service.get_registry(slug)
    reg.require_writable()
    if request.method == "GET":
        form = {k: getattr(reg, k) for k in REGISTRY_FIELDS}
        return _edit_page(service, reg, form)
    form = {k: _text(request.form, k) for k in REGISTRY_FIELDS}
    expected = _expected_version()
    patch = RegistryPatch(
        display_name=form["display_name"],
        description=form["description"],
        default_profile_slug=form["default_profile_slug"].strip(),
    )
    try:
        service.update_registry(
            reg.slug, patch, expected_version=expected, actor=actor(), source=SOURCE_UI
        )
    except ValidationError as exc:
        errors = form_errors(exc, REGISTRY_FIELDS)
        return _edit_page(service, reg, form, errors=errors, status=422, expected_version=expected)
    except NotFoundError:
        errors = {"default_profile_slug": ["no profile with this slug in the registry"]}
        return _edit_page(service, reg, form, errors=errors, status=422, expected_version=expected)
    except DefaultProfileRequired as exc:  # a 409 in the API; here the form explains it
        errors = {"default_profile_slug": [e.text for e in exc.errors]}
        return _edit_page(service, reg, form, errors=errors, status=422, expected_version=expected)
    except ConflictError:
        current = service.get_registry(reg.slug)
        errors = {
            "": [
                f"Someone else changed this registry meanwhile (now version "
                f"{current.metadata.version}). Your values are kept below: review them and "
                "save again to overwrite, or reload to start over."
            ]
        }
        return _edit_page(service, current, form, errors=errors, status=409)
    flash(f'Registry "{reg.slug}" saved.', "success")
    return redirect(url_for("pages.registries.registry", slug=reg.slug), code=303)


@bp.route("/registries/<slug>/delete", methods=["GET", "POST"])
@page_require("admin")
def delete_registry(slug: str) -> Response:
    """Confirm, then delete the registry with every profile in it."""
    service = get_service()
    reg = service.get_registry(slug)
    reg.require_writable()
    errors: Errors = {}
    status = 200
    if request.method == "POST":
        expected = _expected_version()
        try:
            service.delete_registry(
                reg.slug, expected_version=expected, actor=actor(), source=SOURCE_UI
            )
        except ConflictError:
            reg = service.get_registry(reg.slug)
            errors = {
                "": ["This registry changed since the page was shown; check and confirm again."]
            }
            status = 409
        else:
            flash(f'Registry "{reg.slug}" and its profiles were deleted.', "success")
            return redirect(url_for("pages.registries.registries"), code=303)
    return _page(
        "registries/delete.html",
        status=status,
        reg=reg,
        profile_count=_count(service, reg),
        errors=errors,
        json_url=url_for("api.registries.get_registry", slug=reg.slug),
    )


# --- profile actions from the table ----------------------------------------------------------


@bp.post("/registries/<slug>/new-profile")
@page_require("editor")
def registry_new_profile(slug: str) -> Response:
    """Create a profile from a slug and a display name, then open it in the editor."""
    service = get_service()
    reg = service.get_registry(slug)
    reg.require_writable()
    form = {k: _text(request.form, k) for k in ("slug", "display_name")}
    try:
        created = service.create_profile(
            reg.slug,
            Profile(slug=form["slug"], display_name=form["display_name"]),
            actor=actor(),
            source=SOURCE_UI,
        )
    except ValidationError as exc:
        errors = form_errors(exc, form)
        return _registry_page(
            service, reg, Listing(), block=None, status=422, new_form=form, new_errors=errors
        )
    except AlreadyExists:
        errors = {"slug": ["a profile with this slug already exists in this registry"]}
        return _registry_page(
            service, reg, Listing(), block=None, status=409, new_form=form, new_errors=errors
        )
    flash(
        f'Profile "{created.slug}" created. Add its prompt, tools and the rest, then save.',
        "success",
    )
    return redirect(
        url_for("pages.profiles.edit_profile", slug=reg.slug, profile=created.slug), code=303
    )


def _default_confirm_url(reg: Registry, profile: str, listing: Listing) -> str:
    return url_for(
        "pages.registries.registry_set_default", slug=reg.slug, profile=profile, **listing.args()
    )


@bp.route("/registries/<slug>/default-profile", methods=["GET", "POST"])
@page_require("editor")
def registry_set_default(slug: str) -> Response:
    """Make a profile the default, once confirmed (it changes what every client that names no
    profile gets): with JavaScript a dialog adds `confirmed=1`; a plain post without it is
    sent to this confirmation page (GET). htmx gets the re-rendered table plus the page
    header (out of band, so "Default profile" and the version update); others a redirect."""
    service = get_service()
    reg = service.get_registry(slug)
    reg.require_writable()
    source = request.form if request.method == "POST" else request.args
    listing = Listing.parse(source)
    profile = _text(source, "profile").strip()
    if request.method == "GET" or _text(request.form, "confirmed") != "1":
        if request.method == "POST":
            target = _default_confirm_url(reg, profile, listing)
            return htmx_redirect(target) if is_htmx() else redirect(target, code=303)
        current = service.find_profile(reg.slug, profile) if profile else None
        if current is None:
            flash(
                f'Could not change the default: no profile "{profile}" in this registry.', "error"
            )
            return _back(reg, listing)
        return _page(
            "registries/set_default.html",
            reg=reg,
            profile=current,
            listing=listing,
            json_url=url_for("api.registries.get_registry", slug=reg.slug),
        )
    try:
        updated = service.set_default_profile(reg.slug, profile, actor=actor(), source=SOURCE_UI)
    except (ValidationError, NotFoundError) as exc:
        reason = exc.errors[0].text if isinstance(exc, ValidationError) else str(exc)
        message = f"Could not change the default: {reason}."
        if is_htmx():
            notice = {"kind": "error", "text": message}
            return _registry_page(service, reg, listing, status=422, notice=notice)
        flash(message, "error")
        return _back(reg, listing)
    message = f'"{updated.default_profile_slug}" is now the default profile.'
    if is_htmx():
        notice = {"kind": "success", "text": message}
        return _registry_page(service, updated, listing, notice=notice, header=True)
    flash(message, "success")
    return _back(reg, listing)


def _clone_page(
    service: RegistryService,
    reg: Registry,
    source: Profile,
    form: dict[str, str],
    *,
    errors: Errors | None = None,
    status: int = 200,
) -> Response:
    return _page(
        "registries/clone.html",
        status=status,
        reg=reg,
        source=source,
        form=form,
        errors=errors or {},
        targets=_clone_targets(service, reg),
        json_url=url_for(
            "api.registry_profiles.registry_profile", slug=reg.slug, profile=source.slug
        ),
    )


@bp.route("/registries/<slug>/clone-profile/<profile>", methods=["GET", "POST"])
@page_require("editor")
def registry_clone_profile(slug: str, profile: str) -> Response:
    """Copy a profile under a new slug (into this or another writable registry)."""
    service = get_service()
    reg = service.get_registry(slug)
    source = service.get_profile(reg.slug, profile)
    if request.method == "GET":
        default_target = next(iter(_clone_targets(service, reg)), None)
        form = {
            "slug": f"{source.slug}-copy",
            "display_name": source.display_name,
            "registry": default_target.slug if default_target else "",
        }
        return _clone_page(service, reg, source, form)
    form = {k: _text(request.form, k) for k in ("slug", "display_name", "registry")}
    target = form["registry"].strip() or reg.slug
    try:
        clone = service.clone_profile(
            reg.slug,
            source.slug,
            form["slug"],
            target_registry=target,
            display_name=form["display_name"],
            actor=actor(),
            source=SOURCE_UI,
        )
    except ValidationError as exc:
        errors = form_errors(exc, ("slug", "display_name", "registry"))
        return _clone_page(service, reg, source, form, errors=errors, status=422)
    except AlreadyExists:
        errors = {"slug": ["a profile with this slug already exists in that registry"]}
        return _clone_page(service, reg, source, form, errors=errors, status=409)
    except NotFoundError:
        errors = {"registry": ["no registry with this slug"]}
        return _clone_page(service, reg, source, form, errors=errors, status=422)
    target_slug = service.get_registry(target).slug
    flash(f'Profile "{source.slug}" cloned as "{clone.slug}".', "success")
    return redirect(
        url_for("pages.profiles.profile", slug=target_slug, profile=clone.slug), code=303
    )


@bp.route("/registries/<slug>/delete-profile/<profile>", methods=["GET", "POST"])
@page_require("editor")
def registry_delete_profile(slug: str, profile: str) -> Response:
    """Confirm (naming the profile and its history), then delete. Refusals are explained:
    the default profile while others exist, read-only profiles."""
    service = get_service()
    reg = service.get_registry(slug)
    reg.require_writable()
    current = service.get_profile(reg.slug, profile)
    errors: Errors = {}
    status = 200
    if request.method == "POST":
        expected = _expected_version()
        try:
            service.delete_profile(
                reg.slug, current.slug, expected_version=expected, actor=actor(), source=SOURCE_UI
            )
        except ValidationError as exc:
            errors, status = form_errors(exc, ()), 422
        except DefaultProfileInUse as exc:  # a 409 in the API; here the form explains it
            errors, status = {"": [str(exc)]}, 422
        except PolicyViolation as exc:
            errors, status = {"": [str(exc)]}, 403
        except ConflictError:
            current = service.get_profile(reg.slug, current.slug)
            errors = {
                "": [
                    f"This profile changed since the page was shown (now version "
                    f"{current.metadata.version}); check and confirm again."
                ]
            }
            status = 409
        else:
            kept = ""
            if service.supports_history:
                kept = " Its history is kept: restore it from the registry page."
            flash(f'Profile "{current.slug}" deleted.{kept}', "success")
            return _back(reg)
    others = service.default_blocks_delete(reg, current.slug)
    revisions = None
    if service.supports_history:
        revisions = len(service.list_revisions(reg.slug, current.slug, limit=HISTORY_MAX))
    return _page(
        "registries/delete_profile.html",
        status=status,
        reg=reg,
        profile=current,
        blocked_default=others,
        revisions=revisions,
        history_max=HISTORY_MAX,
        errors=errors,
        json_url=url_for(
            "api.registry_profiles.registry_profile", slug=reg.slug, profile=current.slug
        ),
    )
