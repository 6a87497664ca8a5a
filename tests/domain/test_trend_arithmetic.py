"""Trend arithmetic: day and week buckets, stacked counts with an "Other" fold, cost ranking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.trends import (
    OTHER,
    BucketSize,
    Span,
    bucket_of,
    buckets,
    costliest,
    stack,
    stack_days,
    suggested_size,
)

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def test_weeks_start_on_monday_in_utc() -> None:
    sunday_night = datetime(2026, 3, 8, 23, 59, tzinfo=UTC)
    assert bucket_of(sunday_night, BucketSize.WEEK) == date(2026, 3, 2)
    assert bucket_of(sunday_night + timedelta(minutes=1), BucketSize.WEEK) == date(2026, 3, 9)
    assert bucket_of(sunday_night, BucketSize.DAY) == date(2026, 3, 8)


def test_bucket_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        bucket_of(datetime(2026, 3, 2), BucketSize.DAY)


def test_buckets_cover_a_half_open_range() -> None:
    days = buckets(MONDAY, MONDAY + timedelta(days=3), BucketSize.DAY)
    assert days == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    weeks = buckets(MONDAY + timedelta(days=3), MONDAY + timedelta(days=10), BucketSize.WEEK)
    assert weeks == [date(2026, 3, 2), date(2026, 3, 9)]
    assert buckets(MONDAY, MONDAY, BucketSize.DAY) == []


def test_long_ranges_use_weeks() -> None:
    assert suggested_size(MONDAY, MONDAY + timedelta(days=30)) is BucketSize.DAY
    assert suggested_size(MONDAY, MONDAY + timedelta(days=90)) is BucketSize.WEEK


def test_stack_counts_per_bucket_and_orders_keys_by_total() -> None:
    events = [
        (MONDAY + timedelta(hours=1), "db"),
        (MONDAY + timedelta(days=1), "api"),
        (MONDAY + timedelta(days=1, hours=2), "api"),
        (MONDAY + timedelta(days=2), "db"),
        (MONDAY + timedelta(days=2), "api"),
        (MONDAY - timedelta(seconds=1), "api"),  # before the range
        (MONDAY + timedelta(days=3), "db"),  # at the (excluded) end
    ]
    series = stack(events, start=MONDAY, end=MONDAY + timedelta(days=3), size=BucketSize.DAY)
    assert series.keys == ("api", "db")
    assert series.counts == ((0, 1), (2, 0), (1, 1))
    assert series.bucket_totals == (1, 2, 2)
    assert series.key_totals == (3, 2)
    assert series.total == 5 and series.peak == 2


def test_keys_beyond_top_fold_into_other() -> None:
    events = [(MONDAY, f"svc-{n}") for n in range(5) for _ in range(5 - n)]
    series = stack(events, start=MONDAY, end=MONDAY + timedelta(days=1), size=BucketSize.DAY, top=3)
    assert series.keys == ("svc-0", "svc-1", OTHER)
    assert series.counts == ((5, 4, 3 + 2 + 1),)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-5 * 86400, max_value=40 * 86400), st.sampled_from("abcdefghij")
        ),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=6),
    st.sampled_from(list(BucketSize)),
)
def test_stack_never_loses_or_invents_events(
    raw: list[tuple[int, str]], top: int, size: BucketSize
) -> None:
    end = MONDAY + timedelta(days=30)
    events = [(MONDAY + timedelta(seconds=s), k) for s, k in raw]
    series = stack(events, start=MONDAY, end=end, size=size, top=top)
    inside = [e for e in events if MONDAY <= e[0] < end]
    assert series.total == len(inside)
    assert len(series.keys) <= top
    assert all(len(row) == len(series.keys) for row in series.counts)
    assert len(series.counts) == len(series.buckets)


def test_costliest_sums_time_to_resolve_and_counts_unresolved() -> None:
    hour = timedelta(hours=1)
    spans = [
        Span(group=1, detected_at=MONDAY, resolved_at=MONDAY + hour),
        Span(group=1, detected_at=MONDAY, resolved_at=MONDAY + 3 * hour),
        Span(group=2, detected_at=MONDAY, resolved_at=MONDAY + 10 * hour),
        Span(group=3, detected_at=MONDAY, resolved_at=None),
        Span(group=3, detected_at=MONDAY, resolved_at=MONDAY - hour),  # clock skew: zero
    ]
    ranked = costliest(spans)
    assert [c.group for c in ranked] == [2, 1, 3]
    assert ranked[1].total_seconds == 4 * 3600 and ranked[1].mean_seconds == 2 * 3600
    assert (ranked[2].incidents, ranked[2].resolved, ranked[2].unresolved) == (2, 1, 1)
    assert ranked[2].total_seconds == 0
    assert costliest(spans, limit=1)[0].group == 2


def test_stack_days_folds_day_counts_into_weeks() -> None:
    rows = [
        (date(2026, 3, 2), "db", 2),  # Monday
        (date(2026, 3, 8), "db", 1),  # Sunday, same week
        (date(2026, 3, 9), "api", 4),  # next Monday
        (date(2026, 1, 1), "api", 9),  # outside the range's buckets
    ]
    series = stack_days(rows, start=MONDAY, end=MONDAY + timedelta(days=14), size=BucketSize.WEEK)
    assert series.buckets == (date(2026, 3, 2), date(2026, 3, 9))
    assert series.keys == ("api", "db")
    assert series.counts == ((0, 3), (4, 0))


def test_the_unassigned_key_comes_after_named_keys_and_is_never_folded() -> None:
    rows = [(date(2026, 3, 2), "none", 9), (date(2026, 3, 2), "db", 2)]
    rows += [(date(2026, 3, 3), f"svc-{n}", 1) for n in range(3)]
    series = stack_days(
        rows,
        start=MONDAY,
        end=MONDAY + timedelta(days=2),
        size=BucketSize.DAY,
        top=3,
        unassigned="none",
    )
    assert series.keys == ("db", "none", OTHER)
    assert series.counts == ((2, 9, 0), (0, 0, 3))
    assert series.unassigned == "none"
    plain = stack_days(
        rows[1:],
        start=MONDAY,
        end=MONDAY + timedelta(days=2),
        size=BucketSize.DAY,
        unassigned="none",
    )
    assert plain.unassigned is None and "none" not in plain.keys
