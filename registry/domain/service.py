"""The use cases: every write and read the UI, the API, imports and the CLI perform.

The service owns the business rules (validation, codecs, middleware configs, policy, default
profiles, read-only registries) and talks to persistence only through the `Store` protocol.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .activity import ChangeGroup, group_changes
from .content_hash import rules_digest
from .errors import (
    AlreadyExists,
    DefaultProfileInUse,
    DefaultProfileRequired,
    FieldError,
    MergeConflict,
    MergeUnavailable,
    PolicyViolation,
    ProfileNotFound,
    RegistryNotFound,
    RevisionNotFound,
    StackedOn,
    ValidationError,
    VersionConflict,
)
from .extensions import CodecRegistry, Limits, builtin_codecs, normalize_extensions
from .jsonutil import NotJSON, canonical_json, check_json
from .merge import MergeResult, content, merge_profiles
from .middleware import (
    MiddlewareRegistry,
    effective_configs,
    load_definitions,
    project_configs,
    remap_configs,
)
from .model import (
    Metadata,
    PolicySpec,
    Profile,
    ProfileRef,
    Registry,
    RuntimeSpec,
    copy_value,
    profile_from_data,
    profile_to_data,
)
from .paging import check_sort, cursor_of, is_cursor
from .ports import Change, ProfilePage, ProfileQuery, Revision, Store, WriteOptions
from .resolution import (
    ResolvedProfile,
    Selection,
    apply_overrides,
    fingerprint,
    normalize_overrides,
)
from .slugs import profile_slug, registry_slug
from .stacks import (
    MAX_STACK_DEPTH,
    Key,
    Layer,
    MergedStack,
    StackTrace,
    check_topology,
    collect_graph,
    enforce,
    expand_stack,
    height,
    lineage,
    merge_layers,
    node_name,
    ref_target,
    trace_layers,
)
from .validation import (
    refused_registry_text,
    refused_text,
    validate_profile,
    validate_registry_header,
)

MAX_PAGE = 500

# Where a write came from, recorded in `metadata.source` of what it touches.
SOURCE_API, SOURCE_UI, SOURCE_IMPORT, SOURCE_CLI, SOURCE_SEED = "api", "ui", "import", "cli", "seed"
SOURCES = (SOURCE_API, SOURCE_UI, SOURCE_IMPORT, SOURCE_CLI, SOURCE_SEED)


@dataclass
class ProfilePatch:
    """Present fields replace, absent (None) fields stay; `extensions={}` clears them."""

    display_name: str | None = None
    description: str | None = None
    runtime: RuntimeSpec | None = None
    policy: PolicySpec | None = None
    extensions: dict[str, Any] | None = None
    tags: list[str] | None = None
    stack: list[ProfileRef] | None = None

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> ProfilePatch:
        """From `model.profile_fields_from_data` output (metadata: only tags are client-owned)."""
        meta = fields.get("metadata")
        return cls(
            display_name=fields.get("display_name"),
            description=fields.get("description"),
            runtime=fields.get("runtime"),
            policy=fields.get("policy"),
            extensions=fields.get("extensions"),
            tags=list(meta.tags) if isinstance(meta, Metadata) else None,
            stack=fields.get("stack"),
        )


@dataclass
class RegistryPatch:
    display_name: str | None = None
    description: str | None = None
    default_profile_slug: str | None = None
    extensions: dict[str, Any] | None = None
    tags: list[str] | None = None


@dataclass
class MergePlan:
    """A merge of an edit against the current version (`RegistryService.plan_merge`)."""

    base: Profile  # the version the edit started from
    theirs: Profile  # the current version
    yours: Profile  # the edit applied to the base
    result: MergeResult
    merged: Profile | None  # what would be written; None while collisions remain


@dataclass
class SearchHit:
    registry: str
    profile: Profile
    by_tag: bool  # matched only a tag (not the slug, name or description)


@dataclass
class SearchResult:
    hits: list[SearchHit]  # at most the limit, by registry then slug
    total: int  # every match in every registry
    per_registry: dict[str, int]  # registry -> matches (registries with none left out)


@dataclass
class RegistrySummary:
    registry: Registry
    profile_count: int


@dataclass
class DeletedProfile:
    """A profile deleted from a registry and not created again: its history is kept, and
    `restore_revision` (the last revision with content) brings it back as it was."""

    slug: str
    display_name: str
    version: int  # the version it had when deleted
    deleted_at_ms: int
    deleted_by: str
    restore_revision: int | None  # None when no revision with content is left


@dataclass
class StackView:
    """A profile's stack as resolution sees it: its layers (base to leaf), their merge and
    which layer set each value (the provenance the pages show)."""

    layers: list[Layer]
    merged: MergedStack
    trace: StackTrace


@dataclass
class Dependant:
    """A profile that stacks on another, directly (`depth` 1) or through others."""

    registry: str
    profile: Profile
    depth: int


class RegistryService:
    """Use cases over one store. Every write takes an `actor`, a `source` (the channel it came
    through, recorded in `metadata.source`: one of `SOURCES`) and most an `expected_version`."""

    def __init__(
        self,
        store: Store,
        *,
        codecs: CodecRegistry | None = None,
        middlewares: MiddlewareRegistry | None = None,
        default_registry: str = "default",
        limits: Limits | None = None,
    ):
        self._store = store  # private: callers go through the use cases below (one door)
        self.middlewares = middlewares or MiddlewareRegistry(load_definitions())
        self.codecs = codecs or CodecRegistry(builtin_codecs())
        for codec in self.middlewares.codecs():
            if codec.key not in self.codecs:
                self.codecs.register(codec)
        self.default_registry = registry_slug(default_registry, "default_registry")
        self.limits = limits or Limits()
        self._choices: tuple[int, int, list[str] | None] | None = None
        # registry -> (change id, tags): valid while the store's latest change id is the same
        self._tags: dict[str, tuple[int, list[str]]] = {}
        self._rules_digest: tuple[tuple[int, int], str] | None = None

    @property
    def rules_digest(self) -> str:
        """The digest of the rules `prepare_profile` applies (codecs, middleware definitions,
        limits: `content_hash.rules_digest`), given with every validated profile write so
        that imports can skip validating stored content (computed once: the service's
        codecs and middlewares are fixed after start)."""
        codecs, middlewares = self.codecs.all(), self.middlewares.all()
        key = (len(codecs), len(middlewares))  # a codec registered later changes the rules
        if self._rules_digest is None or self._rules_digest[0] != key:
            self._rules_digest = key, rules_digest(codecs, middlewares, self.limits)
        return self._rules_digest[1]

    # --- the store behind the service (lifecycle; the store itself stays private) ----------

    @property
    def backend_kind(self) -> str:
        """`sqlite`, `postgresql` or `yaml`: what pages and `/healthz` show."""
        return self._store.kind

    @property
    def backend_description(self) -> str:
        """The store's kind and URL with any password hidden, for start banners."""
        return f"{self._store.kind} ({redacted_url(self._store.url)})"

    @property
    def supports_history(self) -> bool:
        """False for the YAML store: no revisions, no change feed."""
        return self._store.supports_history

    def release(self) -> None:
        """Hand this thread's idle connection back (end of a web request)."""
        self._store.release()

    def disconnect(self) -> None:
        """Close this thread's connection and every idle pooled one (before a fork)."""
        self._store.disconnect()

    def forget_inherited(self) -> bool:
        """In a forked child: drop, without closing, a connection inherited from the parent
        (closing it would end the parent's session). True when there was one."""
        return self._store.forget_inherited()

    def close(self) -> None:
        """Close the store; later use cases raise `StoreClosed`."""
        self._store.close()

    # --- registries ------------------------------------------------------------------------

    def list_registries(self) -> list[RegistrySummary]:
        counts = self._store.profile_counts()
        return [
            RegistrySummary(r, counts.get(r.slug, 0))
            for r in sorted(self._store.list_registries(), key=lambda r: r.slug)
        ]

    def registry_summary(self, slug: str | None) -> RegistrySummary:
        """One registry's header and how many profiles it holds."""
        reg = self.get_registry(slug)
        return RegistrySummary(reg, self._store.profile_counts().get(reg.slug, 0))

    def find_registry(self, slug: str | None) -> Registry | None:
        """The registry, or None when there is none (`get_registry` raises instead)."""
        return self._store.get_registry(self._registry_slug(slug))

    def ensure_default_registry(self, *, actor: str, source: str) -> Registry | None:
        """Create the default registry unless it exists (start-up: `init`, `serve`); the
        registry created, or None when it already existed. Another instance on the same
        database creating it at the same moment counts as existing."""
        slug = self.default_registry
        if self._store.get_registry(slug) is not None:
            return None
        try:
            return self.create_registry(
                Registry(slug=slug, display_name=slug.title()), actor=actor, source=source
            )
        except AlreadyExists:
            return None

    def get_registry(self, slug: str | None) -> Registry:
        slug = self._registry_slug(slug)
        reg = self._store.get_registry(slug)
        if reg is None:
            raise RegistryNotFound(slug)
        return reg

    def create_registry(self, registry: Registry, *, actor: str = "", source: str = "") -> Registry:
        reg = self.prepare_registry_header(registry)
        if reg.default_profile_slug:
            raise ValidationError(
                FieldError(
                    "registry.default_profile_slug", "default profile does not exist in registry"
                )
            )
        if self._store.get_registry(reg.slug) is not None:
            raise AlreadyExists("registry", reg.slug)
        return self._store.create_registry(reg, WriteOptions(actor=actor, source=source))

    def update_registry(
        self,
        slug: str,
        patch: RegistryPatch,
        *,
        expected_version: int = 0,
        actor: str = "",
        source: str = "",
    ) -> Registry:
        current = self.get_registry(slug)
        self._check_writable(current)
        reg = current.clone()
        if patch.display_name is not None:
            reg.display_name = patch.display_name.strip()
        if patch.description is not None:
            reg.description = patch.description.strip()
        if patch.extensions is not None:
            reg.extensions = copy.deepcopy(patch.extensions)
        if patch.tags is not None:
            reg.metadata.tags = list(patch.tags)
        if patch.default_profile_slug is not None:
            reg.default_profile_slug = patch.default_profile_slug
        reg = self.prepare_registry_header(reg)
        if patch.default_profile_slug is not None:
            self._check_default(reg)
        return self._store.update_registry(
            reg, WriteOptions(expected_version=expected_version, actor=actor, source=source)
        )

    def delete_registry(
        self, slug: str, *, expected_version: int = 0, actor: str = "", source: str = ""
    ) -> None:
        reg = self.get_registry(slug)
        self._check_writable(reg)
        self._refuse_if_stacked_on_from_outside(reg.slug)
        self._store.delete_registry(
            reg.slug, WriteOptions(expected_version=expected_version, actor=actor, source=source)
        )

    def set_default_profile(
        self,
        registry: str | None,
        slug: str,
        *,
        expected_version: int = 0,
        actor: str = "",
        source: str = "",
    ) -> Registry:
        """Make `slug` the registry's default. No read-only-profile check (as the reference)."""
        return self.update_registry(
            self._registry_slug(registry),
            RegistryPatch(default_profile_slug=profile_slug(slug)),
            expected_version=expected_version,
            actor=actor,
            source=source,
        )

    # --- profiles --------------------------------------------------------------------------

    def list_profiles(
        self,
        registry: str | None,
        *,
        q: str = "",
        tag: str = "",
        limit: int = 50,
        cursor: str = "",
        before: str = "",
        last: bool = False,
        sort: str = "slug",
        descending: bool = False,
    ) -> ProfilePage:
        """A keyset page of a registry's profiles (see `paging.py`): after `cursor`, before
        `before`, the `last` page, or the first."""
        reg = self.get_registry(registry)
        if limit < 1 or limit > MAX_PAGE:
            raise ValidationError(FieldError("limit", f"must be between 1 and {MAX_PAGE}"))
        # one position: `cursor` wins over `before`, either over `last` (a link built from
        # a page's own cursors never carries two)
        before = "" if cursor else before
        last = last and not (cursor or before)
        sort = check_sort(sort)
        cursor = self._position(reg.slug, sort, cursor)
        before = self._position(reg.slug, sort, before)
        query = ProfileQuery(
            q=q.strip(),
            tag=tag.strip(),
            limit=limit,
            after=cursor,
            before=before,
            last=last,
            sort=sort,
            descending=descending,
        )
        return self._store.list_profiles(reg.slug, query)

    def _position(self, registry: str, sort: str, cursor: str) -> str:
        """A cursor of `sort` for `cursor`: a cursor this sort issued, or a profile's slug (the
        page after or before that profile, in any sort). Anything else names no position:
        ProfileNotFound (404), like any other unknown identifier."""
        if not cursor or sort == "slug" or is_cursor(sort, cursor):
            return cursor
        found = self._store.get_profile(registry, cursor.strip().lower())
        if found is None:
            raise ProfileNotFound(cursor)
        return cursor_of(found, sort)

    def search_profiles(self, q: str, limit: int = 20) -> SearchResult:
        """Profiles of every registry whose slug, name, description or tags hold `q` (any
        case): the header's search box, for when the registry is not known. Reads one page of
        `limit` and a count per registry."""
        q = q.strip()
        if limit < 1 or limit > MAX_PAGE:
            raise ValidationError(FieldError("limit", f"must be between 1 and {MAX_PAGE}"))
        hits: list[SearchHit] = []
        per_registry: dict[str, int] = {}
        if not q:
            return SearchResult(hits=hits, total=0, per_registry=per_registry)
        folded = q.casefold()
        for reg in sorted(self._store.list_registries(), key=lambda r: r.slug):
            page = self._store.list_profiles(reg.slug, ProfileQuery(q=q, limit=limit))
            if page.total:
                per_registry[reg.slug] = page.total
            for p in page.items[: limit - len(hits)]:
                text = "\n".join((p.slug, p.display_name, p.description)).casefold()
                hits.append(SearchHit(reg.slug, p, by_tag=folded not in text))
        return SearchResult(hits=hits, total=sum(per_registry.values()), per_registry=per_registry)

    def list_tags(self, registry: str | None) -> list[str]:
        """The tags a registry's profiles use (for pickers), case-insensitively distinct.

        Reading them scans the registry's tag column, so the answer is kept until the store's
        latest change id moves (one cheap query; any write anywhere moves it, so the list is
        never stale; stores without a change feed are read every time)."""
        slug = self.get_registry(registry).slug
        change = self._store.latest_change_id()
        hit = self._tags.get(slug)
        if hit is not None and change and hit[0] == change:
            return list(hit[1])
        tags = self._store.list_tags(slug)
        self._tags[slug] = (change, tags)
        return list(tags)

    def iter_profiles(self, registry: str | None) -> Iterator[Profile]:
        return self._store.iter_profiles(self.get_registry(registry).slug)

    def get_profile(self, registry: str | None, slug: str) -> Profile:
        return self.registry_and_profile(registry, slug)[1]

    def registry_and_profile(self, registry: str | None, slug: str) -> tuple[Registry, Profile]:
        """A registry's header and one of its profiles, read together (one query on SQL
        stores: a chat read or a resolve is one round trip). A missing registry is reported
        before a malformed or missing profile slug, as reading them one by one would."""
        reg_slug = self._registry_slug(registry)
        try:
            slug = profile_slug(slug)
        except ValidationError:
            self.get_registry(reg_slug)  # a missing registry is the answer (404) first
            raise
        reg, profile = self._store.get_registry_profile(reg_slug, slug)
        if reg is None:
            raise RegistryNotFound(reg_slug)
        if profile is None:
            raise ProfileNotFound(slug)
        return reg, profile

    def find_profile(self, registry: str | None, slug: str) -> Profile | None:
        """The profile, or None when it or its registry does not exist (one read: callers
        that already hold the registry use this to learn whether the profile exists)."""
        return self._store.get_profile(self._registry_slug(registry), profile_slug(slug))

    def _profile_in(self, reg: Registry, slug: str) -> Profile:
        """A profile of a registry already read (saves reading the registry again)."""
        profile = self._store.get_profile(reg.slug, profile_slug(slug))
        if profile is None:
            raise ProfileNotFound(profile_slug(slug))
        return profile

    def create_profile(
        self,
        registry: str | None,
        profile: Profile,
        *,
        actor: str = "",
        source: str = "",
        expected_version: int = 0,
        operation: str = "",
        set_default: bool = False,
    ) -> Profile:
        """Create a profile; the first profile of a registry becomes its default (README,
        Concepts and decisions: "Default profile"),
        and so does this one with `set_default` (in the same transaction: both or neither)."""
        reg = self.get_registry(registry)
        self._check_writable(reg)
        prepared = self.prepare_profile(profile)
        if self._store.get_profile(reg.slug, prepared.slug) is not None:
            raise AlreadyExists("profile", prepared.slug)
        self.check_stack(reg.slug, prepared)
        opts = WriteOptions(
            expected_version=expected_version,
            actor=actor,
            source=source,
            operation=operation,
            rules=self.rules_digest,
        )
        with self._store.atomic():
            created = self._insert(reg, prepared, opts)
            if set_default:
                self._make_default(reg.slug, created.slug, actor=actor, source=source)
        return created

    def _insert(self, reg: Registry, prepared: Profile, opts: WriteOptions) -> Profile:
        """Store a new profile; the first profile of a registry becomes its default."""
        with self._store.atomic():
            created = self._store.create_profile(reg.slug, prepared, opts)
            if not reg.default_profile_slug:
                reg.default_profile_slug = created.slug
                self._store.update_registry(reg, WriteOptions(actor=opts.actor, source=opts.source))
        return created

    def update_profile(
        self,
        registry: str | None,
        slug: str,
        patch: ProfilePatch,
        *,
        expected_version: int = 0,
        actor: str = "",
        source: str = "",
        set_default: bool = False,
    ) -> Profile:
        """Apply a patch; with `set_default` the profile also becomes its registry's default
        in the same transaction (both or neither)."""
        return self.patch_profile(
            registry,
            slug,
            patch,
            expected_version=expected_version,
            actor=actor,
            source=source,
            set_default=set_default,
        )[1]

    def patch_profile(
        self,
        registry: str | None,
        slug: str,
        patch: ProfilePatch,
        *,
        expected_version: int = 0,
        actor: str = "",
        source: str = "",
        set_default: bool = False,
    ) -> tuple[Registry, Profile]:
        """`update_profile`, also giving the registry header as it is after the write (an
        answer says whether the profile is the default) without reading it again."""
        reg, current = self._writable_pair(registry, slug)
        if current.policy.read_only:
            raise PolicyViolation("profile is read-only", current.slug)
        prepared = self.prepare_update(current, patch)
        if prepared.stack != current.stack:
            self.check_stack(reg.slug, prepared)
        updated = self._write_update(
            reg, current, prepared, expected_version, actor, source, set_default=set_default
        )
        if set_default and reg.default_profile_slug != updated.slug:
            reg = self.get_registry(reg.slug)  # its default (and version) moved
        return reg, updated

    def _writable_pair(self, registry: str | None, slug: str) -> tuple[Registry, Profile]:
        """A writable registry and one of its profiles, read together; the errors come in
        the order reading them one by one gives (registry missing, registry read-only,
        profile slug malformed, profile missing)."""
        reg_slug = self._registry_slug(registry)
        try:
            slug = profile_slug(slug)
        except ValidationError:
            self._check_writable(self.get_registry(reg_slug))
            raise
        reg, current = self._store.get_registry_profile(reg_slug, slug)
        if reg is None:
            raise RegistryNotFound(reg_slug)
        self._check_writable(reg)
        if current is None:
            raise ProfileNotFound(slug)
        return reg, current

    def _write_update(
        self,
        reg: Registry,
        current: Profile,
        prepared: Profile,
        expected_version: int,
        actor: str,
        source: str,
        *,
        set_default: bool = False,
    ) -> Profile:
        """Store an update, or nothing when it changes nothing (`is_noop`): then the current
        profile is the answer, same version, no revision, no change-feed entry.

        Only `set_default` needs a group around the write; a lone write is the store's own
        transaction, so SQLite's write lock (and PostgreSQL's change lock) is held for the
        statements alone, and a no-op opens no transaction at all."""
        noop = is_noop(current, prepared, expected_version)
        opts = WriteOptions(
            expected_version=expected_version,
            actor=actor,
            source=source,
            rules=self.rules_digest,
            stored=current.metadata,  # just read: the store need not read it again
        )
        if not set_default:
            return current if noop else self._store.update_profile(reg.slug, prepared, opts)
        with self._store.atomic():
            updated = current if noop else self._store.update_profile(reg.slug, prepared, opts)
            self._make_default(reg.slug, updated.slug, actor=actor, source=source)
        return updated

    # --- merging an edit made against an old version ---------------------------------------

    def base_profile(self, registry: str | None, slug: str, base_version: int) -> Profile:
        """The profile as it was at `base_version` (from its history), for a merge.

        Raises `MergeUnavailable` when the store keeps no history or the version is not in
        the profile's current history (or beyond its current version)."""
        reg = self.get_registry(registry)
        current = self._profile_in(reg, slug)
        return self._base_of(reg, current, base_version)

    def _base_of(self, reg: Registry, current: Profile, base_version: int) -> Profile:
        now = current.metadata.version
        if base_version < 1:
            raise ValidationError(FieldError("merge", "base version must be at least 1"))
        if base_version > now:
            raise MergeUnavailable(
                f"profile {current.slug!r} is at version {now}; it has no version {base_version}"
            )
        if base_version == now:
            return current.clone()
        if not self._store.supports_history:
            raise MergeUnavailable(
                f"the {self._store.kind} store keeps no history, so version {base_version} "
                "is unknown; fetch the profile and apply your changes again"
            )
        # versions grow by one per write, so the base is at most this many revisions back
        for rev in self._store.list_revisions(reg.slug, current.slug, now - base_version + 1):
            if rev.version == base_version and rev.snapshot is not None:
                return rev.snapshot.clone()
        raise MergeUnavailable(
            f"version {base_version} is not in the history of profile {current.slug!r}; "
            "fetch the profile and apply your changes again"
        )

    def plan_merge(
        self,
        registry: str | None,
        slug: str,
        patch: ProfilePatch,
        *,
        base_version: int,
        resolutions: dict[str, str] | None = None,
    ) -> MergePlan:
        """What `merge_update` would do, without writing: `patch` applied to the base version
        (yours), merged field by field with the current version (theirs), see `merge`."""
        reg = self.get_registry(registry)
        current = self._profile_in(reg, slug)
        return self._plan(reg, current, patch, base_version, resolutions)

    def _plan(
        self,
        reg: Registry,
        current: Profile,
        patch: ProfilePatch,
        base_version: int,
        resolutions: dict[str, str] | None,
    ) -> MergePlan:
        base = self._base_of(reg, current, base_version)
        yours = self.prepare_update(base, patch)
        result = merge_profiles(base, current, yours, resolutions)
        merged = None
        if result.clean:
            merged = self.prepare_update(current, patch_from_content(current.slug, result.merged))
        return MergePlan(base=base, theirs=current, yours=yours, result=result, merged=merged)

    def merge_update(
        self,
        registry: str | None,
        slug: str,
        patch: ProfilePatch,
        *,
        base_version: int,
        theirs_version: int = 0,
        resolutions: dict[str, str] | None = None,
        actor: str = "",
        source: str = "",
        set_default: bool = False,
    ) -> Profile:
        """Apply `patch`, made against `base_version`, on top of the current version: fields
        only the patch changed are applied, fields changed meanwhile are kept, fields both
        changed differently raise `MergeConflict` unless `resolutions` names the side to keep
        for each. `theirs_version` (0 = any) is the current version the caller saw its
        resolutions against: a newer one raises `VersionConflict` (look again)."""
        reg = self.get_registry(registry)
        self._check_writable(reg)
        current = self._profile_in(reg, slug)
        if current.policy.read_only:
            raise PolicyViolation("profile is read-only", current.slug)
        now = current.metadata.version
        if theirs_version and theirs_version != now:
            raise VersionConflict("profile", current.slug, theirs_version, now)
        plan = self._plan(reg, current, patch, base_version, resolutions)
        if plan.merged is None:
            raise MergeConflict(current.slug, base_version, now, plan.result.collisions)
        if plan.merged.stack != current.stack:
            self.check_stack(reg.slug, plan.merged)
        return self._write_update(
            reg, current, plan.merged, now, actor, source, set_default=set_default
        )

    def _make_default(self, registry: str, slug: str, *, actor: str, source: str) -> None:
        """Inside a write's transaction: make `slug` the default unless it already is."""
        if self.get_registry(registry).default_profile_slug != slug:
            self.set_default_profile(registry, slug, actor=actor, source=source)

    def delete_profile(
        self,
        registry: str | None,
        slug: str,
        *,
        expected_version: int = 0,
        actor: str = "",
        source: str = "",
    ) -> None:
        """Delete a profile. Deleting the default while others remain is refused (README,
        Concepts and decisions: "Default profile")."""
        reg = self.get_registry(registry)
        self._check_writable(reg)
        current = self._profile_in(reg, slug)
        if current.policy.read_only:
            raise PolicyViolation("profile is read-only", current.slug)
        if self.default_blocks_delete(reg, current.slug):
            raise DefaultProfileInUse(current.slug)
        stacked = self._store.find_dependants(reg.slug, current.slug)
        if stacked:
            raise StackedOn(
                node_name((reg.slug, current.slug)),
                [node_name((r, p.slug)) for r, p in stacked],
            )
        opts = WriteOptions(expected_version=expected_version, actor=actor, source=source)
        with self._store.atomic():
            self._store.delete_profile(reg.slug, current.slug, opts)
            if reg.default_profile_slug == current.slug:
                reg.default_profile_slug = ""
                self._store.update_registry(reg, WriteOptions(actor=actor, source=source))

    def default_blocks_delete(self, reg: Registry, slug: str) -> bool:
        """True when `slug` is the registry's default and other profiles remain."""
        if reg.default_profile_slug != slug:
            return False
        page = self._store.list_profiles(reg.slug, ProfileQuery(limit=2))
        return any(p.slug != slug for p in page.items)

    def clone_profile(
        self,
        registry: str | None,
        slug: str,
        new_slug: str,
        *,
        target_registry: str | None = None,
        display_name: str | None = None,
        actor: str = "",
        source: str = "",
    ) -> Profile:
        """Copy a profile under a new slug (optionally into another registry), fresh history."""
        original = self.get_profile(registry, slug)
        clone = original.clone()
        clone.slug = profile_slug(new_slug, "slug")
        clone.metadata = Metadata(tags=list(original.metadata.tags))
        clone.policy.read_only = False
        if display_name is not None:
            clone.display_name = display_name
        target = target_registry if target_registry is not None else registry
        source_registry = self._registry_slug(registry)
        if self._registry_slug(target) != source_registry:
            for ref in clone.stack:  # keep pointing at the same bases from the other registry
                ref.registry_slug = ref.registry_slug or source_registry
        return self.create_profile(target, clone, actor=actor, source=source, operation="clone")

    # --- history ---------------------------------------------------------------------------

    def list_revisions(self, registry: str | None, slug: str, limit: int = 100) -> list[Revision]:
        reg = self.get_registry(registry)
        slug = profile_slug(slug)
        revisions = self._store.list_revisions(reg.slug, slug, limit)
        if not revisions and self._store.get_profile(reg.slug, slug) is None:
            raise ProfileNotFound(slug)
        return revisions

    def list_deleted_profiles(self, registry: str | None, limit: int = 50) -> list[DeletedProfile]:
        """Profiles deleted from `registry` that can be restored, newest deletion first
        (empty for stores without history)."""
        reg = self.get_registry(registry)
        out = []
        for deleted in self._store.list_deleted_profiles(reg.slug, min(max(1, limit), MAX_PAGE)):
            revisions = self._store.list_revisions(reg.slug, deleted.profile, 2)
            last = next((r for r in revisions if r.snapshot is not None), None)
            out.append(
                DeletedProfile(
                    slug=deleted.profile,
                    display_name=last.snapshot.display_name if last and last.snapshot else "",
                    version=deleted.version,
                    deleted_at_ms=deleted.at_ms,
                    deleted_by=deleted.actor,
                    restore_revision=last.id if last else None,
                )
            )
        return out

    def get_revision(self, registry: str | None, slug: str, revision_id: int) -> Revision:
        reg = self.get_registry(registry)
        rev = self._store.get_revision(reg.slug, profile_slug(slug), revision_id)
        if rev is None:
            raise RevisionNotFound(revision_id)
        return rev

    def restore_revision(
        self,
        registry: str | None,
        slug: str,
        revision_id: int,
        *,
        expected_version: int = 0,
        actor: str = "",
        source: str = "",
    ) -> Profile:
        """Write an older snapshot as a new revision (recreating a deleted profile if needed)."""
        reg = self.get_registry(registry)
        self._check_writable(reg)
        rev = self.get_revision(reg.slug, slug, revision_id)
        if rev.snapshot is None:
            raise ValidationError(
                FieldError("revision", "this revision records a delete; pick an earlier one")
            )
        snapshot = rev.snapshot.clone()
        current = self._store.get_profile(reg.slug, snapshot.slug)
        prepared = self.prepare_profile(snapshot)
        if current is None or current.stack != prepared.stack:
            self.check_stack(reg.slug, prepared)
        if current is None:
            opts = WriteOptions(
                expected_version=expected_version,
                actor=actor,
                source=source,
                operation="restore",
                rules=self.rules_digest,
            )
            return self._insert(reg, prepared, opts)
        if current.policy.read_only:
            raise PolicyViolation("profile is read-only", current.slug)
        prepared.metadata.tags = list(snapshot.metadata.tags)
        return self._store.update_profile(
            reg.slug,
            prepared,
            WriteOptions(
                expected_version=expected_version,
                actor=actor,
                source=source,
                operation="restore",
                rules=self.rules_digest,
            ),
        )

    def list_changes(self, after: int = 0, limit: int = 100) -> list[Change]:
        return self._store.list_changes(after, limit)

    def recent_changes(self, limit: int = 15) -> list[Change]:
        """The `limit` newest changes, newest first (empty without history). Read from the
        feed's end, never from id arithmetic: PostgreSQL sequences leave gaps."""
        if not self._store.supports_history:
            return []
        return self._store.list_changes(0, limit, newest_first=True)

    def recent_activity(self, limit: int = 15, scan: int = 2000) -> list[ChangeGroup]:
        """The newest `limit` lines of activity, bulk imports folded into one line each
        (reads at most `scan` feed entries, so a huge import is "2,000+ profiles")."""
        if not self._store.supports_history:
            return []
        changes = self._store.list_changes(0, scan, newest_first=True)
        return group_changes(changes, limit, exhausted=len(changes) < scan)

    def latest_change_id(self) -> int:
        return self._store.latest_change_id()

    # --- resolution ------------------------------------------------------------------------

    def resolve(
        self,
        registry: str | None = None,
        profile: str | None = None,
        request_overrides: Any = None,
    ) -> ResolvedProfile:
        """(registry, profile, overrides) -> effective runtime + fingerprint (README, Concepts
        and decisions: "Resolution")."""
        if profile is not None and profile.strip():
            reg, stored = self.registry_and_profile(registry, profile)
        else:
            reg = self.get_registry(registry)
            stored = self._profile_in(reg, self._resolve_profile_slug(reg, profile))
        overrides = normalize_overrides(request_overrides)
        view = self._stack_view(reg.slug, stored)
        merged = view.merged
        enforce(merged.policy, overrides)
        runtime = apply_overrides(merged.runtime, overrides) if overrides else merged.runtime
        if "middlewares" in overrides:  # the request's list: configs read by position
            configs = effective_configs(runtime.middlewares, merged.extensions, self.middlewares)
        else:
            origins = [
                (view.layers[src.layer].profile.extensions, src.index)
                for src in merged.middleware_sources
            ]
            configs = effective_configs(
                runtime.middlewares, merged.extensions, self.middlewares, origins=origins
            )
        for use in runtime.middlewares:
            use.config = None
        resolved = ResolvedProfile(
            registry=reg.slug,
            profile=stored.slug,
            version=stored.metadata.version,
            runtime_key=stored.slug,
            effective_runtime=runtime,
            middleware_configs=configs,
            extensions=merged.extensions,
            source=stored.metadata.source or reg.metadata.source,
            stack_lineage=lineage(view.layers),
            stack_trace=view.trace.to_data(),
        )
        resolved.fingerprint = fingerprint(resolved)
        return resolved

    def stack_view(self, registry: str | None, slug: str) -> StackView:
        """The layers, merge and provenance of a profile's stack (no request overrides)."""
        reg, profile = self.registry_and_profile(registry, slug)
        return self._stack_view(reg.slug, profile)

    def _stack_view(self, registry: str, root: Profile) -> StackView:
        key = (registry, root.slug)
        graph = collect_graph({key: root}, self._store.get_profiles)
        layers = expand_stack(key, graph, registry_exists=self._registry_exists)
        merged = merge_layers(layers)
        return StackView(layers, merged, trace_layers(layers, merged))

    def dependants(self, registry: str | None, slug: str) -> list[Dependant]:
        """Every profile stacked on this one, directly or through others, nearest first
        (then by registry and slug): what a change to it affects."""
        reg = self.get_registry(registry)
        current = self._profile_in(reg, slug)
        out: list[Dependant] = []
        seen: set[Key] = {(reg.slug, current.slug)}
        level: list[Key] = [(reg.slug, current.slug)]
        depth = 0
        while level and depth < MAX_STACK_DEPTH:
            depth += 1
            found: dict[Key, Profile] = {}
            for key in level:
                for r, p in self._store.find_dependants(*key):
                    if (r, p.slug) not in seen:
                        found[(r, p.slug)] = p
            seen.update(found)
            out.extend(Dependant(k[0], found[k], depth) for k in sorted(found))
            level = sorted(found)
        return out

    def stack_choices(self, limit: int = 100) -> list[str] | None:
        """Every profile as `registry/profile` (what a stack may name), or None when the store
        holds more than `limit` (pickers then take typed refs)."""
        change = self._store.latest_change_id() if self._store.supports_history else -1
        cached = self._choices
        if change >= 0 and cached is not None and cached[:2] == (change, limit):
            return cached[2]
        counts = self._store.profile_counts()
        choices = None
        if sum(counts.values()) <= limit:
            choices = [
                node_name((reg, p.slug))
                for reg in sorted(counts)
                for p in self._store.iter_profiles(reg)
            ]
        self._choices = (change, limit, choices)  # valid until the next change
        return choices

    def check_stack(self, registry: str, profile: Profile) -> None:
        """Refuse (`ValidationError` at `profile.stack[i]`) a stack whose own refs point at
        missing profiles, that closes a cycle, or whose chain would be deeper than
        `MAX_STACK_DEPTH` counting the profiles stacked on this one (README, "Stacks")."""
        if not profile.stack:
            return
        key = (registry, profile.slug)
        graph = collect_graph({key: profile}, self._store.get_profiles)
        errors = check_topology(
            key,
            graph,
            registry_exists=self._registry_exists,
            field_of=lambda i: f"profile.stack[{i}]",
        )
        if not errors:
            above = height(key, self._direct_dependants)
            if above:
                depth = _chain_depth(key, graph)
                if above + depth > MAX_STACK_DEPTH:
                    errors.append(
                        FieldError(
                            "profile.stack",
                            f"stack depth exceeds max_depth={MAX_STACK_DEPTH}: "
                            f"{above} profile(s) stack on {node_name(key)} and its own stack "
                            f"is {depth} deep",
                        )
                    )
        if errors:
            raise ValidationError(errors)

    def _direct_dependants(self, key: Key) -> list[Key]:
        return [(r, p.slug) for r, p in self._store.find_dependants(*key)]

    def _registry_exists(self, slug: str) -> bool:
        return self._store.get_registry(slug) is not None

    def _refuse_if_stacked_on_from_outside(self, registry: str) -> None:
        """Deleting a registry whose profiles others (in other registries) stack on: 409."""
        outside: dict[str, list[str]] = {}
        for r, p in self._store.find_dependants(registry, None):
            if r == registry:
                continue
            for ref in p.stack:
                target = ref_target(ref, r)
                if target[0] == registry:
                    outside.setdefault(target[1], []).append(node_name((r, p.slug)))
        if outside:
            first = sorted(outside)[0]
            raise StackedOn(node_name((registry, first)), outside[first])

    def resolve_selection(
        self, selection: Selection, request_overrides: Any = None
    ) -> ResolvedProfile:
        """Resolve what `select_profile` returned, reading a legacy bare-slug cookie."""
        profile = selection.profile
        if selection.legacy_cookie_profile:
            reg = self.get_registry(None)
            if self._store.get_profile(reg.slug, selection.legacy_cookie_profile) is not None:
                profile = selection.legacy_cookie_profile
        return self.resolve(selection.registry, profile, request_overrides)

    def current_profile(self, selection: Selection) -> tuple[str, str]:
        """`(registry, profile)` a chat client has selected with its cookie.

        Never fails: a stale or unknown cookie choice falls back to the default registry's
        default profile, else the literal `default` (clients just show what they get).
        """
        if selection.registry and selection.profile:
            reg = self._store.get_registry(selection.registry)
            if reg is not None and self._store.get_profile(reg.slug, selection.profile) is not None:
                return reg.slug, selection.profile
        default = self._store.get_registry(self.default_registry)
        legacy = selection.legacy_cookie_profile
        if legacy and default and self._store.get_profile(default.slug, legacy) is not None:
            return default.slug, legacy
        fallback = default.default_profile_slug if default is not None else ""
        return self.default_registry, fallback or "default"

    def _resolve_profile_slug(self, reg: Registry, profile: str | None) -> str:
        if profile is not None and profile.strip():
            return profile_slug(profile)
        if reg.default_profile_slug:
            return reg.default_profile_slug
        if self._store.get_profile(reg.slug, "default") is not None:
            return "default"
        raise ValidationError(
            FieldError("profile.slug", "profile slug is required and registry has no default")
        )

    # --- validation shared by every write path ---------------------------------------------

    def prepare_update(self, current: Profile, patch: ProfilePatch) -> Profile:
        """The profile `update_profile` would write for `patch`, validated: the patch applied,
        stored middleware configs moved with their uses (`remap_configs`), then
        `prepare_profile`. The editor validates with this, so it never disagrees with a save."""
        updated = apply_patch(current, patch)
        remap_configs(
            current.runtime.middlewares,
            updated.runtime.middlewares,
            updated.extensions,
            current.extensions,
            self.middlewares,
        )
        return self._prepare_own(updated)

    def prepare_profile(
        self, profile: Profile, *, strict: bool = False, owned: bool = False
    ) -> Profile:
        """Normalize and validate a profile for writing; raises one `ValidationError` listing
        every problem. Runs for the UI, the API, imports and the CLI alike. `owned`: nobody
        else holds `profile` (a freshly decoded document), so it is normalized in place."""
        return self._prepare_own(profile if owned else profile.clone(), strict=strict)

    def _prepare_own(self, p: Profile, *, strict: bool = False) -> Profile:
        """`prepare_profile` of a profile nobody else holds (normalized in place: a patched
        copy needs no second copy)."""
        refused = refused_text(p)
        if refused:
            raise ValidationError(refused)
        p.repaired = []  # what is written passed today's checks
        p.display_name = p.display_name.strip()
        p.description = p.description.strip()
        p.metadata.tags = [t.strip() for t in p.metadata.tags]
        errors = validate_profile(p)
        if not errors:
            p.slug = profile_slug(p.slug)
            for ref in p.stack:  # stored normalized: a blank registry stays blank
                ref.profile_slug = profile_slug(ref.profile_slug)
                ref.registry_slug = (
                    registry_slug(ref.registry_slug) if ref.registry_slug.strip() else ""
                )
        errors += project_configs(p, self.middlewares)
        p.extensions, ext_errors = normalize_extensions(
            p.extensions, self.codecs, limits=self.limits, strict=strict, owned=True
        )
        errors += ext_errors
        if not errors:
            try:
                check_json(
                    profile_to_data(p, shared=True),
                    max_depth=self.limits.depth + 4,
                    max_bytes=self.limits.profile_bytes,
                )
            except NotJSON as exc:
                errors.append(FieldError("profile", str(exc)))
        if errors:
            raise ValidationError(errors)
        return p

    def prepare_registry_header(self, registry: Registry) -> Registry:
        reg = registry.header()
        refused = refused_registry_text(reg)
        if refused:
            raise ValidationError(refused)
        reg.repaired = []
        reg.display_name = reg.display_name.strip()
        reg.description = reg.description.strip()
        reg.metadata.tags = [t.strip() for t in reg.metadata.tags]
        errors = validate_registry_header(reg)
        reg.extensions, ext_errors = normalize_extensions(
            reg.extensions, self.codecs, path="registry.extensions", limits=self.limits
        )
        errors += ext_errors
        if errors:
            raise ValidationError(errors)
        reg.slug = registry_slug(reg.slug)
        if reg.default_profile_slug.strip():
            reg.default_profile_slug = profile_slug(
                reg.default_profile_slug, "registry.default_profile_slug"
            )
        else:  # blank (any whitespace) unsets it, as documented
            reg.default_profile_slug = ""
        return reg

    # --- repairs (`profile-registry doctor`) -------------------------------------------------

    def repair_profile(
        self, registry: str, slug: str, *, actor: str = "doctor", source: str = ""
    ) -> Profile:
        """Write a profile back as today's rules make it: text that was repaired when read
        (U+FFFD for refused characters) and middleware config slots no use reads dropped.
        An admin repair, like an import: read-only profiles too, never a registry managed
        by a file (the next start would seed it again)."""
        reg = self.get_registry(registry)
        self._check_writable(reg)
        current = self._profile_in(reg, slug)
        prepared = self.prepare_update(current, ProfilePatch())
        opts = WriteOptions(
            expected_version=current.metadata.version,
            actor=actor,
            source=source,
            rules=self.rules_digest,
        )
        return self._store.update_profile(reg.slug, prepared, opts)

    def _check_default(self, reg: Registry) -> None:
        if not reg.default_profile_slug:
            page = self._store.list_profiles(reg.slug, ProfileQuery(limit=1))
            if page.items:
                raise DefaultProfileRequired()
            return
        if self._store.get_profile(reg.slug, reg.default_profile_slug) is None:
            raise ProfileNotFound(reg.default_profile_slug)

    def _check_writable(self, reg: Registry) -> None:
        reg.require_writable()

    def _registry_slug(self, slug: str | None) -> str:
        if slug is None or not slug.strip():
            return self.default_registry
        return registry_slug(slug, "registry")


