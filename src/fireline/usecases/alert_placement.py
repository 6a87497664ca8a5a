"""Where new alerts go: suppressed (maintenance, silence, flapping) or into an incident.

Part of `usecases.alerts.ingest_tx`, in its transaction, in three steps so the intake can send
each step's queries together, after `ask_rules` and `rules_for` got the services' rules (kept
by each process until their version changes): `plan` (no I/O) applies the domain's rules in
this order, `alert_rules.active_maintenance`, `matching_silence`, `is_flapping`, and gives the
rest their grouping keys; `query_groups` asks for the open incident groups they could join
(nothing, if `guess_groups` already asked for them with the batch's first queries, by the rules
this process last used); `assign` applies `alert_grouping.decide_group` to them (opening an
incident through `incidents.declare_tx`, priority from the service's severity map, when none
fits). A batch that runs beside others assigns with `may_open=False` first; if that would open
an incident, it takes the opening lock, asks `query_groups` again and assigns again.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from fireline.domain import alert_rules as rules
from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain.alert_grouping import (
    AlertEvent,
    GroupingMode,
    GroupingRule,
    OpenGroup,
    SeverityMap,
    decide_group,
    grouping_key,
)
from fireline.domain.alert_rules import FlapPolicy
from fireline.errors import InvalidField
from fireline.store.models.alerts import AlertGroup
from fireline.store.repos import alerts as alert_repo
from fireline.usecases import alert_settings, incidents
from fireline.usecases.context import Context
from fireline.usecases.submissions import Outcome

log = logging.getLogger("fireline.alerts")
OPEN_INCIDENT = [s.value for s in lifecycle.OPEN_STATUSES]
CHUNK = 900
History = dict[tuple[int, str], list[tuple[datetime, datetime | None, bool]]]


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """`items` in slices of at most `size` (bounded IN lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class PendingAlert:
    """An open alert as seen by this batch (a stored row or one about to be inserted)."""

    integration_id: int
    dedup_key: str
    service_id: int
    id: int | None = None
    status: str = "firing"
    starts_at: datetime | None = None
    incident_id: int | None = None
    first_seen_at: datetime | None = None  # of a stored alert (None: the batch opens it)
    flapping: bool = False
    bump: int = 0
    acked: bool = False
    resolved: bool = False
    new: dict[str, Any] | None = None
    event: AlertEvent | None = None
    listed: bool = False
    outcomes: list[tuple[Outcome, int]] = field(default_factory=list)


Rules = tuple[GroupingRule, SeverityMap, FlapPolicy]
GroupsLater = alert_repo.Later[list[alert_repo.GroupRow]]
_RULES_MAX = 1024  # services whose grouping rule `guess_groups` remembers


def _rules(conf: dict[str, Any]) -> Rules:
    """A service's merged settings as domain rules (validated when they were stored)."""
    window = timedelta(minutes=int(conf["flap"]["window_minutes"]))
    return (
        GroupingRule.from_mapping(conf["grouping"]),
        SeverityMap.from_mapping(conf["severity_map"]),
        FlapPolicy(changes=int(conf["flap"]["max_opens"]), window=window, quiet=window),
    )


def _silences(rows: Sequence[Any]) -> list[rules.Silence]:
    """Silences from `service_rules` rows (kind 2; `doc` holds the matchers)."""
    found = []
    for row in rows:
        try:
            matchers = rules.matchers_from_object(row.doc)
            found.append(
                rules.Silence(
                    matchers=matchers,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    id=row.id,
                    service_id=row.service_id,
                )
            )
        except InvalidField:
            log.warning("silence %s has unusable matchers; ignored", row.id)
    return found


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """What `plan` applies to one service's new alerts: its settings as domain rules, its
    maintenance windows, and the silences that cover it (its own and global ones, by id),
    windows and silences as read (not ended then; `plan` checks the time)."""

    conf: Rules
    windows: tuple[rules.MaintenanceWindow, ...]
    silences: tuple[rules.Silence, ...]


def parse_rules(
    rows: Sequence[alert_repo.ServiceRule], services: Iterable[int]
) -> dict[int, ServiceRules]:
    """Each of `services`' rules from `alert_repo.service_rules` rows. No I/O."""
    stored: dict[int, dict[str, Any]] = {}
    windows: dict[int, list[rules.MaintenanceWindow]] = {}
    silence_rows = []
    for found in rows:
        if found.kind == 0:
            stored[found.service_id] = found.doc
        elif found.kind == 1:
            windows.setdefault(found.service_id, []).append(
                rules.MaintenanceWindow(
                    service_id=found.service_id,
                    starts_at=found.starts_at,
                    ends_at=found.ends_at,
                    id=found.id,
                )
            )
        else:
            silence_rows.append(found)
    silences = _silences(sorted(silence_rows, key=lambda row: row.id))
    return {
        sid: ServiceRules(
            conf=_rules(alert_settings.merged(stored.get(sid))),
            windows=tuple(windows.get(sid, ())),
            silences=tuple(s for s in silences if s.service_id in (None, sid)),
        )
        for sid in services
    }


# ---------------------------------------------------------------- the rules a process keeps
#
# A batch with new alerts needs its services' rules. They change a few times a day, and every
# change raises `alert_rules_version` (triggers, migration 0013), so each process keeps the
# rules it read, per database, with the version they belong to; a batch reads the version
# (with its first queries) and reads the rules only if that changed or a service is new.


@dataclass(frozen=True, slots=True)
class _KnownRules:
    version: int
    read_at: datetime  # the latest `now` its rows were read at (ended windows are not in it)
    services: dict[int, ServiceRules]


_KNOWN: weakref.WeakKeyDictionary[Engine, _KnownRules] = weakref.WeakKeyDictionary()
_KNOWN_LOCK = threading.Lock()  # writer threads, the worker's heartbeat checks, tests
# Services whose rules a process keeps (a few hundred bytes each); past it, it starts over
KEPT_SERVICES_MAX = 10_000


@dataclass(slots=True)
class RulesAsked:
    """The reads `ask_rules` sent: the version, and the rules of `services` if not all known."""

    version: alert_repo.Later[int | None]
    known: _KnownRules | None
    rows: alert_repo.Later[list[alert_repo.ServiceRule]] | None
    services: list[int]


def _current(known: _KnownRules | None, services: Iterable[int], now: datetime) -> bool:
    return known is not None and now >= known.read_at and all(s in known.services for s in services)


def ask_rules(
    conn: Connection,
    services: Sequence[int],
    now: datetime,
    version: alert_repo.Later[int | None] | None = None,
) -> RulesAsked:
    """Ask for the rules' version (unless `version` is it, asked for already), and for the
    rules of `services` unless this process knows them all (PostgreSQL: inside `pipelined`,
    so they go with the batch's first queries; the version first, so rules read with it are
    at least as new). Read them with `rules_for`."""
    with _KNOWN_LOCK:
        known = _KNOWN.get(conn.engine)
    if version is None:
        version = alert_repo.rules_version(conn)
    rows = (
        None
        if _current(known, services, now)
        else alert_repo.service_rules(conn, services, now=now)
    )
    return RulesAsked(version=version, known=known, rows=rows, services=list(services))


def rules_for(
    conn: Connection, asked: RulesAsked, services: Sequence[int], now: datetime
) -> dict[int, ServiceRules]:
    """The rules of `services` (those asked for, or some of them) at the version read: the
    ones this process knows if that is still theirs, else those read (asked for, or read now:
    on PostgreSQL a round trip more, only after the rules changed), which it then keeps."""
    version = asked.version.get()
    known = asked.known
    if version is not None and known is not None and known.version == version:
        if _current(known, services, now):
            return known.services
    if asked.rows is not None and set(services) <= set(asked.services):
        read, rows = asked.services, asked.rows.get()
    else:
        read, rows = list(services), alert_repo.service_rules(conn, services, now=now).get()
    parsed = parse_rules(rows, read)
    if version is not None:
        _keep(conn.engine, version, now, parsed)
    return parsed


def _keep(engine: Engine, version: int, read_at: datetime, parsed: dict[int, ServiceRules]) -> None:
    with _KNOWN_LOCK:
        known = _KNOWN.get(engine)
        if known is not None and known.version == version:
            if len(known.services) + len(parsed) <= KEPT_SERVICES_MAX:
                parsed = {**known.services, **parsed}
                read_at = max(read_at, known.read_at)
        _KNOWN[engine] = _KnownRules(version=version, read_at=read_at, services=parsed)


@dataclass(slots=True)
class Plan:
    """New alerts that passed suppression, with their grouping keys, and each service's rules."""

    conf: dict[int, Rules]
    needs_group: list[tuple[PendingAlert, str]]


def plan(
    created: list[PendingAlert],
    history: History,
    by_service: Mapping[int, ServiceRules],
    now: datetime,
) -> Plan:
    """Suppress what maintenance, silences or flapping hold back (marking the rows) and give
    every other new alert its grouping key. No I/O: `by_service` holds (at least) the rules
    of the new alerts' services (`rules_for`).

    The order is the domain's: maintenance, silences, flapping, then grouping.
    """
    services = sorted({s.service_id for s in created})
    conf = {sid: by_service[sid].conf for sid in services}
    if len(_SEEN_GROUPING) >= _RULES_MAX:
        _SEEN_GROUPING.clear()
    for sid, (grouping, _, _) in conf.items():
        _SEEN_GROUPING[sid] = grouping
    needs_group: list[tuple[PendingAlert, str]] = []
    for state in created:
        row = state.new
        assert row is not None and state.event is not None
        event = state.event
        found = by_service[state.service_id]
        grouping, _, flap = found.conf
        window = rules.active_maintenance(state.service_id, found.windows, now=now)
        if window is not None:
            row["suppressed"] = True
            row["suppressed_reason"] = f"maintenance:{window.id}"
            continue
        silence = (
            rules.matching_silence(event, found.silences, now=now, service_id=state.service_id)
            if found.silences
            else None
        )
        if silence is not None:
            row["suppressed"] = True
            row["suppressed_reason"] = f"silence:{silence.id}"
            continue
        past = history.get((state.integration_id, state.dedup_key), [])
        opens = [first for first, _, _ in past] + [now]
        was_flapping = bool(past) and max(past)[2]
        if rules.is_flapping(opens, now=now, was_flapping=was_flapping, policy=flap):
            recent = sum(1 for t in opens if now - t <= flap.window)
            row["suppressed"] = True
            row["flapping"] = True
            row["suppressed_reason"] = (
                f"flapping: opened {recent} times in {flap.window.total_seconds() / 60:.0f} min"
            )
            continue
        needs_group.append((state, grouping_key(grouping, event, now=now)))
    return Plan(conf=conf, needs_group=needs_group)


@dataclass(slots=True)
class GroupQuery:
    """Open incident groups asked for, read with `assign`: those with one of the (service,
    key) pairs `keyed`, and per `time_window` service those opened at or after `since[service]`
    (the answer may hold more: it is filtered by `decide_group`)."""

    keyed: set[tuple[int, str]]
    since: dict[int, datetime]
    found: list[GroupsLater]

    def covers(self, keyed: set[tuple[int, str]], since: dict[int, datetime]) -> bool:
        return keyed <= self.keyed and all(
            s in self.since and self.since[s] <= t for s, t in since.items()
        )


# The grouping rule this process last planned with, per service, for `guess_groups`
_SEEN_GROUPING: dict[int, GroupingRule] = {}


def _ask_groups(
    conn: Connection, keyed: set[tuple[int, str]], since: dict[int, datetime]
) -> GroupQuery:
    services = sorted({s for s, _ in keyed})
    found = [
        alert_repo.open_groups(conn, services=services, statuses=OPEN_INCIDENT, keys=list(part))
        for part in chunks(sorted({k for _, k in keyed}))
    ]
    if since:
        found.append(
            alert_repo.open_groups(
                conn, services=sorted(since), statuses=OPEN_INCIDENT, since=min(since.values())
            )
        )
    return GroupQuery(keyed=keyed, since=since, found=found)


def _wanted(
    items: Iterable[tuple[int, GroupingRule, str]], now: datetime
) -> tuple[set[tuple[int, str]], dict[int, datetime]]:
    """What to ask for the (service id, rule, grouping key) of new alerts: keyed modes the
    groups with their keys, `time_window` services every group opened within the window
    (`decide_group` looks at no key there)."""
    keyed: set[tuple[int, str]] = set()
    since: dict[int, datetime] = {}
    for service_id, rule, key in items:
        if rule.mode is GroupingMode.TIME_WINDOW:
            since[service_id] = now - timedelta(minutes=rule.window_minutes or 0)
        else:
            keyed.add((service_id, key))
    return keyed, since


def guess_groups(
    conn: Connection, triggers: Iterable[tuple[int, AlertEvent]], now: datetime
) -> GroupQuery | None:
    """Before the batch's rules are read, ask for the groups its triggers (service id, event)
    would join under the grouping rules this process last planned with: PostgreSQL sends this
    with the batch's first queries, and `query_groups` asks again only if the guess misses
    (new rules, a service not seen yet). None if there is nothing to guess."""
    keyed, since = _wanted(
        (
            (service_id, rule, grouping_key(rule, event, now=now))
            for service_id, event in triggers
            if (rule := _SEEN_GROUPING.get(service_id)) is not None
        ),
        now,
    )
    if not keyed and not since:
        return None
    return _ask_groups(conn, keyed, since)


def query_groups(
    conn: Connection,
    planned: Plan,
    now: datetime,
    guessed: GroupQuery | None = None,
    *,
    opening: Sequence[int] = (),
) -> GroupQuery:
    """Ask for the open incident groups per service that the plan's alerts could join (read
    them with `assign`), unless `guessed` already asked for all of them (then: no query, and
    on PostgreSQL no round trip). With `opening`, first take the lock of opening incidents on
    those services (what `assign(may_open=False)` returned), then ask."""
    keyed, since = _wanted(
        ((s.service_id, planned.conf[s.service_id][0], key) for s, key in planned.needs_group),
        now,
    )
    if not opening and guessed is not None and guessed.covers(keyed, since):
        return guessed
    if not keyed and not since:
        return GroupQuery(keyed=keyed, since=since, found=[])
    with alert_repo.pipelined(conn):  # PostgreSQL: one round trip
        alert_repo.lock_openings(conn, opening)
        return _ask_groups(conn, keyed, since)


def assign(
    session: Callable[[], Session],
    ctx: Context,
    planned: Plan,
    groups: GroupQuery,
    now: datetime,
    *,
    may_open: bool = True,
) -> list[int]:
    """Put every alert of the plan into the open incident of its group, opening an incident
    (through `incidents.declare_tx`, priority from the service's severity map, in the session
    `session()` returns, asked for only then) when none fits. `OpenGroup.id` is the incident
    id. Returns [].

    Unless `may_open`, it opens none: a batch that runs beside others (PostgreSQL, shared
    service locks) must first hold a service's opening lock and look at the groups again,
    since another batch may just have opened the same group. If an alert would open one, it
    returns the services where that is so; the caller then takes their locks, asks again
    (`query_groups(opening=...)`) and assigns again, which redoes every alert."""
    candidates: dict[int, list[OpenGroup]] = {}
    seen: set[int] = set()
    for later in groups.found:
        for row in later.get():
            if row.incident_id in seen:
                continue
            seen.add(row.incident_id)
            candidates.setdefault(row.service_id, []).append(
                OpenGroup(id=row.incident_id, key=row.group_key, opened_at=row.opened_at)
            )
    opening: set[int] = set()
    for state, _ in planned.needs_group:
        assert state.new is not None and state.event is not None
        grouping, severity_map, _ = planned.conf[state.service_id]
        service_groups = candidates.setdefault(state.service_id, [])
        decision = decide_group(grouping, state.event, service_groups, now=now)
        if decision.join is not None:
            incident_id = decision.join.id
        elif may_open:
            incident_id = _open_incident(session(), ctx, state, severity_map, decision.key, now)
            service_groups.append(OpenGroup(id=incident_id, key=decision.key, opened_at=now))
        else:
            opening.add(state.service_id)
            service_groups.append(OpenGroup(id=0, key=decision.key, opened_at=now))
            continue
        state.new["group_key"] = decision.key
        state.incident_id = incident_id
        state.new["incident_id"] = incident_id
    return sorted(opening)


def _open_incident(
    session: Session,
    ctx: Context,
    state: PendingAlert,
    severity_map: SeverityMap,
    key: str,
    now: datetime,
) -> int:
    assert state.event is not None
    event = state.event
    impact, urgency = severity_map.lookup(event.severity)
    title = (event.summary or event.dedup_key).strip()[:300] or "Alert"
    incident = incidents.declare_tx(
        session,
        ctx,
        incidents.IncidentDraft(
            title=title,
            description=event.annotations.get("description", "")[:50_000],
            services=[state.service_id],
            impact=impact,
            urgency=urgency,
            source=incidents.Source.MONITORING,
            detected_at=now,
            fingerprint=(event.fingerprint or event.dedup_key)[:255],
        ),
    )
    session.add(
        AlertGroup(
            service_id=state.service_id, group_key=key, incident_id=incident.id, opened_at=now
        )
    )
    return incident.id
