"""Relative times for people (`relative_time`) and the exact time behind them."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.domain.metadata import exact_time, relative_time


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


NOW = ms("2026-12-07T12:14:31")


@pytest.mark.parametrize(
    ("then", "shown"),
    [
        ("2026-12-07T12:14:31", "just now"),
        ("2026-12-07T12:13:32", "just now"),
        ("2026-12-07T12:13:31", "1 minute ago"),
        ("2026-12-07T12:11:00", "3 minutes ago"),
        ("2026-12-07T11:14:31", "1 hour ago"),
        ("2026-12-07T00:00:01", "12 hours ago"),  # same UTC day
        ("2026-12-06T23:30:00", "yesterday"),
        ("2026-12-06T12:00:00", "yesterday"),
        ("2026-12-06T00:00:00", "yesterday"),
        ("2026-12-05T23:59:59", "2 days ago"),
        ("2026-12-01T08:00:00", "6 days ago"),
        ("2026-11-30T08:00:00", "30 Nov"),
        ("2025-12-24T08:00:00", "24 Dec 2025"),
    ],
)
def test_relative_time(then, shown):
    assert relative_time(ms(then), NOW) == shown


def test_late_yesterday_seen_early_today_is_hours_ago():
    assert relative_time(ms("2026-12-06T23:30:00"), ms("2026-12-07T02:00:00")) == "2 hours ago"


def test_a_time_ahead_of_now_is_shown_exactly():
    ahead = NOW + 5 * 60 * 1000
    assert relative_time(ahead, NOW) == "2026-12-07 12:19:31 UTC"
    assert relative_time(NOW + 30_000, NOW) == "just now"  # small clock skew


def test_never_is_a_dash():
    assert relative_time(0, NOW) == "—" and relative_time(None, NOW) == "—"
    assert exact_time(0) == "—"


def test_exact_time_has_seconds_and_utc():
    assert exact_time(ms("2026-12-07T12:14:31") + 999) == "2026-12-07 12:14:31 UTC"
