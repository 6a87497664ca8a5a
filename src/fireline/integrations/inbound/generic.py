"""Any JSON → `AlertEvent`s through a configurable `GenericMapping` of dotted paths.

A path is `a.b.c`, with list indexes as `items[0].x` or `items.0.x`; a path starting with `$.`
is read from the whole body rather than the current alert. Each field lists candidate paths,
tried in order; the first one present wins. Defaults cover common shapes (`summary`/`title`/
`message`, `severity`/`level`, `status`/`state`, `labels`/`tags`, …), so
`{"summary": "disk full", "severity": "critical"}` works without configuration.

Where alerts are: at `mapping.alerts` (a list) if set; else each item of a top-level list; else
the body is one alert. Values: statuses go through `status_map` (case-insensitive, on top of the
built-in words: firing/triggered/alerting/problem → trigger, acknowledged → acknowledge,
resolved/ok/recovered/closed → resolve); an unknown status is refused, a missing one means
`default_action`. Severities go through `severity_map`, then the usual aliases, then
`default_severity`. Timestamps are ISO 8601 (naive means UTC) or epoch seconds (milliseconds
when above 1e11). Labels are an object (scalars become strings, nested values compact JSON) or a
list of `key:value` tags. A missing dedup key is derived from source host + labels (+ the summary
when there are no labels); one over 255 characters is replaced by `sha256:<hex>`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import TypeVar

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
    clip_summary,
    collect_links,
    http_link,
)

SOURCE = "generic"
MAX_PATH = 200
_SEGMENT = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_MISSING = object()
_ROOT = "$."
DEFAULT_STATUS_WORDS: dict[str, Action] = {
    **{w: Action.TRIGGER for w in ("firing", "trigger", "triggered", "alerting", "alert")},
    **{w: Action.TRIGGER for w in ("problem", "open", "active", "down", "re-triggered", "warn")},
    **{w: Action.TRIGGER for w in ("re-warn", "renotify", "no data", "re-no data", "critical")},
    **{w: Action.ACKNOWLEDGE for w in ("acknowledge", "acknowledged", "ack", "acked")},
    **{w: Action.RESOLVE for w in ("resolve", "resolved", "ok", "recovered", "closed", "close")},
    **{w: Action.RESOLVE for w in ("up", "normal", "inactive", "cleared", "clear")},
}
E = TypeVar("E", Severity, Action)
_FIELDS = ("summary", "severity", "dedup_key", "status", "source", "labels", "links", "timestamp")


def _split(path: str, where: str) -> tuple[str | int, ...]:
    """`a.b[0].c` → `("a", "b", 0, "c")`; raises `InvalidField(where)` for a malformed path."""
    body = path.removeprefix(_ROOT)
    if not body or len(path) > MAX_PATH or ".." in body or body.startswith("."):
        raise InvalidField(where, f"must be a dotted path of at most {MAX_PATH} characters")
    parts: list[str | int] = []
    pos = 0
    while pos < len(body):
        found = _SEGMENT.match(body, pos)
        if found is None:
            raise InvalidField(where, f"malformed path {path!r}")
        parts.append(int(found.group(1)) if found.group(1) else found.group(2))
        pos = found.end()
        if pos < len(body) and body[pos] == ".":
            pos += 1
            if pos == len(body):
                raise InvalidField(where, f"malformed path {path!r}")
    return tuple(parts)


@lru_cache(maxsize=512)
def _parts(path: str) -> tuple[str | int, ...]:
    """`_split` for paths already validated by `GenericMapping`."""
    return _split(path, "mapping")


def _lookup(data: object, parts: Sequence[str | int]) -> object:
    current = data
    for part in parts:
        if isinstance(current, Mapping):
            current = current.get(str(part), _MISSING)
        elif isinstance(current, list):
            index = part if isinstance(part, int) else int(part) if part.isdigit() else -1
            current = current[index] if 0 <= index < len(current) else _MISSING
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


@dataclass(frozen=True, slots=True)
class GenericMapping:
    """Where each field lives in the JSON and how values translate. Paths are validated on
    construction (`InvalidField("mapping.<field>")`); see the module docstring for defaults."""

    alerts: str | None = None
    summary: tuple[str, ...] = ("summary", "title", "message", "text", "description", "name")
    severity: tuple[str, ...] = ("severity", "level", "priority")
    dedup_key: tuple[str, ...] = ("dedup_key", "dedupKey", "incident_key", "alias", "fingerprint")
    status: tuple[str, ...] = ("status", "state", "event_action", "action")
    source: tuple[str, ...] = ("source", "host", "hostname")
    labels: tuple[str, ...] = ("labels", "tags")
    links: tuple[str, ...] = ("links", "link", "url")
    timestamp: tuple[str, ...] = ("timestamp", "time", "date", "created_at")
    severity_map: Mapping[str, Severity] = field(default_factory=dict, hash=False)
    status_map: Mapping[str, Action] = field(default_factory=dict, hash=False)
    default_severity: Severity = Severity.ERROR
    default_action: Action = Action.TRIGGER

    def __post_init__(self) -> None:
        if self.alerts is not None:
            _split(self.alerts, "mapping.alerts")
        for name in _FIELDS:
            paths: tuple[str, ...] = tuple(getattr(self, name))
            for path in paths:
                _split(path, f"mapping.{name}")
            object.__setattr__(self, name, paths)
        severity_map = {k.strip().lower(): Severity(v) for k, v in self.severity_map.items()}
        status_map = {k.strip().lower(): Action(v) for k, v in self.status_map.items()}
        object.__setattr__(self, "severity_map", MappingProxyType(severity_map))
        object.__setattr__(self, "status_map", MappingProxyType(status_map))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> GenericMapping:
        """Validate stored config, e.g. `{"summary": "data.title", "severity_map": {"5": "info"}}`.

        Each field takes a path or a list of paths; unknown keys are refused. Raises
        `InvalidField("mapping.<key>")` naming the bad setting.
        """
        known = {*_FIELDS, "alerts", "severity_map", "status_map"}
        known |= {"default_severity", "default_action"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidField(f"mapping.{unknown[0]}", "unknown setting")
        paths: dict[str, tuple[str, ...]] = {}
        for name in _FIELDS:
            if name in raw:
                value = raw[name]
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
                    raise InvalidField(f"mapping.{name}", "must be a path or a list of paths")
                paths[name] = tuple(items)
        alerts = raw.get("alerts")
        if alerts is not None and not isinstance(alerts, str):
            raise InvalidField("mapping.alerts", "must be a path")
        return cls(
            alerts=alerts,
            **paths,
            severity_map=_enum_map(raw.get("severity_map"), "severity_map", Severity),
            status_map=_enum_map(raw.get("status_map"), "status_map", Action),
            default_severity=_enum_value(raw, "default_severity", Severity, Severity.ERROR),
            default_action=_enum_value(raw, "default_action", Action, Action.TRIGGER),
        )


def _enum_value(raw: Mapping[str, object], key: str, kind: type[E], default: E) -> E:
    value = raw.get(key, default.value)
    if value not in {m.value for m in kind}:
        raise InvalidField(f"mapping.{key}", f"must be one of {', '.join(m.value for m in kind)}")
    return kind(value)


def _enum_map(raw: object, key: str, kind: type[E]) -> dict[str, E]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidField(f"mapping.{key}", "must be an object")
    choices = {m.value for m in kind}
    for word, value in raw.items():
        if value not in choices:
            options = ", ".join(sorted(choices))
            raise InvalidField(f"mapping.{key}.{word}", f"must be one of {options}")
    return {str(word): kind(value) for word, value in raw.items()}


def _text(value: object) -> str | None:
    """A scalar as text (None when missing, null, an object or a list)."""
    if value is None or value is _MISSING or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_label_value(value: object) -> str | None:
    text = _text(value)
    if text is None and value is not None:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text


class _Alert:
    """One alert object and where it sits, for reading fields with precise error paths."""

    def __init__(self, body: object, item: object, prefix: str) -> None:
        self.body, self.item, self.prefix = body, item, prefix

    def get(self, paths: Sequence[str]) -> tuple[object, str]:
        """The first present value among `paths` and its error path (or `_MISSING`)."""
        for path in paths:
            root = path.startswith(_ROOT)
            value = _lookup(self.body if root else self.item, _parts(path))
            if value is not _MISSING and value is not None:
                clean = path.removeprefix(_ROOT)
                return value, clean if root or not self.prefix else f"{self.prefix}.{clean}"
        return _MISSING, ""


def _labels(value: object, where: str) -> dict[str, str]:
    if value is _MISSING:
        return {}
    labels: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, raw in value.items():
            text = _as_label_value(raw)
            if text is not None:
                labels[str(key)] = text
    elif isinstance(value, list):
        for tag in value:
            text = _text(tag)
            if text is None:
                raise InvalidField(where, "tags must be strings")
            key, _, val = text.partition(":")
            labels[key.strip()] = val.strip()
    else:
        raise InvalidField(where, "must be an object or a list of key:value tags")
    return check_labels(labels, where)


def _links(value: object) -> tuple[Link, ...]:
    items = value if isinstance(value, list) else [] if value is _MISSING else [value]
    links: list[Link | None] = []
    for item in items:
        if isinstance(item, Mapping):
            href = item.get("href", item.get("url"))
            text = item.get("text", item.get("name", item.get("title", "")))
            links.append(http_link(href, text))
        else:
            links.append(http_link(item))
    return collect_links(links)


def _timestamp(value: object, where: str) -> datetime | None:
    if value is _MISSING:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if parsed.utcoffset() is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidField(where, "must be an ISO 8601 time or epoch seconds") from None
    raise InvalidField(where, "must be an ISO 8601 time or epoch seconds")


def _action(value: object, where: str, mapping: GenericMapping) -> Action:
    if value is _MISSING:
        return mapping.default_action
    word = (_text(value) or "").strip().lower()
    action = mapping.status_map.get(word) or DEFAULT_STATUS_WORDS.get(word)
    if action is None:
        raise InvalidField(where, f"unknown status {word[:50]!r}; map it with status_map")
    return action


def _severity(value: object, mapping: GenericMapping) -> Severity:
    word = (_text(value) or "").strip().lower() if value is not _MISSING else ""
    return mapping.severity_map.get(word) or normalise_severity(word) or mapping.default_severity


def _event(alert: _Alert, mapping: GenericMapping, raw_size: int | None) -> AlertEvent:
    labels_value, labels_where = alert.get(mapping.labels)
    labels = _labels(labels_value, labels_where)
    summary_value, _ = alert.get(mapping.summary)
    summary, cut = clip_summary(_text(summary_value) or "")
    summary = summary or "Untitled alert"
    host = (_text(alert.get(mapping.source)[0]) or "").strip()[:255]
    key_value, _ = alert.get(mapping.dedup_key)
    dedup_key = (_text(key_value) or "").strip()
    if not dedup_key:
        dedup_key = derive_dedup_key(f"{SOURCE}:{host}", labels, extra="" if labels else summary)
    elif len(dedup_key) > MAX_DEDUP_KEY:
        dedup_key = (
            "sha256:" + hashlib.sha256(dedup_key.encode("utf-8", "surrogatepass")).hexdigest()
        )
    occurred_at = _timestamp(*alert.get(mapping.timestamp))
    return AlertEvent(
        source=SOURCE,
        action=_action(*alert.get(mapping.status), mapping),
        dedup_key=dedup_key,
        summary=summary,
        severity=_severity(alert.get(mapping.severity)[0], mapping),
        source_host=host,
        labels=labels,
        links=_links(alert.get(mapping.links)[0]),
        occurred_at=occurred_at,
        raw_size=raw_size,
        truncated=("summary",) if cut else (),
    )


def parse_generic(
    body: object,
    mapping: GenericMapping | None = None,
    *,
    raw_size: int | None = None,
) -> list[AlertEvent]:
    """Read alerts out of arbitrary decoded JSON with `mapping` (the defaults when None).

    Returns one event per alert, in order. Raises `InvalidField` naming the offending path, e.g.
    `alerts[3].labels`, `status` (unknown word), `timestamp`, `alerts` (not a list, or more than
    MAX_ALERTS_PER_BATCH), `body` (not an object or list).
    """
    mapping = mapping or GenericMapping()
    if mapping.alerts is not None:
        items = _lookup(body, _split(mapping.alerts, "mapping.alerts"))
        where = mapping.alerts.removeprefix(_ROOT)
        check_batch(None if items is _MISSING else items, where)
        assert isinstance(items, list)
        alerts = [_Alert(body, item, f"{where}[{i}]") for i, item in enumerate(items)]
    elif isinstance(body, list):
        check_batch(body, "body")
        alerts = [_Alert(body, item, f"body[{i}]") for i, item in enumerate(body)]
    elif isinstance(body, Mapping):
        alerts = [_Alert(body, body, "")]
    else:
        raise InvalidField("body", "must be a JSON object or a list of objects")
    for alert in alerts:
        if not isinstance(alert.item, Mapping):
            raise InvalidField(alert.prefix or "body", "must be a JSON object")
    return [_event(alert, mapping, raw_size) for alert in alerts]
