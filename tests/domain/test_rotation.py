from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.domain.rotation import (
    END_OF_DAY,
    ChangeKind,
    Handoff,
    Layer,
    LengthUnit,
    Override,
    Schedule,
    Shift,
    ShiftLength,
    TimeWindow,
    business_hours,
    cover_override,
    handoffs,
    on_call_at,
    render_shifts,
    shift_changes,
    swap_overrides,
)
from fireline.errors import InvalidField

BERLIN = ZoneInfo("Europe/Berlin")
ALICE, BOB, CAROL = 1, 2, 3


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def daily(
    users: tuple[int, ...] = (ALICE, BOB), restrictions: tuple[TimeWindow, ...] = ()
) -> Layer:
    return Layer(
        users=users,
        time_zone="Europe/Berlin",
        start=datetime(2026, 3, 2, 9, 0),
        length=ShiftLength.daily(),
        restrictions=restrictions,
    )


# --- DST ---------------------------------------------------------------------------------------


def test_daily_handoff_stays_at_nine_local_when_clocks_spring_forward() -> None:
    shifts = render_shifts(
        Schedule(layers=(daily(),)), berlin(2026, 3, 27, 9), berlin(2026, 3, 31, 9)
    )
    assert [s.start.astimezone(BERLIN).hour for s in shifts] == [9, 9, 9, 9]
    assert [s.end - s.start for s in shifts] == [
        timedelta(hours=24),
        timedelta(hours=23),  # 28 Mar 09:00 CET -> 29 Mar 09:00 CEST
        timedelta(hours=24),
        timedelta(hours=24),
    ]
    assert shifts[1].start == utc(2026, 3, 28, 8) and shifts[1].end == utc(2026, 3, 29, 7)


def test_daily_handoff_stays_at_nine_local_when_clocks_fall_back() -> None:
    shifts = render_shifts(
        Schedule(layers=(daily(),)), berlin(2026, 10, 24, 9), berlin(2026, 10, 26, 9)
    )
    assert [s.end - s.start for s in shifts] == [timedelta(hours=25), timedelta(hours=24)]
    assert shifts[0].start == utc(2026, 10, 24, 7) and shifts[0].end == utc(2026, 10, 25, 8)


def test_weekly_rotation_keeps_local_monday_handoff_across_dst() -> None:
    layer = Layer(
        users=(ALICE, BOB),
        time_zone="Europe/Berlin",
        start=datetime(2026, 3, 2, 9, 0),  # a Monday
        length=ShiftLength.weekly(),
    )
    shifts = render_shifts(Schedule(layers=(layer,)), berlin(2026, 3, 23, 9), berlin(2026, 4, 6, 9))
    assert [s.user_id for s in shifts] == [BOB, ALICE]
    assert shifts[0].end - shifts[0].start == timedelta(hours=167)
    assert shifts[1].start.astimezone(BERLIN) == berlin(2026, 3, 30, 9)


def test_hour_rotation_counts_elapsed_hours_across_dst() -> None:
    layer = Layer(
        users=(ALICE, BOB),
        time_zone="Europe/Berlin",
        start=datetime(2026, 3, 28, 8, 0),
        length=ShiftLength.hours(12),
    )
    shifts = render_shifts(Schedule(layers=(layer,)), utc(2026, 3, 28, 7), utc(2026, 3, 30, 7))
    assert all(s.end - s.start == timedelta(hours=12) for s in shifts)
    assert shifts[2].start.astimezone(BERLIN).hour == 9  # 20:00 CET + 12 h = 09:00 CEST


