"""Request and response bodies for integrations, alerts, noise control and alert settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from fireline.api.schemas.common import Out, Ref, Strict

Name = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]
IntegrationKind = Literal["pagerduty", "alertmanager", "grafana", "generic", "heartbeat"]


class IntegrationCreate(Strict):
    type: IntegrationKind
    service: Ref
    name: Name
    config: dict[str, Any] | None = None


class IntegrationUpdate(Strict):
    name: Name | None = None
    service: Ref | None = None
    config: dict[str, Any] | None = None


class IntegrationOut(Out):
    id: int
    type: str
    name: str
    service_id: int
    key_prefix: str
    config: dict[str, Any]
    url: str = Field(description="Where the tool sends; `{key}` stands for the key.")
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    last_event_at: datetime | None


class IntegrationIssued(IntegrationOut):
    key: str = Field(description="The integration key. Shown only now; store it.")


class AlertOut(Out):
    id: int
    integration_id: int
    service_id: int
    source: str
    dedup_key: str
    fingerprint: str | None
    status: str
    summary: str
    severity: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    links: list[Any]
    group_key: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    starts_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    occurrence_count: int
    incident_id: int | None
    flapping: bool
    suppressed: bool
    suppressed_reason: str | None
    noise: bool
    noise_reason: str | None


class AlertDetail(AlertOut):
    raw: str | None
    raw_truncated: bool


class NoiseIn(Strict):
    reason: Reason


class NoiseMarked(Out):
    alerts: int


class SilenceIn(Strict):
    matchers: dict[str, str] = Field(
        description="label -> value; `~regex` matches a pattern, `!value` negates, "
        "`!~regex` must not match; `severity`, `summary`, `source` also match the alert's fields"
    )
    reason: Reason
    ends_at: AwareDatetime
    starts_at: AwareDatetime | None = None
    service: Ref | None = None


class SilenceUpdate(Strict):
    matchers: dict[str, str] | None = None
    reason: Reason | None = None
    ends_at: AwareDatetime | None = None
    starts_at: AwareDatetime | None = None


class SilenceOut(Out):
    id: int
    service_id: int | None
    matchers: dict[str, Any]
    reason: str
    starts_at: datetime
    ends_at: datetime
    created_by: int | None
    created_at: datetime


class MaintenanceIn(Strict):
    service: Ref
    ends_at: AwareDatetime
    starts_at: AwareDatetime | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class MaintenanceOut(Out):
    id: int
    service_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: int | None
    created_at: datetime


class AlertSettingsOut(Out):
    service_id: int
    settings: dict[str, Any]


class NoiseRow(Out):
    integration_id: int
    name: str
    service_id: int
    rule: str | None
    alerts: int
    noise: int
    flapping: int
    suppressed: int
