"""Problem records: open a problem, change its fields, add notes; read and look problems up.

A problem turns one or more incidents into a lasting fix. Every public function here is one
transaction: the change, its timeline events and its outbox events commit together or not at
all. The `_tx` variants take the caller's open session so the worker (automatic creation, fix
verification) can compose them. This module also holds what the other problem modules share:
`get`, `ref_of`, `event` (timeline), `event_data` (outbox payload) and `check_version`.

The rest of the problem area, by concept:

    problem_transitions  lifecycle actions (investigate ... resolve, close, reopen)
    problem_links        incident links (on both timelines) and fix changes
    problem_rca          structured root-cause analysis editing
    problem_watch        automatic creation and fix verification (worker)
    problem_views        read models for pages, the API and exports
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from fireline.domain import problem_lifecycle as lifecycle
from fireline.domain import refs
from fireline.domain.fix_verification import watch_until
from fireline.domain.priority import Priority
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind, JsonValue, diff
from fireline.errors import InvalidField, NotFound, StaleUpdate
from fireline.store.models import Incident, Service, Team, TimelineEvent, User
from fireline.store.models.problems import Problem, ProblemService
from fireline.store.repos import counters, timeline
from fireline.store.repos import problems as repo
from fireline.store.repos.problems import ProblemFilters, ProblemPage
from fireline.usecases import events, lookups
from fireline.usecases import incidents as incident_cases
from fireline.usecases.context import Context

RECORD = "problem"
MAX_WATCH_DAYS = 365
DEFAULT_WATCH_DAYS = 30


class Origin(StrEnum):
    REACTIVE = "reactive"  # raised from incidents
    PROACTIVE = "proactive"  # raised from trend analysis or by hand before incidents recur


class Verification(StrEnum):
    NONE = "none"  # not resolved yet
    WATCHING = "watching"  # resolved; watching for recurrence until verify_until
    VERIFIED = "verified"  # the watch period ended without recurrence
    FAILED = "failed"  # a recurrence reopened the problem


@dataclass(slots=True)
class ProblemDraft:
    """What a person, a client or the worker supplies to open a problem."""

    title: str
    description: str = ""
    priority: Priority = Priority.P3
    origin: Origin = Origin.PROACTIVE
    owner_team: lookups.Ref | None = None
    owner_user: lookups.Ref | None = None
    services: Sequence[lookups.Ref] = ()
    incidents: Sequence[lookups.Ref] = ()
    watch_days: int = DEFAULT_WATCH_DAYS
    link_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


UPDATABLE = (
    "title",
    "description",
    "priority",
    "owner_team",
    "owner_user",
    "services",
    "watch_days",
    "workaround",
)


def ref_of(problem: Problem) -> str:
    return refs.format_ref(refs.PROBLEM_PREFIX, problem.number)


# ---------------------------------------------------------------- reads


def get(session: Session, key: str | int) -> Problem:
    """Find a problem by numeric id or by reference (`PRB-7`); raise NotFound naming `problem`."""
    return lookups.numbered(session, Problem, key, prefix=refs.PROBLEM_PREFIX, field="problem")


def find(ctx: Context, key: str | int) -> Problem:
    with ctx.reading() as session:
        return get(session, key)


def search(ctx: Context, filters: ProblemFilters, *, cursor: int | None, limit: int) -> ProblemPage:
    with ctx.reading() as session:
        return repo.list_page(session, filters, cursor=cursor, limit=limit)


def timeline_of(
    ctx: Context, key: str | int, *, after_id: int = 0, limit: int = 500
) -> tuple[Problem, Sequence[TimelineEvent]]:
    with ctx.reading() as session:
        problem = get(session, key)
        found = timeline.for_record(
            session, record_type=RECORD, record_id=problem.id, after_id=after_id, limit=limit
        )
        return problem, found


def problems_for_incident(ctx: Context, incident_key: str | int) -> list[Problem]:
    """The problems an incident is linked to (for the incident page and the API)."""
    with ctx.reading() as session:
        incident = incident_cases.get(session, incident_key)
        return [p for _, p in repo.problems_of(session, incident.id)]


# ---------------------------------------------------------------- create and update


def create(ctx: Context, draft: ProblemDraft) -> Problem:
    """Open a problem (status new), link the given incidents, and record it on its timeline."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        problem = create_tx(session, ctx, draft)
    return problem