def test_handoff_inside_dst_gap_moves_forward_by_the_gap() -> None:
    layer = Layer(
        users=(ALICE, BOB),
        time_zone="Europe/Berlin",
        start=datetime(2026, 3, 27, 2, 30),
        length=ShiftLength.daily(),
    )
    shifts = render_shifts(Schedule(layers=(layer,)), utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert shifts[1].start == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert shifts[2].start == utc(2026, 3, 30, 0, 30)  # 02:30 CEST again


# --- restrictions and layers -------------------------------------------------------------------


def test_business_hours_restriction_cuts_shift_outside_the_window() -> None:
    layer = daily(restrictions=business_hours())
    monday = berlin(2026, 3, 23, 0)
    shifts = render_shifts(Schedule(layers=(layer,)), monday, monday + timedelta(days=7))
    assert len(shifts) == 5  # Monday to Friday, nothing at the weekend
    for shift in shifts:
        local_start, local_end = shift.start.astimezone(BERLIN), shift.end.astimezone(BERLIN)
        assert (local_start.hour, local_end.hour) == (9, 17)
        assert local_start.weekday() < 5


def test_restriction_until_midnight_and_over_dst() -> None:
    layer = daily(users=(ALICE,), restrictions=(TimeWindow(6, time(20), END_OF_DAY),))
    shifts = render_shifts(Schedule(layers=(layer,)), berlin(2026, 3, 28), berlin(2026, 3, 31))
    assert shifts == [Shift(ALICE, berlin(2026, 3, 29, 20), berlin(2026, 3, 30, 0))]


def test_upper_layer_wins_and_lower_layer_fills_its_gaps() -> None:
    weekday_day = daily(users=(CAROL,), restrictions=business_hours())
    schedule = Schedule(layers=(daily(users=(ALICE,)), weekday_day))
    shifts = render_shifts(schedule, berlin(2026, 3, 23, 0), berlin(2026, 3, 24, 0))
    assert shifts == [
        Shift(ALICE, berlin(2026, 3, 23, 0), berlin(2026, 3, 23, 9)),
        Shift(CAROL, berlin(2026, 3, 23, 9), berlin(2026, 3, 23, 17)),
        Shift(ALICE, berlin(2026, 3, 23, 17), berlin(2026, 3, 24, 0)),
    ]


def test_single_user_layer_renders_one_merged_shift() -> None:
    shifts = render_shifts(
        Schedule(layers=(daily(users=(ALICE,)),)), utc(2026, 4, 1), utc(2026, 4, 9)
    )
    assert shifts == [Shift(ALICE, utc(2026, 4, 1), utc(2026, 4, 9))]


def test_nobody_is_on_call_before_the_layer_starts() -> None:
    schedule = Schedule(layers=(daily(),))
    assert on_call_at(schedule, berlin(2026, 3, 2, 8, 59)) == []
    assert on_call_at(schedule, berlin(2026, 3, 2, 9)) == [ALICE]
    assert on_call_at(schedule, berlin(2026, 3, 3, 9)) == [BOB]
    assert render_shifts(Schedule(), utc(2026, 1, 1), utc(2026, 1, 2)) == []


# --- overrides and swaps -----------------------------------------------------------------------


def test_override_replaces_whoever_is_on_call_and_later_override_wins() -> None:
    schedule = Schedule(
        layers=(daily(users=(ALICE,)),),
        overrides=(
            Override(BOB, berlin(2026, 4, 1, 12), berlin(2026, 4, 1, 18)),
            Override(CAROL, berlin(2026, 4, 1, 14), berlin(2026, 4, 1, 15)),
        ),
    )
    shifts = render_shifts(schedule, berlin(2026, 4, 1, 10), berlin(2026, 4, 1, 20))
    assert [(s.user_id, s.start.astimezone(BERLIN).hour) for s in shifts] == [
        (ALICE, 10),
        (BOB, 12),
        (CAROL, 14),
        (BOB, 15),
        (ALICE, 18),
    ]
    assert on_call_at(schedule, berlin(2026, 4, 1, 14, 30)) == [CAROL]


def test_override_by_the_user_already_on_call_merges_into_one_shift() -> None:
    schedule = Schedule(
        layers=(daily(users=(ALICE,)),),
        overrides=(Override(ALICE, berlin(2026, 4, 1, 12), berlin(2026, 4, 1, 18)),),
    )
    assert len(render_shifts(schedule, berlin(2026, 4, 1), berlin(2026, 4, 2))) == 1


def test_swap_trades_two_shifts() -> None:
    schedule = Schedule(layers=(daily(),))
    day = render_shifts(schedule, berlin(2026, 4, 1, 9), berlin(2026, 4, 3, 9))
    first, second = day
    swapped = Schedule(layers=schedule.layers, overrides=swap_overrides(first, second))
    after = render_shifts(swapped, berlin(2026, 4, 1, 9), berlin(2026, 4, 3, 9))
    assert [s.user_id for s in after] == [second.user_id, first.user_id]
    assert [(s.start, s.end) for s in after] == [(s.start, s.end) for s in day]


def test_swap_refuses_same_user_or_overlapping_shifts() -> None:
    a = Shift(ALICE, utc(2026, 4, 1), utc(2026, 4, 2))
    with pytest.raises(InvalidField):
        swap_overrides(a, Shift(ALICE, utc(2026, 4, 3), utc(2026, 4, 4)))
    with pytest.raises(InvalidField):
        swap_overrides(a, Shift(BOB, utc(2026, 4, 1, 12), utc(2026, 4, 3)))


# --- change notices and hand-offs --------------------------------------------------------------


def test_shift_changes_lists_only_affected_users() -> None:
    before = Schedule(layers=(daily(users=(ALICE, BOB, CAROL)),))
    a_shift = render_shifts(before, berlin(2026, 4, 6, 9), berlin(2026, 4, 7, 9))[0]
    after = Schedule(layers=before.layers, overrides=(cover_override(a_shift, by=BOB),))
    changes = shift_changes(before, after, berlin(2026, 4, 6, 9), berlin(2026, 4, 9, 9))
    by_user = {c.user_id: c for c in changes}
    assert set(by_user) == {a_shift.user_id, BOB}
    assert by_user[a_shift.user_id].kind is ChangeKind.REMOVED
    assert by_user[BOB].kind in (ChangeKind.ADDED, ChangeKind.MOVED)
    assert shift_changes(before, before, utc(2026, 4, 1), utc(2026, 5, 1)) == []


def test_shift_change_of_an_extended_shift_is_a_move() -> None:
    before = Schedule(overrides=(Override(ALICE, utc(2026, 4, 1, 8), utc(2026, 4, 1, 12)),))
    after = Schedule(overrides=(Override(ALICE, utc(2026, 4, 1, 8), utc(2026, 4, 1, 13)),))
    [change] = shift_changes(before, after, utc(2026, 4, 1), utc(2026, 4, 2))
    assert change.kind is ChangeKind.MOVED


def test_handoffs_name_both_sides_and_skip_the_running_shift() -> None:
    schedule = Schedule(
        layers=(daily(),),
        overrides=(Override(CAROL, berlin(2026, 4, 1, 12), berlin(2026, 4, 1, 13)),),
    )
    result = handoffs(schedule, berlin(2026, 4, 1, 10), berlin(2026, 4, 2, 10))
    first = on_call_at(schedule, berlin(2026, 4, 1, 10))[0]
    other = ALICE if first == BOB else BOB
    assert result == [
        Handoff(utc(2026, 4, 1, 10), CAROL, first),
        Handoff(utc(2026, 4, 1, 11), first, CAROL),
        Handoff(utc(2026, 4, 2, 7), other, first),
    ]


def test_handoff_after_a_gap_has_no_previous_user() -> None:
    schedule = Schedule(overrides=(Override(ALICE, utc(2026, 4, 1, 8), utc(2026, 4, 1, 9)),))
    assert handoffs(schedule, utc(2026, 4, 1), utc(2026, 4, 2)) == [
        Handoff(utc(2026, 4, 1, 8), ALICE, None)
    ]
    assert handoffs(schedule, utc(2026, 4, 1, 8), utc(2026, 4, 2)) == [
        Handoff(utc(2026, 4, 1, 8), ALICE, None)
    ]


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (
            lambda: Layer((1,), "Mars/Olympus", datetime(2026, 1, 1), ShiftLength.daily()),
            "time_zone",
        ),
        (lambda: Layer((), "UTC", datetime(2026, 1, 1), ShiftLength.daily()), "users"),
        (lambda: ShiftLength.hours(0), "length"),
        (lambda: ShiftLength(LengthUnit.WEEK, -1), "length"),
        (lambda: Override(1, utc(2026, 1, 2), utc(2026, 1, 2)), "end"),
        (lambda: Override(1, utc(2026, 1, 2), utc(2026, 1, 1)), "end"),
        (lambda: Override(1, datetime(2026, 1, 1), utc(2026, 1, 2)), "start"),
        (lambda: TimeWindow(0, time(17), time(9)), "restrictions"),
        (lambda: TimeWindow(7, time(9), time(17)), "restrictions"),
        (lambda: Layer((1,), "UTC", utc(2026, 1, 1), ShiftLength.daily()), "start"),
        (lambda: render_shifts(Schedule(), utc(2026, 1, 2), utc(2026, 1, 1)), "end"),
        (lambda: on_call_at(Schedule(), datetime(2026, 1, 1)), "start"),
    ],
)
def test_invalid_input_names_the_field(build: object, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


# --- properties --------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
]


