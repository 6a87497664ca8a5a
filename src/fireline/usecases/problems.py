"""Problem use cases: create, update fields, transition, note, link incidents and changes, RCA.

A problem turns one or more incidents into a lasting fix. Every public function here is one
transaction: the change, its timeline events (on the problem, and on the incident when a link
changes) and its outbox events commit together or not at all. The `_tx` variants take the
caller's open session so the worker (automatic creation, fix verification) can compose them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from fireline.domain import problem_lifecycle as lifecycle
from fireline.domain import rca as rca_rules
from fireline.domain import refs
from fireline.domain.fix_verification import watch_until
from fireline.domain.priority import Priority
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind, JsonValue, diff
from fireline.errors import Conflict, InvalidField, NotFound, StaleUpdate
from fireline.store.models import Incident, Service, Team, TimelineEvent, User
from fireline.store.models.problems import Problem, ProblemChange, ProblemIncident, ProblemService
from fireline.store.repos import counters, timeline
from fireline.store.repos import problems as repo
from fireline.store.repos.problems import ProblemFilters, ProblemPage
from fireline.usecases import events, lookups
from fireline.usecases import incidents as incident_cases
from fireline.usecases.context import Context

RECORD = "problem"
INCIDENT_RECORD = incident_cases.RECORD
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
    now = ctx.clock.now()
    title = incident_cases._title(draft.title)
    description = incident_cases._description(draft.description or "")
    services = lookups.services(session, draft.services, field="services")
    owner_team = _maybe_team(session, draft.owner_team)
    owner_user = _maybe_user(session, draft.owner_user)
    if owner_team is None and services and services[0].team_id:
        owner_team = session.get(Team, services[0].team_id)
    linked = [
        _incident_field(session, value, f"incidents[{i}]")
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
    _event(
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
        link_incident_tx(session, ctx, problem, incident, reason=draft.link_reason)
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
            _event(
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
        event = _event(session, ctx, problem, EventKind.NOTE, body=text)
        session.flush()
    return event


# ---------------------------------------------------------------- lifecycle


def transition(
    ctx: Context,
    key: str | int,
    action: lifecycle.Action,
    given: lifecycle.TransitionInput | None = None,
    *,
    expected_version: int | None = None,
    reason: str | None = None,
) -> Problem:
    """Apply a lifecycle action (investigate, identify root cause, mark known error, resolve,
    close, reopen). A refused action raises InvalidTransition listing the allowed ones (409)."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        problem = get(session, key)
        check_version(problem, expected_version)
        transition_tx(session, ctx, problem, action, given, reason=reason)
    return problem


