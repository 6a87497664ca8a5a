"""Contact methods, notification rules, and turning a page into delivery jobs.

Paging a user runs `domain.notification_rules.plan_deliveries` over their rules and writes one
`notify.deliver` job per planned delivery (due at its time, dedup key per incident, step, user,
method and time) in the caller's transaction. A user without rules is e-mailed at their
account address at once, so nobody is silently unreachable.

The worker later calls `prepare()` (reload, decide whether the delivery is still wanted, mint
one-click action links), sends through `fireline.integrations.outbound`, then `record()`s the
attempt as a `notification` event on the incident timeline, success or failure.

Webhook contact methods get their own Standard Webhooks secret (`whsec_…`) generated at
creation and returned once; it is stored because signing needs it, and can be rotated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from fireline.domain import notification_rules as rules_domain
from fireline.domain.incident_lifecycle import Status
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind
from fireline.errors import Forbidden, InvalidField, NotFound
from fireline.integrations.outbound.messages import IncidentNotice
from fireline.integrations.signing import generate_secret
from fireline.store.models import Incident, IncidentParticipant, IncidentService, Service, User
from fireline.store.models.oncall import ContactMethod, NotificationRule
from fireline.store.repos import jobs, timeline
from fireline.store.repos import oncall as repo
from fireline.usecases import action_links
from fireline.usecases.context import Context

DELIVER_JOB = "notify.deliver"
STATUS_UPDATE_JOB = "notify.status_update"
DELIVERY_ATTEMPTS = 8
FINISHED = (Status.RESOLVED.value, Status.CLOSED.value, Status.CANCELLED.value)


def _may_manage(ctx: Context, user_id: int) -> None:
    if ctx.actor.user_id != user_id and not ctx.actor.role.at_least(Role.ADMIN):
        raise Forbidden("users manage their own contact methods; admins anyone's")


def _user(session: Session, user_id: int) -> User:
    found = session.get(User, user_id) if 1 <= user_id <= 2**31 - 1 else None
    if found is None:
        raise NotFound(f"no user {user_id}", field="user")
    return found


# ---------------------------------------------------------------- contact methods


@dataclass(frozen=True, slots=True)
class NewMethod:
    method: ContactMethod
    secret: str | None


def _validate_address(kind: str, address: str) -> tuple[str, str]:
    try:
        parsed = rules_domain.ContactKind(kind)
    except ValueError:
        raise InvalidField("kind", "must be email, webhook, slack or teams") from None
    if parsed is rules_domain.ContactKind.EMAIL:
        return parsed.value, rules_domain.validate_email(address)
    return parsed.value, rules_domain.validate_url(address)


def add_method(
    ctx: Context, user_id: int, *, kind: str, address: str, label: str = ""
) -> NewMethod:
    """Add a contact method; webhooks get a new signing secret (returned once here)."""
    _may_manage(ctx, user_id)
    kind, address = _validate_address(kind, address)
    secret = generate_secret() if kind == "webhook" else None
    with ctx.transaction() as session:
        _user(session, user_id)
        method = ContactMethod(
            user_id=user_id,
            kind=kind,
            address=address,
            label=label[:120],
            secret=secret,
            enabled=True,
            created_at=ctx.clock.now(),
        )
        session.add(method)
        session.flush()
    return NewMethod(method=method, secret=secret)


def update_method(ctx: Context, user_id: int, method_id: int, changes: dict[str, Any]) -> NewMethod:
    """Change address, label or enabled; `rotate_secret: true` issues a new webhook secret."""
    _may_manage(ctx, user_id)
    with ctx.transaction() as session:
        method = _method(session, user_id, method_id)
        if "address" in changes:
            method.kind, method.address = _validate_address(method.kind, str(changes["address"]))
        if "label" in changes:
            method.label = str(changes["label"])[:120]
        if "enabled" in changes:
            method.enabled = bool(changes["enabled"])
            if method.enabled:
                method.disabled_reason = None
        secret = None
        if changes.get("rotate_secret") and method.kind == "webhook":
            secret = method.secret = generate_secret()
    return NewMethod(method=method, secret=secret)


def _method(session: Session, user_id: int, method_id: int) -> ContactMethod:
    method = session.get(ContactMethod, method_id) if 1 <= method_id <= 2**31 - 1 else None
    if method is None or method.user_id != user_id:
        raise NotFound(f"no contact method {method_id} for user {user_id}", field="method")
    return method


def delete_method(ctx: Context, user_id: int, method_id: int) -> None:
    _may_manage(ctx, user_id)
    with ctx.transaction() as session:
        session.delete(_method(session, user_id, method_id))


def list_methods(ctx: Context, user_id: int) -> Sequence[ContactMethod]:
    _may_manage(ctx, user_id)
    with ctx.reading() as session:
        _user(session, user_id)
        return repo.contact_methods(session, [user_id])


# ---------------------------------------------------------------- rules


def add_rule(
    ctx: Context,
    user_id: int,
    *,
    contact_method_id: int,
    delay_minutes: int = 0,
    urgency: str | None = None,
) -> NotificationRule:
    _may_manage(ctx, user_id)
    if not 0 <= delay_minutes <= 24 * 60:
        raise InvalidField("delay_minutes", "must be between 0 and 1440")
    if urgency is not None and urgency not in ("high", "low"):
        raise InvalidField("urgency", "must be high, low or null")
    with ctx.transaction() as session:
        method = session.get(ContactMethod, contact_method_id)
        if method is None or method.user_id != user_id:
            raise InvalidField(
                "contact_method_id", f"no contact method {contact_method_id} of user {user_id}"
            )
        rule = NotificationRule(
            user_id=user_id,
            contact_method_id=contact_method_id,
            delay_minutes=delay_minutes,
            urgency=urgency,
            created_at=ctx.clock.now(),
        )
        session.add(rule)
        session.flush()
    return rule


def delete_rule(ctx: Context, user_id: int, rule_id: int) -> None:
    _may_manage(ctx, user_id)
    with ctx.transaction() as session:
        rule = session.get(NotificationRule, rule_id)
        if rule is None or rule.user_id != user_id:
            raise NotFound(f"no notification rule {rule_id} for user {user_id}", field="rule")
        session.delete(rule)


def list_rules(ctx: Context, user_id: int) -> Sequence[NotificationRule]:
    _may_manage(ctx, user_id)
    with ctx.reading() as session:
        _user(session, user_id)
        return repo.notification_rules(session, [user_id])


# ---------------------------------------------------------------- paging


def urgency_of(incident: Incident) -> rules_domain.Urgency:
    """High for urgency `high` or priority P1/P2, else low."""
    if incident.urgency == "high" or incident.priority in ("P1", "P2"):
        return rules_domain.Urgency.HIGH
    return rules_domain.Urgency.LOW


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Page `user_ids` about `incident` (one escalation step, assignment or manual page)."""

    incident: Incident
    user_ids: Sequence[int]
    step: str
    reason: str
    require_triggered: bool


