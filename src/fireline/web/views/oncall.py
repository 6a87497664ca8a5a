"""On-call pages: who is on call now and schedules (timeline of the next two weeks, layers,
overrides, swaps, calendar feed). Escalation policies are in `oncall_policies.py`.

Writes follow post/redirect/get; a use-case error re-renders the page with the message next to
the form that caused it. Times typed into forms are wall-clock times in the schedule's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.domain import rotation
from fireline.errors import FirelineError, InvalidField
from fireline.store.models.oncall import Schedule
from fireline.usecases import catalog, escalations, identity, oncall
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterManager, PosterResponder, Reader, Visitor

router = APIRouter(include_in_schema=False)

TIMELINE_DAYS = 14
LENGTH_UNITS = ("day", "week", "hour")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Bar:
    """One shift drawn on the timeline: SVG coordinates in percent of the range."""

    user: str
    start: datetime
    end: datetime
    x: float
    width: float
    row: int
    tone: int


def user_names(visitor: Visitor) -> dict[int, str]:
    return {u.id: u.name for u in identity.list_users(visitor.ctx)}


def form_error(exc: FirelineError, form: str) -> dict[str, Any]:
    return {"form": form, "field": exc.field, "message": exc.message}


def _local(raw: str, zone: str, field: str) -> datetime:
    """A `datetime-local` form value as an aware time in `zone`."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidField(field, "enter a date and time") from None
    return value.replace(tzinfo=ZoneInfo(zone))


def _bars(
    shifts: list[rotation.Shift], start: datetime, end: datetime, names: dict[int, str]
) -> list[Bar]:
    span = (end - start).total_seconds()
    rows: dict[int, int] = {}
    bars = []
    for shift in shifts:
        row = rows.setdefault(shift.user_id, len(rows))
        bars.append(
            Bar(
                user=names.get(shift.user_id, f"user {shift.user_id}"),
                start=shift.start,
                end=shift.end,
                x=round(100 * (shift.start - start).total_seconds() / span, 3),
                width=round(100 * (shift.end - shift.start).total_seconds() / span, 3),
                row=row,
                tone=row % 6,
            )
        )
    return bars


# ---------------------------------------------------------------- overview


@router.get("/oncall")
def overview(request: Request, visitor: Reader) -> Response:
    return overview_page(request, visitor)


