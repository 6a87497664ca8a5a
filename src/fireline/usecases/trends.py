"""Trend analysis: incidents per service, category or cause over time, and the problems whose
incidents cost the most time to resolve.

Read-only. Incidents are placed in time by `detected_at` (imported history keeps its real
dates; `created_at` is the import time) and cancelled incidents are left out: they were
declared in error or duplicate another one. The "cause" of an incident is the problem it is
linked to (a problem stands for one root cause); incidents linked to no problem are counted
under "No linked problem", so the chart also shows how much is still unexplained.

Bucketing and ranking are pure (`domain/trends.py`); this module only reads rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.orm import Session

from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain import refs
from fireline.domain import trends as arithmetic
from fireline.domain.trends import BucketSize, StackedSeries
from fireline.errors import InvalidField
from fireline.store.models import Incident
from fireline.store.models.catalog import Category, Service
from fireline.store.models.incidents import IncidentService
from fireline.store.models.problems import Problem, ProblemIncident
from fireline.usecases.context import Context

NO_SERVICE = "No service"
NO_CATEGORY = "Uncategorised"
NO_PROBLEM = "No linked problem"
RANGES: dict[str, timedelta] = {
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "180d": timedelta(days=180),
    "365d": timedelta(days=365),
}
DEFAULT_RANGE = "30d"
MAX_SPAN = timedelta(days=731)


class Dimension(StrEnum):
    SERVICE = "service"
    CATEGORY = "category"
    CAUSE = "cause"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open UTC range `[start, end)` and its bucket size."""

    start: datetime
    end: datetime
    size: BucketSize


def window(
    *,
    now: datetime,
    range_: str | None = None,
    since: str | None = None,
    until: str | None = None,
    bucket: str | None = None,
) -> Window:
    """Resolve the trend range a person chose.

    Either a named range ending now (`7d`, `30d`, `90d`, `180d`, `365d`; default 30d) or
    explicit `since`/`until` days (`YYYY-MM-DD`, UTC, both inclusive; `until` defaults to
    today). `bucket` is `day` or `week`; by default days up to a month, weeks beyond.
    Raises InvalidField naming `range`, `since`, `until` or `bucket`.
    """
    if since or until:
        end = _day(until, "until") + timedelta(days=1) if until else now
        start = _day(since, "since") if since else end - RANGES[DEFAULT_RANGE]
        if start >= end:
            raise InvalidField("since", "must be before until")
        if end - start > MAX_SPAN:
            raise InvalidField("since", "the range can span at most two years")
    else:
        name = range_ or DEFAULT_RANGE
        if name not in RANGES:
            raise InvalidField("range", f"choose one of {', '.join(RANGES)}")
        start, end = now - RANGES[name], now
    if bucket:
        try:
            size = BucketSize(bucket)
        except ValueError:
            raise InvalidField("bucket", "choose day or week") from None
    else:
        size = arithmetic.suggested_size(start, end)
    return Window(start=start, end=end, size=size)


def _day(value: str, field: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value.strip()), time(), tzinfo=UTC)
    except ValueError:
        raise InvalidField(field, "use a date like 2026-03-01") from None


@dataclass(frozen=True, slots=True)
class ProblemCost:
    """A problem and what its linked incidents (detected in the window) cost to resolve."""

    ref: str
    title: str
    status: str
    priority: str
    incidents: int
    resolved: int
    unresolved: int
    total_seconds: int
    mean_seconds: int


@dataclass(frozen=True, slots=True)
class TrendReport:
    window: Window
    by: Dimension
    series: StackedSeries
    costliest: list[ProblemCost]


def report(
    ctx: Context, win: Window, *, by: Dimension, top: int = 8, limit: int = 10
) -> TrendReport:
    """The chart series for one dimension plus the costliest problems, in one read."""
    with ctx.reading() as session:
        series = _series(session, win, by=by, top=top)
        costs = _costliest(session, win, limit=limit)
    return TrendReport(window=win, by=by, series=series, costliest=costs)


def incidents_over_time(ctx: Context, win: Window, *, by: Dimension, top: int = 8) -> StackedSeries:
    """Incidents detected in the window, per bucket and per service, category or cause.

    An incident on two services (or linked to two problems) counts once for each.
    """
    with ctx.reading() as session:
        return _series(session, win, by=by, top=top)


