"""Pydantic I/O for schedules, overrides, on-call queries, calendar tokens, escalation
policies, paging, contact methods and notification rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from fireline.api.schemas.common import NamedRef, Out, Ref, Strict, UserRef

LocalTime = Annotated[
    str,
    StringConstraints(pattern=r"^([01]\d|2[0-4]):[0-5]\d(:[0-5]\d)?$"),
    Field(description="Local wall-clock time HH:MM; `24:00` as an end means until midnight."),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=120)]
ZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), Field(examples=["Europe/Berlin"])
]


# ---------------------------------------------------------------- schedules


class Length(Strict):
    unit: Literal["hour", "day", "week"] = Field(
        description="`day`/`week` count local calendar days (DST-safe); "
        "`hour` counts elapsed hours."
    )
    count: Annotated[int, Field(ge=1, le=10_000)] = 1


class Restriction(Strict):
    """The rotation only pages inside these local windows (e.g. business hours)."""

    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")]
    start: LocalTime
    end: LocalTime


class LayerIn(Strict):
    name: Annotated[str, StringConstraints(max_length=120)] = ""
    users: list[Ref] = Field(description="Ordered: the first user holds the first shift.")
    time_zone: ZoneName
    start: datetime = Field(
        description="First hand-off as LOCAL wall-clock time in `time_zone`, without offset, "
        "e.g. `2026-03-02T09:00`."
    )
    length: Length
    restrictions: list[Restriction] = Field(default_factory=list, max_length=100)


class LayerOut(Out):
    name: str
    users: list[int]
    time_zone: str
    start: str
    length: Length
    restrictions: list[Restriction]


class ScheduleIn(Strict):
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    time_zone: ZoneName = "UTC"
    team: Ref | None = None
    layers: list[LayerIn] = Field(
        default_factory=list, max_length=20, description="Bottom first; upper layers win."
    )


class ScheduleOut(Out):
    id: int
    name: str
    description: str
    time_zone: str
    team_id: int | None
    layers: list[LayerOut]
    version: int
    created_at: datetime
    updated_at: datetime


class ShiftOut(Out):
    user: UserRef
    start: datetime
    end: datetime


class OverrideIn(Strict):
    user: Ref
    start: AwareDatetime
    end: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class OverrideOut(Out):
    id: int
    schedule_id: int
    user_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str
    swap_id: str | None
    created_by: int | None
    created_at: datetime


class SwapIn(Strict):
    """Trade the shift running at `first` with the one running at `second`."""

    first: AwareDatetime
    second: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class ScheduleOnCallOut(Out):
    schedule: NamedRef
    team: NamedRef | None
    at: datetime
    users: list[UserRef]


class TeamOnCallOut(Out):
    team: NamedRef
    users: list[UserRef]
    schedules: list[NamedRef]


class ServiceOnCallOut(Out):
    service: NamedRef
    policy: NamedRef
    levels: list[list[UserRef]] = Field(description="Who each level would page at `at`.")


class OnCallOut(Out):
    at: datetime
    schedules: list[ScheduleOnCallOut]
    teams: list[TeamOnCallOut]
    services: list[ServiceOnCallOut]


class CalendarTokenOut(Out):
    id: int
    prefix: str
    schedule_id: int | None
    user_id: int | None
    created_at: datetime


class CalendarTokenIssued(CalendarTokenOut):
    token: str = Field(description="Shown only once.")
    url: str = Field(description="Subscribe to this URL (or its webcal:// form).")


# ---------------------------------------------------------------- policies


class TargetIn(Strict):
    kind: Literal["user", "schedule", "team"]
    id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class LevelIn(Strict):
    targets: list[TargetIn]
    delay_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = Field(
        description="Minutes before the next level is paged."
    )


class PolicyIn(Strict):
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    team: Ref | None = None
    repeat: Annotated[int, Field(ge=0, le=20)] = Field(
        0, description="Extra rounds through all levels after the first."
    )
    levels: list[LevelIn] = Field(max_length=20)


class PolicyOut(Out):
    id: int
    name: str
    description: str
    team_id: int | None
    repeat: int
    levels: list[dict[str, Any]]
    version: int
    created_at: datetime
    updated_at: datetime


class ServicePolicyIn(Strict):
    policy_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None


class ServicePolicyOut(Out):
    service_id: int
    policy_id: int | None


class PageIn(Strict):
    target: TargetIn


class PageOut(Out):
    paged_user_ids: list[int]


class EscalationOut(Out):
    id: int
    incident_id: int
    policy_id: int | None
    assignee_id: int | None
    state: str
    level: int = Field(description="Level last entered (0-based); -1 = assignee paged first.")
    round: int
    started_at: datetime
    level_entered_at: datetime | None
    next_due: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None


# ---------------------------------------------------------------- notifications


class ContactMethodIn(Strict):
    kind: Literal["email", "webhook", "slack", "teams"]
    address: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="An e-mail address, or the http(s) URL of the webhook."
    )
    label: Annotated[str, StringConstraints(max_length=120)] = ""


class ContactMethodUpdate(Strict):
    address: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    label: Annotated[str, StringConstraints(max_length=120)] | None = None
    enabled: bool | None = None
    rotate_secret: bool = False


class ContactMethodOut(Out):
    id: int
    user_id: int
    kind: str
    label: str
    address: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    secret: str | None = Field(
        None,
        description="Webhook signing secret (whsec_…): returned only on creation or rotation.",
    )


class RuleIn(Strict):
    contact_method_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    delay_minutes: Annotated[int, Field(ge=0, le=1440)] = 0
    urgency: Literal["high", "low"] | None = None


class RuleOut(Out):
    id: int
    user_id: int
    contact_method_id: int
    delay_minutes: int
    urgency: str | None
    created_at: datetime
