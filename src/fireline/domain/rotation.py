"""On-call schedules: rotation layers, restrictions and overrides -> who is on call when.

A `Schedule` is an ordered stack of `Layer`s with `Override`s on top:

    overrides          ██                 always win; a later override beats an earlier one
    layer 2 (top)    ░░░░░░      ░░░░░░   wins wherever it produces a shift
    layer 1        ▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓   shows through the gaps of the layers above
    ─────────────────────────────────────> time (UTC)

A layer hands the pager from one user to the next at a local wall-clock time in its IANA zone.
Daily and weekly lengths are counted in *local calendar* days, so a 09:00 Europe/Berlin hand-off
stays at 09:00 across a DST change (that one shift lasts 23 h or 25 h); hour lengths are
elapsed hours. Restrictions (e.g. business hours) cut the parts of a shift outside the allowed
local windows out; the rotation itself does not shift. A local time that falls in a DST gap is
moved forward by the gap; a repeated local time means its first occurrence.

Every instant given to or returned from this module is timezone-aware; results are in UTC and
at most one user is on call at a time. Invalid input raises `fireline.errors.InvalidField`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fireline.errors import InvalidField

UserId: TypeAlias = int
_Piece: TypeAlias = tuple[datetime, datetime, UserId]
_Span: TypeAlias = tuple[datetime, datetime]

END_OF_DAY = time.max
"""Use as `TimeWindow.end` for a window that runs until local midnight."""

_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_0 = timedelta(0)


class LengthUnit(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    MOVED = "moved"


def zone_for(name: str, *, field: str = "time_zone") -> ZoneInfo:
    """Return the IANA zone `name`; raise `InvalidField(field)` if tzdata does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidField(field, f"unknown time zone {name!r}") from None


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidField(field, "must be timezone-aware")
    return value.astimezone(UTC)


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ShiftLength:
    """How long one user holds the pager: `count` hours, local days or local weeks."""

    unit: LengthUnit
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise InvalidField("length", "must be at least 1")

    @property
    def step(self) -> timedelta:
        """The nominal length; day and week steps are applied to local wall-clock time."""
        hours = {LengthUnit.HOUR: 1, LengthUnit.DAY: 24, LengthUnit.WEEK: 168}[self.unit]
        return timedelta(hours=hours * self.count)

    @classmethod
    def daily(cls) -> ShiftLength:
        return cls(LengthUnit.DAY)

    @classmethod
    def weekly(cls) -> ShiftLength:
        return cls(LengthUnit.WEEK)

    @classmethod
    def hours(cls, count: int) -> ShiftLength:
        return cls(LengthUnit.HOUR, count)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A local time interval `[start, end)` on one weekday (0 = Monday ... 6 = Sunday).

    Raises `InvalidField("restrictions")` for a bad weekday or `end <= start`; a window over
    midnight is two windows, and `END_OF_DAY` as `end` means until midnight.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise InvalidField("restrictions", "weekday must be 0 (Monday) to 6 (Sunday)")
        if self.end <= self.start:
            raise InvalidField("restrictions", "end must be after start")


def business_hours(
    start: time = time(9), end: time = time(17), weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
) -> tuple[TimeWindow, ...]:
    """Return one `TimeWindow(start, end)` per weekday (default Monday to Friday, 09 to 17)."""
    return tuple(TimeWindow(day, start, end) for day in weekdays)


