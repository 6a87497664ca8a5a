"""Incident use cases: declare, update fields, transition, note, status update, read.

Each public function is one transaction: the change, its timeline events and its outbox
events commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain import refs
from fireline.domain.priority import Level, Priority, resolve_priority
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind, JsonValue, diff
from fireline.errors import InvalidField, NotFound, StaleUpdate
from fireline.store.models import (
    Incident,
    IncidentLabel,
    IncidentParticipant,
    IncidentService,
    Service,
    TimelineEvent,
    User,
)
from fireline.store.repos import counters, timeline
from fireline.store.repos.incidents import IncidentFilters, Page, list_page
from fireline.usecases import app_settings, events, lookups
from fireline.usecases.context import Context

RECORD = "incident"
MAX_LABELS = 50
# How far in the future a detected_at may lie (clock skew between reporters and us).
FUTURE_TOLERANCE = timedelta(minutes=5)


class Source(StrEnum):
    MONITORING = "monitoring"
    USER_REPORT = "user_report"
    MANUAL = "manual"
    API = "api"


class Audience(StrEnum):
    INTERNAL = "internal"
    STAKEHOLDERS = "stakeholders"


class ParticipantRole(StrEnum):
    RESPONDER = "responder"
    STAKEHOLDER = "stakeholder"


@dataclass(slots=True)
class IncidentDraft:
    """What a person, a client or an integration supplies to declare an incident."""

    title: str
    description: str = ""
    category: lookups.Ref | None = None
    services: Sequence[lookups.Ref] = ()
    impact: Level = Level.MEDIUM
    urgency: Level = Level.MEDIUM
    priority: Priority | None = None
    priority_reason: str | None = None
    source: Source = Source.MANUAL
    commander: lookups.Ref | None = None
    assignee: lookups.Ref | None = None
    team: lookups.Ref | None = None
    responders: Sequence[lookups.Ref] = ()
    stakeholders: Sequence[lookups.Ref] = ()
    labels: dict[str, str] = field(default_factory=dict)
    detected_at: datetime | None = None
    fingerprint: str | None = None
    history: History | None = None


@dataclass(frozen=True, slots=True)
class History:
    """Past lifecycle of an imported incident. Imported incidents page no one."""

    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolution_summary: str | None = None
    cancelled: bool = False

    def status(self) -> lifecycle.Status:
        if self.cancelled:
            return lifecycle.Status.CANCELLED
        if self.closed_at:
            return lifecycle.Status.CLOSED
        if self.resolved_at:
            return lifecycle.Status.RESOLVED
        if self.mitigated_at:
            return lifecycle.Status.MITIGATED
        if self.acknowledged_at:
            return lifecycle.Status.ACKNOWLEDGED
        return lifecycle.Status.TRIGGERED

    def check(self, *, detected_at: datetime, now: datetime) -> None:
        """Timestamps must be aware, in order (detected <= ack <= mitigated <= resolved <=
        closed) and not in the future; closing needs a resolution summary."""
        previous, previous_name = detected_at, "detected_at"
        for name in ("acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
            value: datetime | None = getattr(self, name)
            if value is None:
                continue
            if value.tzinfo is None:
                raise InvalidField(name, "must include a time zone")
            if value < previous:
                raise InvalidField(name, f"must not be before {previous_name}")
            if value > now + FUTURE_TOLERANCE:
                raise InvalidField(name, "cannot be in the future")
            previous, previous_name = value, name
        if self.closed_at and not self.resolved_at:
            raise InvalidField("resolved_at", "a closed incident needs resolved_at")
        if self.closed_at and not (self.resolution_summary or "").strip():
            raise InvalidField("resolution_summary", "a closed incident needs a resolution summary")


UPDATABLE = (
    "title",
    "description",
    "category",
    "services",
    "impact",
    "urgency",
    "priority",
    "commander",
    "assignee",
    "team",
    "responders",
    "stakeholders",
    "labels",
)


def ref_of(incident: Incident) -> str:
    return refs.format_ref(refs.INCIDENT_PREFIX, incident.number)


# ---------------------------------------------------------------- reads


def get(session: Session, key: str | int) -> Incident:
    """Find an incident by numeric id or by reference (`INC-42`); raise NotFound."""
    return lookups.numbered(session, Incident, key, prefix=refs.INCIDENT_PREFIX, field="incident")


def find(ctx: Context, key: str | int) -> Incident:
    with ctx.reading() as session:
        return get(session, key)


def search(ctx: Context, filters: IncidentFilters, *, cursor: int | None, limit: int) -> Page:
    with ctx.reading() as session:
        return list_page(session, filters, cursor=cursor, limit=limit)


def timeline_of(
    ctx: Context, key: str | int, *, after_id: int = 0, limit: int = 500
) -> tuple[Incident, Sequence[TimelineEvent]]:
    with ctx.reading() as session:
        incident = get(session, key)
        events_ = timeline.for_record(
            session, record_type=RECORD, record_id=incident.id, after_id=after_id, limit=limit
        )
        return incident, events_


# ---------------------------------------------------------------- writes


def declare(ctx: Context, draft: IncidentDraft) -> Incident:
    """Open a new incident (status triggered) and record it on its timeline."""
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        incident = declare_tx(session, ctx, draft)
    return incident


def declare_tx(session: Session, ctx: Context, draft: IncidentDraft) -> Incident:
    """`declare` inside the caller's transaction (alert intake and imports compose it)."""
    now = ctx.clock.now()
    title = _title(draft.title)
    detected_at = draft.detected_at or now
    if detected_at.tzinfo is None:
        raise InvalidField("detected_at", "must include a time zone")
    if detected_at > now + FUTURE_TOLERANCE:
        raise InvalidField("detected_at", "cannot be in the future")
    history = draft.history
    if history is not None:
        if draft.detected_at is None:
            raise InvalidField("detected_at", "an imported incident needs its detection time")
        history.check(detected_at=detected_at, now=now)
    fingerprint = (draft.fingerprint or "").strip() or None
    if fingerprint is not None and len(fingerprint) > 255:
        raise InvalidField("fingerprint", "must be at most 255 characters")
    matrix = app_settings.priority_matrix(session)
    decision = resolve_priority(
        matrix,
        impact=draft.impact,
        urgency=draft.urgency,
        override=draft.priority,
        override_reason=draft.priority_reason,
    )
    services = lookups.services(session, draft.services, field="services")
    team_id = None
    if draft.team is not None:
        team_id = lookups.team(session, draft.team, field="team").id
    elif services and services[0].team_id is not None:
        team_id = services[0].team_id
    category_id = (
        lookups.category(session, draft.category, field="category").id
        if draft.category is not None
        else None
    )
    commander = _maybe_user(session, draft.commander, "commander")
    assignee = _maybe_user(session, draft.assignee, "assignee")
    labels = _labels(draft.labels)
    number = counters.next_value(session, name=refs.INCIDENT_PREFIX)
    incident = Incident(
        number=number,
        title=title,
        description=_description(draft.description),
        status=(history.status() if history else lifecycle.Status.TRIGGERED).value,
        category_id=category_id,
        impact=draft.impact.value,
        urgency=draft.urgency.value,
        priority=decision.priority.value,
        priority_derived=decision.derived.value,
        priority_override_reason=decision.override_reason,
        source=draft.source.value,
        reporter_id=ctx.actor.user_id,
        commander_id=commander.id if commander else None,
        assignee_id=assignee.id if assignee else None,
        team_id=team_id,
        detected_at=detected_at,
        created_at=now,
        updated_at=now,
        fingerprint=fingerprint,
        imported=history is not None,
    )
    if history is not None:
        incident.acknowledged_at = history.acknowledged_at
        incident.mitigated_at = history.mitigated_at
        incident.resolved_at = history.resolved_at
        incident.closed_at = history.closed_at
        incident.resolution_summary = history.resolution_summary
        if history.cancelled:
            incident.cancel_reason = lifecycle.CancelReason.ERROR.value
    incident.services = [IncidentService(service_id=s.id) for s in services]
    incident.labels = [IncidentLabel(key=k, value=v) for k, v in labels.items()]
    participants = [
        *(
            (u.id, ParticipantRole.RESPONDER)
            for u in lookups.users(session, draft.responders, field="responders")
        ),
        *(
            (u.id, ParticipantRole.STAKEHOLDER)
            for u in lookups.users(session, draft.stakeholders, field="stakeholders")
        ),
    ]
    incident.participants = [
        IncidentParticipant(user_id=uid, role=role.value) for uid, role in participants
    ]
    incident.search_text = _search_text(incident, labels)
    session.add(incident)
    session.flush()
    _event(
        session,
        ctx,
        incident,
        EventKind.CREATED,
        data={
            "ref": ref_of(incident),
            "title": incident.title,
            "priority": incident.priority,
            "source": incident.source,
            "services": [s.name for s in services],
            **({"imported": True, "detected_at": detected_at.isoformat()} if history else {}),
        },
    )
    if history is not None:
        _record_history(session, ctx, incident, history)
    if decision.overridden:
        _event(
            session,
            ctx,
            incident,
            EventKind.PRIORITY_OVERRIDDEN,
            data={
                "derived": decision.derived.value,
                "priority": decision.priority.value,
                "reason": decision.override_reason,
            },
        )
    if history is None:
        # A matching known error's workaround is on the timeline before anyone looks.
        from fireline.usecases import known_errors

        known_errors.match_incident_tx(session, ctx, incident)
    # Imported history pages no one: it is announced as imported, never as triggered.
    event_type = "incident.imported" if history is not None else "incident.triggered"
    events.publish(session, type=event_type, data=_event_data(incident), now=now)
    return incident