def create_tx(
    session: Session, ctx: Context, draft: ProblemDraft, *, origin_incident: Incident | None = None
) -> Problem:
    """`create` inside the caller's transaction (automatic creation composes it)."""
    # problem_links builds on this module (get, ref_of, event), so it is imported here.
    from fireline.usecases import problem_links

    now = ctx.clock.now()
    title = incident_cases._title(draft.title)
    description = incident_cases._description(draft.description or "")
    services = lookups.services(session, draft.services, field="services")
    owner_team = _maybe_team(session, draft.owner_team)
    owner_user = _maybe_user(session, draft.owner_user)
    if owner_team is None and services and services[0].team_id:
        owner_team = session.get(Team, services[0].team_id)
    linked = [
        incident_for_field(session, value, f"incidents[{i}]")
        for i, value in enumerate(draft.incidents)
    ]
    number = counters.next_value(session, name=refs.PROBLEM_PREFIX)
    problem = Problem(
        number=number,
        title=title,
        description=description,
        status=lifecycle.Status.NEW.value,
        priority=Priority(draft.priority).value,
        origin=Origin(draft.origin).value,
        owner_team_id=owner_team.id if owner_team else None,
        owner_user_id=owner_user.id if owner_user else None,
        rca={},
        signature={},
        verification=Verification.NONE.value,
        watch_days=_watch_days(draft.watch_days),
        created_by_id=ctx.actor.user_id,
        created_at=now,
        updated_at=now,
        origin_incident_id=origin_incident.id if origin_incident else None,
    )
    problem.services = [ProblemService(service_id=s.id) for s in services]
    session.add(problem)
    session.flush()
    event(
        session,
        ctx,
        problem,
        EventKind.CREATED,
        data={
            "ref": ref_of(problem),
            "title": problem.title,
            "priority": problem.priority,
            "origin": problem.origin,
            "services": [s.name for s in services],
            **({"incident": incident_cases.ref_of(origin_incident)} if origin_incident else {}),
            **draft.extra,
        },
    )
    seen: set[int] = set()
    for incident in linked:
        if incident.id in seen:
            continue
        seen.add(incident.id)
        problem_links.link_incident_tx(session, ctx, problem, incident, reason=draft.link_reason)
    events.publish(session, type="problem.created", data=event_data(problem), now=now)
    return problem


def update_fields(
    ctx: Context, key: str | int, changes: dict[str, Any], *, expected_version: int | None = None
) -> Problem:
    """Change fields of a problem; every changed field becomes a timeline event (before → after).

    `changes` maps names in `UPDATABLE` to new values; ids or names/emails are accepted for
    references. With `expected_version`, a stale caller gets StaleUpdate (409).
    """
    ctx.actor.require(Role.RESPONDER)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidField(sorted(unknown)[0], "cannot be changed")
    with ctx.transaction() as session:
        problem = get(session, key)
        check_version(problem, expected_version)
        before = snapshot(session, problem)
        _apply_changes(session, problem, changes)
        after = snapshot(session, problem)
        field_changes = diff(before, after)
        if not field_changes:
            return problem
        now = ctx.clock.now()
        problem.updated_at = now
        for change in field_changes:
            event(
                session,
                ctx,
                problem,
                EventKind.FIELD_CHANGED,
                data={"field": change.field, "before": change.before, "after": change.after},
            )
        session.flush()
        events.publish(
            session,
            type="problem.updated",
            data={**event_data(problem), "fields": [c.field for c in field_changes]},
            now=now,
        )
    return problem


def add_note(ctx: Context, key: str | int, body: str) -> TimelineEvent:
    """Add a Markdown note to the problem timeline."""
    ctx.actor.require(Role.RESPONDER)
    text = incident_cases._body(body, "body")
    with ctx.transaction() as session:
        problem = get(session, key)
        note = event(session, ctx, problem, EventKind.NOTE, body=text)
        session.flush()
    return note