def apply_patch(current: Profile, patch: ProfilePatch) -> Profile:
    """The profile after a patch: present fields replace, absent fields are unchanged."""
    p = current.clone()
    if patch.display_name is not None:
        p.display_name = patch.display_name
    if patch.description is not None:
        p.description = patch.description
    if patch.runtime is not None:
        p.runtime = copy_value(patch.runtime)
    if patch.policy is not None:
        p.policy = copy_value(patch.policy)
    if patch.extensions is not None:
        p.extensions = copy_value(patch.extensions)
    if patch.tags is not None:
        p.metadata.tags = list(patch.tags)
    if patch.stack is not None:
        p.stack = copy_value(patch.stack)
    return p


def _chain_depth(key: Key, graph: dict[Key, Profile]) -> int:
    """How many profiles the longest chain from `key` down holds, `key` included (the graph
    has passed `check_topology`: no cycle)."""
    memo: dict[Key, int] = {}

    def depth(k: Key) -> int:
        if k not in memo:
            node = graph.get(k)
            below = [depth(ref_target(r, k[0])) for r in node.stack] if node else []
            memo[k] = 1 + max(below, default=0)
        return memo[k]

    return depth(key)


def is_noop(current: Profile, prepared: Profile, expected_version: int = 0) -> bool:
    """True when writing `prepared` over `current` would change nothing: same content
    (canonical JSON of everything but server-managed metadata), no repaired text to store,
    and no stale `expected_version` (a stale write stays a conflict)."""
    if expected_version and expected_version != current.metadata.version:
        return False
    if current.repaired:
        return False
    if _text_fields(current) != _text_fields(prepared):  # a cheap answer for most writes
        return False
    return canonical_json(content(current)) == canonical_json(content(prepared))


def _text_fields(p: Profile) -> tuple[object, ...]:
    """Fields of `content` compared as they are: strings and lists of strings, equal exactly
    when their canonical JSON is (unlike numbers, where 1 == 1.0 == True)."""
    rt = p.runtime
    return (p.display_name, p.description, rt.system_prompt, rt.tools, p.metadata.tags)


def patch_from_content(slug: str, data: dict[str, Any]) -> ProfilePatch:
    """A patch setting every field to a content tree's value (`merge.content`)."""
    parsed = profile_from_data({"slug": slug, **data})
    return ProfilePatch(
        display_name=parsed.display_name,
        description=parsed.description,
        runtime=parsed.runtime,
        policy=parsed.policy,
        extensions=parsed.extensions,
        tags=list(parsed.metadata.tags),
        stack=parsed.stack,
    )


def redacted_url(url: str) -> str:
    """A database URL with its password hidden (what start banners print)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
