"""Read the supported payloads into `Signal`s, refusing bad input with errors naming the field.

Formats: PagerDuty Events API v2 (events and change events), Alertmanager webhook v4,
Grafana unified alerting (the Alertmanager shape plus a few fields) and generic JSON with a
configurable field mapping. Parsing is pure and cheap: bad input is refused before any I/O.

Limits (each names the field when exceeded): MAX_ALERTS alerts per request, MAX_LABELS labels
or annotations per alert, names up to MAX_NAME characters, label values up to MAX_VALUE,
annotation values up to MAX_ANNOTATION, summaries up to 1024 (PagerDuty's own limit).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from fireline.ingest.signals import SEVERITIES, Action, Signal, cap_raw

MAX_ALERTS = 1000
MAX_LABELS = 100
MAX_NAME = 200
MAX_VALUE = 2000
MAX_ANNOTATION = 16_384
MAX_SUMMARY = 1024
MAX_DEDUP = 255
ZERO_TIME = "0001-01-01T00:00:00Z"
PD_ACTIONS: dict[str, Action] = {
    "trigger": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}
_STATUS_WORDS: dict[str, Action] = {
    "firing": "trigger",
    "trigger": "trigger",
    "triggered": "trigger",
    "alerting": "trigger",
    "problem": "trigger",
    "open": "trigger",
    "acknowledge": "acknowledge",
    "acknowledged": "acknowledge",
    "resolved": "resolve",
    "resolve": "resolve",
    "ok": "resolve",
    "recovered": "resolve",
    "closed": "resolve",
}


class BadInput(Exception):
    """The payload is invalid; `field` names the first offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = f"{field}: {message}"


def load_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput("body", f"not valid JSON ({exc})") from None


def _str(value: Any, field: str, *, limit: int, required: bool = False) -> str:
    if value is None:
        if required:
            raise BadInput(field, "is required")
        return ""
    if not isinstance(value, str):
        raise BadInput(field, "must be a string")
    if required and not value.strip():
        raise BadInput(field, "must not be empty")
    if len(value) > limit:
        raise BadInput(field, f"must be at most {limit} characters")
    return value


def _map(value: Any, field: str, *, limit: int) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(field, "must be an object")
    if len(value) > MAX_LABELS:
        raise BadInput(field, f"at most {MAX_LABELS} entries (got {len(value)})")
    out: dict[str, str] = {}
    for key, item in value.items():
        if len(key) > MAX_NAME:
            raise BadInput(field, f"names are at most {MAX_NAME} characters")
        if isinstance(item, str):
            text = item
        elif item is None or isinstance(item, bool | int | float):
            text = "" if item is None else str(item)
        else:
            text = orjson.dumps(item).decode()
        if len(text) > limit:
            raise BadInput(f"{field}.{key}", f"must be at most {limit} characters")
        out[key] = text
    return out


