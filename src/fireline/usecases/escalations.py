"""Escalation policies (CRUD, one per service) and the escalation engine.

The engine is driven by the worker. An escalation row per incident remembers the level last
entered; each step is an `escalation.step` job whose dedup key `esc:<id>:<round>:<level>`
names the step it *enters*, so a step can be neither enqueued nor fired twice:

    incident.triggered ─> start ─> job esc:7:0:0 ─> fire_step: page level 0, job esc:7:0:1 ...
                                   (esc:7:0:-1 first when an assignee is paged directly)

`fire_step` locks the escalation row, checks that the job is the expected next step (a job
re-run after a crash finds the state already advanced and does nothing) and that the incident
is still `triggered`; then, in one transaction, it pages the resolved users (delivery jobs),
records an `escalation` timeline event, stores the new state and enqueues the next step.
Acknowledging stops the escalation, resolving stops it and the pending deliveries skip
themselves, and reassigning a triggered incident restarts it: assignee first, then level 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from fireline.domain import escalation as esc
from fireline.domain.incident_lifecycle import Status
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind
from fireline.errors import InvalidField, NotFound
from fireline.store.models import Incident, Service, Team, User
from fireline.store.models.oncall import (
    Escalation,
    EscalationPolicy,
    Schedule,
    ServiceEscalation,
)
from fireline.store.repos import jobs, timeline
from fireline.store.repos import oncall as repo
from fireline.usecases import lookups, notifications
from fireline.usecases.context import Context
from fireline.usecases.oncall import on_call_now

STEP_JOB = "escalation.step"
RECORD = "incident"


@dataclass(frozen=True, slots=True)
class TargetInput:
    kind: str
    id: int


@dataclass(frozen=True, slots=True)
class LevelInput:
    targets: Sequence[TargetInput]
    delay_minutes: int


@dataclass(frozen=True, slots=True)
class PolicyInput:
    name: str
    levels: Sequence[LevelInput]
    repeat: int = 0
    description: str = ""
    team: lookups.Ref | None = None


# ---------------------------------------------------------------- policies


def _levels_json(session: Session, levels: Sequence[LevelInput]) -> list[dict[str, Any]]:
    if not levels:
        raise InvalidField("levels", "a policy needs at least one level")
    out: list[dict[str, Any]] = []
    models: dict[str, type[User] | type[Schedule] | type[Team]] = {
        "user": User,
        "schedule": Schedule,
        "team": Team,
    }
    for i, level in enumerate(levels):
        if not level.targets:
            raise InvalidField(f"levels[{i}].targets", "a level needs at least one target")
        if level.delay_minutes < 1:
            raise InvalidField(f"levels[{i}].delay_minutes", "must be at least 1 minute")
        targets = []
        for j, target in enumerate(level.targets):
            model = models.get(target.kind)
            if model is None:
                raise InvalidField(
                    f"levels[{i}].targets[{j}].kind", "must be user, schedule or team"
                )
            ident = lookups.as_id(target.id)
            if ident is None or session.get(model, ident) is None:
                raise InvalidField(f"levels[{i}].targets[{j}].id", f"no {target.kind} {target.id}")
            targets.append({"kind": target.kind, "id": ident})
        out.append({"delay_minutes": level.delay_minutes, "targets": targets})
    return out


def _apply(session: Session, policy: EscalationPolicy, data: PolicyInput) -> None:
    name = data.name.strip()
    if not name:
        raise InvalidField("name", "must not be empty")
    if not 0 <= data.repeat <= 20:
        raise InvalidField("repeat", "must be between 0 and 20")
    policy.name = name[:120]
    policy.description = data.description
    policy.repeat = data.repeat
    policy.team_id = (
        None if data.team is None else lookups.team(session, data.team, field="team").id
    )
    policy.levels = _levels_json(session, data.levels)


def create_policy(ctx: Context, data: PolicyInput) -> EscalationPolicy:
    """Create a policy (manager). Raises InvalidField naming e.g. `levels[0].targets`."""
    ctx.actor.require(Role.MANAGER)
    now = ctx.clock.now()
    with ctx.transaction() as session:
        policy = EscalationPolicy(created_at=now, updated_at=now, version=1, levels=[])
        _apply(session, policy, data)
        session.add(policy)
        session.flush()
    return policy


def update_policy(ctx: Context, policy_id: int, data: PolicyInput) -> EscalationPolicy:
    """Replace a policy; running escalations use the new levels from their next step on."""
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        policy = repo.policy(session, policy_id)
        _apply(session, policy, data)
        policy.version += 1
        policy.updated_at = ctx.clock.now()
    return policy


def delete_policy(ctx: Context, policy_id: int) -> None:
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        session.delete(repo.policy(session, policy_id))


def get_policy(ctx: Context, policy_id: int) -> EscalationPolicy:
    with ctx.reading() as session:
        return repo.policy(session, policy_id)


def list_policies(ctx: Context) -> Sequence[EscalationPolicy]:
    with ctx.reading() as session:
        return session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)).all()


def set_service_policy(ctx: Context, service_id: int, policy_id: int | None) -> None:
    """Point a service at a policy (None removes it). Manager."""
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        ident = lookups.as_id(service_id)
        if ident is None or session.get(Service, ident) is None:
            raise NotFound(f"no service {service_id}", field="service")
        link = session.get(ServiceEscalation, ident)
        if policy_id is None:
            if link is not None:
                session.delete(link)
            return
        pid = lookups.as_id(policy_id)
        if pid is None or session.get(EscalationPolicy, pid) is None:
            raise InvalidField("policy_id", f"no escalation policy {policy_id}")
        if link is None:
            session.add(ServiceEscalation(service_id=ident, policy_id=pid))
        else:
            link.policy_id = pid


def service_policy_id(ctx: Context, service_id: int) -> int | None:
    with ctx.reading() as session:
        link = session.get(ServiceEscalation, service_id)
        return None if link is None else link.policy_id


def service_policies(ctx: Context) -> list[tuple[Service, EscalationPolicy]]:
    with ctx.reading() as session:
        rows = session.execute(
            select(Service, EscalationPolicy)
            .join(ServiceEscalation, ServiceEscalation.service_id == Service.id)
            .join(EscalationPolicy, EscalationPolicy.id == ServiceEscalation.policy_id)
            .order_by(Service.name)
        ).all()
        return [(row[0], row[1]) for row in rows]


def domain_policy(policy: EscalationPolicy) -> esc.Policy:
    return esc.Policy(
        levels=tuple(
            esc.EscalationLevel(
                targets=tuple(
                    esc.Target(esc.TargetKind(t["kind"]), int(t["id"])) for t in level["targets"]
                ),
                delay_minutes=int(level["delay_minutes"]),
            )
            for level in policy.levels
        ),
        repeat=policy.repeat,
    )


def resolver(session: Session) -> esc.Resolver:
    """Targets resolved through `session`, asking the database once per schedule (and time)
    and team: a batch of steps resolves many levels at the same `now`."""
    on_call: dict[tuple[int, datetime], list[int]] = {}
    members: dict[int, list[int]] = {}

    def _on_call(schedule_id: int, at: datetime) -> list[int]:
        key = (schedule_id, at)
        if key not in on_call:
            on_call[key] = on_call_now(session, schedule_id, at)
        return on_call[key]

    def _members(team_id: int) -> list[int]:
        if team_id not in members:
            members[team_id] = repo.team_member_ids(session, team_id)
        return members[team_id]

    return esc.Resolver(on_call=_on_call, members=_members)


def resolve_level_users(ctx: Context, policy: EscalationPolicy, *, at: datetime) -> list[list[int]]:
    """Who each level of `policy` would page at `at` (for "who is on call" per service)."""
    with ctx.reading() as session:
        found = resolver(session)
        return [
            list(esc.resolve_targets(level.targets, at=at, resolver=found)[0])
            for level in domain_policy(policy).levels
        ]


# ---------------------------------------------------------------- engine


def _event(ctx: Context, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """An `escalation` timeline event (`timeline.append` keyword arguments)."""
    return {
        "record_type": RECORD,
        "record_id": incident_id,
        "kind": EventKind.ESCALATION.value,
        "at": ctx.clock.now(),
        "actor_id": ctx.actor.user_id,
        "actor_label": ctx.actor.label,
        "data": data,
    }


def _record(session: Session, ctx: Context, incident_id: int, data: dict[str, Any]) -> None:
    timeline.append(session, **_event(ctx, incident_id, data))


def _step_job(row: Escalation, round_: int, level: int) -> jobs.NewJob:
    assert row.next_due is not None
    return jobs.NewJob(
        kind=STEP_JOB,
        payload={"escalation_id": row.id, "round": round_, "level": level},
        due_at=row.next_due,
        dedup_key=f"esc:{row.id}:{round_}:{level}",
        max_attempts=20,
    )


def _enqueue_step(session: Session, ctx: Context, row: Escalation, round_: int, level: int) -> None:
    jobs.enqueue_many(session, [_step_job(row, round_, level)], now=ctx.clock.now())


def stop_tx(session: Session, ctx: Context, incident_id: int, *, reason: str) -> int:
    """Stop every active escalation of the incident; return how many were stopped."""
    now = ctx.clock.now()
    rows = repo.active_escalations(session, incident_id, for_update=True)
    for row in rows:
        row.state = "stopped"
        row.stopped_at = now
        row.stop_reason = reason
        row.next_due = None
        _record(
            session,
            ctx,
            incident_id,
            {"action": "stopped", "reason": reason, "escalation_id": row.id},
        )
    return len(rows)


def start(
    ctx: Context, incident_id: int, *, reason: str = "triggered", assignee_first: bool = False
) -> Escalation | None:
    """Start (or restart) escalating a triggered incident through its service's policy.

    With `assignee_first` (reassignment) the assignee is paged before level 1. Returns None
    when the incident is not triggered or has neither a policy nor (for a restart) an assignee.
    """
    with ctx.transaction() as session:
        incident = session.scalar(
            select(Incident).where(Incident.id == incident_id).with_for_update()
        )
        if incident is None or incident.status != Status.TRIGGERED.value:
            return None
        stop_tx(session, ctx, incident_id, reason=f"restarted: {reason}")
        policy = repo.policy_for_incident(session, incident_id)
        assignee = incident.assignee_id if assignee_first or reason == "triggered" else None
        if policy is None and assignee is None:
            return None
        now = ctx.clock.now()
        first_level = -1 if assignee is not None else 0
        row = Escalation(
            incident_id=incident_id,
            policy_id=None if policy is None else policy.id,
            assignee_id=assignee,
            state="active",
            level=first_level,
            round=0,
            started_at=now,
            level_entered_at=None,
            next_due=now,
        )
        session.add(row)
        session.flush()
        _record(
            session,
            ctx,
            incident_id,
            {
                "action": "started",
                "reason": reason,
                "escalation_id": row.id,
                "policy_id": row.policy_id,
                "policy": None if policy is None else policy.name,
            },
        )
        _enqueue_step(session, ctx, row, 0, first_level)
    return row


def _successor(row: Escalation, levels: int) -> tuple[int, int]:
    """(round, level) of the step after the stored one."""
    if row.level_entered_at is None:
        return row.round, row.level
    if row.level < 0:
        return 0, 0
    if row.level + 1 >= levels:
        return row.round + 1, 0
    return row.round, row.level + 1


class StepTooEarly(Exception):
    def __init__(self, due_at: datetime) -> None:
        super().__init__(f"step not due before {due_at.isoformat()}")
        self.due_at = due_at


def fire_step(
    ctx: Context, *, escalation_id: int, round_: int, level: int, job_id: int | None = None
) -> str:
    """Enter step (round_, level) of an escalation if it is still the next one; return what
    happened (`paged`, `stale`, `stopped`, `exhausted`). Raises StepTooEarly if not due.

    With `job_id`, that step job is marked done in the same transaction as the step's effect.
    """
    with ctx.transaction() as session:
        return fire_step_tx(
            session, ctx, escalation_id=escalation_id, round_=round_, level=level, job_id=job_id
        )


@dataclass(frozen=True, slots=True)
class StepRequest:
    job_id: int
    escalation_id: int
    round: int
    level: int


def fire_steps(ctx: Context, steps: Sequence[StepRequest]) -> dict[int, str | BaseException]:
    """Fire many due steps in ONE transaction, each step job completed in that same commit.

    Set-based for the common case (a due level of an active escalation of a triggered
    incident): the escalations are locked (in id order), and their policies and incidents
    read, in three queries for the whole batch; the paged users' contact methods and rules in
    two more; then the step jobs are completed in one UPDATE, the timeline events, delivery
    jobs and next-step jobs inserted in two executemany statements, and the escalation rows
    updated at the commit. Other steps (stale, stopped, assignee, no policy) run `fire_step_tx`
    in a savepoint each. A step that is not due yet is returned as StepTooEarly and its job
    left alone; another exception is returned for that step (the caller runs it on its own).
    If anything else fails, it raises and nothing of the batch is committed (every job stays
    claimed, so a re-run finds each step still to do, exactly once)."""
    outcomes: dict[int, str | BaseException] = {}
    if not steps:
        return outcomes
    now = ctx.clock.now()
    with ctx.transaction() as session:
        rows = {
            row.id: row
            for row in session.scalars(
                select(Escalation)
                .where(Escalation.id.in_({r.escalation_id for r in steps}))
                .order_by(Escalation.id)  # one lock order
                .with_for_update()
            )
        }
        policy_ids = {row.policy_id for row in rows.values() if row.policy_id is not None}
        policies = {
            p.id: domain_policy(p)
            for p in session.scalars(
                select(EscalationPolicy).where(EscalationPolicy.id.in_(policy_ids))
            )
        }
        incidents = {
            i.id: i
            for i in session.scalars(
                select(Incident)
                .where(Incident.id.in_({row.incident_id for row in rows.values()}))
                .options(lazyload("*"))
            )
        }
        found = resolver(session)
        done: list[int] = []
        pages: list[notifications.PageRequest] = []
        events: list[dict[str, Any]] = []
        next_jobs: list[jobs.NewJob] = []
        for request in sorted(steps, key=lambda r: (r.escalation_id, r.job_id)):
            row = rows.get(request.escalation_id)
            policy = None if row is None or row.policy_id is None else policies.get(row.policy_id)
            incident = None if row is None else incidents.get(row.incident_id)
            if (
                row is None
                or row.state != "active"
                or policy is None
                or request.level < 0
                or incident is None
                or incident.status != Status.TRIGGERED.value
                or _successor(row, len(policy.levels)) != (request.round, request.level)
            ):
                # Stale, stopped, the assignee's page or no policy: rare, one at a time.
                try:
                    with session.begin_nested():
                        outcomes[request.job_id] = fire_step_tx(
                            session,
                            ctx,
                            escalation_id=request.escalation_id,
                            round_=request.round,
                            level=request.level,
                            job_id=request.job_id,
                        )
                except Exception as exc:  # rolled back to the savepoint: this step only
                    outcomes[request.job_id] = exc
                continue
            try:
                outcome = esc.next_step(policy, _state_of(row), now=now, resolver=found)
            except Exception as exc:  # nothing written for this step yet
                outcomes[request.job_id] = exc
                continue
            if isinstance(outcome, esc.Pending):
                outcomes[request.job_id] = StepTooEarly(outcome.due_at)
                continue
            done.append(request.job_id)
            if isinstance(outcome, esc.Exhausted):
                outcomes[request.job_id] = _exhaust(session, ctx, row, now, rounds=outcome.rounds)
                continue
            pages.append(
                notifications.PageRequest(
                    incident=incident,
                    user_ids=outcome.user_ids,
                    step=f"esc{row.id}-r{outcome.state.round}-l{outcome.state.level}",
                    reason="escalation",
                    require_triggered=True,
                )
            )
            events.append(_event(ctx, row.incident_id, _level_data(row, outcome)))
            row.level, row.round = outcome.state.level, outcome.state.round
            row.level_entered_at = now
            row.next_due = outcome.due_at
            next_round, next_level = _successor(row, len(policy.levels))
            next_jobs.append(_step_job(row, next_round, next_level))
            outcomes[request.job_id] = "paged"
        jobs.complete_many(session, job_ids=done, now=now)
        timeline.append_many(session, events)
        jobs.enqueue_many(
            session, notifications.plan_pages_tx(session, ctx, pages) + next_jobs, now=now
        )
    return outcomes


def _level_data(row: Escalation, outcome: esc.Step) -> dict[str, Any]:
    """The `escalation` timeline event's data for entering a level."""
    return {
        "action": "level",
        "escalation_id": row.id,
        "round": outcome.state.round,
        "level": outcome.state.level,
        "user_ids": list(outcome.user_ids),
        "targets": [{"kind": t.kind.value, "id": t.id} for t in outcome.targets],
        "unresolved": [{"kind": t.kind.value, "id": t.id} for t in outcome.unresolved],
        "next_due": outcome.due_at.isoformat(),
    }


