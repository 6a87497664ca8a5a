"""On-call API: schedules, overrides, swaps, who is on call, calendar feeds, escalation
policies, paging, contact methods and notification rules; plus the login-free public pages
(`/calendars/oncall/...ics?token=` feeds and `/actions/{token}` one-click links).

Roles: viewers read; responders create overrides/swaps and page people; managers edit
schedules and policies; users manage their own contact methods and rules (admins anyone's).
"""

from __future__ import annotations

import html
from datetime import time
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime

from fireline.api.deps import AuthDep, Manager, Responder, Viewer
from fireline.api.schemas.common import NamedRef, UserRef
from fireline.api.schemas.oncall import (
    CalendarTokenIssued,
    CalendarTokenOut,
    ContactMethodIn,
    ContactMethodOut,
    ContactMethodUpdate,
    EscalationOut,
    LayerIn,
    LayerOut,
    OnCallOut,
    OverrideIn,
    OverrideOut,
    PageIn,
    PageOut,
    PolicyIn,
    PolicyOut,
    RuleIn,
    RuleOut,
    ScheduleIn,
    ScheduleOnCallOut,
    ScheduleOut,
    ServiceOnCallOut,
    ServicePolicyIn,
    ServicePolicyOut,
    ShiftOut,
    SwapIn,
    TeamOnCallOut,
)
from fireline.errors import FirelineError, InvalidField, NotFound
from fireline.store.models import User
from fireline.store.models.oncall import ContactMethod, Schedule
from fireline.usecases import (
    action_links,
    escalations,
    identity,
    incidents,
    notifications,
    oncall,
)
from fireline.usecases.context import Context

router = APIRouter(prefix="/api/v1")
public = APIRouter(include_in_schema=True)
SCHED: list[str | Enum] = ["schedules"]
POL: list[str | Enum] = ["escalation-policies"]
NOTIF: list[str | Enum] = ["notifications"]


# ---------------------------------------------------------------- helpers


def _users(ctx: Context) -> dict[int, User]:
    return {u.id: u for u in identity.list_users(ctx)}


def _user_ref(users: dict[int, User], user_id: int) -> UserRef:
    user = users.get(user_id)
    if user is None:
        return UserRef(id=user_id, name=f"user {user_id}", email="")
    return UserRef(id=user.id, name=user.name, email=user.email)


def _time(value: str, field: str, *, end: bool) -> time:
    if value.startswith("24"):
        if not end or value not in ("24:00", "24:00:00"):
            raise InvalidField(field, "24:00 is only allowed as an end time")
        return time.max
    return time.fromisoformat(value)


def _layer(index: int, layer: LayerIn) -> oncall.LayerInput:
    restrictions = [
        (
            r.weekday,
            _time(r.start, f"layers[{index}].restrictions[{j}].start", end=False),
            _time(r.end, f"layers[{index}].restrictions[{j}].end", end=True),
        )
        for j, r in enumerate(layer.restrictions)
    ]
    for j, (_, lo, hi) in enumerate(restrictions):
        if hi <= lo:
            raise InvalidField(f"layers[{index}].restrictions[{j}].end", "must be after start")
    if layer.start.tzinfo is not None:
        raise InvalidField(
            f"layers[{index}].start",
            "must be local wall-clock time without an offset (the zone is time_zone)",
        )
    return oncall.LayerInput(
        name=layer.name,
        users=layer.users,
        time_zone=layer.time_zone,
        start=layer.start,
        length_unit=layer.length.unit,
        length_count=layer.length.count,
        restrictions=restrictions,
    )


def _schedule_input(body: ScheduleIn) -> oncall.ScheduleInput:
    return oncall.ScheduleInput(
        name=body.name,
        description=body.description,
        time_zone=body.time_zone,
        team=body.team,
        layers=[_layer(i, layer) for i, layer in enumerate(body.layers)],
    )


