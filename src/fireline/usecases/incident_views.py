"""Read models of incidents for every interface (API, web, CLI through the API).

`views()` loads the names of everything an incident refers to in a fixed number of queries,
whatever the number of incidents, so list pages do not grow N+1 queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.domain import incident_lifecycle as lifecycle
from fireline.store.models import Category, Incident, Service, Team, User
from fireline.usecases.context import Context
from fireline.usecases.incidents import ParticipantRole, get, ref_of


@dataclass(frozen=True, slots=True)
class NamedRef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class UserRef:
    id: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: int
    ref: str
    title: str
    description: str
    status: str
    category: str | None
    services: list[NamedRef]
    impact: str
    urgency: str
    priority: str
    priority_derived: str
    priority_override_reason: str | None
    source: str
    reporter: UserRef | None
    commander: UserRef | None
    assignee: UserRef | None
    team: NamedRef | None
    responders: list[UserRef]
    stakeholders: list[UserRef]
    labels: dict[str, str]
    resolution_summary: str | None
    cancel_reason: str | None
    duplicate_of: str | None
    imported: bool
    fingerprint: str | None
    version: int
    detected_at: datetime
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]


def views(session: Session, incidents: Sequence[Incident]) -> list[IncidentView]:
    user_ids: set[int] = set()
    service_ids: set[int] = set()
    dup_ids: set[int] = set()
    for inc in incidents:
        user_ids.update(
            i for i in (inc.reporter_id, inc.commander_id, inc.assignee_id) if i is not None
        )
        user_ids.update(p.user_id for p in inc.participants)
        service_ids.update(s.service_id for s in inc.services)
        if inc.duplicate_of_id is not None:
            dup_ids.add(inc.duplicate_of_id)
    # Plain column rows, not entities: loading User or Team entities would also load their
    # memberships (selectin) and build hundreds of ORM objects per list page.
    users = (
        {
            uid: UserRef(id=uid, name=name, email=email)
            for uid, name, email in session.execute(
                select(User.id, User.name, User.email).where(User.id.in_(user_ids))
            ).tuples()
        }
        if user_ids
        else {}
    )
    services = (
        dict(
            session.execute(select(Service.id, Service.name).where(Service.id.in_(service_ids)))
            .tuples()
            .all()
        )
        if service_ids
        else {}
    )
    teams = dict(session.execute(select(Team.id, Team.name)).tuples().all())
    categories = dict(session.execute(select(Category.id, Category.name)).tuples().all())
    dups = (
        dict(
            # .tuples(): dict() of a Result would treat it as a mapping (it has keys()).
            session.execute(select(Incident.id, Incident.number).where(Incident.id.in_(dup_ids)))
            .tuples()
            .all()
        )
        if dup_ids
        else {}
    )

    def user(uid: int | None) -> UserRef | None:
        return None if uid is None else users.get(uid)

    def people(inc: Incident, role: ParticipantRole) -> list[UserRef]:
        found = [user(p.user_id) for p in inc.participants if p.role == role.value]
        return sorted((u for u in found if u is not None), key=lambda u: u.name)

    result = []
    for inc in incidents:
        result.append(
            IncidentView(
                id=inc.id,
                ref=ref_of(inc),
                title=inc.title,
                description=inc.description,
                status=inc.status,
                category=categories.get(inc.category_id) if inc.category_id else None,
                services=sorted(
                    (
                        NamedRef(id=s.service_id, name=services.get(s.service_id, "?"))
                        for s in inc.services
                    ),
                    key=lambda r: r.name,
                ),
                impact=inc.impact,
                urgency=inc.urgency,
                priority=inc.priority,
                priority_derived=inc.priority_derived,
                priority_override_reason=inc.priority_override_reason,
                source=inc.source,
                reporter=user(inc.reporter_id),
                commander=user(inc.commander_id),
                assignee=user(inc.assignee_id),
                team=NamedRef(id=inc.team_id, name=teams.get(inc.team_id, "?"))
                if inc.team_id
                else None,
                responders=people(inc, ParticipantRole.RESPONDER),
                stakeholders=people(inc, ParticipantRole.STAKEHOLDER),
                labels={lb.key: lb.value for lb in sorted(inc.labels, key=lambda x: x.key)},
                resolution_summary=inc.resolution_summary,
                cancel_reason=inc.cancel_reason,
                duplicate_of=f"INC-{dups[inc.duplicate_of_id]}"
                if inc.duplicate_of_id in dups
                else None,
                imported=inc.imported,
                fingerprint=inc.fingerprint,
                version=inc.version,
                detected_at=inc.detected_at,
                created_at=inc.created_at,
                updated_at=inc.updated_at,
                acknowledged_at=inc.acknowledged_at,
                mitigated_at=inc.mitigated_at,
                resolved_at=inc.resolved_at,
                closed_at=inc.closed_at,
                allowed_actions=[
                    a.value for a in lifecycle.allowed_actions(lifecycle.Status(inc.status))
                ],
            )
        )
    return result


def view(ctx: Context, key: str | int) -> IncidentView:
    with ctx.reading() as session:
        return views(session, [get(session, key)])[0]


def view_of(ctx: Context, incident: Incident) -> IncidentView:
    with ctx.reading() as session:
        return views(session, [get(session, incident.id)])[0]
