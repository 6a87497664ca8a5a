"""Noise control: mark alerts as noise, silences by label matchers, maintenance windows.

Silences and maintenance windows only stop *new* alerts from opening incidents; the alerts
are still recorded (suppressed, with the reason), so nothing is lost and the noise report can
show owners what to tune.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fireline.domain.alert_rules import matchers_from_object
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind
from fireline.errors import InvalidField, NotFound
from fireline.store.models.alerts import Alert, MaintenanceWindow, Silence
from fireline.store.repos import alerts as alert_repo
from fireline.store.repos import audit
from fireline.usecases import incidents, lookups
from fireline.usecases.context import Context

MAX_SPAN = timedelta(days=366)


def _reason(value: str | None, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidField("reason", "must not be empty")
    if len(text) > 500:
        raise InvalidField("reason", "must be at most 500 characters")
    return text


def _audit(
    session: Session, ctx: Context, action: str, target: str, ident: int, **data: Any
) -> None:
    audit.record(
        session,
        at=ctx.clock.now(),
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        action=action,
        target_type=target,
        target_id=ident,
        data=data,
    )


# ---------------------------------------------------------------- mark as noise


def mark_alert(ctx: Context, alert_id: int, reason: str) -> Alert:
    """Flag an alert as noise (it should not have paged); shows in the noise report."""
    ctx.actor.require(Role.RESPONDER)
    text = _reason(reason)
    with ctx.transaction() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}", field="alert")
        alert.noise = True
        alert.noise_reason = text
        if alert.incident_id is not None:
            incident = incidents.get(session, alert.incident_id)
            incidents._event(
                session,
                ctx,
                incident,
                EventKind.NOTE,
                body=f"Alert {alert.id} marked as noise: {text}",
                data={"alert_id": alert.id, "noise": True},
            )
    return alert


def mark_incident(ctx: Context, key: str | int, reason: str) -> int:
    """Flag every alert of an incident as noise; return how many."""
    ctx.actor.require(Role.RESPONDER)
    text = _reason(reason)
    with ctx.transaction() as session:
        incident = incidents.get(session, key)
        result = session.execute(
            update(Alert)
            .where(Alert.incident_id == incident.id)
            .values(noise=True, noise_reason=text)
        )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        incidents._event(
            session,
            ctx,
            incident,
            EventKind.NOTE,
            body=f"{count} alert(s) marked as noise: {text}",
            data={"noise": True, "alerts": count},
        )
    return count


def report(ctx: Context, *, since: datetime | None = None) -> list[dict[str, object]]:
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        return alert_repo.noise_report(session, since=since)


# ---------------------------------------------------------------- silences


def _span(starts_at: datetime | None, ends_at: datetime, now: datetime) -> datetime:
    start = starts_at or now
    if ends_at.tzinfo is None or start.tzinfo is None:
        raise InvalidField("ends_at", "must include a time zone")
    if ends_at <= start:
        raise InvalidField("ends_at", "must be after starts_at")
    if ends_at - start > MAX_SPAN:
        raise InvalidField("ends_at", "at most a year after starts_at")
    return start


def create_silence(
    ctx: Context,
    *,
    matchers: dict[str, str],
    reason: str,
    ends_at: datetime,
    starts_at: datetime | None = None,
    service: lookups.Ref | None = None,
) -> Silence:
    ctx.actor.require(Role.RESPONDER)
    matchers_from_object(matchers, field="matchers")
    if not matchers:
        raise InvalidField(
            "matchers", "at least one matcher (a silence of everything is an outage)"
        )
    now = ctx.clock.now()
    start = _span(starts_at, ends_at, now)
    with ctx.transaction() as session:
        service_id = lookups.service(session, service, field="service").id if service else None
        silence = Silence(
            service_id=service_id,
            matchers=matchers,
            reason=_reason(reason),
            starts_at=start,
            ends_at=ends_at,
            created_by=ctx.actor.user_id,
            created_at=now,
        )
        session.add(silence)
        session.flush()
        _audit(session, ctx, "silence.create", "silence", silence.id, matchers=matchers)
    return silence


def list_silences(ctx: Context, *, active_only: bool = False) -> Sequence[Silence]:
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        query = select(Silence).order_by(Silence.id.desc()).limit(500)
        if active_only:
            query = query.where(Silence.ends_at > ctx.clock.now())
        return session.scalars(query).all()


def get_silence(ctx: Context, silence_id: int) -> Silence:
    with ctx.reading() as session:
        found = session.get(Silence, silence_id)
        if found is None:
            raise NotFound(f"no silence {silence_id}", field="silence")
        return found


def update_silence(ctx: Context, silence_id: int, changes: dict[str, Any]) -> Silence:
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        silence = session.get(Silence, silence_id)
        if silence is None:
            raise NotFound(f"no silence {silence_id}", field="silence")
        if "matchers" in changes:
            matchers_from_object(changes["matchers"], field="matchers")
            if not changes["matchers"]:
                raise InvalidField("matchers", "at least one matcher")
            silence.matchers = changes["matchers"]
        if "reason" in changes:
            silence.reason = _reason(changes["reason"])
        if "ends_at" in changes or "starts_at" in changes:
            ends = changes.get("ends_at") or silence.ends_at
            silence.starts_at = _span(
                changes.get("starts_at") or silence.starts_at, ends, ctx.clock.now()
            )
            silence.ends_at = ends
        _audit(
            session,
            ctx,
            "silence.update",
            "silence",
            silence.id,
            **{k: str(v) for k, v in changes.items()},
        )
    return silence


def expire_silence(ctx: Context, silence_id: int) -> Silence:
    """End a silence now (kept for the record)."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        silence = session.get(Silence, silence_id)
        if silence is None:
            raise NotFound(f"no silence {silence_id}", field="silence")
        now = ctx.clock.now()
        if silence.ends_at > now:
            silence.ends_at = max(now, silence.starts_at)
        _audit(session, ctx, "silence.expire", "silence", silence.id)
    return silence


# ---------------------------------------------------------------- maintenance windows


def create_window(
    ctx: Context,
    *,
    service: lookups.Ref,
    ends_at: datetime,
    starts_at: datetime | None = None,
    reason: str = "",
) -> MaintenanceWindow:
    ctx.actor.require(Role.RESPONDER)
    now = ctx.clock.now()
    start = _span(starts_at, ends_at, now)
    with ctx.transaction() as session:
        found = lookups.service(session, service, field="service")
        window = MaintenanceWindow(
            service_id=found.id,
            starts_at=start,
            ends_at=ends_at,
            reason=_reason(reason, required=False),
            created_by=ctx.actor.user_id,
            created_at=now,
        )
        session.add(window)
        session.flush()
        _audit(session, ctx, "maintenance.create", "maintenance_window", window.id)
    return window


def list_windows(ctx: Context, *, service_id: int | None = None) -> Sequence[MaintenanceWindow]:
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        query = select(MaintenanceWindow).order_by(MaintenanceWindow.id.desc()).limit(500)
        if service_id is not None:
            query = query.where(MaintenanceWindow.service_id == service_id)
        return session.scalars(query).all()


def end_window(ctx: Context, window_id: int) -> MaintenanceWindow:
    """End a maintenance window now (or cancel a future one)."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        window = session.get(MaintenanceWindow, window_id)
        if window is None:
            raise NotFound(f"no maintenance window {window_id}", field="maintenance_window")
        now = ctx.clock.now()
        if window.ends_at > now:
            window.ends_at = max(now, window.starts_at)
        _audit(session, ctx, "maintenance.end", "maintenance_window", window.id)
    return window
