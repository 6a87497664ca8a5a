"""On-call schedules: create and edit rotations, overrides and swaps; who is on call; feeds.

A schedule's layers are validated by building `fireline.domain.rotation` objects before they
are stored, so a bad rotation is refused with the offending field named
(`layers[1].time_zone`, `layers[0].length.count`, ...). Every change bumps the schedule's
`version` and, in the same transaction, queues a notice to each person whose shifts in the
next `NOTICE_HORIZON` moved (`oncall.shift_notice` jobs, sent by the worker).

Calendar feeds are served with a revocable token per feed; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline import security
from fireline.domain import rotation
from fireline.domain.roles import Role
from fireline.errors import Forbidden, InvalidField, NotFound
from fireline.integrations.outbound.ical import build_oncall_calendar
from fireline.store.models import Team, User
from fireline.store.models.oncall import CalendarToken, Schedule, ScheduleOverride
from fireline.store.repos import jobs
from fireline.store.repos import oncall as repo
from fireline.usecases import lookups
from fireline.usecases.context import Context

NOTICE_HORIZON = timedelta(days=30)
MAX_RANGE = timedelta(days=366)
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=90)
SHIFT_NOTICE_JOB = "oncall.shift_notice"
CALENDAR_TOKEN_PREFIX = "flcal"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True, slots=True)
class LayerInput:
    """One rotation as the API receives it; `start` is naive local time in `time_zone`."""

    users: Sequence[lookups.Ref]
    time_zone: str
    start: datetime
    length_unit: str = "week"
    length_count: int = 1
    restrictions: Sequence[tuple[int, time, time]] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class ScheduleInput:
    name: str
    layers: Sequence[LayerInput]
    time_zone: str = "UTC"
    description: str = ""
    team: lookups.Ref | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: CalendarToken
    secret: str
    url: str


# ---------------------------------------------------------------- domain conversion


def _layer_json(session: Session, index: int, layer: LayerInput) -> dict[str, Any]:
    field = f"layers[{index}]"
    if not layer.users:
        raise InvalidField(f"{field}.users", "a rotation needs at least one user")
    users = [
        lookups.user(session, ref, field=f"{field}.users[{i}]").id
        for i, ref in enumerate(layer.users)
    ]
    if layer.length_count < 1:
        raise InvalidField(f"{field}.length.count", "a rotation must last at least 1 unit")
    try:
        unit = rotation.LengthUnit(layer.length_unit)
    except ValueError:
        raise InvalidField(f"{field}.length.unit", "must be hour, day or week") from None
    windows = sorted(layer.restrictions)
    for i, (day, lo, hi) in enumerate(windows):
        if i and windows[i - 1][0] == day and windows[i - 1][2] > lo:
            raise InvalidField(f"{field}.restrictions", "restriction windows overlap")
        _ = hi
    data = {
        "name": layer.name or f"Layer {index + 1}",
        "users": users,
        "time_zone": layer.time_zone,
        "start": layer.start.replace(tzinfo=None).isoformat(timespec="minutes")
        if layer.start.tzinfo is None
        else layer.start.isoformat(),
        "length_unit": unit.value,
        "length_count": layer.length_count,
        "restrictions": [
            {"weekday": d, "start": lo.isoformat(), "end": _end_text(hi)} for d, lo, hi in windows
        ],
    }
    try:
        domain_layer(data)
    except InvalidField as exc:
        sub = exc.field or "layer"
        raise InvalidField(f"{field}.{sub}", exc.message.split(": ", 1)[-1]) from None
    return data


def _end_text(value: time) -> str:
    return "24:00" if value == rotation.END_OF_DAY else value.isoformat()


def _end_time(text: str) -> time:
    return rotation.END_OF_DAY if text in ("24:00", "24:00:00") else time.fromisoformat(text)


def domain_layer(data: dict[str, Any]) -> rotation.Layer:
    """Build the domain layer from its stored JSON (raises InvalidField on bad data)."""
    start = datetime.fromisoformat(str(data["start"]))
    if start.tzinfo is not None:
        raise InvalidField("start", "must be a local wall-clock time without a UTC offset")
    return rotation.Layer(
        users=tuple(int(u) for u in data["users"]),
        time_zone=str(data["time_zone"]),
        start=start,
        length=rotation.ShiftLength(
            rotation.LengthUnit(data["length_unit"]), int(data["length_count"])
        ),
        restrictions=tuple(
            rotation.TimeWindow(
                int(w["weekday"]), time.fromisoformat(w["start"]), _end_time(w["end"])
            )
            for w in data.get("restrictions", [])
        ),
    )


def domain_schedule(schedule: Schedule, overrides: Sequence[ScheduleOverride]) -> rotation.Schedule:
    return rotation.Schedule(
        layers=tuple(domain_layer(layer) for layer in schedule.layers),
        overrides=tuple(
            rotation.Override(user_id=o.user_id, start=o.starts_at, end=o.ends_at)
            for o in overrides
        ),
    )


def load_domain(session: Session, schedule: Schedule) -> rotation.Schedule:
    return domain_schedule(schedule, repo.overrides(session, schedule.id))


def on_call_now(session: Session, schedule_id: int, at: datetime) -> list[int]:
    """Who is on call in schedule `schedule_id` at `at` (the escalation resolver uses this)."""
    found = session.get(Schedule, schedule_id)
    if found is None:
        return []
    window = repo.overrides(session, schedule_id, start=at, end=at + timedelta(seconds=1))
    return rotation.on_call_at(domain_schedule(found, window), at)


# ---------------------------------------------------------------- schedules


def _check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None:
        raise InvalidField("start", "must include a time zone")
    if end.tzinfo is None:
        raise InvalidField("end", "must include a time zone")
    if end <= start:
        raise InvalidField("end", "must be after start")
    if end - start > MAX_RANGE:
        raise InvalidField("end", "the range may span at most 366 days")


def _apply(session: Session, schedule: Schedule, data: ScheduleInput) -> None:
    name = data.name.strip()
    if not name:
        raise InvalidField("name", "must not be empty")
    rotation.zone_for(data.time_zone, field="time_zone")
    schedule.name = name[:120]
    schedule.description = data.description
    schedule.time_zone = data.time_zone
    schedule.team_id = (
        None if data.team is None else lookups.team(session, data.team, field="team").id
    )
    schedule.layers = [_layer_json(session, i, layer) for i, layer in enumerate(data.layers)]


def create_schedule(ctx: Context, data: ScheduleInput) -> Schedule:
    """Create a schedule (manager). Raises InvalidField naming the bad field."""
    ctx.actor.require(Role.MANAGER)
    now = ctx.clock.now()
    with ctx.transaction() as session:
        schedule = Schedule(created_at=now, updated_at=now, version=1, layers=[])
        _apply(session, schedule, data)
        session.add(schedule)
        session.flush()
        _queue_shift_notices(session, ctx, schedule, before=rotation.Schedule())
    return schedule


def update_schedule(ctx: Context, schedule_id: int, data: ScheduleInput) -> Schedule:
    """Replace a schedule's settings and layers; notify people whose shifts moved."""
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        schedule = repo.schedule(session, schedule_id, for_update=True)
        before = load_domain(session, schedule)
        _apply(session, schedule, data)
        _touch(schedule, ctx)
        _queue_shift_notices(session, ctx, schedule, before=before)
    return schedule