def fire_step_tx(
    session: Session,
    ctx: Context,
    *,
    escalation_id: int,
    round_: int,
    level: int,
    job_id: int | None = None,
) -> str:
    """`fire_step` in the caller's transaction (which must roll back on StepTooEarly)."""
    if job_id is not None:
        jobs.complete(session, job_id=job_id, now=ctx.clock.now())  # undone on StepTooEarly
    row = repo.escalation(session, escalation_id, for_update=True)
    if row is None or row.state != "active":
        return "stale"
    policy_row = None if row.policy_id is None else session.get(EscalationPolicy, row.policy_id)
    policy = None if policy_row is None else domain_policy(policy_row)
    n_levels = 0 if policy is None else len(policy.levels)
    if _successor(row, max(n_levels, 1)) != (round_, level):
        return "stale"
    # Only the incident's own columns are needed: skip its eager collections (hot path).
    incident = session.get(Incident, row.incident_id, options=[lazyload("*")])
    if incident is None or incident.status != Status.TRIGGERED.value:
        status = "deleted" if incident is None else incident.status
        if incident is not None:
            stop_tx(session, ctx, row.incident_id, reason=status)
        return "stopped"
    now = ctx.clock.now()
    if level < 0:
        return _page_assignee(session, ctx, row, incident, policy, now)
    if policy is None:
        return _exhaust(session, ctx, row, now, rounds=1)
    outcome = esc.next_step(policy, _state_of(row), now=now, resolver=resolver(session))
    if isinstance(outcome, esc.Pending):
        raise StepTooEarly(outcome.due_at)
    if isinstance(outcome, esc.Exhausted):
        return _exhaust(session, ctx, row, now, rounds=outcome.rounds)
    step_key = f"esc{row.id}-r{outcome.state.round}-l{outcome.state.level}"
    notifications.page_tx(
        session,
        ctx,
        incident,
        outcome.user_ids,
        step=step_key,
        reason="escalation",
        require_triggered=True,
    )
    _record(session, ctx, row.incident_id, _level_data(row, outcome))
    row.level, row.round = outcome.state.level, outcome.state.round
    row.level_entered_at = now
    row.next_due = outcome.due_at
    next_round, next_level = _successor(row, len(policy.levels))
    _enqueue_step(session, ctx, row, next_round, next_level)
    return "paged"


