"""Trend arithmetic: put dated events into day or week buckets and rank what costs the most.

Pure: the use case reads rows and passes plain values in. All times are tz-aware and bucketed
in UTC, so a chart reads the same for everyone and on both database backends. Weeks start on
Monday (ISO 8601). A range is half-open, `[start, end)`.

Stacked series keep the `top` largest keys by total and fold the rest into one "Other" key,
so a chart stays readable when hundreds of services have incidents.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

OTHER = "Other"


class BucketSize(StrEnum):
    DAY = "day"
    WEEK = "week"


def bucket_of(at: datetime, size: BucketSize) -> date:
    """The first day (UTC) of the bucket holding `at`; raises ValueError for naive times."""
    if at.tzinfo is None:
        raise ValueError("trend times must be timezone-aware")
    day = at.astimezone(UTC).date()
    if size is BucketSize.WEEK:
        return day - timedelta(days=day.weekday())
    return day


def buckets(start: datetime, end: datetime, size: BucketSize) -> list[date]:
    """Every bucket overlapping `[start, end)`, oldest first (empty when end <= start)."""
    if end <= start:
        return []
    step = timedelta(days=7 if size is BucketSize.WEEK else 1)
    current = bucket_of(start, size)
    last = bucket_of(end - timedelta(microseconds=1), size)
    found: list[date] = []
    while current <= last:
        found.append(current)
        current += step
    return found


def suggested_size(start: datetime, end: datetime) -> BucketSize:
    """Days for ranges up to 31 days, weeks beyond (keeps a chart to at most ~53 bars)."""
    return BucketSize.DAY if end - start <= timedelta(days=31) else BucketSize.WEEK


@dataclass(frozen=True, slots=True)
class StackedSeries:
    """Counts per bucket and key: `counts[i][j]` is bucket `buckets[i]`, key `keys[j]`.

    `keys` are ordered by total, largest first; then `unassigned` (the key for events with no
    value, such as "No service"), if present; then "Other", if any.
    """

    size: BucketSize
    buckets: tuple[date, ...]
    keys: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    unassigned: str | None = None

    @property
    def bucket_totals(self) -> tuple[int, ...]:
        return tuple(sum(row) for row in self.counts)

    @property
    def key_totals(self) -> tuple[int, ...]:
        return tuple(sum(row[j] for row in self.counts) for j in range(len(self.keys)))

    @property
    def total(self) -> int:
        return sum(self.bucket_totals)

    @property
    def peak(self) -> int:
        """The tallest stacked bar (0 when there is no data)."""
        return max(self.bucket_totals, default=0)


def stack(
    events: Iterable[tuple[datetime, str]],
    *,
    start: datetime,
    end: datetime,
    size: BucketSize,
    top: int = 8,
) -> StackedSeries:
    """Count `(at, key)` events per bucket and key; events outside `[start, end)` are ignored.

    One incident with two services is two events, one per service. Ties in totals are broken
    by key name so the order is stable.
    """
    per_day: Counter[tuple[date, str]] = Counter()
    for at, key in events:
        if start <= at < end:
            per_day[(bucket_of(at, BucketSize.DAY), key)] += 1
    return stack_days(
        ((day, key, n) for (day, key), n in per_day.items()),
        start=start,
        end=end,
        size=size,
        top=top,
    )


def stack_days(
    day_counts: Iterable[tuple[date, str, int]],
    *,
    start: datetime,
    end: datetime,
    size: BucketSize,
    top: int = 8,
    unassigned: str | None = None,
) -> StackedSeries:
    """Like `stack`, from counts already grouped by UTC day (as a database returns them).

    The caller has applied the exact range; days outside the range's buckets are ignored.
    Keys beyond the `top` largest are folded into "Other". The `unassigned` key (events
    without a value) is never folded and always comes after the named keys, so a chart
    keeps "what we know" and "what we do not" apart.
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    slots = buckets(start, end, size)
    index = {day: i for i, day in enumerate(slots)}
    per_key: dict[str, Counter[int]] = defaultdict(Counter)
    for day, key, count in day_counts:
        slot = index.get(day - timedelta(days=day.weekday()) if size is BucketSize.WEEK else day)
        if slot is not None and count:
            per_key[key][slot] += count
    missing = per_key.pop(unassigned, None) if unassigned is not None else None
    room = top - 1 if missing else top
    ranked = sorted(per_key, key=lambda k: (-per_key[k].total(), k))
    keys = ranked if len(ranked) <= room else ranked[: max(room - 1, 0)]
    folded: Counter[int] = Counter()
    for key in ranked[len(keys) :]:
        folded.update(per_key[key])
    columns = [per_key[k] for k in keys]
    if missing and unassigned is not None:
        keys = [*keys, unassigned]
        columns.append(missing)
    if folded:
        keys = [*keys, OTHER]
        columns.append(folded)
    counts = tuple(tuple(column[i] for column in columns) for i in range(len(slots)))
    return StackedSeries(
        size=size,
        buckets=tuple(slots),
        keys=tuple(keys),
        counts=counts,
        unassigned=unassigned if missing else None,
    )


@dataclass(frozen=True, slots=True)
class Span:
    """One incident's contribution to a problem's cost: detection to resolution (or none)."""

    group: int
    detected_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Cost:
    """What one group (a problem) cost: resolved incidents, their summed and mean time to
    resolve in seconds, and how many linked incidents are still unresolved."""

    group: int
    incidents: int
    resolved: int
    unresolved: int
    total_seconds: int

    @property
    def mean_seconds(self) -> int:
        return self.total_seconds // self.resolved if self.resolved else 0


def costliest(spans: Sequence[Span], *, limit: int = 10) -> list[Cost]:
    """Groups ranked by summed time to resolve (resolved_at - detected_at), largest first.

    A resolution recorded before detection counts as zero rather than negative. Groups whose
    incidents are all unresolved rank by incident count after those with a cost. Ties break
    on the group id, so the order is stable.
    """
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # incidents, resolved, secs
    for span in spans:
        entry = totals[span.group]
        entry[0] += 1
        if span.resolved_at is not None:
            entry[1] += 1
            entry[2] += max(0, int((span.resolved_at - span.detected_at).total_seconds()))
    ranked = [
        Cost(group=g, incidents=n, resolved=r, unresolved=n - r, total_seconds=s)
        for g, (n, r, s) in totals.items()
    ]
    ranked.sort(key=lambda c: (-c.total_seconds, -c.incidents, c.group))
    return ranked[:limit]
