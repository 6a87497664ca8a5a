"""Normalised alert events, dedup keys, grouping keys and the severity → impact/urgency map.

Every inbound parser (Alertmanager, Grafana, PagerDuty Events v2, generic JSON) turns a payload
into `AlertEvent`s, so the rest of Fireline never looks at a source format again:

    payload ──parser──> AlertEvent ──decide_group(rule, event, open groups)──> join group | open new

Dedup key: the identity of one alert across repeats. Sources that send one keep it
(Alertmanager's fingerprint, PagerDuty's `dedup_key`); otherwise `derive_dedup_key()` hashes the
source and labels, so a re-sent alert lands on the same key. A PagerDuty trigger without a key gets
a fresh one (`new_dedup_key()`), exactly like PagerDuty, which returns it to the client.

Grouping: a `GroupingRule` (per service) says which open incident a new alert joins. Keys are
scoped by service by the caller (the store keeps `(service_id, group_key)`), never here.

Limits (`MAX_*`) are enforced by `AlertEvent` itself as a last line of defence; parsers check
them first so their errors can name the exact field of the payload.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

from fireline.domain.priority import Level
from fireline.errors import InvalidField

JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"

MAX_ALERTS_PER_BATCH = 1000
MAX_LABELS = 256
MAX_LABEL_NAME = 256
MAX_LABEL_VALUE = 4096
MAX_ANNOTATION_VALUE = 16_384
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_GROUP_KEY = 255
MAX_LINKS = 50
MAX_URL = 2048


class Action(StrEnum):
    """What an event asks for; the PagerDuty Events v2 vocabulary."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Severity(StrEnum):
    """Normalised severities (PagerDuty's four), most severe first."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


_SEVERITY_ALIASES: dict[str, Severity] = {
    **{w: Severity.CRITICAL for w in ("critical", "crit", "fatal", "emergency", "emerg", "page")},
    **{w: Severity.CRITICAL for w in ("alert", "disaster", "p1", "sev1", "sev-1", "sev0")},
    **{w: Severity.ERROR for w in ("error", "err", "high", "major", "p2", "sev2", "sev-2")},
    **{w: Severity.WARNING for w in ("warning", "warn", "medium", "minor", "average", "p3")},
    **{w: Severity.WARNING for w in ("sev3", "sev-3")},
    **{w: Severity.INFO for w in ("info", "informational", "information", "low", "notice")},
    **{w: Severity.INFO for w in ("debug", "none", "ok", "p4", "p5", "sev4", "sev-4", "sev5")},
}


def normalise_severity(value: str | None) -> Severity | None:
    """Map a source's severity word (`Critical`, `warn`, `P2`, `sev1`…) to a `Severity`.

    Case and surrounding blanks are ignored; an unknown or missing word gives None, so the
    caller picks its default instead of rejecting the alert.
    """
    if value is None:
        return None
    return _SEVERITY_ALIASES.get(value.strip().lower())


def remap_severity(event: AlertEvent, severity_map: Mapping[str, Severity]) -> AlertEvent:
    """Apply an integration's own severity words (`{"p1": "critical", "sev-high": "error"}`).

    The word is the `severity` label when there is one, else the event's severity; keys of
    `severity_map` are lower case. Unmapped words leave the event as it is.
    """
    if not severity_map:
        return event
    word = event.labels.get("severity", event.severity.value).strip().lower()
    mapped = severity_map.get(word)
    if mapped is None or mapped == event.severity:
        return event
    return replace(event, severity=mapped)


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown with the alert; `href` is always http(s) (parsers drop other schemes)."""

    href: str
    text: str = ""