def _page_assignee(
    session: Session,
    ctx: Context,
    row: Escalation,
    incident: Incident,
    policy: esc.Policy | None,
    now: datetime,
) -> str:
    users = [row.assignee_id] if row.assignee_id is not None else []
    notifications.page_tx(
        session,
        ctx,
        incident,
        users,
        step=f"esc{row.id}-assignee",
        reason="assigned",
        require_triggered=True,
    )
    delay = policy.levels[0].delay_minutes if policy is not None else 0
    row.level, row.round, row.level_entered_at = -1, 0, now
    _record(
        session,
        ctx,
        row.incident_id,
        {
            "action": "assignee",
            "escalation_id": row.id,
            "user_ids": users,
            "next_due": (now + timedelta(minutes=delay)).isoformat() if policy else None,
        },
    )
    if policy is None:
        row.state, row.next_due, row.stopped_at = "exhausted", None, now
        return "paged"
    row.next_due = now + timedelta(minutes=delay)
    _enqueue_step(session, ctx, row, 0, 0)
    return "paged"


def _exhaust(session: Session, ctx: Context, row: Escalation, now: datetime, *, rounds: int) -> str:
    row.state, row.next_due, row.stopped_at, row.stop_reason = "exhausted", None, now, "exhausted"
    _record(
        session,
        ctx,
        row.incident_id,
        {
            "action": "exhausted",
            "escalation_id": row.id,
            "rounds": rounds,
        },
    )
    return "exhausted"


