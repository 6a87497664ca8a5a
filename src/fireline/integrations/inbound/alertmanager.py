"""Prometheus Alertmanager `webhook_config` payloads (version "4") → `AlertEvent`s.

One webhook carries a group: firing **and** resolved alerts. Each alert becomes one event:
`status: firing` → trigger, `resolved` → resolve. The dedup key is the alert's `fingerprint` (a
hash of its labels, the same across re-fires); `(fingerprint, startsAt)` identifies one instance
and is kept as `fingerprint`/`starts_at`. Alertmanager repeats deliveries (every
`repeat_interval`, and again after any non-2xx), so the caller must treat repeats idempotently.

`endsAt` is Go's zero time `0001-01-01T00:00:00Z` while an alert fires; it becomes None, and a
firing alert never carries an end time. Timestamps are normalised to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fireline.domain.alert_grouping import (
    MAX_DEDUP_KEY,
    Action,
    AlertEvent,
    Link,
    Severity,
    derive_dedup_key,
    normalise_severity,
)
from fireline.errors import InvalidField
from fireline.integrations.inbound import (
    check_batch,
    check_labels,
    clip_annotations,
    clip_summary,
    collect_links,
    http_link,
    require_object,
    to_utc,
    validate_model,
)

SOURCE = "alertmanager"
VERSION = "4"
SUMMARY_ANNOTATIONS = ("summary", "title", "message", "description")
HOST_LABELS = ("instance", "host", "hostname", "node", "pod")


class AlertmanagerAlert(BaseModel):
    """One entry of `alerts[]` (shared with Grafana, which extends it)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime | None = Field(default=None, alias="startsAt")
    ends_at: AwareDatetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str | None = Field(default=None, max_length=MAX_DEDUP_KEY)


class AlertFields(Protocol):
    """What `event_from_alert` reads from one alert (a validated model or a fast-path tuple)."""

    @property
    def status(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def annotations(self) -> Mapping[str, str]: ...
    @property
    def starts_at(self) -> datetime | None: ...
    @property
    def ends_at(self) -> datetime | None: ...
    @property
    def generator_url(self) -> str: ...
    @property
    def fingerprint(self) -> str | None: ...


class _Checked(NamedTuple):
    """One alert that passed the fast-path checks (same fields as `AlertmanagerAlert`)."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str
    fingerprint: str | None


class AlertmanagerPayload(BaseModel):
    """The top level of a webhook; group-level fields are informational only."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str | None = None
    status: str | None = None
    receiver: str = ""
    group_key: str = Field(default="", alias="groupKey")
    external_url: str = Field(default="", alias="externalURL")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    alerts: list[AlertmanagerAlert]


def summary_of(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """The first non-blank of the summary-like annotations, else `alertname (instance)`."""
    for name in SUMMARY_ANNOTATIONS:
        text = annotations.get(name, "").strip()
        if text:
            return text
    name = labels.get("alertname", "").strip() or "Alert"
    instance = labels.get("instance", "").strip()
    return f"{name} ({instance})" if instance else name


def host_of(labels: Mapping[str, str]) -> str:
    """The affected host: the first of the usual host labels that is set."""
    return next((labels[n] for n in HOST_LABELS if labels.get(n, "").strip()), "")


def event_from_alert(
    alert: AlertFields,
    *,
    source: str,
    path: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    extra_links: Sequence[Link | None] = (),
    dedup_extra: str = "",
    default_severity: Severity,
    raw_size: int | None,
) -> AlertEvent:
    """Build the event for one (already label-filtered) Alertmanager-shaped alert."""
    checked_labels = check_labels(labels, f"{path}.labels")
    clipped, cut_annotations = clip_annotations(annotations, f"{path}.annotations")
    summary, cut_summary = clip_summary(summary_of(checked_labels, clipped))
    firing = alert.status == "firing"
    starts_at = to_utc(alert.starts_at, f"{path}.startsAt")
    ends_at = None if firing else to_utc(alert.ends_at, f"{path}.endsAt")
    fingerprint = (alert.fingerprint or "").strip() or None
    dedup_key = fingerprint or derive_dedup_key(source, checked_labels, extra=dedup_extra)
    severity = normalise_severity(checked_labels.get("severity")) or default_severity
    links = [http_link(alert.generator_url, "Source"), *extra_links]
    links.append(http_link(clipped.get("runbook_url"), "Runbook"))
    truncated = (("summary",) if cut_summary else ()) + (
        ("annotations",) if cut_annotations else ()
    )
    return AlertEvent(
        source=source,
        action=Action.TRIGGER if firing else Action.RESOLVE,
        dedup_key=dedup_key,
        summary=summary,
        severity=severity,
        source_host=host_of(checked_labels)[:255],
        labels=checked_labels,
        annotations=clipped,
        links=collect_links(links),
        occurred_at=starts_at if firing else ends_at,
        starts_at=starts_at,
        ends_at=ends_at,
        fingerprint=fingerprint,
        raw_size=raw_size,
        truncated=truncated,
    )


def parse_alertmanager(
    body: object,
    *,
    default_severity: Severity = Severity.ERROR,
    raw_size: int | None = None,
) -> list[AlertEvent]:
    """Parse a decoded Alertmanager v4 webhook into one event per alert, in payload order.

    Severity comes from the `severity` label (normalised; `default_severity` when missing or
    unknown). `raw_size` (bytes of the request body, if known) is stamped on every event.
    Raises `InvalidField`/`InvalidEvent` naming the field, e.g. `alerts[3].labels`,
    `alerts[0].startsAt`, `version` (anything but "4"; Grafana's "1" goes to the Grafana
    parser), `alerts` (more than MAX_ALERTS_PER_BATCH).
    """
    data = require_object(body)
    version = data.get("version")
    if version is not None and version != VERSION:
        hint = " (a Grafana payload: use the Grafana hook)" if version == "1" else ""
        raise InvalidField("version", f'must be "{VERSION}"{hint}')
    check_batch(data.get("alerts"))
    alerts: Sequence[AlertFields] | None = _fast_alerts(data)
    if alerts is None:
        alerts = validate_model(AlertmanagerPayload, data).alerts
    return [
        event_from_alert(
            alert,
            source=SOURCE,
            path=f"alerts[{i}]",
            labels=alert.labels,
            annotations=alert.annotations,
            default_severity=default_severity,
            raw_size=raw_size,
        )
        for i, alert in enumerate(alerts)
    ]


# ---------------------------------------------------------------- fast path
#
# Alertmanager sends the same well-formed shape every time. Checking it directly is several
# times cheaper than pydantic validation plus model objects. Anything the fast path is not
# sure about (a missing or mistyped field, an unusual timestamp) returns None and the payload
# goes through `AlertmanagerPayload`, which produces the precise error messages; so the fast
# path accepts exactly a subset of what the model accepts, with the same values.

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})")
_TIMES: dict[str, datetime] = {}
_TIMES_MAX = 4096
_TOP_STR = ("status", "receiver", "groupKey", "externalURL")