def page_tx(
    session: Session,
    ctx: Context,
    incident: Incident,
    user_ids: Sequence[int],
    *,
    step: str,
    reason: str,
    require_triggered: bool,
) -> int:
    """Queue the deliveries for paging `user_ids` about `incident`; return how many."""
    planned = plan_pages_tx(
        session,
        ctx,
        [PageRequest(incident, user_ids, step, reason, require_triggered)],
    )
    jobs.enqueue_many(session, planned, now=ctx.clock.now())
    return len(planned)


def plan_pages_tx(
    session: Session, ctx: Context, requests: Sequence[PageRequest]
) -> list[jobs.NewJob]:
    """The delivery jobs for many pages (the caller enqueues them, e.g. with other jobs in
    one statement). Reads the contact methods and rules of all paged users in two queries."""
    everyone = sorted({user_id for request in requests for user_id in request.user_ids})
    if not everyone:
        return []
    now = ctx.clock.now()
    methods: dict[int, list[rules_domain.ContactMethod]] = {}
    for m in repo.contact_methods(session, everyone):
        methods.setdefault(m.user_id, []).append(
            rules_domain.ContactMethod(
                id=m.id,
                user_id=m.user_id,
                kind=rules_domain.ContactKind(m.kind),
                address=m.address,
                enabled=m.enabled,
            )
        )
    rules: dict[int, list[rules_domain.NotificationRule]] = {}
    for r in repo.notification_rules(session, everyone):
        rules.setdefault(r.user_id, []).append(
            rules_domain.NotificationRule(
                contact_method_id=r.contact_method_id,
                delay_minutes=r.delay_minutes,
                urgency=None if r.urgency is None else rules_domain.Urgency(r.urgency),
            )
        )
    out: list[jobs.NewJob] = []
    for request in requests:
        incident = request.incident
        urgency = urgency_of(incident)
        for user_id in request.user_ids:
            my_rules = rules.get(user_id, [])
            planned: list[tuple[int | None, datetime]] = [
                (d.method.id, d.due_at)
                for d in rules_domain.plan_deliveries(
                    my_rules, methods.get(user_id, []), now, urgency
                )
            ]
            if not my_rules:
                planned = [(None, now)]  # fallback: the account e-mail, at once
            for method_id, due in planned:
                out.append(
                    jobs.NewJob(
                        kind=DELIVER_JOB,
                        payload={
                            "incident_id": incident.id,
                            "user_id": user_id,
                            "method_id": method_id,
                            "step": request.step,
                            "reason": request.reason,
                            "require_triggered": request.require_triggered,
                        },
                        due_at=due,
                        dedup_key=f"notify:{incident.id}:{request.step}:{user_id}:"
                        f"{method_id or 'account'}:{int(due.timestamp())}",
                        max_attempts=DELIVERY_ATTEMPTS,
                    )
                )
    return out