@st.composite
def layers(draw: st.DrawFn, *, restricted: bool) -> Layer:
    unit = draw(st.sampled_from(list(LengthUnit)))
    count = draw(st.integers(1, 30 if unit is LengthUnit.HOUR else 2))
    windows: tuple[TimeWindow, ...] = ()
    if restricted:
        start_hour = draw(st.integers(0, 22))
        end_hour = draw(st.integers(start_hour + 1, 23))
        days = draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True))
        windows = tuple(TimeWindow(d, time(start_hour), time(end_hour)) for d in days)
    return Layer(
        users=tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))),
        time_zone=draw(st.sampled_from(ZONES)),
        start=draw(st.datetimes(datetime(2025, 1, 1), datetime(2026, 5, 30))).replace(
            second=0, microsecond=0
        ),
        length=ShiftLength(unit, count),
        restrictions=windows,
    )


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    stack = draw(st.lists(layers(restricted=draw(st.booleans())), min_size=0, max_size=3))
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(
            st.datetimes(datetime(2026, 6, 1), datetime(2026, 7, 1), timezones=st.just(UTC))
        )
        hours = draw(st.integers(1, 72))
        overrides.append(Override(draw(st.integers(1, 5)), start, start + timedelta(hours=hours)))
    return Schedule(layers=tuple(stack), overrides=tuple(overrides))


