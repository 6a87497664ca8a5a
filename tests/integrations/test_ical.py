from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import recurring_ical_events
from icalendar import Calendar

from fireline.domain.rotation import Layer, Override, Schedule, Shift, ShiftLength, render_shifts
from fireline.errors import InvalidField
from fireline.integrations.outbound.ical import build_oncall_calendar, shift_uid

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SCHEDULE = Schedule(
    layers=(
        Layer(
            users=(1, 2),
            time_zone="Europe/Berlin",
            start=datetime(2026, 10, 19, 9, 0),
            length=ShiftLength.daily(),
        ),
    ),
    overrides=(
        Override(3, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 24, 14, tzinfo=UTC)),
    ),
)
START, END = datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)


def feed(name: str = "Primary, SRE; EU") -> bytes:
    return build_oncall_calendar(
        schedule_id=7,
        schedule_name=name,
        shifts=render_shifts(SCHEDULE, START, END),
        now=NOW,
        user_names={1: "Alice", 2: "Bob"},
        url="https://fireline.example/schedules/7",
    )


def test_feed_has_calendar_properties() -> None:
    raw = feed()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    calendar = Calendar.from_ical(raw)
    assert str(calendar["PRODID"]) == "-//Fireline//On-call//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert b"X-WR-CALNAME:Primary\\, SRE\\; EU\r\n" in raw
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in raw


def test_events_match_rendered_shifts_in_utc_with_stable_uids() -> None:
    shifts = render_shifts(SCHEDULE, START, END)
    events = Calendar.from_ical(feed()).walk("VEVENT")
    assert len(events) == len(shifts)
    for event, shift in zip(events, shifts, strict=True):
        assert event.decoded("DTSTART") == shift.start
        assert event.decoded("DTEND") == shift.end
        assert event.decoded("DTSTART").tzinfo is not None
        assert event.decoded("DTSTAMP") == NOW
        assert str(event["SUMMARY"]) == "On call: Primary, SRE; EU"
        assert str(event["UID"]) == shift_uid(7, shift)
        assert "DURATION" not in event
    first = shifts[0]
    assert shift_uid(7, first) == f"shift-7-{first.user_id}-20261023T000000Z@fireline"
    assert feed() == feed()  # regenerating yields identical bytes, so identical UIDs
    assert b"DTSTART:20261024T120000Z\r\n" in feed()  # the override, in UTC
    assert b"DESCRIPTION:Alice is on call for Primary\\, SRE\\; EU." in feed()


def test_recurring_ical_events_sees_each_shift_once() -> None:
    calendar = Calendar.from_ical(feed())
    day = recurring_ical_events.of(calendar).between(
        datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)
    )
    starts = sorted(e.decoded("DTSTART") for e in day)
    expected = [
        s.start
        for s in render_shifts(SCHEDULE, START, END)
        if s.start < datetime(2026, 10, 25, tzinfo=UTC)
        and s.end > datetime(2026, 10, 24, tzinfo=UTC)
    ]
    assert starts == expected
    assert any(str(e["UID"]).startswith("shift-7-3-") for e in day)


def test_long_unicode_names_are_folded_at_75_octets() -> None:
    raw = feed("Bereitschaft Zahlungsverkehr – Frühdienst für Überweisungen und Lastschriften ✓")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75
    summary = Calendar.from_ical(raw).walk("VEVENT")[0]["SUMMARY"]
    assert str(summary).endswith("Lastschriften ✓")


def test_empty_feed_and_validation() -> None:
    raw = build_oncall_calendar(schedule_id="s", schedule_name="x", shifts=[], now=NOW)
    assert Calendar.from_ical(raw).walk("VEVENT") == []
    with pytest.raises(InvalidField):
        build_oncall_calendar(schedule_id=1, schedule_name="x", shifts=[], now=datetime(2026, 1, 1))
    with pytest.raises(InvalidField):
        build_oncall_calendar(
            schedule_id=1,
            schedule_name="x",
            shifts=[Shift(1, NOW, NOW + timedelta(hours=1))],
            now=NOW,
            refresh=timedelta(seconds=5),
        )