# ---------------------------------------------------------------- deliveries (worker side)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything a sender needs; `message_id` stays the same across retries of one job."""

    channel: str
    address: str
    secret: str | None
    notice: IncidentNotice
    incident_id: int
    user_id: int
    method_id: int | None
    message_id: str
    step: str
    extra_text: str = ""


def _service_names(session: Session, incident: Incident) -> list[str]:
    return list(
        session.scalars(
            select(Service.name)
            .join(IncidentService, IncidentService.service_id == Service.id)
            .where(IncidentService.incident_id == incident.id)
            .order_by(Service.id)
        )
    )


def _notice_of(
    ctx: Context,
    incident: Incident,
    event_type: str,
    names: Sequence[str],
    *,
    ack: str | None,
    resolve: str | None,
) -> IncidentNotice:
    from fireline.usecases.incidents import ref_of

    ref = ref_of(incident)
    return IncidentNotice(
        event_type=event_type,
        ref=ref,
        title=incident.title,
        status=incident.status,
        url=f"{ctx.settings.public_base_url}/incidents/{ref}",
        occurred_at=ctx.clock.now(),
        priority=incident.priority,
        service_names=tuple(names),
        ack_url=ack,
        resolve_url=resolve,
    )


def prepare(ctx: Context, *, job_id: int, payload: dict[str, Any]) -> Delivery | str:
    """Build the delivery for a `notify.deliver` job, or return why it is skipped."""
    return prepare_many(ctx, [(job_id, payload)])[job_id]