def _time(value: object) -> datetime | bool | None:
    """A timestamp string as an aware datetime, None for null, False when unsure."""
    if value is None:
        return None
    if type(value) is not str:
        return False
    found = _TIMES.get(value)
    if found is not None:
        return found
    if _RFC3339.fullmatch(value) is None:
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    if parsed.utcoffset() is None:
        return False
    if len(_TIMES) >= _TIMES_MAX:
        _TIMES.clear()
    _TIMES[value] = parsed
    return parsed


def _strings(value: object) -> dict[str, str] | None:
    if type(value) is not dict:
        return None
    for name, text in value.items():
        if type(name) is not str or type(text) is not str:
            return None
    return value


def _fast_alerts(data: Mapping[str, Any]) -> list[_Checked] | None:
    """The alerts of a well-formed payload, or None to take the validating path."""
    for name in _TOP_STR:
        value = data.get(name)
        if value is not None and type(value) is not str:
            return None
    if "receiver" in data and data["receiver"] is None:
        return None
    truncated = data.get("truncatedAlerts", 0)
    if type(truncated) is not int:
        return None
    checked: list[_Checked] = []
    for alert in data["alerts"]:
        if type(alert) is not dict:
            return None
        status = alert.get("status")
        if status != "firing" and status != "resolved":
            return None
        labels = _strings(alert.get("labels"))
        annotations = _strings(alert.get("annotations", {}))
        if labels is None or annotations is None:
            return None
        starts_at = _time(alert.get("startsAt"))
        ends_at = _time(alert.get("endsAt"))
        if starts_at is False or ends_at is False:
            return None
        url = alert.get("generatorURL", "")
        fingerprint = alert.get("fingerprint")
        if type(url) is not str or (
            fingerprint is not None
            and (type(fingerprint) is not str or len(fingerprint) > MAX_DEDUP_KEY)
        ):
            return None
        checked.append(
            _Checked(status, labels, annotations, starts_at, ends_at, url, fingerprint)  # type: ignore[arg-type]
        )
    return checked
