"""PagerDuty Events API v2 bodies (`/v2/enqueue` and `/v2/change/enqueue`) → events.

Validation reports **every** problem at once, as PagerDuty does: `InvalidEvent.errors` is the
list for `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`.

Rules (PagerDuty's, plus Fireline's defensive limits):
- `routing_key`: required, 32 characters (Fireline issues 32-character integration keys).
- `event_action`: `trigger` | `acknowledge` | `resolve`.
- `dedup_key`: at most 255 characters; required for acknowledge/resolve. A trigger without
  one gets a fresh key (`generated_dedup_key=True`), which the caller must return.
- trigger: `payload.summary` (cut to 1024), `payload.source`, `payload.severity`
  (`critical|error|warning|info`, any case) are required. Acknowledge/resolve may omit the
  payload; their events then have an empty summary and severity `info`, which callers must not
  copy onto the stored alert.
- optional: `payload.timestamp` (ISO 8601 with offset, → UTC), `component`, `group`, `class`
  (kept as labels of those names), `custom_details` (any JSON; a non-object is kept under
  `details["details"]`), `images[]` (`src` required; only https sources are kept), `links[]`
  (`href` required; only http(s) kept), `client`/`client_url` (a link).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, ValidationError

from fireline.domain.alert_grouping import (
    MAX_DEDUP_KEY,
    Action,
    AlertEvent,
    JSONValue,
    Link,
    Severity,
    new_dedup_key,
)
from fireline.errors import InvalidField
from fireline.integrations.inbound import (
    InvalidEvent,
    check_labels,
    clip_summary,
    collect_links,
    http_link,
    problems_of,
    require_object,
    to_utc,
)

SOURCE = "pagerduty"
ROUTING_KEY_LENGTH = 32
REDACTED = "[redacted]"
MAX_SOURCE = 255
ACTIONS = tuple(a.value for a in Action)
SEVERITIES = tuple(s.value for s in Severity)
# by their wire names, for `_fast_event` (a dict lookup costs less than calling the enum)
_ACTION_OF = {a.value: a for a in Action}
_SEVERITY_OF = {s.value: s for s in Severity}


class _Image(BaseModel):
    src: str
    href: str | None = None
    alt: str | None = None


class _Link(BaseModel):
    href: str
    text: str | None = None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    summary: str | None = None
    source: str | None = None
    severity: str | None = None
    timestamp: AwareDatetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: JsonValue = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    routing_key: str
    event_action: str
    dedup_key: str | None = None
    payload: _Payload | None = None
    images: list[_Image] | None = None
    links: list[_Link] | None = None
    client: str | None = None
    client_url: str | None = None


class _ChangePayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str | None = None
    source: str | None = None
    timestamp: AwareDatetime | None = None
    custom_details: JsonValue = None


class _ChangeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    routing_key: str
    payload: _ChangePayload
    links: list[_Link] | None = None


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A change (deploy, config push) to show next to incidents; it never pages anyone."""

    routing_key: str = field(repr=False)
    summary: str
    source: str = ""
    occurred_at: datetime | None = None
    details: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)
    links: tuple[Link, ...] = ()
    truncated: tuple[str, ...] = ()
    raw_size: int | None = None


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def _check_routing_key(data: Mapping[str, object], problems: list[tuple[str, str]]) -> None:
    key = data.get("routing_key")
    if _blank(key):
        problems.append(("routing_key", "is missing or blank"))
    elif isinstance(key, str) and len(key) != ROUTING_KEY_LENGTH:
        problems.append(
            ("routing_key", f"length is incorrect (should be {ROUTING_KEY_LENGTH} characters)")
        )


def _merge(first: list[tuple[str, str]], exc: ValidationError | None) -> list[tuple[str, str]]:
    """Rule problems, then pydantic's for fields not already reported."""
    seen = {f for f, _ in first}
    more = problems_of(exc) if exc is not None else []
    return first + [(f, m) for f, m in more if f not in seen]


def _details(value: JsonValue) -> dict[str, JSONValue]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return {"details": value}


def _links(links: list[_Link] | None) -> list[Link | None]:
    return [http_link(link.href, link.text or "") for link in links or []]