def _schedule_out(schedule: Schedule) -> ScheduleOut:
    layers = [
        LayerOut.model_validate(
            {
                "name": layer.get("name", ""),
                "users": layer["users"],
                "time_zone": layer["time_zone"],
                "start": layer["start"],
                "length": {"unit": layer["length_unit"], "count": layer["length_count"]},
                "restrictions": layer.get("restrictions", []),
            }
        )
        for layer in schedule.layers
    ]
    return ScheduleOut(
        id=schedule.id,
        name=schedule.name,
        description=schedule.description,
        time_zone=schedule.time_zone,
        team_id=schedule.team_id,
        layers=layers,
        version=schedule.version,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


# ---------------------------------------------------------------- schedules


@router.get("/schedules", response_model=list[ScheduleOut], tags=SCHED)
def list_schedules(auth: Viewer, team_id: int | None = None) -> list[ScheduleOut]:
    """Every schedule (optionally of one team), by name."""
    return [_schedule_out(s) for s in oncall.list_schedules(auth.ctx, team_id=team_id)]


@router.post("/schedules", status_code=201, response_model=ScheduleOut, tags=SCHED)
def create_schedule(body: ScheduleIn, auth: Manager) -> ScheduleOut:
    """Create a schedule. Errors name the field, e.g. `layers[0].time_zone` (422)."""
    return _schedule_out(oncall.create_schedule(auth.ctx, _schedule_input(body)))


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut, tags=SCHED)
def get_schedule(schedule_id: int, auth: Viewer) -> ScheduleOut:
    return _schedule_out(oncall.get_schedule(auth.ctx, schedule_id))


@router.put("/schedules/{schedule_id}", response_model=ScheduleOut, tags=SCHED)
def update_schedule(schedule_id: int, body: ScheduleIn, auth: Manager) -> ScheduleOut:
    """Replace settings and layers. People whose shifts in the next 30 days move are told."""
    return _schedule_out(oncall.update_schedule(auth.ctx, schedule_id, _schedule_input(body)))


@router.delete("/schedules/{schedule_id}", status_code=204, tags=SCHED)
def delete_schedule(schedule_id: int, auth: Manager) -> Response:
    oncall.delete_schedule(auth.ctx, schedule_id)
    return Response(status_code=204)


@router.get("/schedules/{schedule_id}/shifts", response_model=list[ShiftOut], tags=SCHED)
def schedule_shifts(
    schedule_id: int, start: AwareDatetime, end: AwareDatetime, auth: Viewer
) -> list[ShiftOut]:
    """Final shifts in `[start, end)` (at most 366 days): layers, restrictions and overrides
    applied, clipped to the range, in UTC."""
    found = oncall.shifts(auth.ctx, schedule_id, start=start, end=end)
    users = _users(auth.ctx)
    return [ShiftOut(user=_user_ref(users, s.user_id), start=s.start, end=s.end) for s in found]


@router.get("/schedules/{schedule_id}/oncall", response_model=ScheduleOnCallOut, tags=SCHED)
def schedule_on_call(
    schedule_id: int, auth: Viewer, at: AwareDatetime | None = None
) -> ScheduleOnCallOut:
    """Who is on call in this schedule at `at` (default: now)."""
    moment = at or auth.ctx.clock.now()
    schedule = oncall.get_schedule(auth.ctx, schedule_id)
    user_ids = oncall.on_call(auth.ctx, schedule_id, at=moment)
    users = _users(auth.ctx)
    return ScheduleOnCallOut(
        schedule=NamedRef(id=schedule.id, name=schedule.name),
        team=None,
        at=moment,
        users=[_user_ref(users, u) for u in user_ids],
    )


@router.get("/schedules/{schedule_id}/overrides", response_model=list[OverrideOut], tags=SCHED)
def list_overrides(
    schedule_id: int,
    auth: Viewer,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
) -> list[OverrideOut]:
    found = oncall.list_overrides(auth.ctx, schedule_id, start=start, end=end)
    return [OverrideOut.model_validate(o) for o in found]


@router.post(
    "/schedules/{schedule_id}/overrides", status_code=201, response_model=OverrideOut, tags=SCHED
)
def add_override(schedule_id: int, body: OverrideIn, auth: Responder) -> OverrideOut:
    """`user` covers `[start, end)` whatever the layers say (a later override wins)."""
    override = oncall.add_override(
        auth.ctx, schedule_id, user=body.user, start=body.start, end=body.end, reason=body.reason
    )
    return OverrideOut.model_validate(override)


@router.delete("/schedules/{schedule_id}/overrides/{override_id}", status_code=204, tags=SCHED)
def delete_override(schedule_id: int, override_id: int, auth: Responder) -> Response:
    oncall.delete_override(auth.ctx, schedule_id, override_id)
    return Response(status_code=204)


@router.post(
    "/schedules/{schedule_id}/swaps", status_code=201, response_model=list[OverrideOut], tags=SCHED
)
def swap_shifts(schedule_id: int, body: SwapIn, auth: Responder) -> list[OverrideOut]:
    """Swap the shifts running at `first` and `second` (two overrides sharing a `swap_id`)."""
    rows = oncall.swap(
        auth.ctx, schedule_id, first=body.first, second=body.second, reason=body.reason
    )
    return [OverrideOut.model_validate(o) for o in rows]


# ---------------------------------------------------------------- who is on call


