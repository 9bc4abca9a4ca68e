"""Recent activity for people: the change feed with bulk operations folded into one line.

An import of 2,000 profiles writes 2,000 feed entries; a dashboard listing the 15 newest would
show nothing else. Consecutive entries of one import by one actor become one group ("import by
admin: 2,000 profiles, 1,980 new, in default").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ports import Change

BULK_OPERATIONS = frozenset({"import"})


@dataclass
class ChangeGroup:
    """One line of recent activity: a single change, or a run of one bulk operation."""

    first: Change  # the newest entry of the run
    entries: int = 1
    profiles: int = 0  # profile entries (a run also holds its registries' own changes)
    created: int = 0  # profile entries at version 1 (new profiles)
    registries: list[str] = field(default_factory=list)
    complete: bool = True  # False when the run goes on beyond what was read

    @property
    def bulk(self) -> bool:
        return self.first.operation in BULK_OPERATIONS and self.entries > 1

    def add(self, change: Change) -> None:
        self.entries += 1
        self._count(change)

    def _count(self, change: Change) -> None:
        if change.profile:
            self.profiles += 1
            self.created += change.version == 1
        if change.registry not in self.registries:
            self.registries.append(change.registry)


def group_changes(changes: list[Change], limit: int, *, exhausted: bool) -> list[ChangeGroup]:
    """Fold `changes` (newest first) into at most `limit` groups: consecutive entries of one
    bulk operation by one actor (its profiles and its registries' own changes) are one group.

    `exhausted` says whether `changes` reaches the start of the feed; if not, a run still open
    at the end is marked incomplete (its counts are lower bounds)."""
    groups: list[ChangeGroup] = []
    for change in changes:
        last = groups[-1] if groups else None
        if (
            last is not None
            and change.operation in BULK_OPERATIONS
            and last.first.operation == change.operation
            and last.first.actor == change.actor
        ):
            last.add(change)
            continue
        if len(groups) == limit:
            return groups
        group = ChangeGroup(first=change)
        group._count(change)
        groups.append(group)
    if groups and not exhausted and groups[-1].first.operation in BULK_OPERATIONS:
        groups[-1].complete = False
    return groups
