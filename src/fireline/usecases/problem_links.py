"""Problem link use cases: link and unlink incidents, and link the changes that fix a problem.

An incident link is recorded on both timelines, each naming the other record, so the incident
page shows its problem and the problem page its incidents. A change is linked by its free-text
reference (a change request, a pull request, a deploy) and becomes the problem's fix.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind
from fireline.errors import Conflict, InvalidField, NotFound
from fireline.store.models import Incident
from fireline.store.models.problems import Problem, ProblemChange, ProblemIncident
from fireline.store.repos import problems as repo
from fireline.store.repos import timeline
from fireline.usecases import events, problems
from fireline.usecases import incidents as incident_cases
from fireline.usecases.context import Context


def link_incident(
    ctx: Context, key: str | int, incident_key: str | int, *, reason: str = ""
) -> ProblemIncident:
    """Link an incident to a problem, on both timelines. Linking twice is a Conflict naming
    `incident`; an unknown incident is an InvalidField naming `incident`."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        problem = problems.get(session, key)
        incident = problems.incident_for_field(session, incident_key, "incident")
        link = link_incident_tx(session, ctx, problem, incident, reason=_reason(reason))
    return link


def link_incident_tx(
    session: Session, ctx: Context, problem: Problem, incident: Incident, *, reason: str = ""
) -> ProblemIncident:
    if repo.link(session, problem_id=problem.id, incident_id=incident.id) is not None:
        raise Conflict(
            f"{incident_cases.ref_of(incident)} is already linked to {problems.ref_of(problem)}",
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
        data={**problems.event_data(problem), "incident": incident_cases.ref_of(incident)},
        now=now,
    )
    return link


def unlink_incident(ctx: Context, key: str | int, incident_key: str | int) -> None:
    """Remove an incident's link to a problem (recorded on both timelines)."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        problem = problems.get(session, key)
        try:
            incident = incident_cases.get(session, incident_key)
        except NotFound:
            raise NotFound(f"no incident {incident_key!r}", field="incident") from None
        link = repo.link(session, problem_id=problem.id, incident_id=incident.id)
        if link is None:
            raise NotFound(
                f"{incident_cases.ref_of(incident)} is not linked to {problems.ref_of(problem)}",
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
        problem = problems.get(session, key)
        if any(c.change_ref == ref_text for c in problem.changes):
            raise Conflict(
                f"{ref_text} is already linked to {problems.ref_of(problem)}", field="change_ref"
            )
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
        problems.event(
            session,
            ctx,
            problem,
            EventKind.LINKED,
            data={"link": "change", "change": ref_text, "description": text},
        )
        session.flush()
    return change


def _record_link(
    session: Session, ctx: Context, problem: Problem, incident: Incident, verb: str, reason: str
) -> None:
    """The link (or unlink) on both timelines, each naming the other record."""
    extra = {"reason": reason} if reason else {}
    problems.event(
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
        record_type=incident_cases.RECORD,
        record_id=incident.id,
        kind=EventKind.LINKED.value,
        at=ctx.clock.now(),
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        data={
            "link": "problem",
            "action": verb,
            "problem": problems.ref_of(problem),
            "title": problem.title,
            **extra,
        },
    )


def _reason(value: str) -> str:
    text = (value or "").strip()
    if len(text) > 500:
        raise InvalidField("reason", "must be at most 500 characters")
    return text