def prepare_many(
    ctx: Context, requests: Sequence[tuple[int, dict[str, Any]]]
) -> dict[int, Delivery | str]:
    """`prepare` for many (job id, payload) pairs in one transaction (one commit).

    Set-based: the incidents, users, contact methods and service names of the whole batch are
    read in four queries and all action links inserted in one statement, whatever the size."""
    if not requests:
        return {}
    with ctx.transaction() as session:
        incidents = {
            i.id: i
            for i in session.scalars(
                select(Incident)
                .where(Incident.id.in_({int(p["incident_id"]) for _, p in requests}))
                .options(lazyload("*"))
            )
        }
        users = {
            u.id: u
            for u in session.scalars(
                select(User).where(User.id.in_({int(p["user_id"]) for _, p in requests}))
            )
        }
        method_ids = {int(p["method_id"]) for _, p in requests if p.get("method_id") is not None}
        methods = (
            {
                m.id: m
                for m in session.scalars(
                    select(ContactMethod).where(ContactMethod.id.in_(method_ids))
                )
            }
            if method_ids
            else {}
        )
        names: dict[int, list[str]] = {}
        for incident_id, name in session.execute(
            select(IncidentService.incident_id, Service.name)
            .join(Service, Service.id == IncidentService.service_id)
            .where(IncidentService.incident_id.in_(incidents))
            .order_by(IncidentService.incident_id, Service.id)
        ):
            names.setdefault(incident_id, []).append(name)
        links = action_links.Minter(ctx)
        out: dict[int, Delivery | str] = {}
        for job_id, payload in requests:
            incident = incidents.get(int(payload["incident_id"]))
            user = users.get(int(payload["user_id"]))
            if incident is None or user is None:
                out[job_id] = "incident or user deleted"
                continue
            method_id = payload.get("method_id")
            method = None if method_id is None else methods.get(int(method_id))
            out[job_id] = _delivery(
                ctx,
                job_id,
                payload,
                incident,
                user,
                method,
                names=names.get(incident.id, []),
                links=links,
            )
        links.insert_tx(session)
        return out


def _delivery(
    ctx: Context,
    job_id: int,
    payload: dict[str, Any],
    incident: Incident,
    user: User,
    method: ContactMethod | None,
    *,
    names: Sequence[str],
    links: action_links.Minter,
) -> Delivery | str:
    """The delivery of one `notify.deliver` job, or why it is skipped (`method` is the
    payload's contact method as found, None if gone or if the payload names none)."""
    if incident.status in FINISHED:
        return f"incident {incident.status}"
    if payload.get("require_triggered") and incident.status != Status.TRIGGERED.value:
        return f"incident {incident.status}"
    method_id = payload.get("method_id")
    if method_id is None:
        channel, address, secret = "email", user.email, None
    else:
        if method is None or not method.enabled:
            return "contact method removed or disabled"
        channel, address, secret = method.kind, method.address, method.secret
    wants_links = incident.status == Status.TRIGGERED.value or channel == "email"
    event_type = "incident.assigned" if payload.get("reason") == "assigned" else "incident.paged"
    ack = resolve = None
    if wants_links:
        ack = links.mint(incident.id, user.id, "acknowledge")
        resolve = links.mint(incident.id, user.id, "resolve")
    return Delivery(
        channel=channel,
        address=address,
        secret=secret,
        notice=_notice_of(ctx, incident, event_type, names, ack=ack, resolve=resolve),
        incident_id=incident.id,
        user_id=user.id,
        method_id=None if method_id is None else int(method_id),
        message_id=f"msg_fl{job_id}",
        step=str(payload.get("step", "")),
    )


def prepare_status_update(ctx: Context, *, job_id: int, payload: dict[str, Any]) -> Delivery | str:
    """Build the e-mail of a stakeholder status update (one job per stakeholder)."""
    with ctx.transaction() as session:
        incident = session.get(Incident, int(payload["incident_id"]))
        user = session.get(User, int(payload["user_id"]))
        if incident is None or user is None or not user.is_active:
            return "incident or user deleted"
        address = _email_of(session, user)
        notice = _notice_of(
            ctx,
            incident,
            "incident.status_update",
            _service_names(session, incident),
            ack=None,
            resolve=None,
        )
        return Delivery(
            channel="email",
            address=address,
            secret=None,
            notice=notice,
            incident_id=incident.id,
            user_id=user.id,
            method_id=None,
            message_id=f"msg_fl{job_id}",
            step="status_update",
            extra_text=str(payload.get("body", "")),
        )


def _email_of(session: Session, user: User) -> str:
    for method in repo.contact_methods(session, [user.id]):
        if method.kind == "email" and method.enabled:
            return method.address
    return user.email


def email_address(ctx: Context, user_id: int) -> tuple[str, str] | None:
    """(address, name) to e-mail a user on-call notices, or None if the user is gone."""
    with ctx.reading() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            return None
        return _email_of(session, user), user.name


