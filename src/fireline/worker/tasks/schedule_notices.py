"""On-call notices by e-mail: "your shifts changed" after a schedule edit, and "you are on
call now" at the start of each shift (one job per hand-off, deduplicated per shift)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fireline.domain import rotation
from fireline.integrations.outbound.email import Email, EmailError, send_email
from fireline.store.repos import jobs
from fireline.store.repos import oncall as repo
from fireline.usecases import notifications, oncall
from fireline.usecases.context import Context
from fireline.worker.registry import JobData, PermanentFailure, RetryLater, registry

HANDOFF_JOB = "oncall.handoff_notice"
LOOKAHEAD = timedelta(minutes=15)


def _when(value: str, zone: str) -> str:
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    return moment.strftime("%a %d %b %Y %H:%M %Z")


def _send(ctx: Context, user_id: int, subject: str, text: str, message_id: str) -> None:
    found = notifications.email_address(ctx, user_id)
    if found is None:
        return
    try:
        send_email(
            ctx.settings, Email(to=found[0], subject=subject, text=text, message_id=message_id)
        )
    except EmailError as exc:
        if exc.permanent:
            raise PermanentFailure(str(exc)) from exc
        raise RetryLater(str(exc)) from exc


def _schedule_name(ctx: Context, schedule_id: int) -> tuple[str, str] | None:
    with ctx.reading() as session:
        try:
            found = repo.schedule(session, schedule_id)
        except Exception:
            return None
        return found.name, found.time_zone


@registry.job(oncall.SHIFT_NOTICE_JOB)
def shift_notice(ctx: Context, job: JobData) -> None:
    payload: dict[str, Any] = job.payload
    found = _schedule_name(ctx, int(payload["schedule_id"]))
    if found is None:
        return
    name, zone = found
    lines = [f"Your on-call shifts in {name} changed (next 30 days).", ""]
    for label, key in (("New or changed shifts", "added"), ("No longer yours", "removed")):
        if payload.get(key):
            lines.append(f"{label}:")
            lines += [
                f"  {_when(s['start'], zone)} – {_when(s['end'], zone)}" for s in payload[key]
            ]
            lines.append("")
    lines.append(f"{ctx.settings.public_base_url}/oncall/schedules/{payload['schedule_id']}")
    _send(
        ctx,
        int(payload["user_id"]),
        f"[Fireline] Your on-call shifts in {name} changed",
        "\n".join(lines) + "\n",
        f"shift{job.id}",
    )


@registry.periodic("oncall.handoffs", every=timedelta(minutes=5))
def plan_handoffs(ctx: Context, now: datetime) -> None:
    """Queue a hand-off notice for every shift starting in the next 15 minutes (idempotent)."""
    with ctx.transaction() as session:
        for schedule in repo.schedules(session):
            domain = oncall.load_domain(session, schedule)
            for handoff in rotation.handoffs(domain, now, now + LOOKAHEAD):
                at = int(handoff.at.timestamp())
                jobs.enqueue(
                    session,
                    kind=HANDOFF_JOB,
                    payload={
                        "schedule_id": schedule.id,
                        "user_id": handoff.to_user_id,
                        "at": handoff.at.isoformat(),
                    },
                    due_at=handoff.at,
                    now=now,
                    dedup_key=f"handoff:{schedule.id}:{handoff.to_user_id}:{at}",
                    max_attempts=5,
                )


@registry.job(HANDOFF_JOB)
def handoff_notice(ctx: Context, job: JobData) -> None:
    """Tell the user their shift starts, if it still does (the schedule may have changed)."""
    schedule_id, user_id = int(job.payload["schedule_id"]), int(job.payload["user_id"])
    at = datetime.fromisoformat(str(job.payload["at"]))
    found = _schedule_name(ctx, schedule_id)
    if found is None:
        return
    with ctx.reading() as session:
        if user_id not in oncall.on_call_now(session, schedule_id, at):
            return
        domain = oncall.load_domain(session, repo.schedule(session, schedule_id))
        shift = next(
            (
                s
                for s in rotation.render_shifts(domain, at, at + timedelta(days=35))
                if s.user_id == user_id and s.start == at
            ),
            None,
        )
    name, zone = found
    until = f" until {_when(shift.end.isoformat(), zone)}" if shift is not None else ""
    _send(
        ctx,
        user_id,
        f"[Fireline] You are now on call for {name}",
        f"Your on-call shift for {name} starts {_when(at.isoformat(), zone)}{until}.\n",
        f"handoff{job.id}",
    )
