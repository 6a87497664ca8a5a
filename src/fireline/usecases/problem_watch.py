"""Problem automation run by the worker: automatic problem creation and fix verification.

* **Automatic creation** (`follow_up_closed_incident`, on `incident.closed`): a major incident
  (priority in the configured set, default P1 and P2) never ends without a problem. It is
  linked to an open problem that already covers it (a known error of that problem matched it,
  or it matches the problem's signature by the fix-verification rule: fingerprint, or same
  service plus shared labels or key words), else a reactive problem is created for it.
  Idempotent: an incident already linked to any problem is left alone, and
  `problems.origin_incident_id` is unique, so a re-run job never creates a second problem.
* **Fix verification**: resolving a problem stores its signature (`domain.fix_verification`:
  services, fingerprints, stable labels, key words) and `verify_until = resolved_at +
  watch_days` (`start_watch_tx`). New incidents are checked against watched problems
  (`check_recurrence`, on `incident.triggered`); a recurrence reopens the problem with the
  evidence on its timeline and links the incident. `verify_due` (periodic) marks the fix
  verified when the period ends with no recurrence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.domain import fix_verification as verification_rules
from fireline.domain import problem_lifecycle as lifecycle
from fireline.domain.priority import Priority
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind
from fireline.errors import Conflict, InvalidField
from fireline.store.models import AppSetting, Incident
from fireline.store.models.alerts import Alert
from fireline.store.models.problems import IncidentKnownError, KnownError, Problem
from fireline.store.repos import audit
from fireline.store.repos import problems as repo
from fireline.usecases import events, problem_links, problem_transitions, problems
from fireline.usecases import incidents as incident_cases
from fireline.usecases.context import Actor, Context

AUTO_CREATE_SETTING = "problems.auto_create"
DEFAULT_AUTO_PRIORITIES: tuple[Priority, ...] = (Priority.P1, Priority.P2)
ACTOR = Actor.system("problem automation")
# How far back the periodic alert check looks (it runs every few minutes; incidents are
# checked through their own events, so only alerts joining open incidents rely on this).
ALERT_LOOKBACK = timedelta(hours=2)


# ---------------------------------------------------------------- settings


def auto_create_priorities(session: Session) -> list[Priority]:
    """Priorities whose closed incidents get a problem automatically (empty: switched off)."""
    row = session.get(AppSetting, AUTO_CREATE_SETTING)
    if row is None or not isinstance(row.value, dict):
        return list(DEFAULT_AUTO_PRIORITIES)
    raw = row.value.get("priorities", [])
    allowed = {p.value for p in Priority}
    return [Priority(p) for p in raw if isinstance(p, str) and p in allowed]


def get_auto_create(ctx: Context) -> list[Priority]:
    with ctx.reading() as session:
        return auto_create_priorities(session)


def set_auto_create(ctx: Context, priorities: Sequence[str]) -> list[Priority]:
    """Set which priorities count as major for automatic problem creation (admin; audited)."""
    ctx.actor.require(Role.ADMIN)
    chosen: list[Priority] = []
    for index, value in enumerate(priorities):
        try:
            priority = Priority(value)
        except ValueError:
            raise InvalidField(f"priorities[{index}]", "must be P1, P2, P3 or P4") from None
        if priority not in chosen:
            chosen.append(priority)
    chosen.sort(key=lambda p: p.value)
    now = ctx.clock.now()
    with ctx.transaction() as session:
        before = [p.value for p in auto_create_priorities(session)]
        after = [p.value for p in chosen]
        stored: dict[str, Any] = {"priorities": after}
        row = session.get(AppSetting, AUTO_CREATE_SETTING)
        if row is None:
            session.add(AppSetting(key=AUTO_CREATE_SETTING, value=stored, updated_at=now))
        else:
            row.value = stored
            row.updated_at = now
        audit.record(
            session,
            at=now,
            actor_id=ctx.actor.user_id,
            actor_label=ctx.actor.label,
            action="settings.problems_auto_create",
            target_type="setting",
            target_id=AUTO_CREATE_SETTING,
            data={"before": before, "after": after},
        )
    return chosen


# ---------------------------------------------------------------- automatic creation


def follow_up_closed_incident(ctx: Context, incident_id: int) -> Problem | None:
    """Make sure a closed major incident has a problem; return it (None if not major).

    Safe to run any number of times for the same incident.
    """
    ctx = ctx.as_actor(ACTOR)
    try:
        with ctx.transaction() as session:
            return _follow_up_tx(session, ctx, incident_id)
    except Conflict:
        # A concurrent run created the problem first (unique origin_incident_id): use it.
        with ctx.reading() as session:
            return repo.by_origin_incident(session, incident_id)


def _follow_up_tx(session: Session, ctx: Context, incident_id: int) -> Problem | None:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status != "closed":
        return None
    if Priority(incident.priority) not in auto_create_priorities(session):
        return None
    already = repo.problems_of(session, incident.id)
    if already:
        return already[0][1]
    existing = repo.by_origin_incident(session, incident.id)
    if existing is not None:
        return existing
    covering = _covering_problem(session, incident)
    if covering is not None:
        problem, reasons = covering
        problem_links.link_incident_tx(
            session,
            ctx,
            problem,
            incident,
            reason=f"major incident closed; covered by this problem: {'; '.join(reasons)}"[:500],
        )
        return problem
    draft = problems.ProblemDraft(
        title=incident.title,
        description=_description(incident),
        priority=Priority(incident.priority),
        origin=problems.Origin.REACTIVE,
        owner_team=incident.team_id,
        services=[s.service_id for s in incident.services],
        incidents=[incident.id],
        link_reason="created automatically when the major incident closed",
        extra={"automatic": True},
    )
    return problems.create_tx(session, ctx, draft, origin_incident=incident)


def _description(incident: Incident) -> str:
    ref = incident_cases.ref_of(incident)
    summary = (incident.resolution_summary or "").strip()
    text = f"Follow-up of major incident {ref} ({incident.priority}), opened automatically."
    if summary:
        text += f"\n\nResolution summary of {ref}:\n\n{summary}"
    return text[:50_000]


OPEN_FOR_COVER = (
    lifecycle.Status.NEW,
    lifecycle.Status.INVESTIGATING,
    lifecycle.Status.ROOT_CAUSE_IDENTIFIED,
    lifecycle.Status.KNOWN_ERROR,
)


def _covering_problem(session: Session, incident: Incident) -> tuple[Problem, list[str]] | None:
    """An open problem that already covers the incident, with the reasons."""
    matched_problem_ids = _known_error_problem_ids(session, incident.id)
    service_ids = [s.service_id for s in incident.services]
    candidates = repo.open_with_services(
        session, statuses=[s.value for s in OPEN_FOR_COVER], service_ids=service_ids
    )
    if not service_ids:
        # Without a service only a known-error match is specific enough to cover it.
        candidates = [p for p in candidates if p.id in matched_problem_ids]
    facts = features(session, [incident])[0]
    for problem in candidates:
        if problem.id in matched_problem_ids:
            return problem, ["a known error of this problem matched the incident"]
        verdict = verification_rules.check(signature_tx(session, problem), facts)
        if verdict is not None:
            return problem, list(verdict.reasons)
    return None


# ---------------------------------------------------------------- fix verification


def signature_tx(session: Session, problem: Problem) -> verification_rules.Signature:
    """What a recurrence of `problem` looks like, from its title, services and incidents."""
    linked = [i for _, i in repo.incidents_of(session, problem.id)]
    return verification_rules.signature_of(
        title=problem.title,
        service_ids=frozenset(s.service_id for s in problem.services),
        incidents=features(session, linked),
    )


def start_watch_tx(session: Session, problem: Problem, *, now: datetime) -> dict[str, Any]:
    """On resolve: store the problem's signature and the end of its watch period.

    Returns what the status-change timeline event should say about the watch.
    """
    signature = signature_tx(session, problem)
    problem.signature = signature.to_dict()
    problem.verification = problems.Verification.WATCHING.value
    until = verification_rules.watch_until(now, problem.watch_days)
    problem.verify_until = until
    problem.verified_at = None
    return {"watch_until": until.isoformat(), "watch_days": problem.watch_days}


def check_recurrence(ctx: Context, incident_id: int) -> list[Problem]:
    """Check a new incident against every watched problem; reopen those it recurs.

    Idempotent: a problem the incident is already linked to is not reopened again.
    """
    ctx = ctx.as_actor(ACTOR)
    reopened: list[Problem] = []
    with ctx.transaction() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            return []
        watched = repo.watched(session, verification=problems.Verification.WATCHING.value)
        if not watched:
            return []
        facts = features(session, [incident])[0]
        matched_problem_ids = _known_error_problem_ids(session, incident.id)
        for problem in watched:
            if problem.verify_until is None or problem.resolved_at is None:
                continue
            if not problem.resolved_at <= incident.detected_at <= problem.verify_until:
                continue
            if repo.link(session, problem_id=problem.id, incident_id=incident.id) is not None:
                continue
            signature = verification_rules.Signature.from_dict(problem.signature or {})
            matched = problem.id in matched_problem_ids
            verdict = verification_rules.check(
                signature, replace(facts, matched_known_error=matched)
            )
            if verdict is None:
                continue
            _reopen_tx(session, ctx, problem, incident, list(verdict.reasons), verdict.score)
            reopened.append(problem)
    return reopened


def check_alert_recurrence(ctx: Context, now: datetime) -> list[Problem]:
    """Check recent alerts against watched problems (periodic task).

    An alert grouped into an incident that was already open never announces a new incident,
    so alerts first seen in the last `ALERT_LOOKBACK` are checked too. The alert's incident is
    linked with the evidence; a problem is reopened once (it stops being watched).
    """
    ctx = ctx.as_actor(ACTOR)
    reopened: list[Problem] = []
    with ctx.transaction() as session:
        for problem in repo.watched(session, verification=problems.Verification.WATCHING.value):
            if problem.verify_until is None or problem.resolved_at is None:
                continue
            signature = verification_rules.Signature.from_dict(problem.signature or {})
            recent = repo.alerts_for_signature(
                session,
                service_ids=sorted(signature.service_ids),
                fingerprints=sorted(signature.fingerprints),
                since=max(problem.resolved_at, now - ALERT_LOOKBACK),
                until=problem.verify_until,
            )
            for alert in recent:
                if alert.incident_id is None or repo.link(
                    session, problem_id=problem.id, incident_id=alert.incident_id
                ):
                    continue
                verdict = verification_rules.check(signature, _alert_facts(alert))
                incident = session.get(Incident, alert.incident_id)
                if verdict is None or incident is None:
                    continue
                reasons = [f"alert {alert.id}: {alert.summary[:200]}", *verdict.reasons]
                _reopen_tx(session, ctx, problem, incident, reasons, verdict.score)
                reopened.append(problem)
                break
    return reopened


def _alert_facts(alert: Alert) -> verification_rules.IncidentFacts:
    labels = alert.labels if isinstance(alert.labels, dict) else {}
    return verification_rules.IncidentFacts(
        ref=f"alert {alert.id}",
        title=alert.summary,
        service_ids=frozenset({alert.service_id}),
        fingerprint=alert.fingerprint or alert.dedup_key,
        labels={str(k): str(v) for k, v in labels.items()},
    )


def _reopen_tx(
    session: Session,
    ctx: Context,
    problem: Problem,
    incident: Incident,
    reasons: list[str],
    score: float,
) -> None:
    ref = incident_cases.ref_of(incident)
    evidence = {"incident": ref, "title": incident.title, "reasons": reasons, "score": score}
    problem_transitions.transition_tx(
        session,
        ctx,
        problem,
        lifecycle.Action.REOPEN,
        reason=f"the fix did not hold: {ref} recurred within the watch period",
        evidence=evidence,
    )
    if repo.link(session, problem_id=problem.id, incident_id=incident.id) is None:
        problem_links.link_incident_tx(
            session,
            ctx,
            problem,
            incident,
            reason=f"recurrence after fix: {'; '.join(reasons)}"[:500],
        )
    events.publish(
        session,
        type="problem.recurred",
        data={**problems.event_data(problem), "incident": ref, "reasons": reasons},
        now=ctx.clock.now(),
    )


def verify_due(ctx: Context, now: datetime) -> list[Problem]:
    """Mark fixes verified whose watch period ended with no recurrence (periodic task)."""
    ctx = ctx.as_actor(ACTOR)
    verified: list[Problem] = []
    with ctx.transaction() as session:
        for problem in repo.watched(session, verification=problems.Verification.WATCHING.value):
            if problem.verify_until is None or problem.verify_until > now:
                continue
            problem.verification = problems.Verification.VERIFIED.value
            problem.verified_at = now
            problems.event(
                session,
                ctx,
                problem,
                EventKind.SYSTEM,
                body=f"Fix verified: no recurrence in {problem.watch_days} days after resolution.",
                data={
                    "verification": problems.Verification.VERIFIED.value,
                    "watch_days": problem.watch_days,
                    "resolved_at": problem.resolved_at.isoformat() if problem.resolved_at else None,
                    "verify_until": problem.verify_until.isoformat(),
                },
            )
            events.publish(
                session, type="problem.fix_verified", data=problems.event_data(problem), now=now
            )
            verified.append(problem)
    return verified


# ---------------------------------------------------------------- features


def features(
    session: Session, incidents: Sequence[Incident]
) -> list[verification_rules.IncidentFacts]:
    """Incidents as the pure matching rules see them (services, labels, fingerprint, text)."""
    ids = [i.id for i in incidents]
    labels = repo.incident_labels(session, ids)
    from_alerts = repo.alert_labels(session, ids)
    return [
        verification_rules.IncidentFacts(
            ref=incident_cases.ref_of(incident),
            title=incident.title,
            description=incident.description or "",
            service_ids=frozenset(s.service_id for s in incident.services),
            fingerprint=incident.fingerprint,
            labels={**from_alerts.get(incident.id, {}), **labels.get(incident.id, {})},
        )
        for incident in incidents
    ]


def _known_error_problem_ids(session: Session, incident_id: int) -> set[int]:
    """Problems whose known error was matched to the incident."""
    return {
        pid
        for pid in session.scalars(
            select(KnownError.problem_id)
            .join(IncidentKnownError, IncidentKnownError.known_error_id == KnownError.id)
            .where(IncidentKnownError.incident_id == incident_id)
        )
        if pid is not None
    }