def delete_schedule(ctx: Context, schedule_id: int) -> None:
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        schedule = repo.schedule(session, schedule_id)
        session.delete(schedule)


def get_schedule(ctx: Context, schedule_id: int) -> Schedule:
    with ctx.reading() as session:
        return repo.schedule(session, schedule_id)


def list_schedules(ctx: Context, *, team_id: int | None = None) -> Sequence[Schedule]:
    with ctx.reading() as session:
        return repo.schedules(session, team_id=team_id)


def _touch(schedule: Schedule, ctx: Context) -> None:
    schedule.version += 1
    schedule.updated_at = ctx.clock.now()


def _queue_shift_notices(
    session: Session, ctx: Context, schedule: Schedule, *, before: rotation.Schedule
) -> None:
    now = ctx.clock.now()
    after = load_domain(session, schedule)
    for change in rotation.shift_changes(before, after, now, now + NOTICE_HORIZON):
        jobs.enqueue(
            session,
            kind=SHIFT_NOTICE_JOB,
            payload={
                "schedule_id": schedule.id,
                "user_id": change.user_id,
                "kind": change.kind.value,
                "added": [_shift_json(s) for s in change.added],
                "removed": [_shift_json(s) for s in change.removed],
            },
            due_at=now,
            now=now,
            dedup_key=f"shiftnotice:{schedule.id}:{schedule.version}:{change.user_id}",
        )


