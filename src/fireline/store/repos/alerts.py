"""Alert queries: the filtered, keyset-paginated list (newest first, cursor = last id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.store.models.alerts import Alert, Integration


@dataclass(frozen=True, slots=True)
class AlertFilters:
    statuses: Sequence[str] = ()
    service_ids: Sequence[int] = ()
    integration_ids: Sequence[int] = ()
    incident_id: int | None = None
    noise: bool | None = None
    suppressed: bool | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class AlertPage:
    items: Sequence[Alert]
    next_cursor: int | None


def list_page(
    session: Session, filters: AlertFilters, *, cursor: int | None, limit: int
) -> AlertPage:
    query = select(Alert)
    if filters.statuses:
        query = query.where(Alert.status.in_(filters.statuses))
    if filters.service_ids:
        query = query.where(Alert.service_id.in_(filters.service_ids))
    if filters.integration_ids:
        query = query.where(Alert.integration_id.in_(filters.integration_ids))
    if filters.incident_id is not None:
        query = query.where(Alert.incident_id == filters.incident_id)
    if filters.noise is not None:
        query = query.where(Alert.noise.is_(filters.noise))
    if filters.suppressed is not None:
        query = query.where(Alert.suppressed.is_(filters.suppressed))
    if filters.text:
        for term in filters.text.lower().split()[:8]:
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            query = query.where(
                func.lower(Alert.summary).like(pattern, escape="\\")
                | func.lower(Alert.dedup_key).like(pattern, escape="\\")
            )
    if cursor is not None:
        query = query.where(Alert.id < cursor)
    rows = list(session.scalars(query.order_by(Alert.id.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return AlertPage(items=rows, next_cursor=rows[-1].id if has_more and rows else None)


def noise_report(session: Session, *, since: object | None = None) -> list[dict[str, object]]:
    """Alerts marked as noise (and suppressed ones) per integration and alert name."""
    name = func.coalesce(Alert.labels["alertname"].as_string(), Alert.summary)
    query = (
        select(
            Alert.integration_id,
            Integration.name,
            Integration.service_id,
            name.label("rule"),
            func.count().label("alerts"),
            func.sum(func.cast(Alert.noise, type_=Integration.id.type)).label("noise"),
            func.sum(func.cast(Alert.flapping, type_=Integration.id.type)).label("flapping"),
            func.sum(func.cast(Alert.suppressed, type_=Integration.id.type)).label("suppressed"),
        )
        .join(Integration, Integration.id == Alert.integration_id)
        .group_by(Alert.integration_id, Integration.name, Integration.service_id, name)
        .order_by(
            func.sum(func.cast(Alert.noise, type_=Integration.id.type)).desc(),
            func.count().desc(),
        )
        .limit(500)
    )
    if since is not None:
        query = query.where(Alert.first_seen_at >= since)
    return [dict(row._mapping) for row in session.execute(query)]