def transition_tx(
    session: Session,
    ctx: Context,
    problem: Problem,
    action: lifecycle.Action,
    given: lifecycle.TransitionInput | None = None,
    *,
    reason: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> None:
    """`transition` inside the caller's transaction (fix verification reopens with evidence)."""
    from fireline.usecases import known_errors, problem_watch

    now = ctx.clock.now()
    given = _given_with_record(problem, given, reason=reason)
    before = lifecycle.Status(problem.status)
    outcome = lifecycle.apply(
        before,
        action,
        current=lifecycle.Timestamps(resolved_at=problem.resolved_at, closed_at=problem.closed_at),
        given=given,
        now=now,
    )
    target = outcome.status
    _store_given(problem, given)
    problem.status = target.value
    problem.resolved_at = outcome.timestamps.resolved_at
    problem.closed_at = outcome.timestamps.closed_at
    problem.updated_at = now
    data: dict[str, Any] = {"action": action.value, "from": before.value, "to": target.value}
    why = reason or (given.reopen_reason if action is lifecycle.Action.REOPEN else None)
    if why:
        data["reason"] = why
    if evidence:
        data["evidence"] = evidence
    if target is lifecycle.Status.RESOLVED:
        data["fix"] = given.fix_description
        data.update(problem_watch.start_watch_tx(session, problem, now=now))
    elif action is lifecycle.Action.REOPEN:
        problem.verification = Verification.FAILED.value if evidence else Verification.NONE.value
        problem.verify_until = None
        problem.verified_at = None
    _event(session, ctx, problem, EventKind.STATUS_CHANGED, data=data)
    if target is lifecycle.Status.KNOWN_ERROR:
        known_errors.upsert_for_problem_tx(session, ctx, problem)
    elif target is lifecycle.Status.RESOLVED:
        known_errors.set_fix_status_for_problem_tx(
            session, problem, known_errors.FixStatus.RELEASED
        )
    elif action is lifecycle.Action.REOPEN:
        known_errors.set_fix_status_for_problem_tx(
            session, problem, known_errors.FixStatus.IN_PROGRESS
        )
    session.flush()
    events.publish(
        session,
        type=f"problem.{target.value}",
        data={**event_data(problem), "action": action.value, "from": before.value},
        now=now,
    )


def transition_input(
    *,
    root_cause: str | None = None,
    workaround: str | None = None,
    fix_description: str | None = None,
    reason: str | None = None,
) -> lifecycle.TransitionInput:
    """What an interface may supply with an action (guards in `domain.problem_lifecycle`)."""
    return lifecycle.TransitionInput(
        root_cause=_clean(root_cause),
        workaround=_clean(workaround),
        fix_description=_clean(fix_description),
        reopen_reason=_clean(reason),
    )


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def _given_with_record(
    problem: Problem, given: lifecycle.TransitionInput | None, *, reason: str | None = None
) -> lifecycle.TransitionInput:
    """The caller's input, completed with what the problem already records (so a root cause
    set through the RCA satisfies the guard of "identify root cause")."""
    given = given or lifecycle.TransitionInput()
    has_fix = bool(problem.fix_description or problem.changes)
    return lifecycle.TransitionInput(
        root_cause=given.root_cause
        or problem.root_cause
        or (problem.rca or {}).get("root_cause")
        or None,
        workaround=given.workaround or problem.workaround,
        fix_description=given.fix_description
        or problem.fix_description
        or ("; ".join(c.change_ref for c in problem.changes) if has_fix else None),
        reopen_reason=given.reopen_reason or _clean(reason),
    )


def _store_given(problem: Problem, given: lifecycle.TransitionInput) -> None:
    if given.root_cause and given.root_cause != problem.root_cause:
        problem.root_cause = given.root_cause
    if given.workaround and given.workaround != problem.workaround:
        problem.workaround = given.workaround
    if given.fix_description and not problem.changes:
        problem.fix_description = given.fix_description


def allowed_actions(problem: Problem) -> list[str]:
    return [a.value for a in lifecycle.allowed_actions(lifecycle.Status(problem.status))]


# ---------------------------------------------------------------- links


def link_incident(
    ctx: Context, key: str | int, incident_key: str | int, *, reason: str = ""
) -> ProblemIncident:
    """Link an incident to a problem, on both timelines. Linking twice is a Conflict naming
    `incident`; an unknown incident is an InvalidField naming `incident`."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        problem = get(session, key)
        incident = _incident_field(session, incident_key, "incident")
        link = link_incident_tx(session, ctx, problem, incident, reason=_reason(reason))
    return link


def link_incident_tx(
    session: Session, ctx: Context, problem: Problem, incident: Incident, *, reason: str = ""
) -> ProblemIncident:
    if repo.link(session, problem_id=problem.id, incident_id=incident.id) is not None:
        raise Conflict(
            f"{incident_cases.ref_of(incident)} is already linked to {ref_of(problem)}",
            field="incident",
        )
    now = ctx.clock.now()
    link = ProblemIncident(
        problem_id=problem.id,
        incident_id=incident.id,
        linked_at=now,
        linked_by=ctx.actor.label[:200],
        reason=reason[:500],
    )
    session.add(link)
    problem.updated_at = now
    _record_link(session, ctx, problem, incident, "linked", reason)
    session.flush()
    events.publish(
        session,
        type="problem.incident_linked",
        data={**event_data(problem), "incident": incident_cases.ref_of(incident)},
        now=now,
    )
    return link


def unlink_incident(ctx: Context, key: str | int, incident_key: str | int) -> None:
    """Remove an incident's link to a problem (recorded on both timelines)."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        problem = get(session, key)
        try:
            incident = incident_cases.get(session, incident_key)
        except NotFound:
            raise NotFound(f"no incident {incident_key!r}", field="incident") from None
        link = repo.link(session, problem_id=problem.id, incident_id=incident.id)
        if link is None:
            raise NotFound(
                f"{incident_cases.ref_of(incident)} is not linked to {ref_of(problem)}",
                field="incident",
            )
        session.delete(link)
        problem.updated_at = ctx.clock.now()
        _record_link(session, ctx, problem, incident, "unlinked", "")


def add_change(
    ctx: Context, key: str | int, *, change_ref: str, description: str = ""
) -> ProblemChange:
    """Link a change (the fix, or part of it) by its free-text reference."""
    ctx.actor.require(Role.RESPONDER)
    ref_text = (change_ref or "").strip()
    if not ref_text or len(ref_text) > 300:
        raise InvalidField("change_ref", "must be 1-300 characters")
    text = incident_cases._description(description or "")
    with ctx.transaction() as session:
        problem = get(session, key)
        if any(c.change_ref == ref_text for c in problem.changes):
            raise Conflict(f"{ref_text} is already linked to {ref_of(problem)}", field="change_ref")
        change = ProblemChange(
            change_ref=ref_text,
            description=text,
            linked_at=ctx.clock.now(),
            linked_by=ctx.actor.label[:200],
        )
        problem.changes.append(change)
        problem.fix_change_ref = ref_text
        problem.fix_description = text or problem.fix_description
        problem.updated_at = ctx.clock.now()
        _event(
            session,
            ctx,
            problem,
            EventKind.LINKED,
            data={"link": "change", "change": ref_text, "description": text},
        )
        session.flush()
    return change


# ---------------------------------------------------------------- RCA


def set_rca(
    ctx: Context, key: str | int, raw: dict[str, Any], *, expected_version: int | None = None
) -> Problem:
    """Replace the structured root-cause analysis (5 whys, fishbone, contributing factors,
    root-cause statement), validated by `domain.rca` (errors name paths such as
    `five_whys[2].answer`); the change is recorded on the timeline."""
    ctx.actor.require(Role.RESPONDER)
    stored = rca_rules.Rca.from_dict(raw).to_dict()
    with ctx.transaction() as session:
        problem = get(session, key)
        check_version(problem, expected_version)
        before = dict(problem.rca or {})
        if before == stored:
            return problem
        problem.rca = stored
        statement = stored.get("root_cause") or None
        if statement:
            problem.root_cause = str(statement)
        problem.updated_at = ctx.clock.now()
        changed = sorted(k for k in set(before) | set(stored) if before.get(k) != stored.get(k))
        _event(
            session,
            ctx,
            problem,
            EventKind.FIELD_CHANGED,
            data={
                "field": "rca",
                "parts": changed,
                "before": _rca_summary(before),
                "after": _rca_summary(stored),
            },
        )
        session.flush()
    return problem


def _rca_summary(rca: dict[str, Any]) -> dict[str, JsonValue]:
    fishbone = rca.get("fishbone") or {}
    causes = fishbone.values() if isinstance(fishbone, dict) else fishbone
    return {
        "whys": len(rca.get("five_whys") or []),
        "fishbone_causes": sum(len(c) if isinstance(c, list | dict) else 1 for c in causes),
        "contributing_factors": len(rca.get("contributing_factors") or []),
        "root_cause": rca.get("root_cause"),
    }


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
    """Append an event to the problem's timeline (for modules composing problem changes)."""
    return _event(session, ctx, problem, kind, body=body, data=data)


def _event(
    session: Session,
    ctx: Context,
    problem: Problem,
    kind: EventKind,
    *,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
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


def _record_link(
    session: Session, ctx: Context, problem: Problem, incident: Incident, verb: str, reason: str
) -> None:
    """The link (or unlink) on both timelines, each naming the other record."""
    extra = {"reason": reason} if reason else {}
    _event(
        session,
        ctx,
        problem,
        EventKind.LINKED,
        data={
            "link": "incident",
            "action": verb,
            "incident": incident_cases.ref_of(incident),
            "title": incident.title,
            **extra,
        },
    )
    timeline.append(
        session,
        record_type=INCIDENT_RECORD,
        record_id=incident.id,
        kind=EventKind.LINKED.value,
        at=ctx.clock.now(),
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        data={
            "link": "problem",
            "action": verb,
            "problem": ref_of(problem),
            "title": problem.title,
            **extra,
        },
    )


def check_version(problem: Problem, expected: int | None) -> None:
    if expected is not None and expected != problem.version:
        raise StaleUpdate(
            f"{ref_of(problem)} is at version {problem.version}, not {expected}; reload and retry",
            field="version",
        )


def _incident_field(session: Session, value: lookups.Ref, field_name: str) -> Incident:
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


def _reason(value: str) -> str:
    text = (value or "").strip()
    if len(text) > 500:
        raise InvalidField("reason", "must be at most 500 characters")
    return text


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