@router.get("/oncall", response_model=OnCallOut, tags=SCHED)
def who_is_on_call(auth: Viewer, at: AwareDatetime | None = None) -> OnCallOut:
    """Who is on call at `at` (default now): per schedule, per team (union of its schedules)
    and per service (who each level of its escalation policy would page)."""
    moment = at or auth.ctx.clock.now()
    users = _users(auth.ctx)
    found = oncall.who_is_on_call(auth.ctx, at=moment)
    schedules = []
    teams: dict[int, TeamOnCallOut] = {}
    for item in found:
        team_ref = None if item.team is None else NamedRef(id=item.team.id, name=item.team.name)
        refs = [_user_ref(users, u) for u in item.user_ids]
        schedules.append(
            ScheduleOnCallOut(
                schedule=NamedRef(id=item.schedule.id, name=item.schedule.name),
                team=team_ref,
                at=moment,
                users=refs,
            )
        )
        if team_ref is not None:
            entry = teams.setdefault(
                team_ref.id, TeamOnCallOut(team=team_ref, users=[], schedules=[])
            )
            entry.schedules.append(NamedRef(id=item.schedule.id, name=item.schedule.name))
            entry.users += [r for r in refs if r.id not in {u.id for u in entry.users}]
    services = [
        ServiceOnCallOut(
            service=NamedRef(id=service.id, name=service.name),
            policy=NamedRef(id=policy.id, name=policy.name),
            levels=[
                [_user_ref(users, u) for u in level]
                for level in escalations.resolve_level_users(auth.ctx, policy, at=moment)
            ],
        )
        for service, policy in escalations.service_policies(auth.ctx)
    ]
    return OnCallOut(at=moment, schedules=schedules, teams=list(teams.values()), services=services)


# ---------------------------------------------------------------- calendar tokens


def _issued(issued: oncall.IssuedToken) -> CalendarTokenIssued:
    return CalendarTokenIssued(
        id=issued.token.id,
        prefix=issued.token.prefix,
        schedule_id=issued.token.schedule_id,
        user_id=issued.token.user_id,
        created_at=issued.token.created_at,
        token=issued.secret,
        url=issued.url,
    )


@router.post(
    "/schedules/{schedule_id}/calendar-tokens",
    status_code=201,
    response_model=CalendarTokenIssued,
    tags=SCHED,
)
def issue_schedule_feed(schedule_id: int, auth: Viewer) -> CalendarTokenIssued:
    """A secret feed URL for this schedule's shifts (−30 … +90 days, UTC events)."""
    return _issued(oncall.issue_calendar_token(auth.ctx, schedule_id=schedule_id))


@router.post(
    "/users/{user_id}/calendar-tokens",
    status_code=201,
    response_model=CalendarTokenIssued,
    tags=SCHED,
)
def issue_user_feed(user_id: int, auth: AuthDep) -> CalendarTokenIssued:
    """A secret feed URL for one user's shifts in every schedule (self or admin)."""
    return _issued(oncall.issue_calendar_token(auth.ctx, user_id=user_id))


@router.get("/calendar-tokens", response_model=list[CalendarTokenOut], tags=SCHED)
def list_calendar_tokens(auth: AuthDep) -> list[CalendarTokenOut]:
    """Your unrevoked feed tokens (admins: everyone's). Secrets are never shown again."""
    return [CalendarTokenOut.model_validate(t) for t in oncall.list_calendar_tokens(auth.ctx)]


@router.delete("/calendar-tokens/{token_id}", status_code=204, tags=SCHED)
def revoke_calendar_token(token_id: int, auth: AuthDep) -> Response:
    """Revoke a feed token: its URL answers 404 from now on."""
    oncall.revoke_calendar_token(auth.ctx, token_id)
    return Response(status_code=204)


def _feed_response(request: Request, feed: oncall.Feed) -> Response:
    headers = {"ETag": feed.etag, "Cache-Control": "private, max-age=300"}
    if feed.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else feed.body
    headers["Content-Length"] = str(len(feed.body))
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


def _feed_id(raw: str) -> int:
    if not raw.endswith(".ics") or not raw[:-4].isascii() or not raw[:-4].isdigit():
        raise NotFound("no such calendar feed")
    return int(raw[:-4])


