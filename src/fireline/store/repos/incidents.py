"""Incident queries: the filtered, keyset-paginated list.

Order is newest first by id (ids only grow), so pages are stable while new incidents arrive:
the cursor is the last id of the previous page.

Free text is `search_text LIKE '%term%'` for every term, on both databases. PostgreSQL answers
it from a pg_trgm GIN index (migration 0005). On SQLite the same migration adds an FTS5 trigram
table, `incidents_search`; when a term has three or more characters the page walks its matches
newest first (`ORDER BY rowid DESC`) and stops at the page size, instead of reading every row
for a rare term. The LIKE conditions stay, so the result is exactly that of the plain scan.
When other filters also apply and select few rows, scanning those rows is cheaper than walking
the text matches, so a bounded count decides which way to go.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Integer, Select, Text, column, exists, func, select, table, text
from sqlalchemy.orm import Session, lazyload

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
    key: Any = Incident.id
    match = _text_match(session, filters, cursor)
    if match is not None:
        query = query.join(_SEARCH, _SEARCH.c.rowid == Incident.id).where(
            _SEARCH.c.incidents_search.match(match)
        )
        key = _SEARCH.c.rowid  # ordering by the FTS rowid lets SQLite stream matches in order
    if cursor is not None:
        query = query.where(key < cursor)
    # The list's readers (incident_views.views) load services, people and labels for the whole
    # page as plain rows; selectin-loading them here would build hundreds of ORM objects.
    query = query.options(lazyload(Incident.services), lazyload(Incident.participants))
    query = query.options(lazyload(Incident.labels))
    rows = list(session.scalars(query.order_by(key.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=rows[-1].id if has_more and rows else None)


# ---------------------------------------------------------------- SQLite text search

_SEARCH = table("incidents_search", column("rowid", Integer), column("incidents_search", Text))
# Below this many rows selected by the other filters, scanning them beats walking text matches.
_NARROW = 5000
_search_ready: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _text_match(session: Session, filters: IncidentFilters, cursor: int | None) -> str | None:
    """The FTS5 query to drive the page by, or None to scan incidents as usual."""
    if not filters.text:
        return None
    terms = [t for t in filters.text.lower().split()[:8] if len(t) >= 3]
    bind = session.get_bind()
    if not terms or bind.dialect.name != "sqlite" or not _has_search_table(session, bind.engine):
        return None
    others = replace(filters, text=None)
    if _narrowed(others):
        probe = filtered(others).with_only_columns(Incident.id)
        if cursor is not None:
            probe = probe.where(Incident.id < cursor)
        found = session.scalar(select(func.count()).select_from(probe.limit(_NARROW).subquery()))
        if (found or 0) < _NARROW:
            return None
    # Trigram phrases match substrings; "" escapes a double quote inside a phrase.
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _narrowed(filters: IncidentFilters) -> bool:
    return bool(
        filters.statuses
        or filters.priorities
        or filters.service_ids
        or filters.team_ids
        or filters.category_ids
        or filters.labels
        or filters.numbers
        or filters.assignee_id is not None
        or filters.created_after is not None
        or filters.created_before is not None
    )


def _has_search_table(session: Session, engine: Engine) -> bool:
    """Whether migration 0005 made the FTS table (a schema from create_all() has none)."""
    ready = _search_ready.get(engine)
    if ready is None:
        found = session.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'incidents_search'")
        ).first()
        ready = _search_ready[engine] = found is not None
    return ready
