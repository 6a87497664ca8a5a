"""Incident queries: the filtered, keyset-paginated list.

Order is newest first by id (ids only grow), so pages are stable while new incidents arrive:
the cursor is the last id of the previous page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from fireline.store.models import Incident, IncidentLabel, IncidentService


@dataclass(frozen=True, slots=True)
class IncidentFilters:
    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    service_ids: Sequence[int] = ()
    team_ids: Sequence[int] = ()
    category_ids: Sequence[int] = ()
    assignee_id: int | None = None
    labels: Sequence[tuple[str, str]] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None
    numbers: Sequence[int] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Incident]
    next_cursor: int | None


def filtered(filters: IncidentFilters) -> Select[Any]:
    query = select(Incident)
    if filters.statuses:
        query = query.where(Incident.status.in_(filters.statuses))
    if filters.priorities:
        query = query.where(Incident.priority.in_(filters.priorities))
    if filters.team_ids:
        query = query.where(Incident.team_id.in_(filters.team_ids))
    if filters.category_ids:
        query = query.where(Incident.category_id.in_(filters.category_ids))
    if filters.assignee_id is not None:
        query = query.where(Incident.assignee_id == filters.assignee_id)
    if filters.service_ids:
        query = query.where(
            exists().where(
                IncidentService.incident_id == Incident.id,
                IncidentService.service_id.in_(filters.service_ids),
            )
        )
    for key, value in filters.labels:
        query = query.where(
            exists().where(
                IncidentLabel.incident_id == Incident.id,
                IncidentLabel.key == key,
                IncidentLabel.value == value,
            )
        )
    if filters.created_after is not None:
        query = query.where(Incident.created_at >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(Incident.created_at < filters.created_before)
    if filters.text:
        for term in filters.text.lower().split()[:8]:
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Incident.search_text.like(f"%{escaped}%", escape="\\"))
    if filters.numbers:
        query = query.where(Incident.number.in_(filters.numbers))
    return query


def list_page(
    session: Session, filters: IncidentFilters, *, cursor: int | None, limit: int
) -> Page:
    query = filtered(filters)
    if cursor is not None:
        query = query.where(Incident.id < cursor)
    rows = list(session.scalars(query.order_by(Incident.id.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=rows[-1].id if has_more and rows else None)