@public.get("/calendars/oncall/schedules/{feed}", tags=["calendars"])
@public.head("/calendars/oncall/schedules/{feed}", include_in_schema=False)
def schedule_feed(
    feed: str, request: Request, token: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    """iCalendar feed of a schedule: `/calendars/oncall/schedules/7.ics?token=…`."""
    ctx: Context = request.app.state.context
    found = oncall.calendar_feed(ctx, secret=token, schedule_id=_feed_id(feed))
    return _feed_response(request, found)


@public.get("/calendars/oncall/users/{feed}", tags=["calendars"])
@public.head("/calendars/oncall/users/{feed}", include_in_schema=False)
def user_feed(
    feed: str, request: Request, token: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    """iCalendar feed of one user's shifts: `/calendars/oncall/users/3.ics?token=…`."""
    ctx: Context = request.app.state.context
    found = oncall.calendar_feed(ctx, secret=token, user_id=_feed_id(feed))
    return _feed_response(request, found)


# ---------------------------------------------------------------- escalation policies


@router.get("/escalation-policies", response_model=list[PolicyOut], tags=POL)
def list_policies(auth: Viewer) -> list[PolicyOut]:
    return [PolicyOut.model_validate(p) for p in escalations.list_policies(auth.ctx)]


def _policy_input(body: PolicyIn) -> escalations.PolicyInput:
    return escalations.PolicyInput(
        name=body.name,
        description=body.description,
        team=body.team,
        repeat=body.repeat,
        levels=[
            escalations.LevelInput(
                delay_minutes=level.delay_minutes,
                targets=[escalations.TargetInput(kind=t.kind, id=t.id) for t in level.targets],
            )
            for level in body.levels
        ],
    )


@router.post("/escalation-policies", status_code=201, response_model=PolicyOut, tags=POL)
def create_policy(body: PolicyIn, auth: Manager) -> PolicyOut:
    """Create a policy: ordered levels of targets (user, schedule, team) with a delay each,
    repeated `repeat` more times. Unknown targets → 422 naming `levels[i].targets[j].id`."""
    return PolicyOut.model_validate(escalations.create_policy(auth.ctx, _policy_input(body)))


@router.get("/escalation-policies/{policy_id}", response_model=PolicyOut, tags=POL)
def get_policy(policy_id: int, auth: Viewer) -> PolicyOut:
    return PolicyOut.model_validate(escalations.get_policy(auth.ctx, policy_id))


@router.put("/escalation-policies/{policy_id}", response_model=PolicyOut, tags=POL)
def update_policy(policy_id: int, body: PolicyIn, auth: Manager) -> PolicyOut:
    return PolicyOut.model_validate(
        escalations.update_policy(auth.ctx, policy_id, _policy_input(body))
    )


@router.delete("/escalation-policies/{policy_id}", status_code=204, tags=POL)
def delete_policy(policy_id: int, auth: Manager) -> Response:
    escalations.delete_policy(auth.ctx, policy_id)
    return Response(status_code=204)


@router.get("/services/{service_id}/escalation-policy", response_model=ServicePolicyOut, tags=POL)
def get_service_policy(service_id: int, auth: Viewer) -> ServicePolicyOut:
    return ServicePolicyOut(
        service_id=service_id, policy_id=escalations.service_policy_id(auth.ctx, service_id)
    )


@router.put("/services/{service_id}/escalation-policy", response_model=ServicePolicyOut, tags=POL)
def set_service_policy(service_id: int, body: ServicePolicyIn, auth: Manager) -> ServicePolicyOut:
    """Point a service at a policy (`policy_id: null` removes it). New incidents on the
    service escalate through it (the first of an incident's services with a policy wins)."""
    escalations.set_service_policy(auth.ctx, service_id, body.policy_id)
    return ServicePolicyOut(service_id=service_id, policy_id=body.policy_id)


@router.post("/incidents/{key}/page", response_model=PageOut, tags=POL)
def page(key: str, body: PageIn, auth: Responder) -> PageOut:
    """Page a user, whoever is on call in a schedule, or every member of a team, right now
    (through their notification rules)."""
    users = escalations.page(auth.ctx, key, kind=body.target.kind, target_id=body.target.id)
    return PageOut(paged_user_ids=users)


@router.get("/incidents/{key}/escalations", response_model=list[EscalationOut], tags=POL)
def incident_escalations(key: str, auth: Viewer) -> list[EscalationOut]:
    """The incident's escalations, oldest first (at most one is `active`)."""
    from sqlalchemy import select

    from fireline.store.models.oncall import Escalation

    with auth.ctx.reading() as session:
        incident = incidents.get(session, key)
        rows = session.scalars(
            select(Escalation).where(Escalation.incident_id == incident.id).order_by(Escalation.id)
        ).all()
        return [EscalationOut.model_validate(r) for r in rows]


# ---------------------------------------------------------------- contact methods and rules


def _method_out(method: ContactMethod, secret: str | None = None) -> ContactMethodOut:
    out = ContactMethodOut.model_validate(method)
    out.secret = secret
    return out


@router.get("/users/{user_id}/contact-methods", response_model=list[ContactMethodOut], tags=NOTIF)
def list_methods(user_id: int, auth: AuthDep) -> list[ContactMethodOut]:
    return [_method_out(m) for m in notifications.list_methods(auth.ctx, user_id)]


@router.post(
    "/users/{user_id}/contact-methods",
    status_code=201,
    response_model=ContactMethodOut,
    tags=NOTIF,
)
def add_method(user_id: int, body: ContactMethodIn, auth: AuthDep) -> ContactMethodOut:
    """Add an e-mail address or a webhook (signed, Standard Webhooks), Slack or Teams URL.
    A webhook's signing secret is in this response only (rotate it with PATCH)."""
    new = notifications.add_method(
        auth.ctx, user_id, kind=body.kind, address=body.address, label=body.label
    )
    return _method_out(new.method, new.secret)


@router.patch(
    "/users/{user_id}/contact-methods/{method_id}", response_model=ContactMethodOut, tags=NOTIF
)
def update_method(
    user_id: int, method_id: int, body: ContactMethodUpdate, auth: AuthDep
) -> ContactMethodOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    new = notifications.update_method(auth.ctx, user_id, method_id, changes)
    return _method_out(new.method, new.secret)


@router.delete("/users/{user_id}/contact-methods/{method_id}", status_code=204, tags=NOTIF)
def delete_method(user_id: int, method_id: int, auth: AuthDep) -> Response:
    notifications.delete_method(auth.ctx, user_id, method_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/notification-rules", response_model=list[RuleOut], tags=NOTIF)
def list_rules(user_id: int, auth: AuthDep) -> list[RuleOut]:
    return [RuleOut.model_validate(r) for r in notifications.list_rules(auth.ctx, user_id)]


@router.post(
    "/users/{user_id}/notification-rules", status_code=201, response_model=RuleOut, tags=NOTIF
)
def add_rule(user_id: int, body: RuleIn, auth: AuthDep) -> RuleOut:
    """Use a contact method `delay_minutes` after being paged (only for `urgency`, if set).
    Without any rule, a paged user is e-mailed at their account address at once."""
    rule = notifications.add_rule(
        auth.ctx,
        user_id,
        contact_method_id=body.contact_method_id,
        delay_minutes=body.delay_minutes,
        urgency=body.urgency,
    )
    return RuleOut.model_validate(rule)


@router.delete("/users/{user_id}/notification-rules/{rule_id}", status_code=204, tags=NOTIF)
def delete_rule(user_id: int, rule_id: int, auth: AuthDep) -> Response:
    notifications.delete_rule(auth.ctx, user_id, rule_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- one-click action links


def _page(title: str, body: str, *, code: int = 200) -> HTMLResponse:
    doc = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
        f"{body}</main></body></html>"
    )
    return HTMLResponse(
        doc,
        status_code=code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _link_error(exc: FirelineError) -> HTMLResponse:
    return _page("This link cannot be used", f"<p>{html.escape(exc.message)}</p>", code=exc.status)


@public.get("/actions/{token}", response_class=HTMLResponse, tags=["actions"])
def confirm_action(token: str, request: Request) -> HTMLResponse:
    """Confirmation page for a one-click link (a GET never changes anything, so mail
    scanners that prefetch links cannot acknowledge incidents)."""
    ctx: Context = request.app.state.context
    try:
        info = action_links.inspect(ctx, token)
    except FirelineError as exc:
        return _link_error(exc)
    verb = info.action.capitalize()
    body = (
        f"<p>{html.escape(info.incident_ref)}: {html.escape(info.incident_title)} "
        f"(currently {html.escape(info.incident_status)})</p>"
        f"<p>{html.escape(verb)} as {html.escape(info.user_name)}?</p>"
        f'<form method="post"><button type="submit">{html.escape(verb)}</button></form>'
    )
    return _page(f"{verb} {info.incident_ref}", body)


@public.post("/actions/{token}", response_class=HTMLResponse, tags=["actions"])
def perform_action(token: str, request: Request) -> HTMLResponse:
    """Perform the link's action (once). Used → 409, expired → 410, unknown → 404; an action
    the incident no longer allows (already acknowledged) → 409 with an explanation."""
    ctx: Context = request.app.state.context
    try:
        info = action_links.use(ctx, token)
    except FirelineError as exc:
        return _link_error(exc)
    return _page(
        f"{info.incident_ref} {info.incident_status}",
        f"<p>Done: {html.escape(info.incident_ref)} is now "
        f"{html.escape(info.incident_status)} ({html.escape(info.user_name)}).</p>",
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(public)