def stored_raw(raw: bytes, body: object, routing_key: str) -> bytes:
    """`raw`, the body of an event for `routing_key`, as its alert keeps it: with the key
    replaced by "[redacted]". The key is the integration's secret (Fireline stores only its
    digest), and whoever can read alerts must not be able to send events with it. The key is
    replaced where it appears as sent (anywhere in the body); a body that has it only in an
    escaped form is written out again with the field replaced."""
    if not routing_key:
        return raw
    literal = routing_key.encode()
    if literal in raw:
        return raw.replace(literal, REDACTED.encode())
    if isinstance(body, dict) and "routing_key" in body:
        return orjson.dumps({**body, "routing_key": REDACTED})
    return raw


def parse_pagerduty_event(
    body: object,
    *,
    new_key: Callable[[], str] = new_dedup_key,
    raw_size: int | None = None,
) -> list[AlertEvent]:
    """Validate one `/v2/enqueue` body and return its single event (as a list, like the others).

    `new_key` makes the dedup key for a trigger that has none (a random UUID hex by default).
    Raises `InvalidEvent` listing every problem (`routing_key`, `event_action`, `dedup_key`,
    `payload.summary`, `payload.severity`, `payload.timestamp`, `links[0].href`, …).
    """
    fast = _fast_event(body, new_key=new_key, raw_size=raw_size)
    if fast is not None:
        return [fast]
    data = require_object(body)
    problems: list[tuple[str, str]] = []
    _check_routing_key(data, problems)
    action = data.get("event_action")
    if action not in ACTIONS:
        problems.append(("event_action", f"must be one of {', '.join(ACTIONS)}"))
    dedup_key = data.get("dedup_key")
    if isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
        problems.append(("dedup_key", f"must be at most {MAX_DEDUP_KEY} characters"))
    elif action in ("acknowledge", "resolve") and _blank(dedup_key):
        problems.append(("dedup_key", f"is required to {action}"))
    raw_payload = data.get("payload")
    if action == "trigger":
        if not isinstance(raw_payload, Mapping):
            problems.append(("payload", "is required to trigger"))
        else:
            for name in ("summary", "source", "severity"):
                if _blank(raw_payload.get(name)):
                    problems.append((f"payload.{name}", "is missing or blank"))
    if isinstance(raw_payload, Mapping) and not _blank(raw_payload.get("severity")):
        severity_text = str(raw_payload.get("severity")).strip().lower()
        if severity_text not in SEVERITIES:
            problems.append(("payload.severity", f"must be one of {', '.join(SEVERITIES)}"))
    try:
        event = _Event.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(_merge(problems, exc)) from None
    if problems:
        raise InvalidEvent(problems)
    try:
        return [_alert_event(event, new_key=new_key, raw_size=raw_size)]
    except InvalidEvent:
        raise
    except InvalidField as exc:  # a limit check on an otherwise valid event
        raise InvalidEvent([_problem(exc)]) from None


def _problem(exc: InvalidField) -> tuple[str, str]:
    name = exc.field or "payload"
    return name, exc.message.removeprefix(f"{name}: ")


def _alert_event(event: _Event, *, new_key: Callable[[], str], raw_size: int | None) -> AlertEvent:
    payload = event.payload or _Payload()
    summary, cut_summary = clip_summary(payload.summary or "")
    source_host = (payload.source or "").strip()
    labels = {
        name: value
        for name, value in (
            ("component", payload.component),
            ("group", payload.group),
            ("class", payload.class_),
        )
        if value
    }
    generated = event.dedup_key is None or not event.dedup_key.strip()
    links = _links(event.links)
    if event.client_url:
        links.append(http_link(event.client_url, event.client or "Client"))
    images = [http_link(i.src, i.alt or "", https_only=True) for i in event.images or []]
    truncated = (("summary",) if cut_summary else ()) + (
        ("payload.source",) if len(source_host) > MAX_SOURCE else ()
    )
    return AlertEvent(
        source=SOURCE,
        action=Action(event.event_action),
        dedup_key=new_key() if generated else str(event.dedup_key),
        summary=summary,
        severity=Severity((payload.severity or "").strip().lower() or "info"),
        source_host=source_host[:MAX_SOURCE],
        labels=check_labels(labels, "payload"),
        details=_details(payload.custom_details),
        links=collect_links(links),
        images=collect_links(images),
        occurred_at=to_utc(payload.timestamp, "payload.timestamp"),
        routing_key=event.routing_key,
        generated_dedup_key=generated,
        raw_size=raw_size,
        truncated=truncated,
    )


