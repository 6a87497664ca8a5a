"""Alert ingestion: dedup, noise control, grouping into incidents, auto-resolve.

`ingest_tx(session or connection, ctx, submissions)` processes many intake requests in the
caller's transaction with a fixed number of batched queries (one SELECT of the open alerts for
every dedup key in the batch, executemany inserts and updates), which is what makes group
commit pay off. Rules:

* a trigger for an open (integration, dedup key) only bumps `last_seen_at` and
  `occurrence_count`; a trigger after resolve opens a new alert;
* acknowledge/resolve for unknown or resolved keys are accepted and ignored (as PagerDuty);
* a trigger carrying `starts_at` (Alertmanager) that matches an already resolved alert is a
  late repeat of that alert instance and is ignored;
* a new alert on a service in maintenance, matched by an active silence, or flapping is
  recorded with `suppressed` (and the reason) and opens no incident;
* otherwise it joins the open incident of its grouping key or opens one with
  `incidents.declare_tx` (source monitoring); each attachment is an `alert_attached` event;
* when the last open alert of an incident resolves, the incident resolves (service setting
  `auto_resolve`) or its timeline says so.

Across processes: SQLite serialises writers (BEGIN IMMEDIATE). On PostgreSQL a batch takes a
transaction-level advisory lock per service: exclusive if it resolves alerts, shared otherwise,
so batches that only add, repeat or acknowledge alerts run side by side. Where they could
collide:

* two of them opening an incident for the same group: a batch about to open one takes the
  service's (exclusive) opening lock and looks at the open groups again first;
* two of them opening an alert with the same dedup key: the partial unique index on open
  alerts fails the later one, and the committer retries its requests one by one (they then
  find the alert open and repeat it);
* repeats of one alert: `occurrence_count = occurrence_count + n` under the row's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.orm import Session

from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain.alert_grouping import (
    MAX_ANNOTATION_VALUE,
    Action,
    AlertEvent,
)
from fireline.domain.timeline import EventKind
from fireline.store.models import Incident, TimelineEvent
from fireline.store.models.alerts import (
    Alert,
    AlertGroup,
    ServiceAlertSettings,
)
from fireline.store.repos import alerts as alert_repo
from fireline.usecases import alert_placement as placement
from fireline.usecases import alert_settings, incidents
from fireline.usecases.alert_placement import OPEN_INCIDENT, History, PendingAlert, chunks
from fireline.usecases.context import Context
from fireline.usecases.submissions import Incoming, Outcome, Submission

log = logging.getLogger("fireline.alerts")
A: Table = Alert.__table__  # type: ignore[assignment]
T: Table = TimelineEvent.__table__  # type: ignore[assignment]
STALE_REPEAT_WINDOW = timedelta(days=1)


def _lookups(
    conn: Connection, keys: set[tuple[int, str]], since: datetime, resolving: set[str]
) -> list[alert_repo.Later[list[alert_repo.OpenOrRecent]]]:
    """Ask, in one query per chunk of keys, for every key's open alert and its alerts first
    seen since `since` (read them with `_loaded`). The resolved ones matter only where no alert
    is open, or where the batch resolves it (`resolving`): a trigger then opens a new alert,
    whose flap and late-repeat checks read them."""
    if not keys:
        return []
    integration_ids = sorted({k[0] for k in keys})
    return [
        alert_repo.open_or_recent(
            conn, integration_ids=integration_ids, keys=part, since=since, history_too=resolving
        )
        for part in chunks(sorted({k[1] for k in keys}))
    ]


def _loaded(
    lookups: list[alert_repo.Later[list[alert_repo.OpenOrRecent]]],
    keys: set[tuple[int, str]],
) -> tuple[dict[tuple[int, str], PendingAlert], History]:
    """The batch's open alerts by key, and the (first_seen_at, starts_at, flapping) of its
    recently resolved ones (flap detection, late repeats)."""
    found: dict[tuple[int, str], PendingAlert] = {}
    history: History = {}
    for lookup in lookups:
        for row in lookup.get():
            key = (row.integration_id, row.dedup_key)
            if key not in keys:
                continue
            if row.status == "resolved":
                history.setdefault(key, []).append((row.first_seen_at, row.starts_at, row.flapping))
                continue
            found[key] = PendingAlert(
                integration_id=row.integration_id,
                dedup_key=row.dedup_key,
                service_id=row.service_id,
                id=row.id,
                status=row.status,
                starts_at=row.starts_at,
                incident_id=row.incident_id,
                first_seen_at=row.first_seen_at,
                flapping=row.flapping,
            )
    return found, history


def ingest(ctx: Context, submissions: Sequence[Submission]) -> None:
    """`ingest_tx` in its own transaction (worker tasks and tests)."""
    with ctx.transaction() as session:
        ingest_tx(session, ctx, submissions)


class _Sessions:
    """The ORM session of a batch written on a bare connection, made only when a batch opens
    or resolves an incident: making, flushing and closing one cost about a third of a small
    batch that only adds alerts to open incidents or repeats them."""

    def __init__(self, ctx: Context, db: Session | Connection) -> None:
        self._ctx = ctx
        self._conn = db if isinstance(db, Connection) else None
        self._session = db if isinstance(db, Session) else None

    def __call__(self) -> Session:
        if self._session is None:
            assert self._conn is not None
            if not self._conn.in_transaction():
                # begun on the driver (`store.db.begin_on_driver`): SQLAlchemy joins it here,
                # else the session would own a transaction of its own and roll it back on close
                self._conn.begin()
            self._session = self._ctx.sessions(bind=self._conn)  # joins its transaction
        return self._session

    @property
    def made(self) -> bool:
        return self._session is not None

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    def close(self) -> None:
        """Close the session if this batch made it (a caller's stays open)."""
        if self._conn is not None and self._session is not None:
            self._session.close()


def ingest_tx(
    db: Session | Connection,
    ctx: Context,
    submissions: Sequence[Submission],
    *,
    commit: bool = False,
    locked: Callable[[], None] | None = None,
) -> None:
    """Apply every submission in the caller's transaction (a session's, or a connection's:
    an ORM session is then made only if the batch needs one); fill `submission.outcome`.

    With `commit` the caller means to commit right after: on PostgreSQL the COMMIT then goes
    with the batch's writes, in their round trip, when the batch did no ORM work and nothing
    after the writes needs the transaction (the caller's own commit then has nothing left to
    do). It raises like the caller's commit would; the caller still rolls back on any error.

    `locked()` is called once the batch holds its locks and has read the alerts it deals
    with: from then on another batch can start its own reads beside it (the group committer
    lets the host's next writer cut its batch)."""
    sessions = _Sessions(ctx, db)
    try:
        conn = db if isinstance(db, Connection) else db.connection()
        _ingest(conn, sessions, ctx, submissions, commit=commit, locked=locked)
        sessions.flush()
    finally:
        sessions.close()


def _ingest(
    conn: Connection,
    sessions: _Sessions,
    ctx: Context,
    submissions: Sequence[Submission],
    *,
    commit: bool,
    locked: Callable[[], None] | None,
) -> None:
    now = ctx.clock.now()
    wanted: set[tuple[int, str]] = set()
    service_ids: set[int] = set()
    triggers: list[tuple[int, AlertEvent]] = []
    resolving: set[str] = set()
    for sub in submissions:
        service_ids.add(sub.integration.service_id)
        for item in sub.alerts:
            wanted.add((sub.integration.id, item.event.dedup_key))
            service_ids.add(item.service_id)
            if item.event.action is Action.TRIGGER:
                triggers.append((item.service_id, item.event))
            elif item.event.action is Action.RESOLVE:
                resolving.add(item.event.dedup_key)
    # Core statements go to the connection: the session's execute path (and each
    # `session.connection()`) costs more than a small statement itself.
    services = sorted(service_ids)
    # PostgreSQL: the lock, the lookups and (if the batch may open alerts) the rules' version,
    # and the services' rules unless this process keeps them, in one round trip. SQLite has no
    # round trips and asks for the rules only when the batch opens alerts.
    postgres = conn.dialect.name == "postgresql"
    rules: placement.RulesAsked | None = None
    guessed = None
    # PostgreSQL: batches without resolves run beside each other (shared service locks).
    # A batch that resolves alerts runs alone: it may resolve an incident whose last alert
    # it resolves, which no other batch may be joining meanwhile. (SQLite: always alone.)
    shared = postgres and not resolving
    with alert_repo.pipelined(conn):
        alert_repo.begin(conn)  # PostgreSQL, the intake's writer: with the lock, not alone
        version = alert_repo.lock_services(conn, services, shared=shared)  # (PostgreSQL)
        lookups = _lookups(conn, wanted, now - STALE_REPEAT_WINDOW, resolving)
        if postgres and triggers:
            # and the groups new alerts would join, by the rules last seen (one round trip
            # fewer for most batches: `query_groups` asks only if this guess misses)
            rules = placement.ask_rules(conn, services, now, version)
            guessed = placement.guess_groups(conn, triggers, now)
    if locked is not None:
        locked()
    open_alerts, history = _loaded(lookups, wanted)

    created: list[PendingAlert] = []
    touched: list[PendingAlert] = []
    for sub in submissions:
        outcome = sub.outcome = Outcome()
        for item in sub.alerts:
            event = item.event
            key = (sub.integration.id, event.dedup_key)
            state = open_alerts.get(key)
            if event.action is Action.TRIGGER:
                if state is not None:
                    state.bump += 1
                    outcome.repeated += 1
                    if state.new is None and not state.listed:
                        state.listed = True
                        touched.append(state)
                    state.outcomes.append((outcome, len(outcome.alert_ids)))
                    outcome.alert_ids.append(state.id)
                    continue
                if event.starts_at is not None and any(
                    starts == event.starts_at for _, starts, _ in history.get(key, ())
                ):
                    outcome.ignored += 1  # a late repeat of a resolved alert instance
                    outcome.alert_ids.append(None)
                    continue
                state = PendingAlert(
                    integration_id=sub.integration.id,
                    dedup_key=event.dedup_key,
                    service_id=item.service_id,
                    starts_at=event.starts_at,
                    new=_new_row(sub, item, now),
                    event=event,
                )
                open_alerts[key] = state
                created.append(state)
                outcome.created += 1
                state.outcomes.append((outcome, len(outcome.alert_ids)))
                outcome.alert_ids.append(None)
                continue
            if state is None or (
                event.action is Action.RESOLVE
                and event.starts_at is not None
                and state.starts_at is not None
                and event.starts_at < state.starts_at  # a late resolve of an older instance
            ):
                outcome.ignored += 1
                outcome.alert_ids.append(None)
                continue
            if event.action is Action.ACKNOWLEDGE:
                if state.status == "firing":
                    state.status = "acknowledged"
                    state.acked = True
            else:
                state.status = "resolved"
                state.resolved = True
                del open_alerts[key]
                if state.first_seen_at is not None:  # stored before: now a resolved alert
                    # of the key, as the batch's later triggers see them (an alert the batch
                    # opened is not: `plan` would count it in its own flap check)
                    history.setdefault(key, []).append(
                        (state.first_seen_at, state.starts_at, state.flapping)
                    )
            if state.new is None and not state.listed:
                state.listed = True
                touched.append(state)
            state.outcomes.append((outcome, len(outcome.alert_ids)))
            outcome.alert_ids.append(state.id)

    if created:
        needed = sorted({s.service_id for s in created})
        if rules is None:
            rules = placement.ask_rules(conn, needed, now)
        planned = placement.plan(
            created, history, placement.rules_for(conn, rules, needed, now), now
        )
        groups = placement.query_groups(conn, planned, now, guessed)
        opening = placement.assign(sessions, ctx, planned, groups, now, may_open=not shared)
        if opening:  # take turns opening incidents with the batches beside this one
            groups = placement.query_groups(conn, planned, now, opening=opening)
            placement.assign(sessions, ctx, planned, groups, now)
        sessions.flush()  # incidents and groups opened by `assign`, before rows refer to them
    integration_ids = _due_for_touch(conn, submissions, now)
    resolved_incidents = {s.incident_id for s in touched if s.resolved and s.incident_id}
    resolved_incidents |= {s.incident_id for s in created if s.resolved and s.incident_id}
    with alert_repo.pipelined(conn):  # PostgreSQL: every write of the batch in one round trip
        # Resolves first: a batch may resolve an alert and open its next instance, which the
        # unique index of open alerts refuses while the old one is open.
        _apply_updates(conn, touched, now)
        new_ids = _insert_new(conn, ctx, created, now, touch=integration_ids)
        _record_changes(conn, ctx, submissions, now)
        # (not after ORM work, e.g. an incident opened: the caller's commit ends that, as
        # anywhere else, and such batches are rare)
        if commit and postgres and not resolved_incidents and not sessions.made:
            alert_repo.commit_pipelined(conn)
    for state, alert_id in zip(created, new_ids.get(), strict=True):
        state.id = alert_id
    if resolved_incidents:
        _after_resolve(sessions(), ctx, resolved_incidents, now)
    for state in (*created, *touched):
        for outcome, index in state.outcomes:
            outcome.alert_ids[index] = state.id


def _new_row(sub: Submission, item: Incoming, now: datetime) -> dict[str, Any]:
    event = item.event
    labels = dict(event.labels)
    if event.source_host and "source" not in labels and event.source == "pagerduty":
        labels["source"] = event.source_host  # PagerDuty's own "source" field
    annotations = dict(event.annotations)
    for name, value in event.details.items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        annotations.setdefault(name, text[:MAX_ANNOTATION_VALUE])
    return {
        "integration_id": sub.integration.id,
        "service_id": item.service_id,
        "source": sub.integration.type,
        "dedup_key": event.dedup_key,
        "fingerprint": event.fingerprint,
        "starts_at": event.starts_at,
        "status": "firing",
        "summary": event.summary or event.dedup_key,
        "severity": event.severity.value,
        "labels": labels,
        "annotations": annotations,
        "links": [{"href": link.href, "text": link.text} for link in event.links],
        "group_key": None,
        "first_seen_at": now,
        "last_seen_at": now,
        "acknowledged_at": None,
        "resolved_at": None,
        "occurrence_count": 1,
        "raw": item.raw,
        "raw_truncated": item.raw_truncated,
        "incident_id": None,
        "flapping": False,
        "suppressed": False,
        "suppressed_reason": None,
        "noise": False,
        "noise_reason": None,
    }


def _insert_new(
    conn: Connection,
    ctx: Context,
    created: list[PendingAlert],
    now: datetime,
    *,
    touch: Sequence[int],
) -> alert_repo.Later[list[int]]:
    """Insert the batch's new alerts, and an `alert_attached` event on the incident of each
    that joined or opened one, and touch the integrations `touch` (all in one statement on
    PostgreSQL); the new alerts' ids, in order, once read."""
    rows = []
    for state in created:
        assert state.new is not None
        row = state.new
        row["status"] = state.status
        if state.acked:
            row["acknowledged_at"] = now
        if state.resolved:
            row["resolved_at"] = now
        row["occurrence_count"] = 1 + state.bump
        rows.append(row)
    attached = alert_repo.Attached(
        record_type=incidents.RECORD,
        kind=EventKind.ALERT_ATTACHED.value,
        actor_label=ctx.actor.label,
        visibility="internal",
    )
    return alert_repo.insert_alerts(conn, rows, attached, touch=touch, now=now)


# Per database: when this process last set each integration's `last_event_at` (the batch's
# time). `touch_integrations` sets it only where it is older than TOUCH_EVERY, but that is a
# statement in every batch (on SQLite, where a batch of repeats has no other: ~1 µs of a
# repeat's cost); a batch skips integrations this process touched within TOUCH_EVERY.
_TOUCHED: WeakKeyDictionary[Engine, dict[int, datetime]] = WeakKeyDictionary()
_TOUCHED_MAX = 10_000


def _due_for_touch(conn: Connection, submissions: Sequence[Submission], now: datetime) -> list[int]:
    """The integrations whose `last_event_at` this batch sets: those that sent it a sign of
    life and that this process has not touched within `TOUCH_EVERY` (if the batch fails, the
    next touch is at most that much later)."""
    touched = _TOUCHED.get(conn.engine)
    if touched is None:
        touched = _TOUCHED.setdefault(conn.engine, {})
    due = now - alert_repo.TOUCH_EVERY
    ids = []
    for integration_id in {sub.integration.id for sub in submissions if sub.touch}:
        last = touched.get(integration_id)
        if last is None or last <= due or last > now:  # (or the clock went back)
            ids.append(integration_id)
    if ids:
        if len(touched) >= _TOUCHED_MAX:
            touched.clear()
        for integration_id in ids:
            touched[integration_id] = now
    return sorted(ids)


def _apply_updates(conn: Connection, touched: list[PendingAlert], now: datetime) -> None:
    alert_repo.bump(conn, [(s.id, s.bump) for s in touched if s.bump and s.id], now=now)
    acks = [s.id for s in touched if s.acked and not s.resolved and s.id]
    alert_repo.acknowledge(conn, acks, now=now)
    resolves = [s.id for s in touched if s.resolved and s.id]
    alert_repo.resolve(conn, resolves, now=now)


def _after_resolve(session: Session, ctx: Context, incident_ids: set[int], now: datetime) -> None:
    """Resolve (or note on) incidents whose alerts are now all resolved."""
    still_open = set(
        session.scalars(
            select(A.c.incident_id)
            .where(A.c.incident_id.in_(sorted(incident_ids)), A.c.status != "resolved")
            .distinct()
        )
    )
    for incident_id in sorted(incident_ids - still_open):
        incident = session.get(Incident, incident_id)
        if incident is None or incident.status not in OPEN_INCIDENT:
            continue
        service_id = session.scalar(
            select(AlertGroup.service_id).where(AlertGroup.incident_id == incident_id).limit(1)
        )
        row = session.get(ServiceAlertSettings, service_id) if service_id else None
        conf = alert_settings.merged(row.settings if row else None)
        incidents._event(
            session,
            ctx,
            incident,
            EventKind.ALERT_RESOLVED,
            body="All alerts resolved.",
            data={"all_resolved": True, "auto_resolve": bool(conf["auto_resolve"])},
        )
        if conf["auto_resolve"]:
            incidents.transition_tx(
                session, ctx, incident, lifecycle.Action.RESOLVE, lifecycle.TransitionInput()
            )


def _record_changes(
    conn: Connection, ctx: Context, submissions: Sequence[Submission], now: datetime
) -> None:
    rows = [
        {
            "record_type": "service",
            "record_id": sub.integration.service_id,
            "kind": EventKind.CHANGE_EVENT.value,
            "at": now,
            "actor_id": None,
            "actor_label": ctx.actor.label,
            "visibility": "internal",
            "body": str(sub.change.get("summary", ""))[:1024],
            "data": {**sub.change, "integration_id": sub.integration.id},
        }
        for sub in submissions
        if sub.change is not None
    ]
    alert_repo.insert_events(conn, rows)
