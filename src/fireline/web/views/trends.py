"""The /trends page: incidents per service, category and cause over time as stacked-bar SVG
charts (each with a data table), and the problems whose incidents cost the most time.

The range form is a plain GET, so a chosen view can be bookmarked or shared. A bad range is
shown beside the form and the page falls back to the default range (never a 500).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fireline.domain.trends import StackedSeries
from fireline.errors import InvalidField
from fireline.usecases import trends
from fireline.usecases.trends import Dimension, ProblemCost
from fireline.web import charts
from fireline.web.rendering import render
from fireline.web.visitor import Reader

router = APIRouter(include_in_schema=False)

TITLES = {
    Dimension.SERVICE: "Incidents per service",
    Dimension.CATEGORY: "Incidents per category",
    Dimension.CAUSE: "Incidents per cause (linked problem)",
}
_PARAMS = ("range", "since", "until", "bucket")


@dataclass(frozen=True, slots=True)
class Panel:
    """One chart on the page: its series, the drawn geometry and an id for ARIA links."""

    key: str
    title: str
    series: StackedSeries
    chart: charts.BarChart


@router.get("/trends")
def trends_page(request: Request, visitor: Reader) -> Response:
    ctx = visitor.ctx
    params = {name: (request.query_params.get(name) or "").strip()[:20] for name in _PARAMS}
    problem: InvalidField | None = None
    try:
        win = trends.window(
            now=ctx.clock.now(),
            range_=params["range"] or None,
            since=params["since"] or None,
            until=params["until"] or None,
            bucket=params["bucket"] or None,
        )
    except InvalidField as exc:
        problem = exc
        win = trends.window(now=ctx.clock.now())
    panels = []
    for dimension in Dimension:
        series = trends.incidents_over_time(ctx, win, by=dimension)
        panels.append(
            Panel(
                key=dimension.value,
                title=TITLES[dimension],
                series=series,
                chart=charts.stacked_bars(series),
            )
        )
    costs = trends.costliest_problems(ctx, win, limit=10)
    return render(
        request,
        "trends/page.html",
        {
            "params": params,
            "problem": problem,
            "window": win,
            "panels": panels,
            "costs": list(zip(costs, charts.shares([c.total_seconds for c in costs]), strict=True)),
            "ranges": list(trends.RANGES),
            "hours": _hours,
        },
        visitor=visitor,
        status_code=422 if problem else 200,
    )


def _hours(cost: ProblemCost, attribute: str = "total_seconds") -> str:
    """Seconds as `12.5 h` (or `45 min` under an hour), for the cost table."""
    seconds = int(getattr(cost, attribute))
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