def _time(value: Any, field: str) -> datetime | None:
    if value is None or value == "" or value == ZERO_TIME:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadInput(field, "must be an ISO 8601 timestamp")
    text = value
    # Python accepts at most 6 fractional digits; Go sends up to 9.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits > 6:
            text = head + "." + rest[:6] + rest[digits:]
    if text.endswith(("+0000", "-0000")) or (
        len(text) > 5 and text[-5] in "+-" and text[-3] != ":"
    ):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(field, "must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year < 1970:
        return None
    return parsed.astimezone(UTC)


def severity_of(value: Any, severity_map: Mapping[str, str]) -> str:
    text = str(value or "").strip().lower()
    if text in severity_map:
        return severity_map[text]
    if text in SEVERITIES:
        return text
    return {
        "page": "critical",
        "high": "critical",
        "major": "error",
        "medium": "warning",
        "minor": "warning",
        "low": "info",
        "none": "info",
    }.get(text, "error")


# ---------------------------------------------------------------- PagerDuty Events v2


def pagerduty_key(body: Any) -> str:
    if not isinstance(body, dict):
        raise BadInput("body", "must be a JSON object")
    return _str(body.get("routing_key"), "routing_key", limit=64, required=True)


def pagerduty_event(body: dict[str, Any], raw: bytes, severity_map: Mapping[str, str]) -> Signal:
    """One Events API v2 event. A trigger without dedup_key gets a new one."""
    action = PD_ACTIONS.get(body.get("event_action"))  # type: ignore[arg-type]
    if action is None:
        raise BadInput("event_action", "must be trigger, acknowledge or resolve")
    dedup = _str(body.get("dedup_key"), "dedup_key", limit=MAX_DEDUP)
    text, truncated = cap_raw(raw)
    if action != "trigger":
        if not dedup:
            raise BadInput("dedup_key", f"is required to {action}")
        return Signal(action=action, dedup_key=dedup, raw=text, raw_truncated=truncated)
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise BadInput("payload", "is required for a trigger and must be an object")
    summary = _str(payload.get("summary"), "payload.summary", limit=MAX_SUMMARY, required=True)
    source = _str(payload.get("source"), "payload.source", limit=MAX_VALUE, required=True)
    severity = payload.get("severity")
    if severity not in SEVERITIES:
        raise BadInput("payload.severity", "must be critical, error, warning or info")
    labels = {"source": source}
    for name in ("component", "group", "class"):
        value = _str(payload.get(name), f"payload.{name}", limit=MAX_VALUE)
        if value:
            labels[name] = value
    details = payload.get("custom_details")
    annotations: dict[str, str] = {}
    if isinstance(details, dict):
        annotations = _map(details, "payload.custom_details", limit=MAX_ANNOTATION)
    elif details is not None:
        annotations = {
            "details": _str(
                details if isinstance(details, str) else orjson.dumps(details).decode(),
                "payload.custom_details",
                limit=MAX_ANNOTATION,
            )
        }
    _time(payload.get("timestamp"), "payload.timestamp")
    links: list[dict[str, Any]] = []
    raw_links = body.get("links")
    if raw_links is not None:
        if not isinstance(raw_links, list) or len(raw_links) > 50:
            raise BadInput("links", "must be a list of at most 50 {href, text}")
        for index, link in enumerate(raw_links):
            if not isinstance(link, dict):
                raise BadInput(f"links[{index}]", "must be an object")
            href = _str(link.get("href"), f"links[{index}].href", limit=2000, required=True)
            links.append(
                {
                    "href": href,
                    "text": _str(link.get("text"), f"links[{index}].text", limit=MAX_VALUE),
                }
            )
    return Signal(
        action="trigger",
        dedup_key=dedup or uuid.uuid4().hex,
        summary=summary,
        severity=severity_of(severity, severity_map),
        labels=labels,
        annotations=annotations,
        links=links,
        starts_at=None,  # PD timestamps are informational; dedup is by dedup_key only
        raw=text,
        raw_truncated=truncated,
    )


def pagerduty_change(body: dict[str, Any]) -> dict[str, Any]:
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise BadInput("payload", "is required and must be an object")
    summary = _str(payload.get("summary"), "payload.summary", limit=MAX_SUMMARY, required=True)
    source = _str(payload.get("source"), "payload.source", limit=MAX_VALUE)
    at = _time(payload.get("timestamp"), "payload.timestamp")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        raise BadInput("payload.custom_details", "must be an object")
    links = body.get("links") or []
    if not isinstance(links, list) or len(links) > 50:
        raise BadInput("links", "must be a list of at most 50 {href, text}")
    return {
        "summary": summary,
        "source": source,
        "timestamp": at.isoformat() if at else None,
        "custom_details": _map(details, "payload.custom_details", limit=MAX_ANNOTATION),
        "links": [link for link in links if isinstance(link, dict)][:50],
    }


# ---------------------------------------------------------------- Alertmanager and Grafana


def alertmanager(body: Any, severity_map: Mapping[str, str]) -> list[Signal]:
    """An Alertmanager v4 (or Grafana v1) webhook: one signal per alert in the group."""
    if not isinstance(body, dict):
        raise BadInput("body", "must be a JSON object")
    items = body.get("alerts")
    if not isinstance(items, list):
        raise BadInput("alerts", "is required and must be a list")
    if len(items) > MAX_ALERTS:
        raise BadInput("alerts", f"at most {MAX_ALERTS} alerts per request")
    external = body.get("externalURL")
    signals: list[Signal] = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]"
        if not isinstance(item, dict):
            raise BadInput(where, "must be an object")
        status = item.get("status")
        if status not in ("firing", "resolved"):
            raise BadInput(f"{where}.status", "must be firing or resolved")
        labels = _map(item.get("labels"), f"{where}.labels", limit=MAX_VALUE)
        labels = {k: v for k, v in labels.items() if not k.startswith("__")}
        annotations = _map(item.get("annotations"), f"{where}.annotations", limit=MAX_ANNOTATION)
        fingerprint = _str(item.get("fingerprint"), f"{where}.fingerprint", limit=MAX_DEDUP)
        if not fingerprint:
            if not labels:
                raise BadInput(f"{where}.labels", "an alert needs labels or a fingerprint")
            fingerprint = hashlib.sha256(
                orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)
            ).hexdigest()[:16]
        starts = _time(item.get("startsAt"), f"{where}.startsAt")
        ends = _time(item.get("endsAt"), f"{where}.endsAt")
        summary = (
            annotations.get("summary")
            or annotations.get("title")
            or annotations.get("description")
            or labels.get("alertname", "")
        )
        links = []
        for name in ("generatorURL", "dashboardURL", "panelURL", "silenceURL"):
            href = item.get(name)
            if isinstance(href, str) and href and len(href) <= 4000:
                links.append({"href": href, "text": name})
        if isinstance(external, str) and external and len(external) <= 4000:
            links.append({"href": external, "text": "externalURL"})
        text, truncated = cap_raw(orjson.dumps(item))
        signals.append(
            Signal(
                action="trigger" if status == "firing" else "resolve",
                dedup_key=fingerprint,
                summary=summary[:MAX_SUMMARY],
                severity=severity_of(labels.get("severity"), severity_map),
                labels=labels,
                annotations=annotations,
                links=links,
                fingerprint=fingerprint,
                starts_at=starts,
                ends_at=ends,
                raw=text,
                raw_truncated=truncated,
            )
        )
    return signals


