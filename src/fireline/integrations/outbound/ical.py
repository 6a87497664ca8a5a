"""iCalendar (RFC 5545) feed of on-call shifts, built with `icalendar` (pure: bytes out).

The feed lists concrete shift instances (overrides already applied by
`fireline.domain.rotation.render_shifts`) in UTC, without RRULE/EXDATE, so calendar apps show
local time and never have to understand our rotation rules. UIDs depend only on schedule, user
and start, so a re-generated feed updates events instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vText

from fireline.domain.rotation import Shift
from fireline.errors import InvalidField

PRODID = "-//Fireline//On-call//EN"
UID_DOMAIN = "fireline"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def shift_uid(schedule_id: int | str, shift: Shift) -> str:
    """Return `shift-<schedule_id>-<user_id>-<start as 20261123T080000Z>@fireline`."""
    return f"shift-{schedule_id}-{shift.user_id}-{_stamp(shift.start)}@{UID_DOMAIN}"


def build_oncall_calendar(
    *,
    schedule_id: int | str,
    schedule_name: str,
    shifts: Sequence[Shift],
    now: datetime,
    user_names: Mapping[int, str] | None = None,
    url: str | None = None,
    refresh: timedelta = timedelta(hours=1),
) -> bytes:
    """Return a UTF-8, CRLF-terminated VCALENDAR with one VEVENT per shift.

    `now` (aware) becomes every DTSTAMP. SUMMARY is `On call: <schedule_name>`; DESCRIPTION
    names the user when `user_names` knows them; `url` (e.g. the schedule page) is added to each
    event. `refresh` sets REFRESH-INTERVAL and X-PUBLISHED-TTL. Raises `InvalidField("now")`
    for a naive `now` and `InvalidField("refresh")` below one minute.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidField("now", "must be timezone-aware")
    if refresh < timedelta(minutes=1):
        raise InvalidField("refresh", "must be at least one minute")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", vText(schedule_name))
    calendar.add("x-wr-calname", vText(schedule_name))
    calendar.add("x-wr-timezone", "UTC")
    calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", refresh)
    stamp = now.astimezone(UTC)
    for shift in sorted(shifts, key=lambda s: (s.start, s.user_id)):
        event = Event()
        event.add("uid", shift_uid(schedule_id, shift))
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("summary", f"On call: {schedule_name}")
        name = (user_names or {}).get(shift.user_id)
        if name is not None:
            event.add("description", f"{name} is on call for {schedule_name}.")
        if url is not None:
            event.add("url", url)
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    feed: bytes = calendar.to_ical()
    return feed