# ---------------------------------------------------------------- fast path
#
# Monitoring tools send the same plain shape every time: routing key, action, dedup key and a
# payload of strings. Checking that shape directly costs a fraction of the rule checks plus
# pydantic plus model objects. Anything the fast path is not sure about (links, images, a
# timestamp, a mistyped or blank field, a limit) returns None and the body takes the full path,
# which produces the precise errors; so the fast path accepts a subset of what the full path
# accepts, with the same event.

_FAST_SKIP = ("images", "links", "client", "client_url")
_PAYLOAD_TEXT = ("summary", "source", "severity", "component", "group", "class")


def _fast_event(
    body: object, *, new_key: Callable[[], str], raw_size: int | None
) -> AlertEvent | None:
    """The event of a plain, well-formed body, or None to take the validating path."""
    if type(body) is not dict:
        return None
    key = body.get("routing_key")
    action = body.get("event_action")
    dedup_key = body.get("dedup_key")
    payload = body.get("payload")
    if (
        type(key) is not str
        or len(key) != ROUTING_KEY_LENGTH
        or not key.strip()
        or type(action) is not str
        or action not in _ACTION_OF
        or (
            dedup_key is not None and (type(dedup_key) is not str or len(dedup_key) > MAX_DEDUP_KEY)
        )
    ):
        return None
    for name in _FAST_SKIP:
        if body.get(name) is not None:
            return None
    generated = dedup_key is None or not dedup_key.strip()
    if generated and action != "trigger":
        return None
    if payload is None:
        if action == "trigger":
            return None
        payload = {}
    elif type(payload) is not dict or payload.get("timestamp") is not None:
        return None
    texts: list[str | None] = []
    for name in _PAYLOAD_TEXT:
        value = payload.get(name)
        if value is not None and type(value) is not str:
            return None
        texts.append(value)
    summary_text, source_text, severity_text, component, group, class_ = texts
    if severity_text is None:
        if action == "trigger":
            return None
        severity = Severity.INFO
    else:
        found = _SEVERITY_OF.get(severity_text.strip().lower())
        if found is None:
            return None
        severity = found
    if action == "trigger" and (
        summary_text is None
        or not summary_text.strip()
        or source_text is None
        or not source_text.strip()
    ):
        return None
    details = payload.get("custom_details")
    if details is not None and type(details) is not dict:
        return None
    summary, cut_summary = clip_summary(summary_text or "")
    source_host = (source_text or "").strip()
    labels = {
        name: value
        for name, value in (("component", component), ("group", group), ("class", class_))
        if value
    }
    truncated = (("summary",) if cut_summary else ()) + (
        ("payload.source",) if len(source_host) > MAX_SOURCE else ()
    )
    try:
        return AlertEvent(
            source=SOURCE,
            action=_ACTION_OF[action],
            dedup_key=new_key() if generated else dedup_key,  # type: ignore[arg-type]
            summary=summary,
            severity=severity,
            source_host=source_host[:MAX_SOURCE],
            labels=check_labels(labels, "payload") if labels else labels,
            details={} if details is None else details,
            routing_key=key,
            generated_dedup_key=generated,
            raw_size=raw_size,
            truncated=truncated,
        )
    except InvalidField:
        return None  # a limit: the full path reports it


def parse_change_event(body: object, *, raw_size: int | None = None) -> ChangeEvent:
    """Validate one `/v2/change/enqueue` body: `routing_key`, `payload.summary` (required, cut
    to 1024), optional `payload.source`, `payload.timestamp`, `payload.custom_details`, `links[]`.

    Raises `InvalidEvent` listing every problem.
    """
    data = require_object(body)
    problems: list[tuple[str, str]] = []
    _check_routing_key(data, problems)
    raw_payload = data.get("payload")
    if not isinstance(raw_payload, Mapping):
        problems.append(("payload", "is required"))
    elif _blank(raw_payload.get("summary")):
        problems.append(("payload.summary", "is missing or blank"))
    try:
        event = _ChangeEvent.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(_merge(problems, exc)) from None
    if problems:
        raise InvalidEvent(problems)
    summary, cut = clip_summary(event.payload.summary or "")
    source = (event.payload.source or "").strip()
    try:
        occurred_at = to_utc(event.payload.timestamp, "payload.timestamp")
    except InvalidField as exc:
        raise InvalidEvent([_problem(exc)]) from None
    return ChangeEvent(
        routing_key=event.routing_key,
        summary=summary,
        source=source[:MAX_SOURCE],
        occurred_at=occurred_at,
        details=_details(event.payload.custom_details),
        links=collect_links(_links(event.links)),
        truncated=("summary",) if cut else (),
        raw_size=raw_size,
    )
