"""Grafana unified alerting webhook contact point (payload `version: "1"`) → `AlertEvent`s.

Grafana sends the Alertmanager shape plus `orgId`, `state` (`alerting`/`ok`), templated
`title`/`message`, and per alert `silenceURL`, `dashboardURL`, `panelURL`, `imageURL`, `values`,
`valueString`, `ruleUID`. Differences from Alertmanager handled here: timestamps keep the
sender's offset (`+02:00`) and are normalised to UTC; labels and annotations whose name starts
with `__` (Grafana internals such as `__alert_rule_uid__`, `__value_string__`) are stripped; the
dedup key is Grafana's `fingerprint` when sent, else a hash of the remaining labels and the rule
UID. The top-level `title` is the summary of last resort.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from fireline.domain.alert_grouping import AlertEvent, JSONValue, Link, Severity
from fireline.errors import InvalidField
from fireline.integrations.inbound import (
    check_batch,
    clip_summary,
    http_link,
    require_object,
    validate_model,
)
from fireline.integrations.inbound.alertmanager import (
    SUMMARY_ANNOTATIONS,
    AlertmanagerAlert,
    event_from_alert,
)

SOURCE = "grafana"
VERSION = "1"
INTERNAL_PREFIX = "__"


class GrafanaAlert(AlertmanagerAlert):
    """An `ExtendedAlert`: the Alertmanager alert plus Grafana's links and values."""

    silence_url: str = Field(default="", alias="silenceURL")
    dashboard_url: str = Field(default="", alias="dashboardURL")
    panel_url: str = Field(default="", alias="panelURL")
    image_url: str = Field(default="", alias="imageURL")
    values: dict[str, JsonValue] | None = None
    value_string: str = Field(default="", alias="valueString")
    rule_uid: str = Field(default="", alias="ruleUID")


class GrafanaPayload(BaseModel):
    """A Grafana `WebhookMessage`."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str | None = None
    org_id: int | None = Field(default=None, alias="orgId")
    state: str = ""
    title: str = ""
    message: str = ""
    status: str | None = None
    receiver: str = ""
    group_key: str = Field(default="", alias="groupKey")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[GrafanaAlert]


def is_grafana_payload(body: object) -> bool:
    """Whether a decoded webhook is Grafana's rather than Alertmanager's (one shared endpoint).

    True when it has `orgId`, or `version` "1" together with `state`.
    """
    if not isinstance(body, Mapping):
        return False
    return "orgId" in body or (body.get("version") == VERSION and "state" in body)


def _public(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in mapping.items() if not k.startswith(INTERNAL_PREFIX)}


def parse_grafana(
    body: object,
    *,
    default_severity: Severity = Severity.ERROR,
    raw_size: int | None = None,
) -> list[AlertEvent]:
    """Parse a decoded Grafana unified-alerting webhook into one event per alert, in order.

    `firing` → trigger, `resolved` → resolve; severity from the `severity` label
    (`default_severity` when missing or unknown). Values (`values`, `valueString`) go to
    `details`; Grafana's URLs become links (the image as an image). Raises
    `InvalidField`/`InvalidEvent` naming the field (`alerts[2].startsAt`, `version`, `alerts`).
    """
    data = require_object(body)
    version = data.get("version")
    if version is not None and version != VERSION:
        raise InvalidField("version", f'must be "{VERSION}" for Grafana unified alerting')
    check_batch(data.get("alerts"))
    payload = validate_model(GrafanaPayload, data)
    events: list[AlertEvent] = []
    for i, alert in enumerate(payload.alerts):
        labels = _public(alert.labels)
        annotations = _public(alert.annotations)
        extra: list[Link | None] = [
            http_link(alert.dashboard_url, "Dashboard"),
            http_link(alert.panel_url, "Panel"),
            http_link(alert.silence_url, "Silence"),
        ]
        event = event_from_alert(
            alert,
            source=SOURCE,
            path=f"alerts[{i}]",
            labels=labels,
            annotations=annotations,
            extra_links=extra,
            dedup_extra=alert.rule_uid,
            default_severity=default_severity,
            raw_size=raw_size,
        )
        details: dict[str, JSONValue] = {}
        if alert.values is not None:
            details["values"] = dict(alert.values)
        if alert.value_string:
            details["valueString"] = alert.value_string
        if payload.org_id is not None:
            details["orgId"] = payload.org_id
        if alert.rule_uid:
            details["ruleUID"] = alert.rule_uid
        image = http_link(alert.image_url, "Image")
        event = replace(event, details=details, images=(image,) if image else ())
        if _untitled(labels, annotations) and payload.title.strip():
            summary, cut = clip_summary(payload.title)
            kept = tuple(t for t in event.truncated if t != "summary")
            event = replace(event, summary=summary, truncated=kept + (("summary",) if cut else ()))
        events.append(event)
    return events


def _untitled(labels: Mapping[str, str], annotations: Mapping[str, str]) -> bool:
    """No summary-like annotation and no alertname: only the group title describes it."""
    texts = [annotations.get(name, "") for name in SUMMARY_ANNOTATIONS]
    return not labels.get("alertname", "").strip() and not any(t.strip() for t in texts)
