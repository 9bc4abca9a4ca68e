"""The error hierarchy of the domain (see README, Concepts and decisions).

Every error the domain raises is a `RegistryError`; the web layer maps each kind to one HTTP
status in one place. Messages keep the reference wording because clients show them as-is.

Field paths (`FieldError.field`) have one convention: the service's validation roots them at
the object it validates, `profile.` or `registry.` (`profile.runtime.tools[0]`); a caller that
embeds that object elsewhere re-roots them with `FieldError.rerooted` (an import:
`registries[default].profiles[agent].runtime.tools[0]`) and a form that names its inputs by
the object's own keys uses `FieldError.relative` (`runtime.tools[0]`). Request-level problems
(query parameters, `body`) are rooted at the parameter's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .messages import plain


class RegistryError(Exception):
    """Base class of every domain error."""

    kind = "error"

    @property
    def message(self) -> str:
        return str(self)


ROOTS = ("profile", "registry")  # where the service's validation roots its field paths


@dataclass(frozen=True, order=True)
class FieldError:
    """One validation problem: a dotted field path and a reason."""

    field: str
    message: str

    @property
    def text(self) -> str:
        """The problem as a person reads it (`messages.plain`): what every door shows."""
        return plain(self.field, self.message)

    def __str__(self) -> str:
        if self.field:
            return f"validation error ({self.field}): {self.message}"
        return f"validation error: {self.message}"

    @property
    def relative(self) -> str:
        """The path below its `profile` / `registry` root ("" for the object itself)."""
        for root in ROOTS:
            if self.field == root:
                return ""
            if self.field.startswith(root) and self.field[len(root)] in ".[":
                return self.field[len(root) :].removeprefix(".")
        return self.field

    def rerooted(self, prefix: str) -> FieldError:
        """The same problem with its `profile` / `registry` root replaced by `prefix`."""
        return FieldError(self.relative, self.message).prefixed(prefix)

    def prefixed(self, prefix: str) -> FieldError:
        """The same problem one level deeper: `prefix` + `.field` (or `[..]` paths as-is)."""
        if not self.field:
            return FieldError(prefix, self.message)
        sep = "" if self.field.startswith("[") else "."
        return FieldError(f"{prefix}{sep}{self.field}", self.message)


class ValidationError(RegistryError):
    """Invalid input. Carries every problem found, in a deterministic order."""

    kind = "validation"

    def __init__(self, errors: list[FieldError] | FieldError | str, message: str | None = None):
        if isinstance(errors, str):
            errors = [FieldError("", errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        if not errors:
            raise ValueError("ValidationError needs at least one problem")
        self.errors: list[FieldError] = list(errors)
        super().__init__(message or self._format())

    def _format(self) -> str:
        first = str(self.errors[0])
        more = len(self.errors) - 1
        return first if not more else f"{first} (and {more} more)"

    @property
    def field(self) -> str:
        return self.errors[0].field

    @property
    def reason(self) -> str:
        return self.errors[0].message


class NotFoundError(RegistryError):
    kind = "not_found"


class RegistryNotFound(NotFoundError):
    def __init__(self, slug: str = ""):
        self.slug = slug
        super().__init__("registry not found")


class ProfileNotFound(NotFoundError):
    def __init__(self, slug: str = ""):
        self.slug = slug
        super().__init__("profile not found")


class RevisionNotFound(NotFoundError):
    def __init__(self, revision: int = 0):
        self.revision = revision
        super().__init__("revision not found")


class PolicyViolation(RegistryError):
    kind = "policy"

    def __init__(self, reason: str, profile_slug: str = ""):
        self.reason = reason
        self.profile_slug = profile_slug
        if profile_slug:
            super().__init__(f'policy violation for profile "{profile_slug}": {reason}')
        else:
            super().__init__(f"policy violation: {reason}")


class ReadOnlyStore(RegistryError):
    kind = "read_only"

    def __init__(self, reason: str = ""):
        self.reason = reason
        super().__init__(f"store is read-only: {reason}" if reason else "store is read-only")


class ConflictError(RegistryError):
    kind = "conflict"


class VersionConflict(ConflictError):
    def __init__(self, resource: str, slug: str, expected: int, actual: int):
        self.resource = resource
        self.slug = slug
        self.expected = expected
        self.actual = actual
        super().__init__(
            f'{resource} "{slug}" version conflict: expected={expected} actual={actual}'
        )


class MergeConflict(ConflictError):
    """A merge of an edit made against an old version met changes to the same fields: the
    colliding paths (`merge.Collision`) need a choice; nothing was written."""

    kind = "merge_conflict"

    def __init__(self, slug: str, base_version: int, current_version: int, collisions: list[Any]):
        self.slug = slug
        self.base_version = base_version
        self.current_version = current_version
        self.collisions = list(collisions)
        paths = ", ".join(c.path for c in self.collisions)
        super().__init__(
            f'profile "{slug}" merge conflict: changed since version {base_version} by both '
            f"sides (now version {current_version}): {paths}"
        )


class MergeUnavailable(ConflictError):
    """The base version an edit was made against cannot be found (a store without history,
    or a version from before the profile was deleted and created again)."""

    kind = "merge_unavailable"

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"cannot merge: {reason}")


class AlreadyExists(ConflictError):
    def __init__(self, resource: str, slug: str):
        self.resource = resource
        self.slug = slug
        super().__init__(f'{resource} "{slug}" already exists')


class DefaultProfileInUse(ConflictError):
    """Deleting a registry's default profile while other profiles remain: the request is
    well formed, the registry's state refuses it (set another default first)."""

    def __init__(self, slug: str):
        self.slug = slug
        super().__init__(f'profile "{slug}" is the default profile; set another default first')


