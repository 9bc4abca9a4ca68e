"""Metadata touch rules shared by every store."""

from __future__ import annotations

import datetime as dt
import time

from .model import Metadata, copy_value
from .ports import WriteOptions


def now_ms() -> int:
    return int(time.time() * 1000)


# Stored times are epoch milliseconds; these are the only ways they are shown (pages, CLI).
def iso_time(ms: int | None) -> str:
    """`2025-01-31T14:05:09+00:00` (machine-readable, e.g. `<time datetime>`); "" for 0."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds") if ms else ""


def human_time(ms: int | None, empty: str = "—") -> str:
    """`2025-01-31 14:05 UTC` for people; `empty` for 0 (never happened)."""
    if not ms:
        return empty
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def exact_time(ms: int | None, empty: str = "—") -> str:
    """`2025-01-31 14:05:09 UTC`: the exact time behind a relative one (pages' hover/focus)."""
    if not ms:
        return empty
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative_time(ms: int | None, now: int, empty: str = "—") -> str:
    """`just now`, `3 minutes ago`, `5 hours ago`, `yesterday`, `4 days ago`, then the date
    (`22 Nov`, `22 Nov 2025` in another year). Days are UTC calendar days, as the exact time
    shown beside it; a time ahead of `now` (another server's clock) by more than a minute is
    shown exactly. static/js/times.js applies the same rules to refresh an open page."""
    if not ms:
        return empty
    seconds = (now - ms) // 1000
    if seconds < -60:
        return exact_time(ms)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return _ago(seconds // 60, "minute")
    then = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    days = (dt.datetime.fromtimestamp(now / 1000, dt.UTC).date() - then.date()).days
    if seconds < 12 * 3600 or days == 0:
        return _ago(seconds // 3600, "hour")
    if days == 1:
        return "yesterday"
    if days < 7:
        return _ago(days, "day")
    year = (
        "" if then.year == dt.datetime.fromtimestamp(now / 1000, dt.UTC).year else f" {then.year}"
    )
    return f"{then.day} {then:%b}{year}"


def _ago(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'} ago"


def touch(
    stored: Metadata | None, incoming: Metadata, opts: WriteOptions, now: int = 0
) -> Metadata:
    """The metadata after one write.

    A new item starts from `incoming` with a fresh history (version 1) unless the write keeps
    declared metadata (imports). An existing item keeps its stored metadata (created_* never
    change) except `tags`, which clients own. `updated_at_ms` never goes backwards.
    """
    now = now or now_ms()
    if stored is None:
        meta: Metadata = copy_value(incoming)
        if opts.keep_metadata:
            meta.version = max(meta.version, 1)
            meta.created_at_ms = meta.created_at_ms or now
            meta.updated_at_ms = meta.updated_at_ms or meta.created_at_ms
            meta.created_by = meta.created_by or opts.actor
            meta.updated_by = meta.updated_by or opts.actor
            if opts.source and not meta.source:
                meta.source = opts.source
            return meta
        meta = Metadata(tags=list(incoming.tags), source=incoming.source)
        meta.version = 0
    else:
        meta = copy_value(stored)
        meta.tags = list(incoming.tags)
    if not meta.created_at_ms:
        meta.created_at_ms = now
    if not meta.created_by and opts.actor:
        meta.created_by = opts.actor
    if opts.source:
        meta.source = opts.source
    meta.updated_at_ms = max(now, meta.updated_at_ms)
    if opts.actor:
        meta.updated_by = opts.actor
    meta.version += 1
    return meta
