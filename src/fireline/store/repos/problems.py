"""Problem and known-error queries: lookup by reference, the filtered keyset list, links.

Lists are newest first by id with the last id of a page as the cursor (as for incidents), so
pages stay stable while new problems arrive. Repositories never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from fireline.store.models import Incident, IncidentLabel, IncidentService
from fireline.store.models.alerts import Alert
from fireline.store.models.problems import (
    IncidentKnownError,
    KnownError,
    Problem,
    ProblemIncident,
    ProblemService,
)


@dataclass(frozen=True, slots=True)
class ProblemFilters:
    statuses: Sequence[str] = ()
    service_ids: Sequence[int] = ()
    owner_team_ids: Sequence[int] = ()
    origins: Sequence[str] = ()
    verification: Sequence[str] = ()
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ProblemPage:
    items: Sequence[Problem]
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class KnownErrorPage:
    items: Sequence[KnownError]
    next_cursor: int | None


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(filters: ProblemFilters) -> Select[Any]:
    query = select(Problem)
    if filters.statuses:
        query = query.where(Problem.status.in_(filters.statuses))
    if filters.owner_team_ids:
        query = query.where(Problem.owner_team_id.in_(filters.owner_team_ids))
    if filters.origins:
        query = query.where(Problem.origin.in_(filters.origins))
    if filters.verification:
        query = query.where(Problem.verification.in_(filters.verification))
    if filters.service_ids:
        query = query.where(
            exists().where(
                ProblemService.problem_id == Problem.id,
                ProblemService.service_id.in_(filters.service_ids),
            )
        )
    if filters.text:
        for term in filters.text.lower().split()[:8]:
            pattern = _like(term)
            query = query.where(
                or_(
                    func.lower(Problem.title).like(pattern, escape="\\"),
                    func.lower(Problem.description).like(pattern, escape="\\"),
                )
            )
    return query


def list_page(
    session: Session, filters: ProblemFilters, *, cursor: int | None, limit: int
) -> ProblemPage:
    query = filtered(filters)
    if cursor is not None:
        query = query.where(Problem.id < cursor)
    rows = list(session.scalars(query.order_by(Problem.id.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return ProblemPage(items=rows, next_cursor=rows[-1].id if has_more and rows else None)


def by_number(session: Session, number: int) -> Problem | None:
    return session.scalar(select(Problem).where(Problem.number == number))


def by_origin_incident(session: Session, incident_id: int) -> Problem | None:
    return session.scalar(select(Problem).where(Problem.origin_incident_id == incident_id))


def link(session: Session, *, problem_id: int, incident_id: int) -> ProblemIncident | None:
    return session.get(ProblemIncident, (problem_id, incident_id))


def incidents_of(session: Session, problem_id: int) -> list[tuple[ProblemIncident, Incident]]:
    """The incidents linked to a problem with their link rows, oldest link first."""
    rows = session.execute(
        select(ProblemIncident, Incident)
        .join(Incident, Incident.id == ProblemIncident.incident_id)
        .where(ProblemIncident.problem_id == problem_id)
        .order_by(ProblemIncident.linked_at, Incident.id)
    ).tuples()
    return list(rows)


def problems_of(session: Session, incident_id: int) -> list[tuple[ProblemIncident, Problem]]:
    rows = session.execute(
        select(ProblemIncident, Problem)
        .join(Problem, Problem.id == ProblemIncident.problem_id)
        .where(ProblemIncident.incident_id == incident_id)
        .order_by(Problem.id)
    ).tuples()
    return list(rows)


def link_counts(session: Session, problem_ids: Sequence[int]) -> dict[int, int]:
    if not problem_ids:
        return {}
    rows = session.execute(
        select(ProblemIncident.problem_id, func.count())
        .where(ProblemIncident.problem_id.in_(problem_ids))
        .group_by(ProblemIncident.problem_id)
    ).tuples()
    return {pid: int(n) for pid, n in rows.all()}


def open_with_services(
    session: Session, *, statuses: Sequence[str], service_ids: Sequence[int]
) -> list[Problem]:
    """Problems in `statuses` affecting any of `service_ids` (all such problems when empty)."""
    query = select(Problem).where(Problem.status.in_(statuses))
    if service_ids:
        query = query.where(
            exists().where(
                ProblemService.problem_id == Problem.id,
                ProblemService.service_id.in_(service_ids),
            )
        )
    return list(session.scalars(query.order_by(Problem.id)))


def watched(session: Session, *, verification: str) -> list[Problem]:
    return list(
        session.scalars(
            select(Problem).where(Problem.verification == verification).order_by(Problem.id)
        )
    )


def incident_labels(session: Session, incident_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    result: dict[int, dict[str, str]] = {i: {} for i in incident_ids}
    if not incident_ids:
        return result
    for label in session.scalars(
        select(IncidentLabel).where(IncidentLabel.incident_id.in_(incident_ids))
    ):
        result[label.incident_id][label.key] = label.value
    return result


def alert_labels(session: Session, incident_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """Labels of the alerts attached to each incident (first alert wins on a clash)."""
    result: dict[int, dict[str, str]] = {i: {} for i in incident_ids}
    if not incident_ids:
        return result
    rows = session.execute(
        select(Alert.incident_id, Alert.labels)
        .where(Alert.incident_id.in_(incident_ids))
        .order_by(Alert.id)
    ).tuples()
    for incident_id, labels in rows:
        if incident_id is None or not isinstance(labels, dict):
            continue
        target = result.setdefault(incident_id, {})
        for key, value in labels.items():
            if isinstance(value, str | int | float | bool):
                target.setdefault(str(key), str(value))
    return result


def alerts_for_signature(
    session: Session,
    *,
    service_ids: Sequence[int],
    fingerprints: Sequence[str],
    since: datetime,
    until: datetime,
    limit: int = 500,
) -> list[Alert]:
    """Alerts first seen in [since, until] on `service_ids` or with one of `fingerprints`,
    attached to an incident, oldest first (at most `limit`)."""
    if not service_ids and not fingerprints:
        return []
    where = []
    if service_ids:
        where.append(Alert.service_id.in_(service_ids))
    if fingerprints:
        where.append(Alert.fingerprint.in_(fingerprints))
        where.append(Alert.dedup_key.in_(fingerprints))
    return list(
        session.scalars(
            select(Alert)
            .where(
                or_(*where),
                Alert.first_seen_at >= since,
                Alert.first_seen_at <= until,
                Alert.incident_id.is_not(None),
            )
            .order_by(Alert.id)
            .limit(limit)
        )
    )


def incident_service_ids(session: Session, incident_ids: Sequence[int]) -> dict[int, list[int]]:
    result: dict[int, list[int]] = {i: [] for i in incident_ids}
    if not incident_ids:
        return result
    for row in session.scalars(
        select(IncidentService).where(IncidentService.incident_id.in_(incident_ids))
    ):
        result[row.incident_id].append(row.service_id)
    return result


# ---------------------------------------------------------------- known errors


def known_error_page(
    session: Session,
    *,
    active: bool | None,
    service_id: int | None,
    text: str | None,
    cursor: int | None,
    limit: int,
) -> KnownErrorPage:
    query = select(KnownError)
    if active is not None:
        query = query.where(KnownError.active.is_(active))
    if text:
        for term in text.lower().split()[:8]:
            pattern = _like(term)
            query = query.where(
                or_(
                    func.lower(KnownError.title).like(pattern, escape="\\"),
                    func.lower(KnownError.symptoms).like(pattern, escape="\\"),
                    func.lower(KnownError.workaround).like(pattern, escape="\\"),
                )
            )
    if cursor is not None:
        query = query.where(KnownError.id < cursor)
    # service_ids is a JSON list; filtering in Python keeps it portable (the table is small).
    rows = list(session.scalars(query.order_by(KnownError.id.desc())))
    if service_id is not None:
        rows = [r for r in rows if service_id in (r.service_ids or [])]
    page = rows[: limit + 1]
    has_more = len(page) > limit
    page = page[:limit]
    return KnownErrorPage(items=page, next_cursor=page[-1].id if has_more and page else None)


def active_known_errors(session: Session) -> list[KnownError]:
    return list(
        session.scalars(
            select(KnownError).where(KnownError.active.is_(True)).order_by(KnownError.id)
        )
    )


def has_active_known_errors(session: Session) -> bool:
    """Cheap check run at every incident declaration (one indexed-free LIMIT 1 query)."""
    found = session.scalar(select(KnownError.id).where(KnownError.active.is_(True)).limit(1))
    return found is not None


def known_error_of_problem(session: Session, problem_id: int) -> KnownError | None:
    return session.scalar(
        select(KnownError).where(KnownError.problem_id == problem_id).order_by(KnownError.id)
    )


def matches_of_incident(
    session: Session, incident_id: int
) -> list[tuple[IncidentKnownError, KnownError]]:
    rows = session.execute(
        select(IncidentKnownError, KnownError)
        .join(KnownError, KnownError.id == IncidentKnownError.known_error_id)
        .where(IncidentKnownError.incident_id == incident_id)
        .order_by(IncidentKnownError.score.desc(), KnownError.id)
    ).tuples()
    return list(rows)


def match_count(session: Session, known_error_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(IncidentKnownError.known_error_id == known_error_id)
        )
        or 0
    )