def stop(ctx: Context, incident_id: int, *, reason: str) -> int:
    with ctx.transaction() as session:
        return stop_tx(session, ctx, incident_id, reason=reason)


def reassigned(ctx: Context, incident_id: int, assignee_id: int | None) -> None:
    """An incident changed hands: restart a triggered incident's escalation for the new owner,
    or tell the new owner of an acknowledged one (no escalation: it is already owned)."""
    if assignee_id is None:
        return
    with ctx.reading() as session:
        incident = session.get(Incident, incident_id)
        status = None if incident is None else incident.status
    if status == Status.TRIGGERED.value:
        start(ctx, incident_id, reason="reassigned", assignee_first=True)
    elif status in (Status.ACKNOWLEDGED.value, Status.INVESTIGATING.value, Status.MITIGATED.value):
        with ctx.transaction() as session:
            found = session.get(Incident, incident_id)
            if found is not None:
                notifications.page_tx(
                    session,
                    ctx,
                    found,
                    [assignee_id],
                    step=f"assign-{incident_id}-{assignee_id}-{int(ctx.clock.now().timestamp())}",
                    reason="assigned",
                    require_triggered=False,
                )


def page(ctx: Context, key: str | int, *, kind: str, target_id: int) -> list[int]:
    """Page a user, whoever is on call in a schedule, or a team's members now (responder).

    Returns the paged user ids; raises InvalidField("target.id") for an unknown target and
    InvalidField("target") when it resolves to nobody.
    """
    from fireline.usecases import incidents

    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        incident = incidents.get(session, key)
        try:
            target_kind = esc.TargetKind(kind)
        except ValueError:
            raise InvalidField("target.kind", "must be user, schedule or team") from None
        models: dict[str, type[User] | type[Schedule] | type[Team]] = {
            "user": User,
            "schedule": Schedule,
            "team": Team,
        }
        ident = lookups.as_id(target_id)
        if ident is None or session.get(models[target_kind.value], ident) is None:
            raise InvalidField("target.id", f"no {kind} {target_id}")
        if incident.status in (Status.RESOLVED.value, Status.CLOSED.value, Status.CANCELLED.value):
            raise InvalidField("incident", f"{incidents.ref_of(incident)} is {incident.status}")
        now = ctx.clock.now()
        users, _ = esc.resolve_targets(
            [esc.Target(target_kind, ident)], at=now, resolver=resolver(session)
        )
        if not users:
            raise InvalidField("target", f"nobody to page in {kind} {target_id} right now")
        notifications.page_tx(
            session,
            ctx,
            incident,
            users,
            step=f"page-{int(now.timestamp() * 1000)}-{kind}{ident}",
            reason="manual",
            require_triggered=False,
        )
        _record(
            session,
            ctx,
            incident.id,
            {
                "action": "paged",
                "target": {"kind": kind, "id": ident},
                "user_ids": list(users),
            },
        )
        return list(users)


def _state_of(row: Escalation) -> esc.EscalationState | None:
    """Where an escalation stands, for the pure stepping logic (None: not started)."""
    if row.level_entered_at is None or row.level < 0:
        return None
    return esc.EscalationState(
        level=row.level,
        round=row.round,
        started_at=row.started_at,
        level_entered_at=row.level_entered_at,
    )
