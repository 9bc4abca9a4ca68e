"""The YAML file store: one YAML file is the whole store (README: `REGISTRY_STORE` under
Configuration).

The file is the canonical bundle (`registries: {slug: registry}`), plus each registry's
`read_only`/`managed_by` so that deployment state survives a restart; reads also accept the
single-registry and legacy formats, and the first write rewrites the file canonically. A
missing file is an empty store; the file and its directory appear on the first write.

Concurrency across processes: every write takes an exclusive `flock` on `<path>.lock`, reloads
the file if it changed, applies the write to a copy-on-write view of the data and replaces the
file atomically (unique temp file, fsync, `os.replace`, fsync of the directory). Readers never
lock: a replaced file is always complete, and each operation reloads the file when its inode,
size or mtime changed. Writes force the file's mtime (in microseconds) to move forward, so the
change check never misses a write of ours and `latest_change_id()` is that mtime.

No history: `supports_history` is False and the history methods return nothing.
"""

from __future__ import annotations

import copy
import fcntl
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from ..domain.errors import (
    AlreadyExists,
    FieldError,
    ProfileNotFound,
    RegistryNotFound,
    StoreClosed,
    ValidationError,
    VersionConflict,
)
from ..domain.metadata import touch
from ..domain.model import Profile, Registry, stacks_on
from ..domain.paging import distinct_tags, page_of, search_text_of
from ..domain.ports import Change, ProfilePage, ProfileQuery, Revision, WriteOptions
from ..domain.slugs import SlugError, parse_slug
from ..domain.yaml_codec import decode_registries, encode_registries

T = TypeVar("T")

# The store's own file is trusted more than an upload; still bounded.
MAX_FILE_BYTES = 512 * 1024 * 1024

_Signature = tuple[int, int, int]  # (inode, size, mtime_ns)


class _Work:
    """A copy-on-write view of the data for one write or one `atomic()` group.

    Stored `Registry`/`Profile` objects are never mutated: a registry is shallow-copied (with
    its own profiles dict) the first time a write touches it, and written values are fresh
    copies, so dropping a `_Work` rolls everything back.
    """

    def __init__(self, data: dict[str, Registry]) -> None:
        self.data = dict(data)
        self.owned: set[str] = set()
        self.changed = False

    def own(self, slug: str) -> Registry:
        reg = self.data[slug]
        if slug not in self.owned:
            reg = replace(reg, profiles=dict(reg.profiles))
            self.data[slug] = reg
            self.owned.add(slug)
        self.changed = True
        return reg

    def put(self, slug: str, registry: Registry) -> None:
        self.data[slug] = registry
        self.owned.discard(slug)  # its profiles dict may be shared with committed data
        self.changed = True

    def remove(self, slug: str) -> None:
        del self.data[slug]
        self.owned.discard(slug)
        self.changed = True

    def savepoint(self) -> tuple[dict[str, Registry], bool]:
        self.owned = set()  # later writes copy again, leaving the savepoint's objects intact
        return dict(self.data), self.changed

    def rollback(self, point: tuple[dict[str, Registry], bool]) -> None:
        self.data, self.changed = dict(point[0]), point[1]
        self.owned = set()