# ---------------------------------------------------------------- generic JSON

DEFAULT_MAPPING = {
    "summary": "summary",
    "severity": "severity",
    "dedup_key": "dedup_key",
    "status": "status",
    "labels": "labels",
    "annotations": "annotations",
}


def _path(doc: Any, path: str) -> Any:
    current = doc
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def generic(body: Any, mapping: Mapping[str, str], severity_map: Mapping[str, str]) -> list[Signal]:
    """Any JSON object (or a list of them) read through a field mapping."""
    docs = body if isinstance(body, list) else [body]
    if len(docs) > MAX_ALERTS:
        raise BadInput("body", f"at most {MAX_ALERTS} events per request")
    paths = {**DEFAULT_MAPPING, **mapping}
    signals = []
    for index, doc in enumerate(docs):
        where = f"[{index}]" if isinstance(body, list) else ""
        if not isinstance(doc, dict):
            raise BadInput(where or "body", "must be a JSON object")

        def name(f: str, where: str = where) -> str:
            return f"{where}.{paths[f]}" if where else paths[f]

        summary_value = _path(doc, paths["summary"])
        if summary_value is not None and not isinstance(summary_value, str):
            summary_value = str(summary_value)
        summary = _str(summary_value, name("summary"), limit=MAX_SUMMARY, required=True)
        status_value = _path(doc, paths["status"])
        action: Action = "trigger"
        if status_value is not None:
            found = _STATUS_WORDS.get(str(status_value).strip().lower())
            if found is None:
                raise BadInput(name("status"), "must be firing/trigger, acknowledged or resolved")
            action = found
        labels = _map(_path(doc, paths["labels"]), name("labels"), limit=MAX_VALUE)
        annotations = _map(
            _path(doc, paths["annotations"]), name("annotations"), limit=MAX_ANNOTATION
        )
        dedup_value = _path(doc, paths["dedup_key"])
        if dedup_value is not None and not isinstance(dedup_value, str):
            dedup_value = str(dedup_value)
        dedup = _str(dedup_value, name("dedup_key"), limit=MAX_DEDUP)
        if not dedup:
            dedup = hashlib.sha256(summary.encode()).hexdigest()[:32]
        text, truncated = cap_raw(orjson.dumps(doc))
        signals.append(
            Signal(
                action=action,
                dedup_key=dedup,
                summary=summary,
                severity=severity_of(_path(doc, paths["severity"]), severity_map),
                labels=labels,
                annotations=annotations,
                raw=text,
                raw_truncated=truncated,
            )
        )
    return signals