ranges = st.tuples(
    st.datetimes(datetime(2026, 6, 1), datetime(2026, 7, 1), timezones=st.just(UTC)),
    st.timedeltas(timedelta(minutes=1), timedelta(days=20)),
)


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), window=ranges)
def test_rendered_shifts_are_sorted_disjoint_merged_and_inside_the_range(
    schedule: Schedule, window: tuple[datetime, timedelta]
) -> None:
    start, end = window[0], window[0] + window[1]
    shifts = render_shifts(schedule, start, end)
    for shift in shifts:
        assert start <= shift.start < shift.end <= end
        assert shift.start.tzinfo is UTC
    for a, b in pairwise(shifts):
        assert a.end <= b.start
        assert not (a.end == b.start and a.user_id == b.user_id)


@settings(max_examples=150, deadline=None)
@given(layer=layers(restricted=False), window=ranges)
def test_unrestricted_started_layer_covers_the_range_exactly(
    layer: Layer, window: tuple[datetime, timedelta]
) -> None:
    start, end = window[0], window[0] + window[1]
    shifts = render_shifts(Schedule(layers=(layer,)), start, end)
    assert shifts[0].start == start and shifts[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(shifts))


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), window=ranges, data=st.data())
def test_on_call_at_agrees_with_render_shifts(
    schedule: Schedule, window: tuple[datetime, timedelta], data: st.DataObject
) -> None:
    start, end = window[0], window[0] + window[1]
    shifts = render_shifts(schedule, start, end)
    probes = [s.start for s in shifts] + [s.end - timedelta(microseconds=1) for s in shifts]
    probes.append(start + data.draw(st.timedeltas(timedelta(0), window[1])) * 0.999)
    for probe in probes:
        expected = [s.user_id for s in shifts if s.start <= probe < s.end]
        assert on_call_at(schedule, probe) == expected


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.datetimes(datetime(2025, 1, 1), datetime(2026, 1, 1)),
    unit=st.sampled_from([LengthUnit.DAY, LengthUnit.WEEK]),
    window=ranges,
)
def test_day_and_week_handoffs_keep_their_local_wall_clock_time(
    zone: str, start: datetime, unit: LengthUnit, window: tuple[datetime, timedelta]
) -> None:
    start = start.replace(hour=start.hour % 16 + 4, second=0, microsecond=0)  # never in a gap
    layer = Layer((ALICE, BOB), zone, start, ShiftLength(unit))
    for handoff in handoffs(Schedule(layers=(layer,)), window[0], window[0] + window[1]):
        assert handoff.at.astimezone(ZoneInfo(zone)).time() == start.time()
        assert handoff.from_user_id is not None and handoff.from_user_id != handoff.to_user_id


@settings(max_examples=100, deadline=None)
@given(schedule=schedules(), window=ranges)
def test_handoffs_are_the_shift_starts_after_the_range_start(
    schedule: Schedule, window: tuple[datetime, timedelta]
) -> None:
    start, end = window[0], window[0] + window[1]
    expected = {s.start for s in render_shifts(schedule, start, end) if s.start > start}
    assert {h.at for h in handoffs(schedule, start, end)} - {start} == expected