class YAMLFileStore:
    """`Store` backed by one YAML file (see the module docstring)."""

    kind = "yaml"
    supports_history = False

    def __init__(self, path: str | os.PathLike[str], *, default_registry: str = "default"):
        raw = os.fspath(path)
        if not raw:
            raise ValueError("yaml profile store path is required")
        self.path = Path(os.path.abspath(raw))
        self.url = f"yaml:{self.path}"
        self.default_registry = default_registry or "default"
        self._lock_path = Path(f"{self.path}.lock")
        self._mutex = threading.RLock()
        self._data: dict[str, Registry] = {}
        self._signature: _Signature | None = None
        self._tx: _Work | None = None
        self._locked = False
        self._closed = False
        with self._mutex:
            self._refresh()  # a malformed file fails here, at open

    def __repr__(self) -> str:
        return f"<YAMLFileStore {self.path}>"

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store; idempotent. Later calls raise `StoreClosed`."""
        with self._mutex:
            self._closed = True
            self._data = {}

    # No connections: the lifecycle of the `Store` protocol is a no-op here.

    def release(self) -> None:
        """Nothing to release between requests."""

    def disconnect(self) -> None:
        """Nothing to close before a fork: the file is opened per operation."""

    def forget_inherited(self) -> bool:
        return False

    def _check(self) -> None:
        if self._closed:
            raise StoreClosed("yaml profile store closed")

    def atomic(self) -> AbstractContextManager[None]:
        """Group writes: they are applied in memory and persisted once at the end, or not at
        all if an exception escapes. The file lock is held throughout. A nested group is a
        savepoint: an exception escaping it undoes only its own writes."""
        self._check()
        return self._atomic()

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        with self._mutex:
            self._check()
            if self._tx is not None:
                work = self._tx
                point = work.savepoint()
                try:
                    yield
                except BaseException:
                    work.rollback(point)
                    raise
                return
            with self._file_lock():
                self._refresh()
                work = self._tx = _Work(self._data)
                try:
                    yield
                finally:
                    self._tx = None
                self._check()
                if work.changed:
                    self._persist(work.data)

    # --- file I/O --------------------------------------------------------------------------

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Exclusive `flock` on the sibling lock file (never deleted, so never raced)."""
        if self._locked:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._locked = True
            try:
                yield
            finally:
                self._locked = False
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _refresh(self) -> None:
        """Reload the file if it changed since the last load (or vanished)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._data, self._signature = {}, None
            return
        if _signature(st) == self._signature:
            return
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())  # the inode actually read, even if replaced since
                raw = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            self._data, self._signature = {}, None
            return
        try:
            doc = decode_registries(
                raw, self.default_registry, max_bytes=MAX_FILE_BYTES, repair=True
            )
        except ValidationError as exc:
            raise ValidationError(exc.errors, f"yaml profile store {self.path}: {exc}") from exc
        self._data = {r.slug: r for r in doc.registries}
        self._signature = _signature(st)

    def _persist(self, data: dict[str, Registry]) -> None:
        """Atomically replace the file with `data`; on any failure the file is untouched."""
        text = encode_registries(data.values(), with_state=True).encode("utf-8")
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text)
                f.flush()
                os.fchmod(f.fileno(), 0o644)
                self._advance_mtime(f.fileno())
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(directory)
        self._data = data
        self._signature = _signature(os.stat(self.path))

    def _advance_mtime(self, fd: int) -> None:
        """Make the new file's mtime (in microseconds) strictly later than the current one's,
        even on coarse clocks, so every write changes the signature and the change id."""
        if self._signature is None:
            return
        st = os.fstat(fd)
        previous_us = self._signature[2] // 1000
        if st.st_mtime_ns // 1000 <= previous_us:
            os.utime(fd, ns=(st.st_atime_ns, (previous_us + 1) * 1000))

    # --- plumbing --------------------------------------------------------------------------

    def _view(self) -> dict[str, Registry]:
        """The data a read sees (call with the mutex held): the open group's, else the file's."""
        self._check()
        if self._tx is not None:
            return self._tx.data
        self._refresh()
        return self._data

    def _write(self, op: Callable[[_Work], T]) -> T:
        with self._mutex:
            self._check()
            if self._tx is not None:
                return op(self._tx)
            with self._file_lock():
                self._refresh()
                work = _Work(self._data)
                result = op(work)
                if work.changed:
                    self._persist(work.data)
                return result

    @staticmethod
    def _check_version(resource: str, slug: str, expected: int, actual: int) -> None:
        if expected and expected != actual:
            raise VersionConflict(resource, slug, expected, actual)

    # --- registries ------------------------------------------------------------------------

    def list_registries(self) -> list[Registry]:
        with self._mutex:
            data = self._view()
            return [_header(data[slug]) for slug in sorted(data)]

    def get_registry(self, slug: str) -> Registry | None:
        with self._mutex:
            reg = self._view().get(str(slug))
            return None if reg is None else _header(reg)

    def profile_counts(self) -> dict[str, int]:
        with self._mutex:
            data = self._view()
            return {slug: len(data[slug].profiles) for slug in sorted(data)}

    def create_registry(self, registry: Registry, opts: WriteOptions) -> Registry:
        """Create a registry header; `registry.profiles` is ignored (use `create_profile`)."""
        slug = _storable_slug(registry.slug, "registry.slug", "registry slug")

        def op(work: _Work) -> Registry:
            if slug in work.data:
                raise AlreadyExists("registry", slug)
            self._check_version("registry", slug, opts.expected_version, 0)
            new = _header(registry)
            new.slug = slug
            new.metadata = touch(None, registry.metadata, opts)
            work.put(slug, new)
            return _header(new)

        return self._write(op)

    def update_registry(self, registry: Registry, opts: WriteOptions) -> Registry:
        """Replace a registry header (profiles are kept); the only write that moves the
        registry version."""
        slug = str(registry.slug)

        def op(work: _Work) -> Registry:
            stored = work.data.get(slug)
            if stored is None:
                raise RegistryNotFound(slug)
            self._check_version("registry", slug, opts.expected_version, stored.metadata.version)
            new = _header(registry)
            new.slug = slug
            new.metadata = touch(stored.metadata, registry.metadata, opts)
            new.profiles = stored.profiles
            work.put(slug, new)
            return _header(new)

        return self._write(op)

    def delete_registry(self, slug: str, opts: WriteOptions) -> None:
        """Delete a registry and its profiles."""
        slug = str(slug)

        def op(work: _Work) -> None:
            stored = work.data.get(slug)
            if stored is None:
                raise RegistryNotFound(slug)
            self._check_version("registry", slug, opts.expected_version, stored.metadata.version)
            work.remove(slug)

        self._write(op)

    # --- profiles --------------------------------------------------------------------------

    def list_profiles(self, registry: str, query: ProfileQuery) -> ProfilePage:
        """A keyset page (`paging.page_of`). `q` matches a casefolded substring of slug,
        display name or description; `tag` one tag, case-insensitively."""
        with self._mutex:
            reg = self._view().get(str(registry))
            if reg is None:
                raise RegistryNotFound(str(registry))
            q, tag = query.q.casefold(), query.tag.casefold()
            matches = [
                p
                for p in reg.profiles.values()
                if (not q or q in search_text_of(p))
                and (not tag or any(t.casefold() == tag for t in p.metadata.tags))
            ]
            return page_of(matches, query)

    def list_tags(self, registry: str) -> list[str]:
        """Every tag used in the registry, each once (its most used spelling), sorted."""
        with self._mutex:
            reg = self._view().get(str(registry))
            if reg is None:
                raise RegistryNotFound(str(registry))
            return distinct_tags(p.metadata.tags for p in reg.profiles.values())

    def iter_profiles(self, registry: str) -> Iterator[Profile]:
        """All profiles in slug order (copied up front: later writes do not affect it)."""
        with self._mutex:
            reg = self._view().get(str(registry))
            if reg is None:
                raise RegistryNotFound(str(registry))
            return iter([reg.profiles[slug].clone() for slug in sorted(reg.profiles)])

    def get_profile(self, registry: str, slug: str) -> Profile | None:
        """The profile, or None when it (or its registry) does not exist."""
        with self._mutex:
            reg = self._view().get(str(registry))
            profile = None if reg is None else reg.profiles.get(str(slug))
            return None if profile is None else profile.clone()

    def get_registry_profile(
        self, registry: str, slug: str
    ) -> tuple[Registry | None, Profile | None]:
        with self._mutex:
            reg = self._view().get(str(registry))
            if reg is None:
                return None, None
            profile = reg.profiles.get(str(slug))
            return _header(reg), None if profile is None else profile.clone()

    def get_profiles(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Profile]:
        """The profiles of several `(registry, slug)` keys that exist (one read of the data)."""
        with self._mutex:
            data = self._view()
            out = {}
            for registry, slug in keys:
                reg = data.get(str(registry))
                profile = None if reg is None else reg.profiles.get(str(slug))
                if profile is not None:
                    out[(str(registry), str(slug))] = profile.clone()
            return out

    def find_dependants(self, registry: str, slug: str | None) -> list[tuple[str, Profile]]:
        """`(registry, profile)` of every profile whose stack names this one (any profile of
        the registry when `slug` is None), sorted."""
        target = (str(registry), None if slug is None else str(slug))
        with self._mutex:
            data = self._view()
            return [
                (reg_slug, reg.profiles[p].clone())
                for reg_slug, reg in sorted(data.items())
                for p in sorted(reg.profiles)
                if stacks_on(reg.profiles[p], reg_slug, target)
            ]

    def profile_hashes(self, registry: str) -> dict[str, tuple[str, str]]:
        """No hashes: the file may be edited by hand, so nothing vouches for its content."""
        with self._mutex:
            reg = self._view().get(str(registry))
            return dict.fromkeys(reg.profiles, ("", "")) if reg is not None else {}

    def create_profile(self, registry: str, profile: Profile, opts: WriteOptions) -> Profile:
        registry = str(registry)
        slug = _storable_slug(profile.slug, "profile.slug", "profile slug")

        def op(work: _Work) -> Profile:
            reg = work.data.get(registry)
            if reg is None:
                raise RegistryNotFound(registry)
            if slug in reg.profiles:
                raise AlreadyExists("profile", slug)
            self._check_version("profile", slug, opts.expected_version, 0)
            new = profile.clone()
            new.slug = slug
            new.metadata = touch(None, profile.metadata, opts)
            work.own(registry).profiles[slug] = new
            return new.clone()

        return self._write(op)

    def create_profiles(
        self, registry: str, profiles: Sequence[Profile], opts: WriteOptions
    ) -> None:
        """`create_profile` of each profile in one write of the file (all or none)."""
        registry = str(registry)
        slugs = [_storable_slug(p.slug, "profile.slug", "profile slug") for p in profiles]

        def op(work: _Work) -> None:
            reg = work.data.get(registry)
            if reg is None:
                raise RegistryNotFound(registry)
            seen: set[str] = set()
            for slug in slugs:
                if slug in reg.profiles or slug in seen:
                    raise AlreadyExists("profile", slug)
                self._check_version("profile", slug, opts.expected_version, 0)
                seen.add(slug)
            owned = work.own(registry).profiles
            for profile, slug in zip(profiles, slugs, strict=True):
                new = profile.clone()
                new.slug = slug
                new.metadata = touch(None, profile.metadata, opts)
                owned[slug] = new

        self._write(op)

    def update_profile(self, registry: str, profile: Profile, opts: WriteOptions) -> Profile:
        registry, slug = str(registry), str(profile.slug)

        def op(work: _Work) -> Profile:
            reg = work.data.get(registry)
            if reg is None:
                raise RegistryNotFound(registry)
            stored = reg.profiles.get(slug)
            if stored is None:
                raise ProfileNotFound(slug)
            self._check_version("profile", slug, opts.expected_version, stored.metadata.version)
            new = profile.clone()
            new.slug = slug
            new.metadata = touch(stored.metadata, profile.metadata, opts)
            work.own(registry).profiles[slug] = new
            return new.clone()

        return self._write(op)

    def delete_profile(self, registry: str, slug: str, opts: WriteOptions) -> None:
        """Delete a profile. The registry's default is left alone: the service decides."""
        registry, slug = str(registry), str(slug)

        def op(work: _Work) -> None:
            reg = work.data.get(registry)
            if reg is None:
                raise RegistryNotFound(registry)
            stored = reg.profiles.get(slug)
            if stored is None:
                raise ProfileNotFound(slug)
            self._check_version("profile", slug, opts.expected_version, stored.metadata.version)
            del work.own(registry).profiles[slug]

        self._write(op)

    # --- history and change feed (none in a YAML file) -------------------------------------

    def list_revisions(self, registry: str, profile: str, limit: int = 100) -> list[Revision]:
        self._check()
        return []

    def get_revision(self, registry: str, profile: str, revision_id: int) -> Revision | None:
        self._check()
        return None

    def list_deleted_profiles(self, registry: str, limit: int = 100) -> list[Revision]:
        self._check()
        return []

    def list_changes(
        self, after: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> list[Change]:
        self._check()
        return []

    def notify(self, event_type: str, registries: tuple[str, ...], data: dict[str, Any]) -> None:
        """Webhooks need an SQL store (their outbox is a table): nothing to queue."""

    def latest_change_id(self) -> int:
        """The file's mtime in microseconds (0 while there is no file): every write moves it
        forward, and every process sees the same value for the same file."""
        with self._mutex:
            self._view()
            return self._signature[2] // 1000 if self._signature else 0


def _header(registry: Registry) -> Registry:
    """A deep copy of a registry without its profiles (never mutates the original)."""
    return copy.deepcopy(replace(registry, profiles={}))


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _storable_slug(raw: object, field: str, label: str) -> str:
    """The slug of a new item, which must already be normalized: the file is keyed by slugs
    and must stay readable (the service normalizes and validates before it gets here)."""
    slug = str(raw)
    try:
        valid = parse_slug(slug, label) == slug
    except SlugError as exc:
        raise ValidationError(FieldError(field, str(exc))) from None
    if not valid:
        raise ValidationError(FieldError(field, f"{label} {slug!r} is not normalized"))
    return slug


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; some filesystems cannot fsync a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["YAMLFileStore"]