def overview_page(
    request: Request,
    visitor: Visitor,
    *,
    error: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = visitor.ctx
    now = ctx.clock.now()
    names = user_names(visitor)
    services = [
        (service, policy, escalations.resolve_level_users(ctx, policy, at=now))
        for service, policy in escalations.service_policies(ctx)
    ]
    return render(
        request,
        "oncall/overview.html",
        {
            "on_call": oncall.who_is_on_call(ctx, at=now),
            "services": services,
            "schedules": oncall.list_schedules(ctx),
            "policies": escalations.list_policies(ctx),
            "users": identity.list_users(ctx),
            "teams": catalog.list_teams(ctx),
            "names": names,
            "units": LENGTH_UNITS,
            "error": error,
            "form_values": values or {},
        },
        visitor=visitor,
        status_code=status_code,
    )


def _layer_from_form(form: Any, zone_field: str = "time_zone") -> oncall.LayerInput:
    zone = forms.text(form, zone_field) or "UTC"
    raw_start = forms.text(form, "start")
    try:
        start = datetime.fromisoformat(raw_start)
    except ValueError:
        raise InvalidField("layers[0].start", "enter the first hand-off date and time") from None
    count = forms.text(form, "length_count") or "1"
    if not count.isdigit():
        raise InvalidField("layers[0].length.count", "must be a whole number")
    restrictions: list[tuple[int, time, time]] = []
    days, lo, hi = forms.many(form, "weekdays"), forms.text(form, "from"), forms.text(form, "to")
    if days and lo and hi:
        start_t, end_t = time.fromisoformat(lo), time.fromisoformat(hi)
        if end_t <= start_t:
            raise InvalidField("layers[0].restrictions", "the end must be after the start")
        restrictions = [(int(d), start_t, end_t) for d in days]
    return oncall.LayerInput(
        name=forms.text(form, "layer_name"),
        users=[int(u) for u in forms.many(form, "users") if u.isdigit()],
        time_zone=zone,
        start=start.replace(tzinfo=None),
        length_unit=forms.text(form, "length_unit") or "week",
        length_count=int(count),
        restrictions=restrictions,
    )


@router.post("/oncall/schedules")
async def create_schedule(request: Request, visitor: PosterManager) -> Response:
    form = await request.form()
    try:
        team = forms.optional(form, "team")
        schedule = oncall.create_schedule(
            visitor.ctx,
            oncall.ScheduleInput(
                name=forms.text(form, "name"),
                description=forms.text(form, "description"),
                time_zone=forms.text(form, "time_zone") or "UTC",
                team=int(team) if team and team.isdigit() else None,
                layers=[_layer_from_form(form)],
            ),
        )
    except FirelineError as exc:
        values = forms.values_of(
            form, ("name", "description", "time_zone", "start", "length_count")
        )
        return overview_page(
            request,
            visitor,
            error=form_error(exc, "schedule"),
            values=values,
            status_code=exc.status,
        )
    return RedirectResponse(f"/oncall/schedules/{schedule.id}", status_code=303)


# ---------------------------------------------------------------- schedule page


def _schedule_page(
    request: Request,
    visitor: Visitor,
    schedule_id: int,
    *,
    error: dict[str, Any] | None = None,
    feed_url: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = visitor.ctx
    schedule = oncall.get_schedule(ctx, schedule_id)
    now = ctx.clock.now()
    zone = ZoneInfo(schedule.time_zone)
    start = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=TIMELINE_DAYS)
    shifts = oncall.shifts(ctx, schedule_id, start=start, end=end)
    names = user_names(visitor)
    days = [
        (round(100 * i / TIMELINE_DAYS, 3), (start + timedelta(days=i)).strftime("%a %d"))
        for i in range(TIMELINE_DAYS)
    ]
    return render(
        request,
        "oncall/schedule.html",
        {
            "schedule": schedule,
            "on_call": [
                names.get(u, f"user {u}") for u in oncall.on_call(ctx, schedule_id, at=now)
            ],
            "shifts": shifts,
            "bars": _bars(shifts, start, end, names),
            "rows": len({s.user_id for s in shifts}),
            "days": days,
            "now_x": round(100 * (now - start).total_seconds() / (end - start).total_seconds(), 3),
            "overrides": oncall.list_overrides(ctx, schedule_id, start=now, end=None),
            "names": names,
            "users": identity.list_users(ctx),
            "weekdays": WEEKDAYS,
            "units": LENGTH_UNITS,
            "error": error,
            "feed_url": feed_url,
            "form_values": values or {},
        },
        visitor=visitor,
        status_code=status_code,
    )


@router.get("/oncall/schedules/{schedule_id}")
def schedule_page(schedule_id: int, request: Request, visitor: Reader) -> Response:
    return _schedule_page(request, visitor, schedule_id)


@router.post("/oncall/schedules/{schedule_id}/overrides")
async def add_override(schedule_id: int, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    schedule = oncall.get_schedule(visitor.ctx, schedule_id)
    try:
        user = forms.text(form, "user")
        oncall.add_override(
            visitor.ctx,
            schedule_id,
            user=int(user) if user.isdigit() else user,
            start=_local(forms.text(form, "start"), schedule.time_zone, "start"),
            end=_local(forms.text(form, "end"), schedule.time_zone, "end"),
            reason=forms.text(form, "reason"),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("user", "start", "end", "reason"))
        return _schedule_page(
            request,
            visitor,
            schedule_id,
            error=form_error(exc, "override"),
            values=values,
            status_code=exc.status,
        )
    return RedirectResponse(f"/oncall/schedules/{schedule_id}", status_code=303)


@router.post("/oncall/schedules/{schedule_id}/overrides/{override_id}/delete")
def delete_override(schedule_id: int, override_id: int, visitor: PosterResponder) -> Response:
    oncall.delete_override(visitor.ctx, schedule_id, override_id)
    return RedirectResponse(f"/oncall/schedules/{schedule_id}", status_code=303)


@router.post("/oncall/schedules/{schedule_id}/swaps")
async def swap(schedule_id: int, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    schedule = oncall.get_schedule(visitor.ctx, schedule_id)
    try:
        oncall.swap(
            visitor.ctx,
            schedule_id,
            first=_local(forms.text(form, "first"), schedule.time_zone, "first"),
            second=_local(forms.text(form, "second"), schedule.time_zone, "second"),
            reason=forms.text(form, "reason"),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("first", "second", "reason"))
        return _schedule_page(
            request,
            visitor,
            schedule_id,
            error=form_error(exc, "swap"),
            values=values,
            status_code=exc.status,
        )
    return RedirectResponse(f"/oncall/schedules/{schedule_id}", status_code=303)


def _schedule_input(schedule: Schedule, layers: list[oncall.LayerInput]) -> oncall.ScheduleInput:
    return oncall.ScheduleInput(
        name=schedule.name,
        description=schedule.description,
        time_zone=schedule.time_zone,
        team=schedule.team_id,
        layers=layers,
    )


def _stored_layers(schedule: Schedule) -> list[oncall.LayerInput]:
    out = []
    for data in schedule.layers:
        layer = oncall.domain_layer(data)
        out.append(
            oncall.LayerInput(
                name=str(data.get("name", "")),
                users=list(layer.users),
                time_zone=layer.time_zone,
                start=layer.start,
                length_unit=str(data["length_unit"]),
                length_count=int(data["length_count"]),
                restrictions=[(w.weekday, w.start, w.end) for w in layer.restrictions],
            )
        )
    return out


@router.post("/oncall/schedules/{schedule_id}/layers")
async def add_layer(schedule_id: int, request: Request, visitor: PosterManager) -> Response:
    form = await request.form()
    schedule = oncall.get_schedule(visitor.ctx, schedule_id)
    try:
        layers = [*_stored_layers(schedule), _layer_from_form(form)]
        oncall.update_schedule(visitor.ctx, schedule_id, _schedule_input(schedule, layers))
    except FirelineError as exc:
        values = forms.values_of(form, ("layer_name", "time_zone", "start", "length_count"))
        return _schedule_page(
            request,
            visitor,
            schedule_id,
            error=form_error(exc, "layer"),
            values=values,
            status_code=exc.status,
        )
    return RedirectResponse(f"/oncall/schedules/{schedule_id}", status_code=303)


@router.post("/oncall/schedules/{schedule_id}/layers/{index}/delete")
def delete_layer(
    schedule_id: int, index: int, request: Request, visitor: PosterManager
) -> Response:
    schedule = oncall.get_schedule(visitor.ctx, schedule_id)
    layers = _stored_layers(schedule)
    try:
        if not 0 <= index < len(layers):
            raise InvalidField("layer", f"no layer {index + 1}")
        del layers[index]
        oncall.update_schedule(visitor.ctx, schedule_id, _schedule_input(schedule, layers))
    except FirelineError as exc:
        return _schedule_page(
            request, visitor, schedule_id, error=form_error(exc, "layers"), status_code=exc.status
        )
    return RedirectResponse(f"/oncall/schedules/{schedule_id}", status_code=303)


@router.post("/oncall/schedules/{schedule_id}/feed")
def schedule_feed(schedule_id: int, request: Request, visitor: PosterResponder) -> Response:
    """Issue a calendar subscription URL; it is shown on this response only."""
    issued = oncall.issue_calendar_token(visitor.ctx, schedule_id=schedule_id)
    return _schedule_page(request, visitor, schedule_id, feed_url=issued.url)