class StackedOn(ConflictError):
    """Deleting a profile (or a registry holding one) that other profiles stack on: removing
    it would leave their stacks pointing at nothing. `dependants` are `registry/profile`."""

    def __init__(self, target: str, dependants: list[str]):
        self.target = target
        self.dependants = list(dependants)
        shown = ", ".join(self.dependants[:10])
        more = f" and {len(self.dependants) - 10} more" if len(self.dependants) > 10 else ""
        super().__init__(
            f'profile "{target}" is stacked on by {shown}{more}; remove it from their stacks first'
        )


class DefaultProfileRequired(ConflictError):
    """Clearing a registry's default while it holds profiles: the request is well formed (an
    empty registry accepts it), the registry's state refuses it, like `DefaultProfileInUse`."""

    def __init__(self, field: str = "registry.default_profile_slug"):
        self.errors = [FieldError(field, "must be set when profiles are present")]
        super().__init__(f"validation error ({field}): must be set when profiles are present")


class ConfirmationRequired(ConflictError):
    """A write that deletes (a mirror import) without the caller confirming how much: nothing
    was written. `errors` list what would go; `deletions` is the count to confirm with."""

    kind = "confirmation_required"

    def __init__(self, message: str, deletions: int, errors: list[FieldError], plan: object):
        self.deletions = deletions
        self.errors = errors
        self.plan = plan  # the import plan (kept for pages that show it again)
        super().__init__(message)


class PayloadTooLarge(RegistryError):
    kind = "too_large"


class StoreClosed(RegistryError):
    kind = "closed"


RETRY_AFTER_SECONDS = 5


class StoreUnavailable(RegistryError):
    """The store cannot serve now: its database is down or unreachable, or its file was
    deleted under the running server. Nothing was written. `retry_after` (seconds) says when
    trying again may help; None when only an operator can fix it."""

    kind = "unavailable"

    def __init__(self, message: str, *, retry_after: int | None = RETRY_AFTER_SECONDS):
        self.retry_after = retry_after
        super().__init__(message)
