"""The `Store` protocol: the only persistence API the domain knows (see README, Architecture).

Stores are deliberately simple: they keep data, enforce optimistic concurrency and record
history. Every business rule (validation, policy, defaults, codecs) lives in the service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .model import Metadata, Profile, Registry


@dataclass(frozen=True)
class WriteOptions:
    """How a write is made.

    `expected_version` 0 means unconditional. `actor` is recorded in metadata and history.
    `keep_metadata` (imports only) stores the incoming metadata of a created item as declared
    instead of starting a fresh history at version 1.
    """

    expected_version: int = 0
    actor: str = ""
    source: str = ""
    keep_metadata: bool = False
    operation: str = ""  # recorded in history; defaults to create/update/delete
    # the digest of the validation rules a profile write passed (`content_hash`); "" when
    # the profile was not validated: its stored content hash then never matches
    rules: str = ""
    # slug -> `content_hash` of the profile as the caller received it, before validation
    # normalized it (imports): kept as the row's `input_hash` so the same input is
    # recognized again; a write without one stores ""
    input_hashes: Mapping[str, str] = field(default_factory=dict)
    # an update's target as the caller just read it (its metadata, version included): a
    # store may write on that version without reading the row again, and read it only when
    # the conditional write finds the row moved on (the outcome is the same either way)
    stored: Metadata | None = None


@dataclass(frozen=True)
class ProfileQuery:
    """A keyset page of profiles (see `paging.py`): the page after `after`, before `before`,
    the `last` page, or the first; in `sort` order (reversed when `descending`)."""

    q: str = ""
    tag: str = ""  # matched case-insensitively
    limit: int = 50
    after: str = ""
    before: str = ""
    last: bool = False
    sort: str = "slug"
    descending: bool = False


@dataclass
class ProfilePage:
    items: list[Profile]
    next_cursor: str = ""  # "" when there is no further page
    total: int = 0  # profiles matching the query (all pages)
    prev_cursor: str = ""  # "" on the first page
    offset: int = 0  # matching profiles before the first item (its position - 1)


@dataclass
class Revision:
    """One write to a profile, with the full snapshot after it (None after a delete)."""

    id: int  # the change id: unique and increasing across the whole store
    registry: str
    profile: str
    version: int
    operation: str  # create | update | delete | restore | import | ...
    actor: str
    at_ms: int
    snapshot: Profile | None = None


@dataclass
class Change:
    """One entry of the change feed; `profile` is "" for registry-level writes."""

    id: int
    registry: str
    profile: str
    operation: str
    version: int
    actor: str
    at_ms: int


@runtime_checkable
class Connections(Protocol):
    """The connection lifecycle of something that may hold database connections: the stores,
    the token store, and the service in front of a store. No-ops where nothing is held."""

    def release(self) -> None:
        """Hand this thread's idle connection back (end of a web request)."""
        ...

    def disconnect(self) -> None:
        """Close this thread's connection and every idle pooled one (before a fork: a child
        must not inherit a socket or SQLite handle)."""
        ...

    def forget_inherited(self) -> bool:
        """In a forked child: drop, without closing, a connection inherited from the parent
        (closing it would end the parent's session). True when there was one."""
        ...


@runtime_checkable
class Store(Connections, Protocol):
    """Persistence for registries, profiles and their history.

    Reads return copies: mutating a result never changes the store. Writes check
    `opts.expected_version` against the stored version (0 = no check) and raise
    `VersionConflict`; they touch metadata (version +1, updated_*; created_* kept; tags taken
    from the incoming object) and record a revision/change in the same transaction.
    Missing targets raise `RegistryNotFound` / `ProfileNotFound`; duplicates `AlreadyExists`.
    """

    kind: str  # "sqlite", "postgresql" or "yaml"
    url: str  # what `open_store` takes to open the same data again (may hold a password)
    supports_history: bool

    def close(self) -> None: ...

    def atomic(self) -> AbstractContextManager[None]:
        """Group writes: all of them land or none (nesting allowed)."""
        ...

    # registries (headers: `profiles` is always empty)
    def list_registries(self) -> list[Registry]: ...
    def get_registry(self, slug: str) -> Registry | None: ...
    def profile_counts(self) -> dict[str, int]: ...
    def create_registry(self, registry: Registry, opts: WriteOptions) -> Registry: ...
    def update_registry(self, registry: Registry, opts: WriteOptions) -> Registry: ...
    def delete_registry(self, slug: str, opts: WriteOptions) -> None: ...

    # profiles
    def list_profiles(self, registry: str, query: ProfileQuery) -> ProfilePage: ...
    def list_tags(self, registry: str) -> list[str]: ...
    def iter_profiles(self, registry: str) -> Iterator[Profile]: ...
    def get_profile(self, registry: str, slug: str) -> Profile | None: ...
    def get_registry_profile(
        self, registry: str, slug: str
    ) -> tuple[Registry | None, Profile | None]:
        """The registry's header and its profile `slug` in one read (None where missing; the
        profile is None when the registry is)."""
        ...

    def get_profiles(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Profile]:
        """The profiles of several `(registry, slug)` keys, those that exist (missing keys
        and registries are simply absent), in a bounded number of queries."""
        ...

    def find_dependants(self, registry: str, slug: str | None) -> list[tuple[str, Profile]]:
        """`(registry, profile)` of every profile, in any registry, whose stack names
        `registry/slug` directly (any profile of `registry` when `slug` is None), ordered by
        registry then slug."""
        ...

    def profile_hashes(self, registry: str) -> dict[str, tuple[str, str]]:
        """slug -> (content hash, input hash) of every profile of the registry, without
        reading payloads ("" where none is kept: written without `opts.rules`, before the
        hashes existed, or a store that keeps none)."""
        ...

    def create_profile(self, registry: str, profile: Profile, opts: WriteOptions) -> Profile: ...
    def create_profiles(
        self, registry: str, profiles: Sequence[Profile], opts: WriteOptions
    ) -> None:
        """`create_profile` of every profile in one operation (imports): the same rows,
        history and change feed as the one-by-one path, all written or none (any conflict
        raises and leaves the store as it was)."""
        ...

    def update_profile(self, registry: str, profile: Profile, opts: WriteOptions) -> Profile: ...
    def delete_profile(self, registry: str, slug: str, opts: WriteOptions) -> None: ...

    # history and change feed (empty for stores without history)
    def list_revisions(self, registry: str, profile: str, limit: int = 100) -> list[Revision]: ...
    def get_revision(self, registry: str, profile: str, revision_id: int) -> Revision | None: ...
    def list_deleted_profiles(self, registry: str, limit: int = 100) -> list[Revision]:
        """The delete revisions of the registry's profiles that stay deleted, newest first."""
        ...

    def list_changes(
        self, after: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> list[Change]:
        """Up to `limit` changes with id > `after`: the oldest ones, oldest first, or with
        `newest_first` the newest ones, newest first."""
        ...

    def latest_change_id(self) -> int: ...

    def notify(self, event_type: str, registries: tuple[str, ...], data: dict[str, Any]) -> None:
        """Queue a webhook event that is not one write (an import's summary) in the current
        transaction; a no-op for stores without webhooks."""
        ...
