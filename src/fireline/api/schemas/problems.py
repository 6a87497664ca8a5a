"""Problem and known-error request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from fireline.api.schemas.common import NamedRef, Out, Ref, Strict, UserRef
from fireline.api.schemas.incidents import (
    Body,
    Description,
    LabelKey,
    LabelValue,
    TimelineEventOut,
    Title,
)
from fireline.domain.priority import Priority

Text20k = Annotated[str, StringConstraints(max_length=20_000)]
Reason = Annotated[str, StringConstraints(max_length=500)]
WatchDays = Annotated[int, Field(ge=1, le=365)]
Keyword = Annotated[str, StringConstraints(min_length=1, max_length=100)]
FixStatusName = Literal["none", "planned", "in_progress", "released"]


class ProblemCreate(Strict):
    title: Title
    description: Description = ""
    priority: Priority = Priority.P3
    origin: Literal["reactive", "proactive"] = "proactive"
    owner_team: Ref | None = None
    owner_user: Ref | None = None
    services: Annotated[list[Ref], Field(max_length=50)] = []
    incidents: Annotated[
        list[Ref], Field(max_length=500, description="Incidents to link at once (id or INC-n).")
    ] = []
    watch_days: WatchDays = Field(
        default=30, description="Days to watch for recurrence after the problem is resolved."
    )


class ProblemUpdate(Strict):
    """Only the fields present are changed. `version` (optional) guards against lost updates."""

    version: Annotated[int, Field(ge=1)] | None = None
    title: Title | None = None
    description: Description | None = None
    priority: Priority | None = None
    owner_team: Ref | None = None
    owner_user: Ref | None = None
    services: Annotated[list[Ref], Field(max_length=50)] | None = None
    watch_days: WatchDays | None = None
    workaround: Text20k | None = None


class ProblemTransitionIn(Strict):
    action: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="A lifecycle action; see `allowed_actions` on the problem."
    )
    root_cause: Text20k | None = None
    workaround: Text20k | None = None
    fix_description: Text20k | None = None
    reason: Reason | None = None
    version: Annotated[int, Field(ge=1)] | None = None


class LinkIncidentIn(Strict):
    incident: Ref = Field(description="Incident id or reference (INC-42).")
    reason: Reason = ""


class ChangeIn(Strict):
    change_ref: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    description: Description = ""


class RcaIn(Strict):
    """The whole structured root-cause analysis, replacing the stored one.

    Validated by the domain so errors name the path (`five_whys[2].answer`,
    `fishbone.people[0]`). Fishbone categories: people, process, technology, environment,
    suppliers, measurement, materials.
    """

    five_whys: list[Any] = Field(
        default=[], description='Ordered steps: [{"why": "...", "answer": "..."}], at most 10.'
    )
    fishbone: dict[str, Any] = Field(
        default={}, description='Causes per category: {"process": ["No load test"]}.'
    )
    contributing_factors: list[Any] = Field(
        default=[], description='[{"description": "...", "category": "people"}]'
    )
    root_cause: str | None = Field(default=None, description="The root-cause statement.")
    version: Annotated[int, Field(ge=1)] | None = None


class NoteIn(Strict):
    body: Body


class AutoCreateIn(Strict):
    priorities: Annotated[list[Priority], Field(max_length=4)]


class AutoCreateOut(Out):
    priorities: list[str]


class LinkedIncidentOut(Out):
    id: int
    ref: str
    title: str
    status: str
    priority: str
    detected_at: datetime
    linked_at: datetime
    linked_by: str
    reason: str


class LinkedChangeOut(Out):
    id: int
    change_ref: str
    description: str
    linked_at: datetime
    linked_by: str


class VerificationOut(Out):
    state: str = Field(description="none | watching | verified | failed")
    watch_days: int
    verify_until: datetime | None
    verified_at: datetime | None
    signature: dict[str, Any]


class KnownErrorRefOut(Out):
    id: int
    ref: str
    title: str
    fix_status: str
    active: bool


class ProblemOut(Out):
    id: int
    ref: str
    title: str
    description: str
    status: str
    priority: str
    origin: str
    owner_team: NamedRef | None
    owner_user: UserRef | None
    services: list[NamedRef]
    root_cause: str | None
    workaround: str | None
    rca: dict[str, Any]
    fix_change_ref: str | None
    fix_description: str | None
    incident_count: int
    origin_incident: str | None
    known_error: KnownErrorRefOut | None
    verification: VerificationOut
    version: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]
    incidents: list[LinkedIncidentOut]
    changes: list[LinkedChangeOut]


class ProblemTimelineOut(Out):
    problem: str
    events: list[TimelineEventOut]


class KnownErrorCreate(Strict):
    title: Title
    symptoms: Text20k = ""
    root_cause: Text20k = ""
    workaround: Text20k = ""
    fix_status: FixStatusName = "none"
    services: Annotated[list[Ref], Field(max_length=50)] = []
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=50)] = Field(
        default={}, description="Label equality matchers (all must match)."
    )
    keywords: Annotated[list[Keyword], Field(max_length=50)] = []
    problem: Ref | None = Field(default=None, description="Problem id or reference (PRB-7).")
    active: bool = True


class KnownErrorUpdate(Strict):
    title: Title | None = None
    symptoms: Text20k | None = None
    root_cause: Text20k | None = None
    workaround: Text20k | None = None
    fix_status: FixStatusName | None = None
    services: Annotated[list[Ref], Field(max_length=50)] | None = None
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=50)] | None = None
    keywords: Annotated[list[Keyword], Field(max_length=50)] | None = None
    problem: Ref | None = None
    active: bool | None = None


class KnownErrorOut(Out):
    id: int
    ref: str
    title: str
    symptoms: str
    root_cause: str
    workaround: str
    fix_status: str
    services: list[NamedRef]
    labels: dict[str, str]
    keywords: list[str]
    problem: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class IncidentKnownErrorOut(Out):
    known_error: KnownErrorOut
    matched_at: datetime
    score: float
    reasons: list[str]


class IncidentKnownErrorsOut(Out):
    incident: str
    matches: list[IncidentKnownErrorOut]


class IncidentProblemsOut(Out):
    incident: str
    problems: list[ProblemOut]