def costliest_problems(ctx: Context, win: Window, *, limit: int = 10) -> list[ProblemCost]:
    """Problems ranked by the summed time to resolve (resolved_at - detected_at) of their
    linked incidents detected in the window; unresolved incidents are counted, not timed."""
    with ctx.reading() as session:
        return _costliest(session, win, limit=limit)


def _in_window(win: Window) -> tuple[ColumnElement[bool], ...]:
    return (
        Incident.detected_at >= win.start,
        Incident.detected_at < win.end,
        Incident.status != lifecycle.Status.CANCELLED.value,
    )


def _utc_day(session: Session) -> ColumnElement[str]:
    """`detected_at` as its UTC day, `YYYY-MM-DD`, computed by the database so only one row
    per day and key comes back (SQLite stores UTC text; PostgreSQL a timestamptz)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Incident.detected_at), "YYYY-MM-DD")
    return func.substr(cast(Incident.detected_at, String), 1, 10)


def _series(session: Session, win: Window, *, by: Dimension, top: int) -> StackedSeries:
    day = _utc_day(session).label("day")
    count = func.count().label("n")
    if by is Dimension.SERVICE:
        query = (
            select(day, Service.name, count)
            .select_from(Incident)
            .outerjoin(IncidentService, IncidentService.incident_id == Incident.id)
            .outerjoin(Service, Service.id == IncidentService.service_id)
            .where(*_in_window(win))
            .group_by(day, Service.name)
        )
        rows = [(d, name or NO_SERVICE, n) for d, name, n in session.execute(query).tuples()]
        unassigned = NO_SERVICE
    elif by is Dimension.CATEGORY:
        query = (
            select(day, Category.name, count)
            .select_from(Incident)
            .outerjoin(Category, Category.id == Incident.category_id)
            .where(*_in_window(win))
            .group_by(day, Category.name)
        )
        rows = [(d, name or NO_CATEGORY, n) for d, name, n in session.execute(query).tuples()]
        unassigned = NO_CATEGORY
    else:
        cause = (
            select(day, Problem.number, Problem.title, count)
            .select_from(Incident)
            .outerjoin(ProblemIncident, ProblemIncident.incident_id == Incident.id)
            .outerjoin(Problem, Problem.id == ProblemIncident.problem_id)
            .where(*_in_window(win))
            .group_by(day, Problem.number, Problem.title)
        )
        rows = [
            (d, _cause_label(number, title) if number is not None else NO_PROBLEM, n)
            for d, number, title, n in session.execute(cause).tuples()
        ]
        unassigned = NO_PROBLEM
    return arithmetic.stack_days(
        ((date.fromisoformat(d), key, n) for d, key, n in rows),
        start=win.start,
        end=win.end,
        size=win.size,
        top=top,
        unassigned=unassigned,
    )


def _cause_label(number: int, title: str | None) -> str:
    return f"{refs.format_ref(refs.PROBLEM_PREFIX, number)} {title or ''}".strip()


def _costliest(session: Session, win: Window, *, limit: int) -> list[ProblemCost]:
    rows = session.execute(
        select(ProblemIncident.problem_id, Incident.detected_at, Incident.resolved_at)
        .join(Incident, Incident.id == ProblemIncident.incident_id)
        .where(*_in_window(win))
    ).tuples()
    spans = [arithmetic.Span(group=p, detected_at=d, resolved_at=r) for p, d, r in rows]
    ranked = arithmetic.costliest(spans, limit=limit)
    if not ranked:
        return []
    problems = {
        p.id: p
        for p in session.scalars(select(Problem).where(Problem.id.in_([c.group for c in ranked])))
    }
    return [
        ProblemCost(
            ref=refs.format_ref(refs.PROBLEM_PREFIX, problems[c.group].number),
            title=problems[c.group].title,
            status=problems[c.group].status,
            priority=problems[c.group].priority,
            incidents=c.incidents,
            resolved=c.resolved,
            unresolved=c.unresolved,
            total_seconds=c.total_seconds,
            mean_seconds=c.mean_seconds,
        )
        for c in ranked
    ]