def _record_history(session: Session, ctx: Context, incident: Incident, history: History) -> None:
    """Put the imported lifecycle on the timeline at the times it happened."""
    steps = [
        ("acknowledged", history.acknowledged_at),
        ("mitigated", history.mitigated_at),
        ("resolved", history.resolved_at),
        ("closed", history.closed_at),
    ]
    previous = lifecycle.Status.TRIGGERED.value
    for status, at in steps:
        if at is None:
            continue
        data: dict[str, Any] = {"from": previous, "to": status, "imported": True}
        if status == "closed":
            data["resolution_summary"] = history.resolution_summary
        timeline.append(
            session,
            record_type=RECORD,
            record_id=incident.id,
            kind=EventKind.STATUS_CHANGED.value,
            at=at,
            actor_id=ctx.actor.user_id,
            actor_label=ctx.actor.label,
            data=data,
        )
        previous = status
    _event(
        session,
        ctx,
        incident,
        EventKind.IMPORTED,
        data={"status": incident.status, "note": "imported from history; paged no one"},
    )


def update_fields(
    ctx: Context,
    key: str | int,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> Incident:
    """Change fields of an incident; every changed field becomes a timeline event.

    `changes` maps names in `UPDATABLE` (plus `priority_reason`) to new values; ids or
    names/emails are accepted for references. With `expected_version`, a stale caller gets
    StaleUpdate instead of silently overwriting someone else's change.
    """
    ctx.actor.require(Role.RESPONDER)
    unknown = set(changes) - set(UPDATABLE) - {"priority_reason"}
    if unknown:
        raise InvalidField(sorted(unknown)[0], "cannot be changed")
    with ctx.transaction() as session:
        incident = get(session, key)
        _check_version(incident, expected_version)
        before = _snapshot(session, incident)
        _apply_changes(session, incident, changes)
        after = _snapshot(session, incident)
        field_changes = diff(before, {k: after[k] for k in after})
        if not field_changes:
            return incident
        now = ctx.clock.now()
        incident.updated_at = now
        incident.search_text = _search_text(incident, {lb.key: lb.value for lb in incident.labels})
        for change in field_changes:
            data: dict[str, Any] = {
                "field": change.field,
                "before": change.before,
                "after": change.after,
            }
            if change.field == "priority" and incident.priority_override_reason:
                data["reason"] = incident.priority_override_reason
            _event(session, ctx, incident, EventKind.FIELD_CHANGED, data=data)
        session.flush()
        events.publish(
            session,
            type="incident.updated",
            data={**_event_data(incident), "fields": [c.field for c in field_changes]},
            now=now,
        )
    return incident


def transition(
    ctx: Context,
    key: str | int,
    action: lifecycle.Action,
    given: lifecycle.TransitionInput | None = None,
    *,
    duplicate_of: str | int | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Apply a lifecycle action (acknowledge, resolve, close, reopen, cancel, ...)."""
    ctx.actor.require(Role.RESPONDER)
    given = given or lifecycle.TransitionInput()
    with ctx.transaction() as session:
        incident = get(session, key)
        _check_version(incident, expected_version)
        original: Incident | None = None
        if duplicate_of is not None:
            try:
                original = get(session, duplicate_of)
            except NotFound:
                raise InvalidField("duplicate_of", f"no incident {duplicate_of!r}") from None
            given = lifecycle.TransitionInput(
                resolution_summary=given.resolution_summary,
                service_stable=given.service_stable,
                cancel_reason=given.cancel_reason,
                duplicate_of_id=original.id,
            )
            if original.duplicate_of_id == incident.id:
                raise InvalidField("duplicate_of", f"{ref_of(original)} is a duplicate of this one")
        transition_tx(session, ctx, incident, action, given, original=original)
    return incident


def transition_tx(
    session: Session,
    ctx: Context,
    incident: Incident,
    action: lifecycle.Action,
    given: lifecycle.TransitionInput,
    *,
    original: Incident | None = None,
) -> None:
    """`transition` inside the caller's transaction (alert auto-resolve composes it)."""
    now = ctx.clock.now()
    before = lifecycle.Status(incident.status)
    outcome = lifecycle.apply(
        before,
        action,
        current=lifecycle.Timestamps(
            acknowledged_at=incident.acknowledged_at,
            mitigated_at=incident.mitigated_at,
            resolved_at=incident.resolved_at,
            closed_at=incident.closed_at,
        ),
        now=now,
        given=given,
        incident_id=incident.id,
    )
    incident.status = outcome.status.value
    incident.acknowledged_at = outcome.timestamps.acknowledged_at
    incident.mitigated_at = outcome.timestamps.mitigated_at
    incident.resolved_at = outcome.timestamps.resolved_at
    incident.closed_at = outcome.timestamps.closed_at
    incident.updated_at = now
    data: dict[str, Any] = {
        "action": action.value,
        "from": before.value,
        "to": outcome.status.value,
    }
    if action is lifecycle.Action.CLOSE:
        incident.resolution_summary = given.resolution_summary
        data["resolution_summary"] = given.resolution_summary
        data["service_stable"] = True
    if action is lifecycle.Action.CANCEL and given.cancel_reason is not None:
        incident.cancel_reason = given.cancel_reason.value
        data["cancel_reason"] = given.cancel_reason.value
        if original is not None:
            incident.duplicate_of_id = original.id
            data["duplicate_of"] = ref_of(original)
            _event(
                session,
                ctx,
                original,
                EventKind.LINKED,
                data={"link": "duplicate", "incident": ref_of(incident)},
            )
    if action is lifecycle.Action.REOPEN:
        incident.resolution_summary = None
    _event(session, ctx, incident, EventKind.STATUS_CHANGED, data=data)
    session.flush()
    events.publish(
        session,
        type=f"incident.{outcome.status.value}",
        data={**_event_data(incident), "action": action.value, "from": before.value},
        now=now,
    )


def add_note(ctx: Context, key: str | int, body: str) -> TimelineEvent:
    """Add a Markdown note to the incident timeline."""
    ctx.actor.require(Role.RESPONDER)
    text = _body(body, "body")
    with ctx.transaction() as session:
        incident = get(session, key)
        event = _event(session, ctx, incident, EventKind.NOTE, body=text)
        session.flush()
    return event


def post_status_update(
    ctx: Context, key: str | int, body: str, *, audience: Audience = Audience.INTERNAL
) -> TimelineEvent:
    """Post a status update; updates for stakeholders are also sent to subscribers."""
    ctx.actor.require(Role.RESPONDER)
    text = _body(body, "body")
    with ctx.transaction() as session:
        incident = get(session, key)
        now = ctx.clock.now()
        event = _event(
            session,
            ctx,
            incident,
            EventKind.STATUS_UPDATE,
            body=text,
            visibility=audience.value,
            data={"audience": audience.value, "status": incident.status},
        )
        session.flush()
        if audience is Audience.STAKEHOLDERS:
            events.publish(
                session,
                type="incident.status_update",
                data={**_event_data(incident), "body": text, "timeline_event_id": event.id},
                now=now,
            )
    return event


# ---------------------------------------------------------------- helpers


def _event(
    session: Session,
    ctx: Context,
    incident: Incident,
    kind: EventKind,
    *,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    visibility: str = "internal",
) -> TimelineEvent:
    return timeline.append(
        session,
        record_type=RECORD,
        record_id=incident.id,
        kind=kind.value,
        at=ctx.clock.now(),
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        body=body,
        data=data,
        visibility=visibility,
    )


def _event_data(incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": incident.id,
        "ref": ref_of(incident),
        "title": incident.title,
        "status": incident.status,
        "priority": incident.priority,
        "urgency": incident.urgency,
        "service_ids": [s.service_id for s in incident.services],
        "team_id": incident.team_id,
        "assignee_id": incident.assignee_id,
        "fingerprint": incident.fingerprint,
        "imported": incident.imported,
    }


def _check_version(incident: Incident, expected: int | None) -> None:
    if expected is not None and expected != incident.version:
        raise StaleUpdate(
            f"{ref_of(incident)} is at version {incident.version}, not {expected}; "
            "reload and retry",
            field="version",
        )


def _title(value: str) -> str:
    title = (value or "").strip()
    if not title:
        raise InvalidField("title", "must not be empty")
    if len(title) > 300:
        raise InvalidField("title", "must be at most 300 characters")
    return title


def _description(value: str) -> str:
    if len(value) > 50_000:
        raise InvalidField("description", "must be at most 50,000 characters")
    return value


def _body(value: str, field_name: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidField(field_name, "must not be empty")
    if len(text) > 20_000:
        raise InvalidField(field_name, "must be at most 20,000 characters")
    return text


def _labels(raw: dict[str, str]) -> dict[str, str]:
    return lookups.labels(raw, limit=MAX_LABELS)


def _maybe_user(session: Session, value: lookups.Ref | None, field_name: str) -> User | None:
    return None if value is None else lookups.user(session, value, field=field_name)


def _search_text(incident: Incident, labels: dict[str, str]) -> str:
    parts = [
        ref_of(incident),
        incident.title,
        incident.description[:4000],
        " ".join(f"{k}={v}" for k, v in sorted(labels.items())),
    ]
    return " ".join(parts).lower()


def _sorted_json(values: Iterable[str]) -> list[JsonValue]:
    return list(sorted(values))


def _snapshot(session: Session, incident: Incident) -> dict[str, JsonValue]:
    """Human-readable values of the updatable fields, for before/after diffs."""

    def email(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        user = session.get(User, user_id)
        return user.email if user else str(user_id)

    def service_name(service_id: int) -> str:
        found = session.get(Service, service_id)
        return found.name if found else str(service_id)

    from fireline.store.models import Category, Team

    category = session.get(Category, incident.category_id) if incident.category_id else None
    team = session.get(Team, incident.team_id) if incident.team_id else None
    return {
        "title": incident.title,
        "description": incident.description,
        "category": category.name if category else None,
        "services": _sorted_json(service_name(s.service_id) for s in incident.services),
        "impact": incident.impact,
        "urgency": incident.urgency,
        "priority": incident.priority,
        "commander": email(incident.commander_id),
        "assignee": email(incident.assignee_id),
        "team": team.name if team else None,
        "responders": _sorted_json(
            str(email(p.user_id))
            for p in incident.participants
            if p.role == ParticipantRole.RESPONDER
        ),
        "stakeholders": _sorted_json(
            str(email(p.user_id))
            for p in incident.participants
            if p.role == ParticipantRole.STAKEHOLDER
        ),
        "labels": {lb.key: lb.value for lb in incident.labels},
    }


def _apply_changes(session: Session, incident: Incident, changes: dict[str, Any]) -> None:
    if "title" in changes:
        incident.title = _title(changes["title"])
    if "description" in changes:
        incident.description = _description(changes["description"] or "")
    if "category" in changes:
        value = changes["category"]
        incident.category_id = (
            None if value is None else lookups.category(session, value, field="category").id
        )
    if "services" in changes:
        found = lookups.services(session, changes["services"] or [], field="services")
        wanted = {s.id for s in found}
        incident.services = [s for s in incident.services if s.service_id in wanted] + [
            IncidentService(service_id=sid)
            for sid in wanted - {s.service_id for s in incident.services}
        ]
    if "team" in changes:
        value = changes["team"]
        incident.team_id = None if value is None else lookups.team(session, value, field="team").id
    for role_field in ("commander", "assignee"):
        if role_field in changes:
            user = _maybe_user(session, changes[role_field], role_field)
            setattr(incident, f"{role_field}_id", user.id if user else None)
    for role_field, role in (
        ("responders", ParticipantRole.RESPONDER),
        ("stakeholders", ParticipantRole.STAKEHOLDER),
    ):
        if role_field in changes:
            wanted_ids = {
                u.id for u in lookups.users(session, changes[role_field] or [], field=role_field)
            }
            keep = [
                p for p in incident.participants if p.role != role.value or p.user_id in wanted_ids
            ]
            have = {p.user_id for p in keep if p.role == role.value}
            incident.participants = keep + [
                IncidentParticipant(user_id=uid, role=role.value) for uid in wanted_ids - have
            ]
    if "labels" in changes:
        labels = _labels(changes["labels"] or {})
        current = {lb.key: lb for lb in incident.labels}
        for key in list(current):
            if key not in labels:
                incident.labels.remove(current[key])
        for key, value in labels.items():
            if key in current:
                current[key].value = value
            else:
                incident.labels.append(IncidentLabel(key=key, value=value))
    _apply_priority(session, incident, changes)


def _apply_priority(session: Session, incident: Incident, changes: dict[str, Any]) -> None:
    touched = {"impact", "urgency", "priority"} & set(changes)
    if not touched:
        return
    try:
        impact = Level(changes.get("impact", incident.impact))
        urgency = Level(changes.get("urgency", incident.urgency))
    except ValueError as exc:
        name = "impact" if "impact" in changes else "urgency"
        raise InvalidField(name, "must be high, medium or low") from exc
    override: Priority | None
    if "priority" in changes:
        override = None if changes["priority"] is None else Priority(changes["priority"])
        reason = changes.get("priority_reason")
    elif incident.priority_override_reason:
        override, reason = Priority(incident.priority), incident.priority_override_reason
    else:
        override, reason = None, None
    decision = resolve_priority(
        app_settings.priority_matrix(session),
        impact=impact,
        urgency=urgency,
        override=override,
        override_reason=reason,
    )
    incident.impact = impact.value
    incident.urgency = urgency.value
    incident.priority = decision.priority.value
    incident.priority_derived = decision.derived.value
    incident.priority_override_reason = decision.override_reason


# ---------------------------------------------------------------- idempotent create


def declare_idempotent(
    ctx: Context, draft: IncidentDraft, *, key: str, request_hash: str
) -> tuple[Incident, bool]:
    """`declare` keyed by the client's `Idempotency-Key`: a retry returns the first incident.

    Returns (incident, replayed). Reusing a key for a different request is refused. The
    record is written in the same transaction as the incident, so a crash cannot leave one
    without the other; two concurrent retries race on the unique key and the loser replays.
    """
    from fireline.errors import Conflict
    from fireline.store.models import IdempotencyRecord

    ctx.actor.require(Role.RESPONDER)
    if not key or len(key) > 255:
        raise InvalidField("Idempotency-Key", "must be 1-255 characters")
    user_id = ctx.actor.user_id or 0

    def replay() -> tuple[Incident, bool] | None:
        with ctx.reading() as session:
            record = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == user_id,
                    IdempotencyRecord.scope == "incident.create",
                    IdempotencyRecord.key == key,
                )
            )
            if record is None:
                return None
            if record.request_hash != request_hash:
                raise Conflict(
                    "this Idempotency-Key was used for a different request",
                    field="Idempotency-Key",
                )
            return get(session, record.resource_id), True

    found = replay()
    if found is not None:
        return found
    try:
        with ctx.transaction() as session:
            incident = declare_tx(session, ctx, draft)
            session.add(
                IdempotencyRecord(
                    user_id=user_id,
                    scope="incident.create",
                    key=key,
                    request_hash=request_hash,
                    resource_id=incident.id,
                    created_at=ctx.clock.now(),
                )
            )
        return incident, False
    except Conflict:
        found = replay()
        if found is None:
            raise
        return found