def _shift_json(shift: rotation.Shift) -> dict[str, Any]:
    return {
        "user_id": shift.user_id,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
    }


def shifts(
    ctx: Context, schedule_id: int, *, start: datetime, end: datetime
) -> list[rotation.Shift]:
    """The final shifts (layers, restrictions and overrides applied) in `[start, end)`."""
    _check_range(start, end)
    with ctx.reading() as session:
        schedule = repo.schedule(session, schedule_id)
        overrides = repo.overrides(session, schedule_id, start=start, end=end)
        return rotation.render_shifts(domain_schedule(schedule, overrides), start, end)


def on_call(ctx: Context, schedule_id: int, *, at: datetime) -> list[int]:
    if at.tzinfo is None:
        raise InvalidField("at", "must include a time zone")
    with ctx.reading() as session:
        repo.schedule(session, schedule_id)
        return on_call_now(session, schedule_id, at)


# ---------------------------------------------------------------- overrides and swaps


def add_override(
    ctx: Context,
    schedule_id: int,
    *,
    user: lookups.Ref,
    start: datetime,
    end: datetime,
    reason: str = "",
) -> ScheduleOverride:
    """`user` covers `[start, end)` (responders may cover shifts). Raises InvalidField."""
    ctx.actor.require(Role.RESPONDER)
    _check_range(start, end)
    with ctx.transaction() as session:
        schedule = repo.schedule(session, schedule_id, for_update=True)
        before = load_domain(session, schedule)
        found = lookups.user(session, user, field="user")
        override = _override(ctx, schedule, found.id, start, end, reason, swap_id=None)
        session.add(override)
        session.flush()
        _touch(schedule, ctx)
        _queue_shift_notices(session, ctx, schedule, before=before)
    return override


def _override(
    ctx: Context,
    schedule: Schedule,
    user_id: int,
    start: datetime,
    end: datetime,
    reason: str,
    *,
    swap_id: str | None,
) -> ScheduleOverride:
    return ScheduleOverride(
        schedule_id=schedule.id,
        user_id=user_id,
        starts_at=start.astimezone(UTC),
        ends_at=end.astimezone(UTC),
        reason=reason[:500],
        swap_id=swap_id,
        created_by=ctx.actor.user_id,
        created_at=ctx.clock.now(),
    )


def delete_override(ctx: Context, schedule_id: int, override_id: int) -> None:
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        schedule = repo.schedule(session, schedule_id, for_update=True)
        before = load_domain(session, schedule)
        override = session.get(ScheduleOverride, override_id)
        if override is None or override.schedule_id != schedule_id:
            raise NotFound(f"no override {override_id} in schedule {schedule_id}", field="override")
        session.delete(override)
        session.flush()
        _touch(schedule, ctx)
        _queue_shift_notices(session, ctx, schedule, before=before)


def list_overrides(
    ctx: Context, schedule_id: int, *, start: datetime | None, end: datetime | None
) -> Sequence[ScheduleOverride]:
    with ctx.reading() as session:
        repo.schedule(session, schedule_id)
        return repo.overrides(session, schedule_id, start=start, end=end)


