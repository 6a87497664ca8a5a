"""Problem lifecycle use cases: apply an action (investigate, identify root cause, mark known
error, resolve, close, reopen) to a problem.

The rules (which action is allowed from which status, and what each must carry) live in
`domain.problem_lifecycle`; this module completes the caller's input with what the problem
already records, stores it, and writes the status change, its timeline event, the known-error
follow-up and the outbox event in one transaction. Resolving starts the fix-verification watch
(`problem_watch.start_watch_tx`); a reopen with evidence marks the verification failed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fireline.domain import problem_lifecycle as lifecycle
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind
from fireline.store.models.problems import Problem
from fireline.usecases import events, known_errors, problems
from fireline.usecases.context import Context


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
        problem = problems.get(session, key)
        problems.check_version(problem, expected_version)
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
    # problem_watch composes transition_tx, so it is imported here rather than at the top.
    from fireline.usecases import problem_watch

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
        verification = problems.Verification.FAILED if evidence else problems.Verification.NONE
        problem.verification = verification.value
        problem.verify_until = None
        problem.verified_at = None
    problems.event(session, ctx, problem, EventKind.STATUS_CHANGED, data=data)
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
        data={**problems.event_data(problem), "action": action.value, "from": before.value},
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
