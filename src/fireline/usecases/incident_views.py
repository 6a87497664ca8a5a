"""Read models of incidents for every interface (API, web, CLI through the API).

`views()` loads the names of everything an incident refers to in a fixed number of queries,
whatever the number of incidents, so list pages do not grow N+1 queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from fireline.domain import incident_lifecycle as lifecycle
from fireline.store.models import (
    Category,
    Incident,
    IncidentLabel,
    IncidentParticipant,
    IncidentService,
    Service,
    Team,
    User,
)
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
    """Read models for `incidents` in a fixed number of queries, whatever their number.

    Services, people and labels are read as plain column rows, not through the incidents'
    relationships: building ORM objects for every label and participant of a 100-row page
    costs more than the queries themselves.
    """
    ids = [inc.id for inc in incidents]
    services_of: dict[int, list[NamedRef]] = defaultdict(list)
    people_of: dict[int, list[tuple[int, str]]] = defaultdict(list)
    labels_of: dict[int, dict[str, str]] = defaultdict(dict)
    user_ids: set[int] = set()
    dup_ids: set[int] = set()
    if ids:
        for iid, sid, name in session.execute(
            select(IncidentService.incident_id, Service.id, Service.name)
            .join(Service, Service.id == IncidentService.service_id)
            .where(IncidentService.incident_id.in_(ids))
        ):
            services_of[iid].append(NamedRef(id=sid, name=name))
        for iid, uid, role in session.execute(
            select(
                IncidentParticipant.incident_id,
                IncidentParticipant.user_id,
                IncidentParticipant.role,
            ).where(IncidentParticipant.incident_id.in_(ids))
        ):
            people_of[iid].append((uid, role))
            user_ids.add(uid)
        for iid, key, value in session.execute(
            select(IncidentLabel.incident_id, IncidentLabel.key, IncidentLabel.value)
            .where(IncidentLabel.incident_id.in_(ids))
            .order_by(IncidentLabel.incident_id, IncidentLabel.key)
        ):
            labels_of[iid][key] = value
    for inc in incidents:
        user_ids.update(
            i for i in (inc.reporter_id, inc.commander_id, inc.assignee_id) if i is not None
        )
        if inc.duplicate_of_id is not None:
            dup_ids.add(inc.duplicate_of_id)
    # Plain column rows, not entities: loading User or Team entities would also load their
    # memberships (selectin) and build hundreds of ORM objects per list page. One UNION ALL
    # reads the people, teams and categories a page names: one round trip instead of three.
    users: dict[int, UserRef] = {}
    teams: dict[int, str] = {}
    categories: dict[int, str] = {}
    names = union_all(
        select(literal("user"), User.id, User.name, User.email).where(User.id.in_(user_ids)),
        select(literal("team"), Team.id, Team.name, literal("")),
        select(literal("category"), Category.id, Category.name, literal("")),
    )
    for kind, ident, name, email in session.execute(names):
        if kind == "user":
            users[ident] = UserRef(id=ident, name=name, email=email)
        elif kind == "team":
            teams[ident] = name
        else:
            categories[ident] = name
    dups = (
        dict(
            # .all(): dict() of a Result would treat it as a mapping (it has keys()).
            session.execute(
                select(Incident.id, Incident.number).where(Incident.id.in_(dup_ids))
            ).all()
        )
        if dup_ids
        else {}
    )

    def user(uid: int | None) -> UserRef | None:
        return None if uid is None else users.get(uid)

    def people(inc: Incident, role: ParticipantRole) -> list[UserRef]:
        found = [user(uid) for uid, r in people_of.get(inc.id, ()) if r == role.value]
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
                services=sorted(services_of.get(inc.id, ()), key=lambda r: r.name),
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
                labels=labels_of.get(inc.id, {}),
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
