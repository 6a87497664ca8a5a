"""Noise control for alerts: matchers, silences, maintenance, flapping, routing, rate limits.

All pure: the caller passes `now` (timezone-aware UTC) and the stored rules, and stores the
results. The pieces, in the order the intake applies them:

    rate limit (take_token) → routing rules (route) → silences (is_silenced)
        → maintenance (in_maintenance) → flapping (is_flapping) → grouping (alert_grouping)

Matchers work like Alertmanager's: `name op value` with `=`, `!=`, `=~`, `!~`; regexes are
anchored at both ends; a missing label has the value "". A matcher may also name an event field
(`event.severity`, `.summary`, `.source`, `.source_host`, `.action`, `.dedup_key`; these win
over a label of the same name). The bare names `severity`, `summary` and `source` fall back to
the event's fields when the alert has no label of that name, so `severity=info` also matches a
PagerDuty event. Regexes are at most MAX_REGEX characters, and parsers bound label values, which
bounds matching cost.

Silences and integration routing rules are stored as an object of label name → value
(`{"env": "~stag.*"}`); `matchers_from_object` reads that shorthand into `Matcher`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from fireline.domain.alert_grouping import AlertEvent, Severity
from fireline.errors import InvalidField

MAX_REGEX = 1000
MAX_MATCHERS = 50
EVENT_FIELDS = ("severity", "summary", "source", "source_host", "action", "dedup_key")
FALLBACK_FIELDS = {"severity": "severity", "summary": "summary", "source": "source_host"}
_MATCHER_TEXT = re.compile(r'^\s*([^\s=!~"]+)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$')


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


_OPS = frozenset(op.value for op in MatchOp)


@dataclass(frozen=True, slots=True)
class Matcher:
    """`name op value`; raises `InvalidField("matcher.value")` for a bad or over-long regex."""

    name: str
    op: MatchOp
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or len(self.name) > 256:
            raise InvalidField("matcher.name", "must be 1 to 256 characters")
        try:
            object.__setattr__(self, "op", MatchOp(self.op))
        except ValueError:
            raise InvalidField("matcher.op", "must be one of =, !=, =~, !~") from None
        if not isinstance(self.value, str) or len(self.value) > MAX_REGEX:
            raise InvalidField("matcher.value", f"must be a string of at most {MAX_REGEX} chars")
        if self.op in (MatchOp.RE, MatchOp.NRE):
            try:
                pattern = re.compile(self.value)
            except (re.error, RecursionError, OverflowError) as exc:
                raise InvalidField("matcher.value", f"invalid regex: {exc}") from None
            object.__setattr__(self, "_pattern", pattern)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Read `severity="critical"`, `alertname=~Disk.*` or `env!=dev` (quotes optional)."""
        found = _MATCHER_TEXT.match(text) if isinstance(text, str) else None
        if found is None:
            raise InvalidField("matcher", "expected name=value, name!=value, =~ or !~ (regex)")
        quoted, bare = found.group(3), found.group(4)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
        return cls(found.group(1), MatchOp(found.group(2)), value)

    def matches(self, values: Mapping[str, str]) -> bool:
        """Whether the value named `name` in `values` (labels plus fields) satisfies it."""
        actual = values.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        assert self._pattern is not None
        hit = self._pattern.fullmatch(actual) is not None
        return hit if self.op is MatchOp.RE else not hit


def parse_matchers(raw: object, *, field: str = "matchers") -> tuple[Matcher, ...]:
    """Validate stored matchers: a list of `"name=value"` strings or `{name, op, value}` objects.

    Errors name the entry, e.g. `InvalidField("matchers[2].value", "invalid regex: …")`.
    """
    if not isinstance(raw, list | tuple):
        raise InvalidField(field, "must be a list of matchers")
    if len(raw) > MAX_MATCHERS:
        raise InvalidField(field, f"at most {MAX_MATCHERS} matchers")
    result: list[Matcher] = []
    for i, item in enumerate(raw):
        path = f"{field}[{i}]"
        try:
            if isinstance(item, str):
                result.append(Matcher.parse(item))
            elif isinstance(item, Mapping):
                name, op, value = (item.get(k) for k in ("name", "op", "value"))
                op = "=" if op is None else op
                if not (isinstance(name, str) and isinstance(value, str) and op in _OPS):
                    raise InvalidField("matcher", "needs a name, an op (=, !=, =~, !~), a value")
                result.append(Matcher(name, MatchOp(str(op)), value))
            else:
                raise InvalidField("matcher", "must be a string or an object")
        except InvalidField as exc:
            raise _moved(exc, path, "matcher") from None
    return tuple(result)


def _moved(exc: InvalidField, path: str, old_prefix: str) -> InvalidField:
    """The same complaint with its field re-rooted at `path` (`matcher.value` → `m[2].value`)."""
    name = exc.field or ""
    if name.startswith(path):
        return exc
    return InvalidField(path + name.removeprefix(old_prefix), exc.message.split(": ", 1)[-1])