def swap(
    ctx: Context, schedule_id: int, *, first: datetime, second: datetime, reason: str = ""
) -> list[ScheduleOverride]:
    """Trade the shifts running at `first` and at `second` between their two holders."""
    ctx.actor.require(Role.RESPONDER)
    for name, value in (("first", first), ("second", second)):
        if value.tzinfo is None:
            raise InvalidField(name, "must include a time zone")
    with ctx.transaction() as session:
        schedule = repo.schedule(session, schedule_id, for_update=True)
        before = load_domain(session, schedule)
        a = _shift_at(before, first, "first")
        b = _shift_at(before, second, "second")
        one, two = rotation.swap_overrides(a, b)
        swap_id = uuid.uuid4().hex
        rows = [
            _override(ctx, schedule, o.user_id, o.start, o.end, reason, swap_id=swap_id)
            for o in (one, two)
        ]
        session.add_all(rows)
        session.flush()
        _touch(schedule, ctx)
        _queue_shift_notices(session, ctx, schedule, before=before)
    return rows


def _shift_at(schedule: rotation.Schedule, at: datetime, field: str) -> rotation.Shift:
    window = timedelta(days=60)
    for shift in rotation.render_shifts(schedule, at - window, at + window):
        if shift.start <= at < shift.end:
            return shift
    raise InvalidField(field, "nobody is on call at that time")


# ---------------------------------------------------------------- who is on call


@dataclass(frozen=True, slots=True)
class ScheduleOnCall:
    schedule: Schedule
    team: Team | None
    user_ids: list[int]


def who_is_on_call(ctx: Context, *, at: datetime) -> list[ScheduleOnCall]:
    """Every schedule with its team and the users on call at `at`."""
    if at.tzinfo is None:
        raise InvalidField("at", "must include a time zone")
    with ctx.reading() as session:
        teams = {t.id: t for t in session.scalars(select(Team))}
        return [
            ScheduleOnCall(
                schedule=s,
                team=teams.get(s.team_id) if s.team_id else None,
                user_ids=on_call_now(session, s.id, at),
            )
            for s in repo.schedules(session)
        ]


# ---------------------------------------------------------------- calendar feeds


def issue_calendar_token(
    ctx: Context, *, schedule_id: int | None = None, user_id: int | None = None
) -> IssuedToken:
    """A feed token for a schedule (any viewer) or a user's shifts (that user or an admin)."""
    ctx.actor.require(Role.VIEWER)
    if user_id is not None and ctx.actor.user_id != user_id:
        ctx.actor.require(Role.ADMIN)
    secret = security.new_token(CALENDAR_TOKEN_PREFIX, 24)
    with ctx.transaction() as session:
        if schedule_id is not None:
            repo.schedule(session, schedule_id)
            path = f"schedules/{schedule_id}.ics"
        else:
            if user_id is None or session.get(User, user_id) is None:
                raise NotFound(f"no user {user_id}", field="user")
            path = f"users/{user_id}.ics"
        token = CalendarToken(
            token_hash=security.token_digest(secret),
            prefix=secret[:12],
            schedule_id=schedule_id,
            user_id=user_id if schedule_id is None else None,
            created_by=ctx.actor.user_id,
            created_at=ctx.clock.now(),
        )
        session.add(token)
        session.flush()
    url = f"{ctx.settings.public_base_url}/calendars/oncall/{path}?token={secret}"
    return IssuedToken(token=token, secret=secret, url=url)


def list_calendar_tokens(ctx: Context) -> Sequence[CalendarToken]:
    """The caller's tokens (admins: everyone's)."""
    with ctx.reading() as session:
        query = select(CalendarToken).where(CalendarToken.revoked_at.is_(None))
        if not ctx.actor.role.at_least(Role.ADMIN):
            query = query.where(CalendarToken.created_by == ctx.actor.user_id)
        return session.scalars(query.order_by(CalendarToken.id)).all()


