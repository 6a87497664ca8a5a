"""Read models of problems and known errors for every interface (API, web, CLI), and export.

`views()` loads what problems refer to in a fixed number of queries whatever their number, so
list pages do not grow N+1 queries. `detail=True` adds the linked incidents and changes.
`export_markdown()` renders a problem with its RCA for a post-incident document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.domain import problem_lifecycle as lifecycle
from fireline.domain import rca as rca_rules
from fireline.errors import InvalidField
from fireline.store.models import Incident, Service, Team, User
from fireline.store.models.problems import IncidentKnownError, KnownError, Problem, ProblemIncident
from fireline.store.repos import problems as repo
from fireline.store.repos import timeline
from fireline.usecases import incidents as incident_cases
from fireline.usecases import lookups, problem_transitions, problems
from fireline.usecases.context import Context
from fireline.usecases.incident_views import NamedRef, UserRef


@dataclass(frozen=True, slots=True)
class LinkedIncident:
    id: int
    ref: str
    title: str
    status: str
    priority: str
    detected_at: datetime
    linked_at: datetime
    linked_by: str
    reason: str


@dataclass(frozen=True, slots=True)
class LinkedChange:
    id: int
    change_ref: str
    description: str
    linked_at: datetime
    linked_by: str


@dataclass(frozen=True, slots=True)
class VerificationView:
    """Where fix verification stands: none | watching | verified | failed."""

    state: str
    watch_days: int
    verify_until: datetime | None
    verified_at: datetime | None
    signature: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KnownErrorRef:
    id: int
    ref: str
    title: str
    fix_status: str
    active: bool


@dataclass(frozen=True, slots=True)
class ProblemView:
    id: int
    ref: str
    title: str
    description: str
    status: str
    priority: str
    origin: str
    owner_team: NamedRef | None
    owner_user: UserRef | None
    services: list[NamedRef]
    root_cause: str | None
    workaround: str | None
    rca: dict[str, Any]
    fix_change_ref: str | None
    fix_description: str | None
    incident_count: int
    origin_incident: str | None
    known_error: KnownErrorRef | None
    verification: VerificationView
    version: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]
    incidents: list[LinkedIncident] = field(default_factory=list)
    changes: list[LinkedChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KnownErrorView:
    id: int
    ref: str
    title: str
    symptoms: str
    root_cause: str
    workaround: str
    fix_status: str
    services: list[NamedRef]
    labels: dict[str, str]
    keywords: list[str]
    problem: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IncidentMatchView:
    """A known error matched to an incident: what responders need at once."""

    known_error: KnownErrorView
    matched_at: datetime
    score: float
    reasons: list[str]


def views(session: Session, found: Sequence[Problem], *, detail: bool = False) -> list[ProblemView]:
    ids = [p.id for p in found]
    user_ids = {p.owner_user_id for p in found if p.owner_user_id is not None}
    team_ids = {p.owner_team_id for p in found if p.owner_team_id is not None}
    service_ids = {s.service_id for p in found for s in p.services}
    users = (
        {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    teams = _names(session, Team, team_ids)
    services = _names(session, Service, service_ids)
    counts = repo.link_counts(session, ids)
    origin_ids = {p.origin_incident_id for p in found if p.origin_incident_id is not None}
    origins = _numbers(session, Incident, origin_ids)
    known: dict[int, KnownError] = {}
    if ids:
        for row in session.scalars(
            select(KnownError).where(KnownError.problem_id.in_(ids)).order_by(KnownError.id.desc())
        ):
            known[row.problem_id or 0] = row
    result = []
    for p in found:
        owner = users.get(p.owner_user_id) if p.owner_user_id else None
        ke = known.get(p.id)
        result.append(
            ProblemView(
                id=p.id,
                ref=problems.ref_of(p),
                title=p.title,
                description=p.description,
                status=p.status,
                priority=p.priority,
                origin=p.origin,
                owner_team=NamedRef(id=p.owner_team_id, name=teams.get(p.owner_team_id, "?"))
                if p.owner_team_id
                else None,
                owner_user=UserRef(id=owner.id, name=owner.name, email=owner.email)
                if owner
                else None,
                services=sorted(
                    (
                        NamedRef(id=s.service_id, name=services.get(s.service_id, "?"))
                        for s in p.services
                    ),
                    key=lambda r: r.name,
                ),
                root_cause=p.root_cause,
                workaround=p.workaround,
                rca=dict(p.rca or {}),
                fix_change_ref=p.fix_change_ref,
                fix_description=p.fix_description,
                incident_count=counts.get(p.id, 0),
                origin_incident=f"INC-{origins[p.origin_incident_id]}"
                if p.origin_incident_id in origins
                else None,
                known_error=_ke_ref(ke) if ke else None,
                verification=VerificationView(
                    state=p.verification,
                    watch_days=p.watch_days,
                    verify_until=p.verify_until,
                    verified_at=p.verified_at,
                    signature=dict(p.signature or {}),
                ),
                version=p.version,
                created_at=p.created_at,
                updated_at=p.updated_at,
                resolved_at=p.resolved_at,
                closed_at=p.closed_at,
                allowed_actions=problem_transitions.allowed_actions(p),
                incidents=_linked(session, p.id) if detail else [],
                changes=[
                    LinkedChange(
                        id=c.id,
                        change_ref=c.change_ref,
                        description=c.description,
                        linked_at=c.linked_at,
                        linked_by=c.linked_by,
                    )
                    for c in p.changes
                ],
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class ProblemListView:
    items: list[ProblemView]
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class KnownErrorListView:
    items: list[KnownErrorView]
    next_cursor: int | None


def list_views(
    ctx: Context,
    *,
    statuses: Sequence[str] = (),
    services: Sequence[lookups.Ref] = (),
    owner_teams: Sequence[lookups.Ref] = (),
    origins: Sequence[str] = (),
    verification: Sequence[str] = (),
    text: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> ProblemListView:
    """A page of problems, newest first; names or ids for services and teams.

    Unknown statuses, origins, verification states, services or teams raise InvalidField
    naming the parameter (`status`, `origin`, `verification`, `service`, `owner_team`).
    """
    _check_choices("status", statuses, [s.value for s in lifecycle.Status])
    _check_choices("origin", origins, [o.value for o in problems.Origin])
    _check_choices("verification", verification, [v.value for v in problems.Verification])
    with ctx.reading() as session:
        filters = repo.ProblemFilters(
            statuses=list(statuses),
            service_ids=[lookups.service(session, s, field="service").id for s in services],
            owner_team_ids=[lookups.team(session, t, field="owner_team").id for t in owner_teams],
            origins=list(origins),
            verification=list(verification),
            text=text.strip() if text and text.strip() else None,
        )
        page = repo.list_page(session, filters, cursor=cursor, limit=limit)
        return ProblemListView(items=views(session, page.items), next_cursor=page.next_cursor)


def known_error_list(
    ctx: Context,
    *,
    active: bool | None = None,
    service: lookups.Ref | None = None,
    text: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> KnownErrorListView:
    """A page of known errors, newest first (`service`: id or name)."""
    from fireline.usecases import known_errors

    page = known_errors.search(
        ctx, active=active, service=service, text=text, cursor=cursor, limit=limit
    )
    with ctx.reading() as session:
        return KnownErrorListView(
            items=known_error_views(session, page.items), next_cursor=page.next_cursor
        )


def _check_choices(name: str, values: Sequence[str], allowed: list[str]) -> None:
    for value in values:
        if value not in allowed:
            raise InvalidField(name, f"unknown {name} {value!r}; use one of {', '.join(allowed)}")


def view(ctx: Context, key: str | int) -> ProblemView:
    """One problem with its linked incidents and changes; NotFound naming `problem`."""
    with ctx.reading() as session:
        return views(session, [problems.get(session, key)], detail=True)[0]


def for_incident(ctx: Context, incident_key: str | int) -> list[ProblemView]:
    """The problems an incident is linked to."""
    with ctx.reading() as session:
        incident = incident_cases.get(session, incident_key)
        return views(session, [p for _, p in repo.problems_of(session, incident.id)])


def _linked(session: Session, problem_id: int) -> list[LinkedIncident]:
    return [
        _linked_one(link, incident) for link, incident in repo.incidents_of(session, problem_id)
    ]


def _linked_one(link: ProblemIncident, incident: Incident) -> LinkedIncident:
    return LinkedIncident(
        id=incident.id,
        ref=incident_cases.ref_of(incident),
        title=incident.title,
        status=incident.status,
        priority=incident.priority,
        detected_at=incident.detected_at,
        linked_at=link.linked_at,
        linked_by=link.linked_by,
        reason=link.reason,
    )


def _names(session: Session, model: type[Team] | type[Service], ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(model.id, model.name).where(model.id.in_(ids))).tuples()
    return dict(rows.all())


def _numbers(
    session: Session, model: type[Incident] | type[Problem], ids: set[int]
) -> dict[int, int]:
    """Record number (the 42 of INC-42 or PRB-42) by id, in one query."""
    if not ids:
        return {}
    rows = session.execute(select(model.id, model.number).where(model.id.in_(ids))).tuples()
    return dict(rows.all())


def _ke_ref(known: KnownError) -> KnownErrorRef:
    return KnownErrorRef(
        id=known.id,
        ref=f"KE-{known.id}",
        title=known.title,
        fix_status=known.fix_status,
        active=known.active,
    )


# ---------------------------------------------------------------- known errors


def known_error_views(session: Session, found: Sequence[KnownError]) -> list[KnownErrorView]:
    service_ids = {sid for k in found for sid in (k.service_ids or [])}
    services = _names(session, Service, service_ids)
    problem_ids = {k.problem_id for k in found if k.problem_id is not None}
    numbers = _numbers(session, Problem, problem_ids)
    return [
        KnownErrorView(
            id=k.id,
            ref=f"KE-{k.id}",
            title=k.title,
            symptoms=k.symptoms,
            root_cause=k.root_cause,
            workaround=k.workaround,
            fix_status=k.fix_status,
            services=sorted(
                (NamedRef(id=sid, name=services.get(sid, "?")) for sid in k.service_ids or []),
                key=lambda r: r.name,
            ),
            labels=dict(k.match_labels or {}),
            keywords=list(k.keywords or []),
            problem=f"PRB-{numbers[k.problem_id]}" if k.problem_id in numbers else None,
            active=k.active,
            created_at=k.created_at,
            updated_at=k.updated_at,
        )
        for k in found
    ]


def known_error_view(ctx: Context, key: int | str) -> KnownErrorView:
    from fireline.usecases import known_errors

    with ctx.reading() as session:
        return known_error_views(session, [known_errors.get(session, key)])[0]


def matches_for_incident(ctx: Context, incident_key: str | int) -> list[IncidentMatchView]:
    """Known errors matched to an incident, best first, each with its workaround."""
    with ctx.reading() as session:
        incident = incident_cases.get(session, incident_key)
        rows: list[tuple[IncidentKnownError, KnownError]] = repo.matches_of_incident(
            session, incident.id
        )
        kes = known_error_views(session, [k for _, k in rows])
        return [
            IncidentMatchView(
                known_error=ke, matched_at=m.matched_at, score=m.score, reasons=list(m.reasons)
            )
            for (m, _), ke in zip(rows, kes, strict=True)
        ]


# ---------------------------------------------------------------- export


def export_data(ctx: Context, key: str | int) -> dict[str, Any]:
    """The problem, its RCA, links and timeline as JSON-ready data."""
    found = view(ctx, key)
    with ctx.reading() as session:
        events = timeline.for_record(
            session, record_type=problems.RECORD, record_id=found.id, limit=5000
        )
        timeline_items = [
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "actor": e.actor_label,
                "body": e.body,
                "data": dict(e.data or {}),
            }
            for e in events
        ]
    data: dict[str, Any] = _jsonable(asdict(found))
    data["timeline"] = timeline_items
    return data


def export_markdown(ctx: Context, key: str | int) -> str:
    """The problem as a Markdown document: summary, RCA (5 whys, fishbone, factors), links."""
    found = view(ctx, key)
    owner = (found.owner_team.name if found.owner_team else None) or (
        found.owner_user.email if found.owner_user else None
    )
    lines = [
        f"# {found.ref}: {_line(found.title)}",
        "",
        f"- **Status:** {found.status}",
        f"- **Priority:** {found.priority}",
        f"- **Origin:** {found.origin}",
        f"- **Owner:** {owner or '-'}",
        f"- **Services:** {', '.join(s.name for s in found.services) or '-'}",
        f"- **Fix verification:** {found.verification.state}",
        "",
    ]
    if found.description:
        lines += ["## Description", "", found.description, ""]
    analysis = rca_rules.Rca.from_dict(found.rca)
    if analysis.root_cause is None and found.root_cause:
        analysis = replace(analysis, root_cause=found.root_cause)
    if analysis == rca_rules.Rca():
        lines += ["## Root-cause analysis", "", "_not written yet_", ""]
    else:
        lines.append(analysis.to_markdown(title="Root-cause analysis"))
    if found.workaround:
        lines += ["## Workaround", "", found.workaround, ""]
    if found.changes:
        lines += ["## Fix (linked changes)", ""]
        lines += [
            f"- {c.change_ref}" + (f": {_line(c.description)}" if c.description else "")
            for c in found.changes
        ]
        lines.append("")
    if found.incidents:
        lines += ["## Linked incidents", ""]
        lines += [
            f"- {i.ref} ({i.priority}, {i.status}): {_line(i.title)}" for i in found.incidents
        ]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _line(text: str) -> str:
    return " ".join(text.split())


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
