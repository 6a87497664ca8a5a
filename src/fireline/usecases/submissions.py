"""What the intake hands to `usecases.alerts.ingest`: one `Submission` per HTTP request.

The pure parsers (`fireline.integrations.inbound`) turn a payload into `AlertEvent`s; the intake
routes each one (`domain.alert_rules.route`) to a service and wraps it as an `Incoming` with the
raw payload it came from. A `Submission` is everything one request asks for; the group
committer writes many submissions in one transaction and answers each with its `Outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fireline.domain.alert_grouping import AlertEvent, Severity
from fireline.domain.alert_rules import RoutingRule

RAW_LIMIT = 16 * 1024


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    """The facts about an integration the intake path needs, parsed once per key lookup.

    `rules` and `severity_map` are the validated forms of the stored `config`.
    """

    id: int
    type: str
    service_id: int
    config: Mapping[str, Any] = field(default_factory=dict)
    rules: tuple[RoutingRule, ...] = ()
    severity_map: Mapping[str, Severity] = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One routed alert event: the service it goes to and its raw payload (size-capped)."""

    event: AlertEvent
    service_id: int
    raw: str | None = None
    raw_truncated: bool = False


@dataclass(slots=True)
class Outcome:
    """What happened to a submission, per alert: the alert id it touched (None if ignored)."""

    alert_ids: list[int | None] = field(default_factory=list)
    created: int = 0
    repeated: int = 0
    ignored: int = 0


@dataclass(slots=True)
class Submission:
    """One request's work: alert events, a change event, or a heartbeat ping.

    `touch` False means the request is not a sign of life of the sender (the heartbeat task's
    own "missed" alarms), so `last_event_at` stays as it is.
    """

    integration: IntegrationInfo
    alerts: list[Incoming] = field(default_factory=list)
    change: dict[str, Any] | None = None
    ping: bool = False
    touch: bool = True
    outcome: Outcome | None = None


def cap_raw(raw: bytes | str | None) -> tuple[str | None, bool]:
    """The raw payload as text, cut to RAW_LIMIT characters; (text, truncated)."""
    if raw is None:
        return None, False
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if len(text) > RAW_LIMIT:
        return text[:RAW_LIMIT], True
    return text, False