@dataclass(frozen=True, slots=True)
class Layer:
    """One rotation: `users` take turns, the first one from `start` on.

    `start` is the first hand-off as a naive local wall-clock time in `time_zone`; later hand-offs
    follow every `length`. Nobody is on call from this layer before `start`. Raises
    `InvalidField` for an empty user list, an unknown zone or an aware `start`.
    """

    users: tuple[UserId, ...]
    time_zone: str
    start: datetime
    length: ShiftLength
    restrictions: tuple[TimeWindow, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", tuple(self.users))
        object.__setattr__(self, "restrictions", tuple(self.restrictions))
        if not self.users:
            raise InvalidField("users", "a rotation needs at least one user")
        zone_for(self.time_zone)
        if self.start.tzinfo is not None:
            raise InvalidField("start", "must be a local wall-clock time without tzinfo")

    def handoff(self, index: int) -> datetime:
        """Return the UTC instant of hand-off number `index` (0 is `start`)."""
        zone, step = ZoneInfo(self.time_zone), self.length.step
        if self.length.unit is LengthUnit.HOUR:
            return _to_utc(self.start, zone) + step * index
        return _to_utc(self.start + step * index, zone)  # wall-clock days: DST-safe

    def index_at(self, at: datetime) -> int:
        """Return the number of the shift running at UTC `at` (negative before `start`)."""
        if self.length.unit is LengthUnit.HOUR:
            return (at - self.handoff(0)) // self.length.step
        local = at.astimezone(ZoneInfo(self.time_zone)).replace(tzinfo=None)
        index = (local - self.start) // self.length.step
        while self.handoff(index) > at:
            index -= 1
        while self.handoff(index + 1) <= at:
            index += 1
        return index


@dataclass(frozen=True, slots=True)
class Override:
    """`user_id` is on call from `start` to `end` (aware, stored in UTC) whatever the layers say.

    Raises `InvalidField("end")` if `end <= start`, `InvalidField("start"|"end")` if naive.
    """

    user_id: UserId
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        if self.end <= self.start:
            raise InvalidField("end", "an override must end after it starts")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Layers from bottom to top, and overrides in creation order (a later one wins)."""

    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True, slots=True)
class Shift:
    """`user_id` holds the pager from `start` to `end` (UTC, end exclusive)."""

    user_id: UserId
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ShiftChange:
    """A user's shifts that exist only before (`removed`) or only after (`added`) an edit."""

    user_id: UserId
    added: tuple[Shift, ...]
    removed: tuple[Shift, ...]

    @property
    def kind(self) -> ChangeKind:
        if self.added and self.removed:
            return ChangeKind.MOVED
        return ChangeKind.ADDED if self.added else ChangeKind.REMOVED


@dataclass(frozen=True, slots=True)
class Handoff:
    """At `at` (UTC) the pager goes to `to_user_id`; `from_user_id` is None after a gap."""

    at: datetime
    to_user_id: UserId
    from_user_id: UserId | None


def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        raise InvalidField("end", "must be after start")
    return start, end


def _merge_spans(spans: list[_Span]) -> list[_Span]:
    merged: list[_Span] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _allowed_spans(layer: Layer, start: datetime, end: datetime) -> list[_Span]:
    zone = ZoneInfo(layer.time_zone)
    day: date = start.astimezone(zone).date() - _DAY
    last: date = end.astimezone(zone).date() + _DAY
    spans: list[_Span] = []
    while day <= last:
        for window in layer.restrictions:
            if window.weekday != day.weekday():
                continue
            lo = _to_utc(datetime.combine(day, window.start), zone)
            stop = datetime.combine(day, window.end) + (_TICK if window.end == END_OF_DAY else _0)
            hi = _to_utc(stop, zone)
            lo, hi = max(lo, start), min(hi, end)
            if lo < hi:
                spans.append((lo, hi))
        day += _DAY
    return _merge_spans(spans)


def _intersect(pieces: list[_Piece], spans: list[_Span]) -> list[_Piece]:
    out: list[_Piece] = []
    i = j = 0
    while i < len(pieces) and j < len(spans):
        lo = max(pieces[i][0], spans[j][0])
        hi = min(pieces[i][1], spans[j][1])
        if lo < hi:
            out.append((lo, hi, pieces[i][2]))
        if pieces[i][1] <= spans[j][1]:
            i += 1
        else:
            j += 1
    return out


def _layer_pieces(layer: Layer, start: datetime, end: datetime) -> list[_Piece]:
    first = max(start, layer.handoff(0))
    if first >= end:
        return []
    index = max(0, layer.index_at(first))
    pieces: list[_Piece] = []
    shift_start = layer.handoff(index)
    while shift_start < end:
        shift_end = layer.handoff(index + 1)
        lo, hi = max(shift_start, start), min(shift_end, end)
        if lo < hi:
            pieces.append((lo, hi, layer.users[index % len(layer.users)]))
        index += 1
        shift_start = shift_end
    if layer.restrictions:
        pieces = _intersect(pieces, _allowed_spans(layer, start, end))
    return pieces


def render_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Return who is on call in `[start, end)` as sorted, non-overlapping UTC shifts.

    Overrides are applied, upper layers win over lower ones, shifts are clipped to the range and
    touching pieces of the same user are merged. Gaps (nobody on call) are simply absent.
    Raises `InvalidField("start"|"end")` for naive datetimes or `end <= start`.
    """
    start, end = _range(start, end)
    sources = [_layer_pieces(layer, start, end) for layer in schedule.layers]
    sources += [
        [(max(o.start, start), min(o.end, end), o.user_id)]
        for o in schedule.overrides
        if o.start < end and o.end > start
    ]
    starts = [[piece[0] for piece in source] for source in sources]
    bounds = sorted({start, end} | {t for source in sources for p in source for t in p[:2]})
    shifts: list[Shift] = []
    for lo, hi in pairwise(bounds):
        owner = _owner(sources, starts, lo)
        if owner is None:
            continue
        if shifts and shifts[-1].user_id == owner and shifts[-1].end == lo:
            shifts[-1] = Shift(owner, shifts[-1].start, hi)
        else:
            shifts.append(Shift(owner, lo, hi))
    return shifts


def _owner(sources: list[list[_Piece]], starts: list[list[datetime]], at: datetime) -> int | None:
    for source, source_starts in zip(reversed(sources), reversed(starts), strict=True):
        i = bisect_right(source_starts, at) - 1
        if i >= 0 and at < source[i][1]:
            return source[i][2]
    return None


def on_call_at(schedule: Schedule, at: datetime) -> list[UserId]:
    """Return the users on call at the aware instant `at`: an empty list or one user id."""
    return [shift.user_id for shift in render_shifts(schedule, at, at + _TICK)]


def shift_changes(
    before: Schedule, after: Schedule, start: datetime, end: datetime
) -> list[ShiftChange]:
    """Compare two versions of a schedule in `[start, end)`; one entry per affected user.

    A shift that is identical in both versions is unchanged; any other shift of a user is
    reported as `removed` (only before) or `added` (only after). Sorted by user id.
    """
    old, new = render_shifts(before, start, end), render_shifts(after, start, end)
    old_set, new_set = set(old), set(new)
    users = sorted({s.user_id for s in old_set ^ new_set})
    return [
        ShiftChange(
            user_id=user,
            added=tuple(s for s in new if s.user_id == user and s not in old_set),
            removed=tuple(s for s in old if s.user_id == user and s not in new_set),
        )
        for user in users
    ]


def handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[Handoff]:
    """Return every moment in `[start, end)` at which someone new takes the pager.

    A shift already running at `start` is not a hand-off. `from_user_id` is the user whose shift
    ends at that moment, or None when the pager was unattended just before.
    """
    start, end = _range(start, end)
    shifts = render_shifts(schedule, start - _TICK, end)
    result: list[Handoff] = []
    for i, shift in enumerate(shifts):
        if shift.start < start:
            continue
        previous = shifts[i - 1] if i > 0 and shifts[i - 1].end == shift.start else None
        result.append(Handoff(shift.start, shift.user_id, previous.user_id if previous else None))
    return result


def cover_override(shift: Shift, *, by: UserId) -> Override:
    """Return an override in which `by` takes over the whole of `shift`."""
    return Override(user_id=by, start=shift.start, end=shift.end)


def swap_overrides(first: Shift, second: Shift) -> tuple[Override, Override]:
    """Trade two shifts: `second`'s user covers `first` and `first`'s user covers `second`.

    Raises `InvalidField("shift")` if both shifts belong to the same user or overlap.
    """
    if first.user_id == second.user_id:
        raise InvalidField("shift", "a swap needs shifts of two different users")
    if first.start < second.end and second.start < first.end:
        raise InvalidField("shift", "swapped shifts must not overlap")
    return cover_override(first, by=second.user_id), cover_override(second, by=first.user_id)
