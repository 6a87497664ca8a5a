"""Incident request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from fireline.api.schemas.common import NamedRef, Out, Ref, Strict, UserRef
from fireline.domain.incident_lifecycle import Action, CancelReason
from fireline.domain.priority import Level, Priority

Title = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Description = Annotated[str, StringConstraints(max_length=50_000)]
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
LabelValue = Annotated[str, StringConstraints(max_length=300)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class IncidentCreate(Strict):
    title: Title
    description: Description = ""
    category: Ref | None = None
    services: Annotated[list[Ref], Field(max_length=50)] = []
    impact: Level = Level.MEDIUM
    urgency: Level = Level.MEDIUM
    priority: Priority | None = Field(
        default=None, description="Override of the derived priority; needs priority_reason."
    )
    priority_reason: Annotated[str, StringConstraints(max_length=1000)] | None = None
    source: Literal["api", "manual", "user_report", "monitoring"] = "api"
    commander: Ref | None = None
    assignee: Ref | None = None
    team: Ref | None = None
    responders: Annotated[list[Ref], Field(max_length=100)] = []
    stakeholders: Annotated[list[Ref], Field(max_length=500)] = []
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=50)] = {}
    detected_at: AwareDatetime | None = None
    fingerprint: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        default=None, description="Alert fingerprint or dedup key the incident came from."
    )
    imported: bool = Field(
        default=False,
        description="History import: keep the past lifecycle given below and page no one. "
        "Implied when any of acknowledged_at, mitigated_at, resolved_at, closed_at is set.",
    )
    acknowledged_at: AwareDatetime | None = None
    mitigated_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    resolution_summary: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    cancelled: bool = Field(default=False, description="History import: declared in error.")

    @property
    def is_import(self) -> bool:
        return self.imported or any(
            (self.acknowledged_at, self.mitigated_at, self.resolved_at, self.closed_at)
        )


class IncidentUpdate(Strict):
    """Only the fields present are changed. `version` (optional) guards against lost updates."""

    version: Annotated[int, Field(ge=1)] | None = None
    title: Title | None = None
    description: Description | None = None
    category: Ref | None = None
    services: Annotated[list[Ref], Field(max_length=50)] | None = None
    impact: Level | None = None
    urgency: Level | None = None
    priority: Priority | None = None
    priority_reason: Annotated[str, StringConstraints(max_length=1000)] | None = None
    commander: Ref | None = None
    assignee: Ref | None = None
    team: Ref | None = None
    responders: Annotated[list[Ref], Field(max_length=100)] | None = None
    stakeholders: Annotated[list[Ref], Field(max_length=500)] | None = None
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=50)] | None = None


class TransitionIn(Strict):
    action: Action
    resolution_summary: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    service_stable: bool = False
    cancel_reason: CancelReason | None = None
    duplicate_of: Ref | None = None
    version: Annotated[int, Field(ge=1)] | None = None


class NoteIn(Strict):
    body: Body


class StatusUpdateIn(Strict):
    body: Body
    audience: Literal["internal", "stakeholders"] = "internal"


class IncidentOut(Out):
    id: int
    ref: str
    title: str
    description: str
    status: str
    category: str | None
    services: list[NamedRef]
    impact: str
    urgency: str
    priority: str
    priority_derived: str
    priority_override_reason: str | None
    source: str
    reporter: UserRef | None
    commander: UserRef | None
    assignee: UserRef | None
    team: NamedRef | None
    responders: list[UserRef]
    stakeholders: list[UserRef]
    labels: dict[str, str]
    resolution_summary: str | None
    cancel_reason: str | None
    duplicate_of: str | None
    imported: bool
    fingerprint: str | None
    version: int
    detected_at: datetime
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]


class TimelineEventOut(Out):
    id: int
    kind: str
    at: datetime
    actor: str = Field(validation_alias="actor_label")
    visibility: str
    body: str | None
    body_html: str | None = None
    data: dict[str, object]


class TimelineOut(Out):
    incident: str
    events: list[TimelineEventOut]