def match_values(event: AlertEvent) -> dict[str, str]:
    """What matchers see: the labels, `event.<field>` entries, and the FALLBACK_FIELDS."""
    values = dict(event.labels)
    values.update({f"event.{name}": str(getattr(event, name)) for name in EVENT_FIELDS})
    for name, attr in FALLBACK_FIELDS.items():
        if name not in values:
            values[name] = str(getattr(event, attr))
    return values


def matchers_from_object(raw: object, *, field: str = "matchers") -> tuple[Matcher, ...]:
    """Read the stored shorthand `{name: value}`: `"v"` equals, `"!v"` differs, `"~re"` matches
    the regex, `"!~re"` does not. Errors name the entry (`InvalidField("matchers.env", …)`)."""
    if not isinstance(raw, Mapping) or len(raw) > MAX_MATCHERS:
        raise InvalidField(field, f"must be an object of at most {MAX_MATCHERS} label matchers")
    result: list[Matcher] = []
    for name, value in raw.items():
        if not isinstance(value, str):
            raise InvalidField(f"{field}.{name}", "must be a string")
        if value.startswith("!~"):
            op, text = MatchOp.NRE, value[2:]
        elif value.startswith("~"):
            op, text = MatchOp.RE, value[1:]
        elif value.startswith("!"):
            op, text = MatchOp.NE, value[1:]
        else:
            op, text = MatchOp.EQ, value
        try:
            result.append(Matcher(str(name), op, text))
        except InvalidField as exc:
            raise InvalidField(
                f"{field}.{name}" if name else field, exc.message.split(": ", 1)[-1]
            ) from None
    return tuple(result)


def matches_all(matchers: Iterable[Matcher], event: AlertEvent) -> bool:
    """True when every matcher matches (so no matchers match everything)."""
    values = match_values(event)
    return all(m.matches(values) for m in matchers)


def _check_period(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.utcoffset() is None or ends_at.utcoffset() is None or ends_at <= starts_at:
        raise InvalidField("ends_at", "must be timezone-aware and after starts_at")


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute matching alerts during [starts_at, ends_at); they are recorded but page nobody.

    Needs at least one matcher (a silence that matches everything is a maintenance window);
    `service_id` None applies to every service. Raises `InvalidField` for a bad period.
    """

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    reason: str = ""
    id: int | None = None
    service_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self.matchers))
        if not self.matchers:
            raise InvalidField("matchers", "a silence needs at least one matcher")
        _check_period(self.starts_at, self.ends_at)

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


def matching_silence(
    event: AlertEvent,
    silences: Sequence[Silence],
    *,
    now: datetime,
    service_id: int | None = None,
) -> Silence | None:
    """The first active silence covering `event` on `service_id`, or None."""
    values = match_values(event)
    for silence in silences:
        if silence.service_id is not None and silence.service_id != service_id:
            continue
        if silence.active(now) and all(m.matches(values) for m in silence.matchers):
            return silence
    return None


def is_silenced(
    event: AlertEvent,
    silences: Sequence[Silence],
    *,
    now: datetime,
    service_id: int | None = None,
) -> bool:
    """Whether any active silence covers `event` at `now` (aware UTC)."""
    return matching_silence(event, silences, now=now, service_id=service_id) is not None


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """During [starts_at, ends_at) the service's alerts are recorded but open no incident."""

    service_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        _check_period(self.starts_at, self.ends_at)


def active_maintenance(
    service_id: int, windows: Sequence[MaintenanceWindow], *, now: datetime
) -> MaintenanceWindow | None:
    """The active window of `service_id` that ends last, or None."""
    active = [w for w in windows if w.service_id == service_id and w.starts_at <= now < w.ends_at]
    return max(active, key=lambda w: (w.ends_at, w.id or 0)) if active else None


def in_maintenance(service_id: int, windows: Sequence[MaintenanceWindow], *, now: datetime) -> bool:
    """Whether `service_id` is in an active maintenance window at `now`."""
    return active_maintenance(service_id, windows, now=now) is not None


@dataclass(frozen=True, slots=True)
class FlapPolicy:
    """Flapping starts at `changes` state changes within `window`; it ends after `quiet`
    without any change (hysteresis, so an alert does not flip in and out of flapping)."""

    changes: int = 4
    window: timedelta = timedelta(minutes=30)
    quiet: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if self.changes < 2 or min(self.window, self.quiet) <= timedelta(0):
            raise InvalidField("flapping", "needs 2+ changes and a positive window and quiet")


def is_flapping(
    changes: Sequence[datetime],
    *,
    now: datetime,
    was_flapping: bool = False,
    policy: FlapPolicy | None = None,
) -> bool:
    """Decide flapping from the alert's recent state-change times (any order, aware UTC).

    Not yet flapping: True when at least `policy.changes` fell within `policy.window` up to
    `now`. Already flapping (`was_flapping`): stays True until the latest change is at least
    `policy.quiet` old. Changes after `now` (clock skew) count as happening at `now`. Callers
    need only keep the changes of the last max(window, quiet) plus the newest one.
    """
    policy = policy or FlapPolicy()
    if not changes:
        return False
    clipped = [min(t, now) for t in changes]
    if was_flapping and now - max(clipped) < policy.quiet:
        return True
    return sum(1 for t in clipped if now - t <= policy.window) >= policy.changes


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """If all `matchers` match (none: always), apply the actions; stop unless `continue_matching`.

    Actions: `route_to` (service id), `set_severity`, `drop` (discard; ends evaluation). A rule
    needs at least one action, and `drop` excludes the others (`InvalidField("rules")`).
    """

    matchers: tuple[Matcher, ...] = ()
    route_to: int | None = None
    set_severity: Severity | None = None
    drop: bool = False
    continue_matching: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self.matchers))
        if self.set_severity is not None:
            object.__setattr__(self, "set_severity", Severity(self.set_severity))
        if not self.drop and self.route_to is None and self.set_severity is None:
            raise InvalidField("rules", "a rule needs an action: route_to, set_severity or drop")
        if self.drop and (self.route_to is not None or self.set_severity is not None):
            raise InvalidField("rules.drop", "a dropping rule cannot also route or set severity")


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    """The event (severity changes applied), its service, whether dropped, rules that hit."""

    event: AlertEvent
    service_id: int
    dropped: bool
    matched: tuple[int, ...]


