"""/api/v1/trends: incidents per service, category or cause over time, and the costliest
problems (the same report the /trends page draws)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from fireline.api.deps import Viewer
from fireline.api.schemas.trends import ProblemCostOut, TrendBucket, TrendOut
from fireline.usecases import trends

router = APIRouter(prefix="/api/v1", tags=["trends"])


@router.get("/trends", response_model=TrendOut)
def get_trends(
    auth: Viewer,
    by: Annotated[trends.Dimension, Query()] = trends.Dimension.SERVICE,
    range_: Annotated[
        str | None, Query(alias="range", max_length=10, description="7d, 30d, 90d, 180d, 365d")
    ] = None,
    since: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC)")] = None,
    until: Annotated[
        str | None, Query(max_length=10, description="YYYY-MM-DD (UTC, inclusive)")
    ] = None,
    bucket: Annotated[str | None, Query(max_length=10, description="day or week")] = None,
    top: Annotated[int, Query(ge=1, le=20, description="keys before 'Other'")] = 8,
    limit: Annotated[int, Query(ge=1, le=50, description="costliest problems")] = 10,
) -> TrendOut:
    """Incidents detected in the range (cancelled ones left out) per bucket and key, plus
    the problems whose linked incidents took the longest to resolve in total."""
    ctx = auth.ctx
    win = trends.window(now=ctx.clock.now(), range_=range_, since=since, until=until, bucket=bucket)
    found = trends.report(ctx, win, by=by, top=top, limit=limit)
    series = found.series
    return TrendOut(
        start=win.start,
        end=win.end,
        bucket=win.size.value,
        by=by.value,
        keys=list(series.keys),
        buckets=[
            TrendBucket(start=day, total=sum(row), counts=dict(zip(series.keys, row, strict=True)))
            for day, row in zip(series.buckets, series.counts, strict=True)
        ],
        total=series.total,
        costliest_problems=[ProblemCostOut(**asdict(c)) for c in found.costliest],
    )


def install(app: Any) -> None:
    app.include_router(router)
