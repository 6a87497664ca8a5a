"""What the intake hands to the store: normalised alert signals and intake requests.

A `Signal` is one alert event after parsing and routing: the source format no longer matters.
A `Submission` is everything one HTTP request asks for; the group committer writes many
submissions in one transaction and answers each with its `Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Action = Literal["trigger", "acknowledge", "resolve"]
SEVERITIES = ("critical", "error", "warning", "info")
RAW_LIMIT = 16 * 1024


@dataclass(slots=True)
class Signal:
    action: Action
    dedup_key: str
    summary: str = ""
    severity: str = "error"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    raw: str | None = None
    raw_truncated: bool = False
    service_id: int = 0


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    """The cached facts about an integration the intake path needs (no ORM object)."""

    id: int
    type: str
    service_id: int
    config: dict[str, Any]
    revoked: bool = False


@dataclass(slots=True)
class Submission:
    """One request's work: alert signals, a change event, or a heartbeat ping."""

    integration: IntegrationInfo
    signals: list[Signal] = field(default_factory=list)
    change: dict[str, Any] | None = None
    ping: bool = False
    touch: bool = True  # False: do not count as a sign of life (heartbeat alarms)
    outcome: Outcome | None = None


@dataclass(slots=True)
class Outcome:
    """What happened to a submission, per signal: the alert id it touched (None if ignored)."""

    alert_ids: list[int | None] = field(default_factory=list)
    created: int = 0
    repeated: int = 0
    ignored: int = 0


def cap_raw(raw: bytes | str | None) -> tuple[str | None, bool]:
    """The raw payload as text, cut to RAW_LIMIT characters; (text, truncated)."""
    if raw is None:
        return None, False
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if len(text) > RAW_LIMIT:
        return text[:RAW_LIMIT], True
    return text, False
