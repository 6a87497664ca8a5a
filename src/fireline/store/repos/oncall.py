"""On-call queries: schedules with overrides, policies per service, running escalations,
contact methods and rules of the people being paged. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.errors import NotFound
from fireline.store.models import IncidentService, TeamMember
from fireline.store.models.oncall import (
    ContactMethod,
    Escalation,
    EscalationPolicy,
    NotificationRule,
    Schedule,
    ScheduleOverride,
    ServiceEscalation,
)


def schedule(session: Session, schedule_id: int, *, for_update: bool = False) -> Schedule:
    """Return the schedule or raise NotFound(field="schedule")."""
    query = select(Schedule).where(Schedule.id == schedule_id)
    if for_update:
        query = query.with_for_update()
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"no schedule {schedule_id}", field="schedule")
    return found


def schedules(session: Session, *, team_id: int | None = None) -> Sequence[Schedule]:
    query = select(Schedule).order_by(Schedule.name)
    if team_id is not None:
        query = query.where(Schedule.team_id == team_id)
    return session.scalars(query).all()


def overrides(
    session: Session,
    schedule_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Sequence[ScheduleOverride]:
    """Overrides of a schedule (touching `[start, end)` if given), oldest first (later wins)."""
    query = select(ScheduleOverride).where(ScheduleOverride.schedule_id == schedule_id)
    if start is not None:
        query = query.where(ScheduleOverride.ends_at > start)
    if end is not None:
        query = query.where(ScheduleOverride.starts_at < end)
    return session.scalars(query.order_by(ScheduleOverride.id)).all()


def policy(session: Session, policy_id: int) -> EscalationPolicy:
    found = session.get(EscalationPolicy, policy_id)
    if found is None:
        raise NotFound(f"no escalation policy {policy_id}", field="policy")
    return found


def policy_for_incident(session: Session, incident_id: int) -> EscalationPolicy | None:
    """The policy of the incident's first service (by id) that has one, or None."""
    query = (
        select(EscalationPolicy)
        .join(ServiceEscalation, ServiceEscalation.policy_id == EscalationPolicy.id)
        .join(IncidentService, IncidentService.service_id == ServiceEscalation.service_id)
        .where(IncidentService.incident_id == incident_id)
        .order_by(IncidentService.service_id)
        .limit(1)
    )
    return session.scalar(query)


def active_escalations(
    session: Session, incident_id: int, *, for_update: bool = False
) -> Sequence[Escalation]:
    query = select(Escalation).where(
        Escalation.incident_id == incident_id, Escalation.state == "active"
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query.order_by(Escalation.id)).all()


def escalation(session: Session, escalation_id: int, *, for_update: bool) -> Escalation | None:
    query = select(Escalation).where(Escalation.id == escalation_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def team_member_ids(session: Session, team_id: int) -> list[int]:
    query = select(TeamMember.user_id).where(TeamMember.team_id == team_id)
    return sorted(session.scalars(query))


def contact_methods(session: Session, user_ids: Sequence[int]) -> Sequence[ContactMethod]:
    if not user_ids:
        return []
    query = select(ContactMethod).where(ContactMethod.user_id.in_(user_ids))
    return session.scalars(query.order_by(ContactMethod.id)).all()


def notification_rules(session: Session, user_ids: Sequence[int]) -> Sequence[NotificationRule]:
    if not user_ids:
        return []
    query = select(NotificationRule).where(NotificationRule.user_id.in_(user_ids))
    return session.scalars(query.order_by(NotificationRule.id)).all()