def queue_status_update(ctx: Context, data: dict[str, Any]) -> int:
    """Queue one e-mail per stakeholder of the incident for an `incident.status_update`."""
    incident_id = int(data["incident_id"])
    now = ctx.clock.now()
    with ctx.transaction() as session:
        stakeholders = session.scalars(
            select(IncidentParticipant.user_id).where(
                IncidentParticipant.incident_id == incident_id,
                IncidentParticipant.role == "stakeholder",
            )
        ).all()
        for user_id in stakeholders:
            jobs.enqueue(
                session,
                kind=STATUS_UPDATE_JOB,
                payload={
                    "incident_id": incident_id,
                    "user_id": user_id,
                    "body": str(data.get("body", "")),
                },
                due_at=now,
                now=now,
                dedup_key=f"status:{data.get('timeline_event_id')}:{user_id}",
                max_attempts=DELIVERY_ATTEMPTS,
            )
        return len(stakeholders)


def describe_target(channel: str, address: str) -> str:
    """What the timeline shows as target: the e-mail address, or a URL's scheme and host."""
    if channel == "email":
        return address
    parts = urlsplit(address)
    return f"{parts.scheme}://{parts.netloc}"


def record(
    ctx: Context,
    delivery: Delivery,
    *,
    status: str,
    attempt: int,
    error: str | None = None,
    final: bool = False,
    job_id: int | None = None,
) -> None:
    """Put one delivery attempt on the incident timeline (`notification` event); with
    `job_id`, a successful attempt also marks its delivery job done in the same commit."""
    with ctx.transaction() as session:
        record_tx(
            session,
            ctx,
            delivery,
            status=status,
            attempt=attempt,
            error=error,
            final=final,
            job_id=job_id,
        )


def record_sent_many(ctx: Context, sent: Sequence[tuple[int, int, Delivery]]) -> None:
    """Record many successful sends, given as (job id, attempt, delivery), and complete their
    jobs, all in one commit."""
    if not sent:
        return
    with ctx.transaction() as session:
        jobs.complete_many(session, job_ids=[job_id for job_id, _, _ in sent], now=ctx.clock.now())
        timeline.append_many(
            session,
            [
                _attempt_event(ctx, delivery, status="sent", attempt=attempt)
                for _, attempt, delivery in sent
            ],
        )


def record_tx(
    session: Session,
    ctx: Context,
    delivery: Delivery,
    *,
    status: str,
    attempt: int,
    error: str | None = None,
    final: bool = False,
    job_id: int | None = None,
) -> None:
    if job_id is not None and status == "sent":
        jobs.complete(session, job_id=job_id, now=ctx.clock.now())
    timeline.append(
        session,
        **_attempt_event(ctx, delivery, status=status, attempt=attempt, error=error, final=final),
    )


def _attempt_event(
    ctx: Context,
    delivery: Delivery,
    *,
    status: str,
    attempt: int,
    error: str | None = None,
    final: bool = False,
) -> dict[str, Any]:
    """The `notification` timeline event of one delivery attempt (`timeline.append` kwargs)."""
    return {
        "record_type": "incident",
        "record_id": delivery.incident_id,
        "kind": EventKind.NOTIFICATION.value,
        "at": ctx.clock.now(),
        "actor_id": None,
        "actor_label": "notifications",
        "data": {
            "channel": delivery.channel,
            "target": describe_target(delivery.channel, delivery.address),
            "user_id": delivery.user_id,
            "method_id": delivery.method_id,
            "status": status,
            "attempt": attempt,
            "step": delivery.step,
            "message_id": delivery.message_id,
            "error": error,
            "final": final,
        },
    }


def disable_method(ctx: Context, method_id: int | None, reason: str) -> None:
    """Turn a contact method off after a permanent failure (e.g. webhook answered 410)."""
    if method_id is None:
        return
    with ctx.transaction() as session:
        method = session.get(ContactMethod, method_id)
        if method is not None:
            method.enabled = False
            method.disabled_reason = reason[:300]