def revoke_calendar_token(ctx: Context, token_id: int) -> None:
    with ctx.transaction() as session:
        token = session.get(CalendarToken, token_id)
        if token is None:
            raise NotFound(f"no calendar token {token_id}", field="token")
        if token.created_by != ctx.actor.user_id:
            ctx.actor.require(Role.ADMIN)
        token.revoked_at = token.revoked_at or ctx.clock.now()


@dataclass(frozen=True, slots=True)
class Feed:
    body: bytes
    etag: str


def calendar_feed(
    ctx: Context, *, secret: str, schedule_id: int | None = None, user_id: int | None = None
) -> Feed:
    """Render a feed for a valid, unrevoked token matching the requested feed.

    The window is whole UTC days (-30 d ... +90 d) and DTSTAMP is the newest schedule change, so
    the body (and its ETag) only changes when the shifts do or a day passes. A wrong, revoked
    or mismatched token raises NotFound (no hint whether the feed exists).
    """
    now = ctx.clock.now()
    day = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    start, end = day - FEED_PAST, day + FEED_FUTURE
    with ctx.reading() as session:
        token = session.scalar(
            select(CalendarToken).where(CalendarToken.token_hash == security.token_digest(secret))
        )
        matches = (
            token is not None
            and token.revoked_at is None
            and (
                (schedule_id is not None and token.schedule_id == schedule_id)
                or (user_id is not None and token.schedule_id is None and token.user_id == user_id)
            )
        )
        if not matches:
            raise NotFound("no such calendar feed (the token may have been revoked)")
        chosen = [repo.schedule(session, schedule_id)] if schedule_id else repo.schedules(session)
        names = {u.id: u.name for u in session.scalars(select(User))}
        parts: list[bytes] = []
        stamp = datetime(2000, 1, 1, tzinfo=UTC)
        events: list[tuple[Schedule, list[rotation.Shift]]] = []
        for schedule in chosen:
            found = rotation.render_shifts(load_domain(session, schedule), start, end)
            if user_id is not None:
                found = [s for s in found if s.user_id == user_id]
                if not found:
                    continue
            stamp = max(stamp, schedule.updated_at)
            events.append((schedule, found))
        base = ctx.settings.public_base_url
        if schedule_id is not None:
            schedule, found = events[0]
            body = build_oncall_calendar(
                schedule_id=schedule.id,
                schedule_name=schedule.name,
                shifts=found,
                now=stamp,
                user_names=names,
                url=f"{base}/api/v1/schedules/{schedule.id}",
            )
        else:
            body = _user_calendar(events, names.get(user_id or 0, "me"), stamp, names)
        parts.append(body)
    data = b"".join(parts)
    return Feed(body=data, etag='"' + hashlib.sha256(data).hexdigest()[:32] + '"')


def _user_calendar(
    events: list[tuple[Schedule, list[rotation.Shift]]],
    user_name: str,
    stamp: datetime,
    names: dict[int, str],
) -> bytes:
    """One calendar with the user's shifts from every schedule (events merged by UID)."""
    from icalendar import Calendar

    merged = Calendar.from_ical(
        build_oncall_calendar(
            schedule_id="user", schedule_name=f"On call: {user_name}", shifts=[], now=stamp
        )
    )
    for schedule, found in events:
        part = Calendar.from_ical(
            build_oncall_calendar(
                schedule_id=schedule.id,
                schedule_name=schedule.name,
                shifts=found,
                now=stamp,
                user_names=names,
            )
        )
        for component in part.walk("VEVENT"):
            merged.add_component(component)
    result: bytes = merged.to_ical()
    return result


def local_date(at: datetime, zone: str) -> date:
    return at.astimezone(rotation.zone_for(zone)).date()


def require_self_or_admin(ctx: Context, user_id: int) -> None:
    if ctx.actor.user_id != user_id and not ctx.actor.role.at_least(Role.ADMIN):
        raise Forbidden("only the user themselves or an admin may do this")