# ---------------------------------------------------------------- helpers


def event_data(problem: Problem) -> dict[str, Any]:
    return {
        "problem_id": problem.id,
        "ref": ref_of(problem),
        "title": problem.title,
        "status": problem.status,
        "priority": problem.priority,
        "origin": problem.origin,
        "service_ids": [s.service_id for s in problem.services],
        "owner_team_id": problem.owner_team_id,
    }


def event(
    session: Session,
    ctx: Context,
    problem: Problem,
    kind: EventKind,
    *,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append an event to the problem's timeline, at the clock's now, by the context's actor."""
    return timeline.append(
        session,
        record_type=RECORD,
        record_id=problem.id,
        kind=kind.value,
        at=ctx.clock.now(),
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        body=body,
        data=data,
    )


def check_version(problem: Problem, expected: int | None) -> None:
    if expected is not None and expected != problem.version:
        raise StaleUpdate(
            f"{ref_of(problem)} is at version {problem.version}, not {expected}; reload and retry",
            field="version",
        )


def incident_for_field(session: Session, value: lookups.Ref, field_name: str) -> Incident:
    """The incident `value` names; an unknown one is an InvalidField naming `field_name`."""
    try:
        return incident_cases.get(session, value)
    except NotFound:
        raise InvalidField(field_name, f"no incident {value!r}") from None


def _maybe_team(session: Session, value: lookups.Ref | None) -> Team | None:
    return None if value is None else lookups.team(session, value, field="owner_team")


def _maybe_user(session: Session, value: lookups.Ref | None) -> User | None:
    return None if value is None else lookups.user(session, value, field="owner_user")


def _watch_days(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WATCH_DAYS:
        raise InvalidField("watch_days", f"must be a whole number of days, 1-{MAX_WATCH_DAYS}")
    return value


def watch_period(problem: Problem) -> timedelta:
    return timedelta(days=problem.watch_days)


def snapshot(session: Session, problem: Problem) -> dict[str, JsonValue]:
    """Human-readable values of the updatable fields, for before/after diffs."""
    team = session.get(Team, problem.owner_team_id) if problem.owner_team_id else None
    user = session.get(User, problem.owner_user_id) if problem.owner_user_id else None
    names: list[JsonValue] = []
    for link in problem.services:
        found = session.get(Service, link.service_id)
        names.append(found.name if found else str(link.service_id))
    return {
        "title": problem.title,
        "description": problem.description,
        "priority": problem.priority,
        "owner_team": team.name if team else None,
        "owner_user": user.email if user else None,
        "services": sorted(names, key=str),
        "watch_days": problem.watch_days,
        "workaround": problem.workaround,
    }


def _apply_changes(session: Session, problem: Problem, changes: dict[str, Any]) -> None:
    if "title" in changes:
        problem.title = incident_cases._title(changes["title"])
    if "description" in changes:
        problem.description = incident_cases._description(changes["description"] or "")
    if "priority" in changes:
        try:
            problem.priority = Priority(changes["priority"]).value
        except ValueError:
            raise InvalidField("priority", "must be P1, P2, P3 or P4") from None
    if "owner_team" in changes:
        team = _maybe_team(session, changes["owner_team"])
        problem.owner_team_id = team.id if team else None
    if "owner_user" in changes:
        user = _maybe_user(session, changes["owner_user"])
        problem.owner_user_id = user.id if user else None
    if "services" in changes:
        found = lookups.services(session, changes["services"] or [], field="services")
        wanted = {s.id for s in found}
        problem.services = [s for s in problem.services if s.service_id in wanted] + [
            ProblemService(service_id=sid)
            for sid in sorted(wanted - {s.service_id for s in problem.services})
        ]
    if "watch_days" in changes:
        problem.watch_days = _watch_days(changes["watch_days"])
        if problem.verification == Verification.WATCHING.value and problem.resolved_at:
            # A longer or shorter watch applies to the watch already running.
            problem.verify_until = watch_until(problem.resolved_at, problem.watch_days)
    if "workaround" in changes:
        text = changes["workaround"]
        problem.workaround = incident_cases._description(text) if text else None
