"""Escalation timers: start on trigger, fire steps, stop on acknowledge/resolve, restart on
reassignment. The engine itself is `fireline.usecases.escalations`."""

from __future__ import annotations

from datetime import timedelta

from fireline.usecases import escalations
from fireline.usecases.context import Context
from fireline.worker.registry import Event, JobData, RetryLater, registry

_STOPPING = {
    "incident.acknowledged": "acknowledged",
    "incident.investigating": "acknowledged",
    "incident.mitigated": "acknowledged",
    "incident.resolved": "resolved",
    "incident.closed": "resolved",
    "incident.cancelled": "resolved",
}


@registry.subscriber("incident.triggered", name="escalation.start")
def start(ctx: Context, event: Event) -> None:
    """A new or reopened incident: escalate it through its service's policy."""
    if event.data.get("imported"):
        return
    escalations.start(ctx, int(event.data["incident_id"]))


def _stopper(reason: str) -> object:
    def stop(ctx: Context, event: Event) -> None:
        escalations.stop(ctx, int(event.data["incident_id"]), reason=reason)

    return stop


for _event_type, _reason in _STOPPING.items():
    registry.subscriber(_event_type, name=f"escalation.stop.{_event_type.split('.')[1]}")(
        _stopper(_reason)  # type: ignore[arg-type]
    )


@registry.subscriber("incident.updated", name="escalation.reassign")
def reassign(ctx: Context, event: Event) -> None:
    """A new assignee: restart from level 1 for them (assignee first)."""
    if "assignee" not in (event.data.get("fields") or []):
        return
    assignee = event.data.get("assignee_id")
    escalations.reassigned(
        ctx, int(event.data["incident_id"]), None if assignee is None else int(assignee)
    )


@registry.job(escalations.STEP_JOB)
def step(ctx: Context, job: JobData) -> None:
    """Enter the step named in the job if it is still the next one (idempotent)."""
    try:
        escalations.fire_step(
            ctx,
            escalation_id=int(job.payload["escalation_id"]),
            round_=int(job.payload["round"]),
            level=int(job.payload["level"]),
            job_id=job.id,
        )
    except escalations.StepTooEarly as exc:
        raise RetryLater(str(exc), delay=max(exc.due_at - ctx.clock.now(), timedelta())) from exc


@registry.batch(escalations.STEP_JOB)
def steps(ctx: Context, batch: list[JobData]) -> dict[int, BaseException | None]:
    """Fire a tick's claimed steps in one transaction (each completed in that commit).

    A step that is not due yet retries at its due time; a step that failed otherwise is left
    out of the answer, so the runner runs it on its own (and retries it if it fails again)."""
    outcomes = escalations.fire_steps(
        ctx,
        [
            escalations.StepRequest(
                job_id=job.id,
                escalation_id=int(job.payload["escalation_id"]),
                round=int(job.payload["round"]),
                level=int(job.payload["level"]),
            )
            for job in batch
        ],
    )
    answer: dict[int, BaseException | None] = {}
    for job_id, outcome in outcomes.items():
        if isinstance(outcome, escalations.StepTooEarly):
            delay = max(outcome.due_at - ctx.clock.now(), timedelta())
            answer[job_id] = RetryLater(str(outcome), delay=delay)
        elif not isinstance(outcome, BaseException):
            answer[job_id] = None
    return answer
