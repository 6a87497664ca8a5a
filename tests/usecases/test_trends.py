"""Trend queries on both backends: incidents per service, category and cause over time, and
the problems whose incidents cost the most time to resolve."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fireline.clock import FrozenClock
from fireline.domain.trends import OTHER, BucketSize
from fireline.errors import InvalidField
from fireline.store.models.problems import Problem, ProblemIncident
from fireline.usecases import catalog, incidents, trends
from fireline.usecases.context import Context
from fireline.usecases.incidents import History, IncidentDraft

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the clock fixture's time, a Monday


def _past(
    ctx: Context,
    title: str,
    *,
    days_ago: float,
    hours_to_resolve: float | None = None,
    services: tuple[str, ...] = (),
    category: str | None = None,
    cancelled: bool = False,
) -> int:
    detected = NOW - timedelta(days=days_ago)
    resolved = detected + timedelta(hours=hours_to_resolve) if hours_to_resolve else None
    incident = incidents.declare(
        ctx,
        IncidentDraft(
            title=title,
            services=services,
            category=category,
            detected_at=detected,
            history=History(resolved_at=resolved, cancelled=cancelled),
        ),
    )
    return incident.id


def _problem(ctx: Context, number: int, title: str, incident_ids: list[int]) -> None:
    with ctx.transaction() as session:
        problem = Problem(
            number=number,
            title=title,
            status="investigating",
            priority="P2",
            origin="reactive",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(problem)
        session.flush()
        session.add_all(
            ProblemIncident(problem_id=problem.id, incident_id=i, linked_at=NOW, linked_by="t")
            for i in incident_ids
        )


def test_incidents_per_service_per_day(ctx: Context, clock: FrozenClock) -> None:
    catalog.create_service(ctx, name="checkout")
    catalog.create_service(ctx, name="search")
    _past(ctx, "Checkout 500s", days_ago=1.5, services=("checkout",))
    _past(ctx, "Checkout slow", days_ago=1.2, services=("checkout", "search"))
    _past(ctx, "Search down", days_ago=0.5, services=("search",))
    _past(ctx, "Unowned", days_ago=0.2)
    _past(ctx, "Declared in error", days_ago=0.2, services=("search",), cancelled=True)
    _past(ctx, "Too old", days_ago=9, services=("search",))

    win = trends.window(now=clock.now(), range_="7d")
    series = trends.incidents_over_time(ctx, win, by=trends.Dimension.SERVICE)

    assert series.size is BucketSize.DAY
    assert series.buckets[0] == date(2026, 2, 23) and series.buckets[-1] == date(2026, 3, 2)
    assert series.keys == ("checkout", "search", trends.NO_SERVICE)
    by_day = dict(zip(series.buckets, series.counts, strict=True))
    assert by_day[date(2026, 2, 28)] == (1, 0, 0)
    assert by_day[date(2026, 3, 1)] == (1, 2, 0)
    assert by_day[date(2026, 3, 2)] == (0, 0, 1)
    assert series.total == 5  # cancelled and out-of-range incidents are left out


def test_days_are_utc_days_on_both_backends(ctx: Context) -> None:
    _past(ctx, "Just before midnight UTC", days_ago=9.5 / 24)  # 2026-03-01 23:30 UTC
    _past(ctx, "Just after midnight UTC", days_ago=8.5 / 24)  # 2026-03-02 00:30 UTC
    series = trends.incidents_over_time(
        ctx, trends.window(now=NOW, range_="7d"), by=trends.Dimension.CATEGORY
    )
    by_day = dict(zip(series.buckets, series.bucket_totals, strict=True))
    assert by_day[date(2026, 3, 1)] == 1 and by_day[date(2026, 3, 2)] == 1


def test_incidents_per_category_fold_small_ones_into_other_but_not_the_unassigned(
    ctx: Context,
) -> None:
    for n, name in enumerate(("application", "infrastructure", "performance", "security")):
        for _ in range(4 - n):
            _past(ctx, f"{name} trouble", days_ago=3, category=name)
    _past(ctx, "No category", days_ago=2)

    win = trends.window(now=NOW, since="2026-02-01", until="2026-03-02", bucket="week")
    series = trends.incidents_over_time(ctx, win, by=trends.Dimension.CATEGORY, top=3)

    assert series.size is BucketSize.WEEK
    # "Uncategorised" is never folded into "Other" and comes after the named keys.
    assert series.keys == ("application", trends.NO_CATEGORY, OTHER)
    assert series.key_totals == (4, 1, 3 + 2 + 1)
    assert series.unassigned == trends.NO_CATEGORY


def test_incidents_per_cause_use_the_linked_problem(ctx: Context) -> None:
    linked = [_past(ctx, "Disk full on db-1", days_ago=d) for d in (1, 2, 3)]
    _past(ctx, "Unexplained blip", days_ago=1)
    _problem(ctx, 7, "Log rotation misconfigured", linked)

    series = trends.incidents_over_time(
        ctx, trends.window(now=NOW, range_="7d"), by=trends.Dimension.CAUSE
    )

    assert series.keys == ("PRB-7 Log rotation misconfigured", trends.NO_PROBLEM)
    assert series.key_totals == (3, 1)


def test_costliest_problems_rank_by_summed_time_to_resolve(ctx: Context) -> None:
    many_short = [_past(ctx, "Cache flap", days_ago=d, hours_to_resolve=1) for d in (1, 2, 3)]
    one_long = [_past(ctx, "Queue stuck", days_ago=4, hours_to_resolve=10)]
    still_open = [
        _past(ctx, "Cert expiry", days_ago=2, hours_to_resolve=2),
        _past(ctx, "Cert expiry again", days_ago=1),
    ]
    old = _past(ctx, "Queue stuck long ago", days_ago=200, hours_to_resolve=500)
    _problem(ctx, 1, "Cache eviction storm", many_short)
    _problem(ctx, 2, "Consumer deadlock", [*one_long, old])
    _problem(ctx, 3, "Manual certificate renewal", still_open)

    costs = trends.costliest_problems(ctx, trends.window(now=NOW, range_="30d"))

    assert [c.ref for c in costs] == ["PRB-2", "PRB-1", "PRB-3"]
    assert costs[0].title == "Consumer deadlock"
    assert costs[0].total_seconds == 10 * 3600 and costs[0].incidents == 1  # old one is outside
    assert costs[1].total_seconds == 3 * 3600 and costs[1].mean_seconds == 3600
    assert (costs[2].resolved, costs[2].unresolved) == (1, 1)
    report = trends.report(ctx, trends.window(now=NOW, range_="30d"), by=trends.Dimension.CAUSE)
    assert report.costliest == costs
    assert report.series.total == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range_": "2w"}, "range"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-03-01", "until": "2026-02-01"}, "since"),
        ({"since": "2020-01-01", "until": "2026-01-01"}, "since"),
        ({"bucket": "month"}, "bucket"),
    ],
)
def test_bad_ranges_name_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidField) as raised:
        trends.window(now=NOW, **params)
    assert raised.value.field == field


def test_explicit_days_are_inclusive() -> None:
    win = trends.window(now=NOW, since="2026-02-01", until="2026-02-28")
    assert win.start == datetime(2026, 2, 1, tzinfo=UTC)
    assert win.end == datetime(2026, 3, 1, tzinfo=UTC)
    assert win.size is BucketSize.DAY