_NOTHING: Mapping[str, JSONValue] = MappingProxyType({})  # the empty labels, annotations, details


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert state change from any source, after parsing.

    `source` is the intake format (`alertmanager`, `grafana`, `pagerduty`, `generic`);
    `source_host` is the affected host or system (PagerDuty's `payload.source`, the `instance`
    label). `occurred_at` is when the source says the change happened (None: use the receive
    time); `starts_at`/`ends_at` are the alert instance's own times (Alertmanager identifies an
    instance by `(fingerprint, starts_at)`). All datetimes are timezone-aware UTC.
    `routing_key` is set only for PagerDuty events, `generated_dedup_key` when Fireline made the
    key up (it must then be returned to the client). `raw_size` is the request body size in bytes
    when the caller knows it; `truncated` names fields that were cut to their limit.

    Raises `InvalidField` when an invariant is broken: empty or over-long dedup key, summary over
    MAX_SUMMARY, more than MAX_LABELS labels, naive datetimes.
    """

    source: str
    action: Action
    dedup_key: str
    summary: str
    severity: Severity
    source_host: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    links: tuple[Link, ...] = ()
    images: tuple[Link, ...] = ()
    details: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)
    occurred_at: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    fingerprint: str | None = None
    routing_key: str | None = field(default=None, repr=False)
    generated_dedup_key: bool = False
    raw_size: int | None = None
    truncated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # (every intake event comes through here: plain attribute reads, and the mappings
        # copied only when not empty)
        put = object.__setattr__
        if type(self.action) is not Action:
            put(self, "action", Action(self.action))
        if type(self.severity) is not Severity:
            put(self, "severity", Severity(self.severity))
        if not self.dedup_key or len(self.dedup_key) > MAX_DEDUP_KEY:
            raise InvalidField("dedup_key", f"must be 1 to {MAX_DEDUP_KEY} characters")
        if len(self.summary) > MAX_SUMMARY:
            raise InvalidField("summary", f"must be at most {MAX_SUMMARY} characters")
        if len(self.labels) > MAX_LABELS:
            raise InvalidField("labels", f"at most {MAX_LABELS} entries")
        if len(self.annotations) > MAX_LABELS:
            raise InvalidField("annotations", f"at most {MAX_LABELS} entries")
        put(self, "labels", MappingProxyType(dict(self.labels)) if self.labels else _NOTHING)
        put(
            self,
            "annotations",
            MappingProxyType(dict(self.annotations)) if self.annotations else _NOTHING,
        )
        put(self, "details", MappingProxyType(dict(self.details)) if self.details else _NOTHING)
        if type(self.links) is not tuple:
            put(self, "links", tuple(self.links))
        if type(self.images) is not tuple:
            put(self, "images", tuple(self.images))
        for name, value in (
            ("occurred_at", self.occurred_at),
            ("starts_at", self.starts_at),
            ("ends_at", self.ends_at),
        ):
            if value is not None and value.utcoffset() is None:
                raise InvalidField(name, "must be timezone-aware")


def derive_dedup_key(source: str, labels: Mapping[str, str], *, extra: str = "") -> str:
    """A stable dedup key for an alert that brought none: SHA-256 hex of source + labels.

    Label order does not matter; `extra` (e.g. a summary when there are no labels) is mixed in.
    The same input gives the same 64-character key in every process and release.
    """
    canonical = json.dumps([source, sorted(labels.items()), extra])
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_dedup_key() -> str:
    """A fresh random key (32 hex chars), as PagerDuty generates for a trigger without one."""
    return uuid.uuid4().hex


class GroupingMode(StrEnum):
    DEDUP_KEY = "dedup_key"
    LABELS = "labels"
    TIME_WINDOW = "time_window"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class GroupingRule:
    """How a service folds alerts into incidents.

    - `dedup_key`: one incident per dedup key (the default; no grouping).
    - `labels`: one incident per combination of the named labels' values (`alertname`,
      `cluster`); a missing label counts as the empty value, and an alert that has none of
      them groups by its dedup key (rather than lumping every unlabelled alert together).
    - `time_window`: join any open group of the service opened within `window_minutes`.
    - `service`: everything on the service joins its one open incident.

    Raises `InvalidField("grouping.labels")` when `labels` mode names no label and
    `InvalidField("grouping.window_minutes")` unless `time_window` has 1 to 10080 minutes.
    """

    mode: GroupingMode = GroupingMode.DEDUP_KEY
    labels: tuple[str, ...] = ()
    window_minutes: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", GroupingMode(self.mode))
        object.__setattr__(self, "labels", tuple(sorted(set(self.labels))))
        if self.mode is GroupingMode.LABELS and not self.labels:
            raise InvalidField("grouping.labels", "name at least one label to group by")
        if any(not name or len(name) > MAX_LABEL_NAME for name in self.labels):
            raise InvalidField("grouping.labels", f"names must be 1 to {MAX_LABEL_NAME} chars")
        if self.mode is GroupingMode.TIME_WINDOW and not (
            isinstance(self.window_minutes, int) and 1 <= self.window_minutes <= 10080
        ):
            raise InvalidField("grouping.window_minutes", "must be 1 to 10080 minutes")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> GroupingRule:
        """Validate stored settings such as `{"mode": "labels", "labels": ["alertname"]}`."""
        mode = raw.get("mode", GroupingMode.DEDUP_KEY.value)
        if not isinstance(mode, str) or mode not in set(GroupingMode):
            choices = ", ".join(m.value for m in GroupingMode)
            raise InvalidField("grouping.mode", f"must be one of {choices}")
        labels = raw.get("labels", [])
        if not isinstance(labels, list | tuple) or not all(isinstance(x, str) for x in labels):
            raise InvalidField("grouping.labels", "must be a list of label names")
        window = raw.get("window_minutes")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int)):
            raise InvalidField("grouping.window_minutes", "must be a whole number of minutes")
        return cls(mode=GroupingMode(mode), labels=tuple(labels), window_minutes=window)


@dataclass(frozen=True, slots=True)
class OpenGroup:
    """An open incident group of the service: its stored key, when it opened, and its id."""

    id: int
    key: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class GroupingDecision:
    """Join `join` (an open group) or, when it is None, open a new group under `key`."""

    key: str
    join: OpenGroup | None

    @property
    def opens_new(self) -> bool:
        return self.join is None


def _bounded(prefix: str, body: str) -> str:
    key = f"{prefix}:{body}"
    if len(key) <= MAX_GROUP_KEY:
        return key
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}:sha256:{digest}"


def grouping_key(rule: GroupingRule, event: AlertEvent, *, now: datetime) -> str:
    """The key under which `event` would open a new group (at most MAX_GROUP_KEY chars).

    `now` (aware UTC) only matters in `time_window` mode, where each window gets its own key.
    """
    if rule.mode is GroupingMode.DEDUP_KEY:
        return _bounded("dedup", event.dedup_key)
    if rule.mode is GroupingMode.LABELS:
        if not any(name in event.labels for name in rule.labels):
            return _bounded("dedup", event.dedup_key)  # e.g. a PagerDuty event: no alertname
        values = [[name, event.labels.get(name, "")] for name in rule.labels]
        return _bounded("labels", json.dumps(values, ensure_ascii=False, separators=(",", ":")))
    if rule.mode is GroupingMode.TIME_WINDOW:
        return _bounded("window", now.isoformat(timespec="seconds"))
    return "service"


def decide_group(
    rule: GroupingRule,
    event: AlertEvent,
    candidates: Sequence[OpenGroup],
    *,
    now: datetime,
) -> GroupingDecision:
    """Decide whether a triggering `event` joins one of the service's open groups.

    `candidates` are the service's open groups (any order). In `time_window` mode the event joins
    any group opened within the window before `now` (the receive time, not the source's clock,
    which may be skewed); in the other modes it joins a group whose key equals `grouping_key()`.
    When several qualify, the most recently opened wins (ties: the highest id), so the decision
    never depends on the order of `candidates`. Acknowledge/resolve events follow their alert,
    not grouping; callers only open a group for triggers.
    """
    key = grouping_key(rule, event, now=now)
    if rule.mode is GroupingMode.TIME_WINDOW:
        assert rule.window_minutes is not None
        window = timedelta(minutes=rule.window_minutes)
        eligible = [g for g in candidates if now - window <= g.opened_at <= now]
    else:
        eligible = [g for g in candidates if g.key == key]
    if not eligible:
        return GroupingDecision(key=key, join=None)
    best = max(eligible, key=lambda g: (g.opened_at, g.id))
    return GroupingDecision(key=best.key, join=best)


DEFAULT_SEVERITY_MAP: dict[str, dict[str, str]] = {
    "critical": {"impact": "high", "urgency": "high"},
    "error": {"impact": "high", "urgency": "medium"},
    "warning": {"impact": "medium", "urgency": "medium"},
    "info": {"impact": "low", "urgency": "low"},
}


@dataclass(frozen=True, slots=True)
class SeverityMap:
    """Severity → (impact, urgency) for incidents opened from alerts; every severity is mapped."""

    cells: Mapping[Severity, tuple[Level, Level]]

    @classmethod
    def default(cls) -> SeverityMap:
        return cls.from_mapping(DEFAULT_SEVERITY_MAP)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Mapping[str, str]]) -> SeverityMap:
        """Validate `{"critical": {"impact": "high", "urgency": "high"}, …}`; gaps are refused.

        Raises `InvalidField("severity_map.<severity>.<impact|urgency>")`.
        """
        extra = sorted(set(raw) - {s.value for s in Severity})
        if extra:
            raise InvalidField(f"severity_map.{extra[0]}", "unknown severity")
        cells: dict[Severity, tuple[Level, Level]] = {}
        for severity in Severity:
            row = raw.get(severity.value)
            if not isinstance(row, Mapping):
                raise InvalidField(f"severity_map.{severity.value}", "missing severity")
            levels: list[Level] = []
            for part in ("impact", "urgency"):
                value = row.get(part)
                try:
                    levels.append(Level(str(value)))
                except ValueError:
                    raise InvalidField(
                        f"severity_map.{severity.value}.{part}",
                        f"must be one of high, medium, low, not {value!r}",
                    ) from None
            cells[severity] = (levels[0], levels[1])
        return cls(cells=MappingProxyType(cells))

    def lookup(self, severity: Severity) -> tuple[Level, Level]:
        """(impact, urgency) for `severity`."""
        return self.cells[severity]


def impact_urgency(
    severity: Severity, severity_map: SeverityMap | None = None
) -> tuple[Level, Level]:
    """(impact, urgency) for a new incident; the default map when `severity_map` is None."""
    return (severity_map or SeverityMap.default()).lookup(severity)


def fold_groups(
    rule: GroupingRule,
    events: Sequence[AlertEvent],
    *,
    now: datetime,
    open_groups: Sequence[OpenGroup] = (),
    next_id: Callable[[int], int] = lambda n: -(n + 1),
) -> list[GroupingDecision]:
    """Apply `decide_group` to a batch in order, as the store would, opening groups as needed.

    New groups get ids from `next_id(count_so_far)` (negative placeholders by default) so the
    caller can map them to rows. Only triggers are grouped; others yield no decision.
    """
    groups = list(open_groups)
    decisions: list[GroupingDecision] = []
    for event in events:
        if event.action is not Action.TRIGGER:
            continue
        decision = decide_group(rule, event, groups, now=now)
        if decision.join is None:
            groups.append(OpenGroup(id=next_id(len(decisions)), key=decision.key, opened_at=now))
        decisions.append(decision)
    return decisions