def route(
    event: AlertEvent, rules: Sequence[RoutingRule], *, default_service_id: int
) -> RoutingOutcome:
    """Run the integration's ordered rules over `event`; the first match wins unless it says
    `continue_matching`. Later rules see earlier severity changes; a later `route_to` wins."""
    service_id = default_service_id
    matched: list[int] = []
    for index, rule in enumerate(rules):
        if not matches_all(rule.matchers, event):
            continue
        matched.append(index)
        if rule.drop:
            return RoutingOutcome(event, service_id, dropped=True, matched=tuple(matched))
        if rule.set_severity is not None:
            event = replace(event, severity=rule.set_severity)
        if rule.route_to is not None:
            service_id = rule.route_to
        if not rule.continue_matching:
            break
    return RoutingOutcome(event, service_id, dropped=False, matched=tuple(matched))


def parse_routing_rules(raw: object, *, field: str = "rules") -> tuple[RoutingRule, ...]:
    """Validate stored rules: `[{matchers, route_to?, set_severity?, drop?, continue?, name?}]`.

    Errors name the rule, e.g. `InvalidField("rules[1].set_severity", …)`.
    """
    if not isinstance(raw, list | tuple):
        raise InvalidField(field, "must be a list of rules")
    rules: list[RoutingRule] = []
    for i, item in enumerate(raw):
        path = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidField(path, "must be an object")
        route_to = item.get("route_to")
        if route_to is not None and (isinstance(route_to, bool) or not isinstance(route_to, int)):
            raise InvalidField(f"{path}.route_to", "must be a service id")
        severity = item.get("set_severity")
        if severity is not None and severity not in {s.value for s in Severity}:
            raise InvalidField(f"{path}.set_severity", "must be critical, error, warning or info")
        flags = {k: item.get(k, False) for k in ("drop", "continue")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise InvalidField(f"{path}.{key}", "must be true or false")
        name = item.get("name", "")
        if not isinstance(name, str):
            raise InvalidField(f"{path}.name", "must be a string")
        try:
            rules.append(
                RoutingRule(
                    matchers=parse_matchers(item.get("matchers", []), field=f"{path}.matchers"),
                    route_to=route_to,
                    set_severity=Severity(severity) if severity is not None else None,
                    drop=bool(flags["drop"]),
                    continue_matching=bool(flags["continue"]),
                    name=name,
                )
            )
        except InvalidField as exc:
            raise _moved(exc, path, "rules") from None
    return tuple(rules)


class BucketState(NamedTuple):
    """Tokens left and when they were counted (aware UTC)."""

    tokens: float
    updated_at: datetime


class RateDecision(NamedTuple):
    """`(allowed, state, retry_after_seconds)`; store `state` whatever `allowed` says."""

    allowed: bool
    state: BucketState
    retry_after_seconds: float


def take_token(
    state: BucketState | None, *, now: datetime, rate: float, burst: int, cost: float = 1.0
) -> RateDecision:
    """Token bucket: refill `rate` tokens per second up to `burst`, then try to take `cost`.

    A missing state is a full bucket. Time going backwards refills nothing. When refused,
    `retry_after_seconds` is how long until enough tokens are back (answer it as 429
    Retry-After, rounded up). Raises `InvalidField` for rate <= 0, burst < 1 or cost > burst.
    """
    if not (rate > 0 and burst >= 1):
        raise InvalidField("rate", "rate must be positive and burst at least 1")
    if not 0 < cost <= burst:
        raise InvalidField("cost", "must be positive and at most the burst")
    if state is None:
        state = BucketState(float(burst), now)
    elapsed = max((now - state.updated_at).total_seconds(), 0.0)
    tokens = min(float(burst), state.tokens + elapsed * rate)
    updated_at = max(now, state.updated_at)
    if tokens >= cost:
        return RateDecision(True, BucketState(tokens - cost, updated_at), 0.0)
    return RateDecision(False, BucketState(tokens, updated_at), (cost - tokens) / rate)
