"""Alert ingestion: dedup, noise control, grouping into incidents, auto-resolve.

`ingest_tx(session, ctx, submissions)` processes many intake requests in the caller's
transaction with a fixed number of batched queries (one SELECT of the open alerts for every
dedup key in the batch, executemany inserts and updates), which is what makes group commit
pay off. Rules:

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

Across processes: SQLite serialises writers (BEGIN IMMEDIATE); on PostgreSQL the batch takes a
transaction-level advisory lock per service, and the partial unique index on open alerts
backs it up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain.priority import Level
from fireline.domain.timeline import EventKind
from fireline.ingest import routing
from fireline.ingest.signals import Outcome, Signal, Submission
from fireline.store.models import Incident, TimelineEvent
from fireline.store.models.alerts import (
    Alert,
    AlertGroup,
    Integration,
    MaintenanceWindow,
    ServiceAlertSettings,
    Silence,
)
from fireline.store.repos import alerts as alert_repo
from fireline.usecases import alert_settings, incidents
from fireline.usecases.context import Context

A: Table = Alert.__table__  # type: ignore[assignment]
T: Table = TimelineEvent.__table__  # type: ignore[assignment]
OPEN_INCIDENT = [s.value for s in lifecycle.OPEN_STATUSES]
STALE_REPEAT_WINDOW = timedelta(days=1)
CHUNK = 900


@dataclass(slots=True)
class _Open:
    """An open alert as seen by this batch (a stored row or one about to be inserted)."""

    integration_id: int
    dedup_key: str
    service_id: int
    id: int | None = None
    status: str = "firing"
    starts_at: datetime | None = None
    incident_id: int | None = None
    bump: int = 0
    acked: bool = False
    resolved: bool = False
    new: dict[str, Any] | None = None
    listed: bool = False
    outcomes: list[tuple[Outcome, int]] = field(default_factory=list)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _load_open(session: Session, keys: set[tuple[int, str]]) -> dict[tuple[int, str], _Open]:
    found: dict[tuple[int, str], _Open] = {}
    if not keys:
        return found
    integration_ids = sorted({k[0] for k in keys})
    dedup_keys = sorted({k[1] for k in keys})
    for part in _chunks(dedup_keys):
        rows = session.execute(
            select(
                A.c.id,
                A.c.integration_id,
                A.c.dedup_key,
                A.c.status,
                A.c.starts_at,
                A.c.incident_id,
                A.c.service_id,
            ).where(
                A.c.integration_id.in_(integration_ids),
                A.c.dedup_key.in_(part),
                A.c.status != "resolved",
            )
        )
        for row in rows:
            key = (row.integration_id, row.dedup_key)
            if key in keys:
                found[key] = _Open(
                    integration_id=row.integration_id,
                    dedup_key=row.dedup_key,
                    service_id=row.service_id,
                    id=row.id,
                    status=row.status,
                    starts_at=row.starts_at,
                    incident_id=row.incident_id,
                )
    return found


def _history(
    session: Session, keys: set[tuple[int, str]], since: datetime
) -> dict[tuple[int, str], list[tuple[datetime, datetime | None]]]:
    """(first_seen_at, starts_at) of recent resolved alerts per key (flapping, late repeats)."""
    result: dict[tuple[int, str], list[tuple[datetime, datetime | None]]] = {}
    if not keys:
        return result
    integration_ids = sorted({k[0] for k in keys})
    for part in _chunks(sorted({k[1] for k in keys})):
        rows = session.execute(
            select(A.c.integration_id, A.c.dedup_key, A.c.first_seen_at, A.c.starts_at).where(
                A.c.integration_id.in_(integration_ids),
                A.c.dedup_key.in_(part),
                A.c.status == "resolved",
                A.c.first_seen_at >= since,
            )
        )
        for row in rows:
            key = (row.integration_id, row.dedup_key)
            if key in keys:
                result.setdefault(key, []).append((row.first_seen_at, row.starts_at))
    return result


def _lock_services(session: Session, service_ids: Iterable[int]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already serialises writers
    for service_id in sorted(set(service_ids)):
        session.execute(
            select(func.pg_advisory_xact_lock(bindparam("k"))), {"k": 7_000_000_000 + service_id}
        )


def ingest(ctx: Context, submissions: Sequence[Submission]) -> None:
    """`ingest_tx` in its own transaction (worker tasks and tests)."""
    with ctx.transaction() as session:
        ingest_tx(session, ctx, submissions)


def ingest_tx(session: Session, ctx: Context, submissions: Sequence[Submission]) -> None:
    """Apply every submission in the caller's transaction; fill `submission.outcome`."""
    now = ctx.clock.now()
    wanted: set[tuple[int, str]] = set()
    service_ids: set[int] = set()
    for sub in submissions:
        service_ids.add(sub.integration.service_id)
        for sig in sub.signals:
            wanted.add((sub.integration.id, sig.dedup_key))
            service_ids.add(sig.service_id)
    _lock_services(session, service_ids)
    open_alerts = _load_open(session, wanted)
    candidates = {
        (sub.integration.id, sig.dedup_key)
        for sub in submissions
        for sig in sub.signals
        if sig.action == "trigger" and (sub.integration.id, sig.dedup_key) not in open_alerts
    }
    history = _history(session, candidates, now - STALE_REPEAT_WINDOW)

    created: list[_Open] = []
    touched: list[_Open] = []
    for sub in submissions:
        outcome = sub.outcome = Outcome()
        for sig in sub.signals:
            key = (sub.integration.id, sig.dedup_key)
            state = open_alerts.get(key)
            if sig.action == "trigger":
                if state is not None:
                    state.bump += 1
                    outcome.repeated += 1
                    if state.new is None and not state.listed:
                        state.listed = True
                        touched.append(state)
                    state.outcomes.append((outcome, len(outcome.alert_ids)))
                    outcome.alert_ids.append(state.id)
                    continue
                if sig.starts_at is not None and any(
                    starts == sig.starts_at for _, starts in history.get(key, ())
                ):
                    outcome.ignored += 1  # a late repeat of a resolved alert instance
                    outcome.alert_ids.append(None)
                    continue
                state = _Open(
                    integration_id=sub.integration.id,
                    dedup_key=sig.dedup_key,
                    service_id=sig.service_id,
                    starts_at=sig.starts_at,
                    new=_new_row(sub, sig, now),
                )
                state.new["_signal"] = sig  # type: ignore[index]
                open_alerts[key] = state
                created.append(state)
                outcome.created += 1
                state.outcomes.append((outcome, len(outcome.alert_ids)))
                outcome.alert_ids.append(None)
                continue
            if state is None or (
                sig.action == "resolve"
                and sig.starts_at is not None
                and state.starts_at is not None
                and sig.starts_at < state.starts_at  # a late resolve of an older instance
            ):
                outcome.ignored += 1
                outcome.alert_ids.append(None)
                continue
            if sig.action == "acknowledge":
                if state.status == "firing":
                    state.status = "acknowledged"
                    state.acked = True
            else:
                state.status = "resolved"
                state.resolved = True
                del open_alerts[key]
            if state.new is None and not state.listed:
                state.listed = True
                touched.append(state)
            state.outcomes.append((outcome, len(outcome.alert_ids)))
            outcome.alert_ids.append(state.id)

    if created:
        _place_new(session, ctx, created, history, now)
        _insert_new(session, ctx, created, now)
    _apply_updates(session, touched, now)
    resolved_incidents = {s.incident_id for s in touched if s.resolved and s.incident_id}
    resolved_incidents |= {s.incident_id for s in created if s.resolved and s.incident_id}
    if resolved_incidents:
        _after_resolve(session, ctx, resolved_incidents, now)
    for state in (*created, *touched):
        for outcome, index in state.outcomes:
            outcome.alert_ids[index] = state.id
    _record_changes(session, ctx, submissions, now)
    integration_ids = sorted({sub.integration.id for sub in submissions if sub.touch})
    if integration_ids:
        session.execute(
            update(Integration).where(Integration.id.in_(integration_ids)).values(last_event_at=now)
        )


def _new_row(sub: Submission, sig: Signal, now: datetime) -> dict[str, Any]:
    return {
        "integration_id": sub.integration.id,
        "service_id": sig.service_id,
        "source": sub.integration.type,
        "dedup_key": sig.dedup_key,
        "fingerprint": sig.fingerprint,
        "starts_at": sig.starts_at,
        "status": "firing",
        "summary": sig.summary[:1024] or sig.dedup_key[:1024],
        "severity": sig.severity,
        "labels": sig.labels,
        "annotations": sig.annotations,
        "links": sig.links,
        "group_key": None,
        "first_seen_at": now,
        "last_seen_at": now,
        "acknowledged_at": None,
        "resolved_at": None,
        "occurrence_count": 1,
        "raw": sig.raw,
        "raw_truncated": sig.raw_truncated,
        "incident_id": None,
        "flapping": False,
        "suppressed": False,
        "suppressed_reason": None,
        "noise": False,
        "noise_reason": None,
    }


def group_key(settings: dict[str, Any], sig: Signal) -> str:
    """The grouping key of a new alert under the service's grouping mode."""
    grouping = settings["grouping"]
    mode = grouping["mode"]
    if mode == "service" or mode == "time_window":
        key = mode
    elif mode == "labels":
        names = grouping["labels"]
        if any(n in sig.labels for n in names):
            key = "labels:" + "\x1f".join(f"{n}={sig.labels.get(n, '')}" for n in names)
        else:
            key = "dedup:" + sig.dedup_key
    else:
        key = "dedup:" + sig.dedup_key
    if len(key) > 255:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _place_new(
    session: Session,
    ctx: Context,
    created: list[_Open],
    history: dict[tuple[int, str], list[tuple[datetime, datetime | None]]],
    now: datetime,
) -> None:
    """Decide suppression and the incident of every new alert (opening incidents as needed)."""
    services = sorted({s.service_id for s in created})
    stored = dict(
        session.execute(
            select(ServiceAlertSettings.service_id, ServiceAlertSettings.settings).where(
                ServiceAlertSettings.service_id.in_(services)
            )
        ).all()
    )
    settings = {sid: alert_settings.merged(stored.get(sid)) for sid in services}
    maintenance = dict(
        session.execute(
            select(MaintenanceWindow.service_id, MaintenanceWindow.id).where(
                MaintenanceWindow.service_id.in_(services),
                MaintenanceWindow.starts_at <= now,
                MaintenanceWindow.ends_at > now,
            )
        ).all()
    )
    silences = session.execute(
        select(Silence.id, Silence.service_id, Silence.matchers).where(
            or_(Silence.service_id.in_(services), Silence.service_id.is_(None)),
            Silence.starts_at <= now,
            Silence.ends_at > now,
        )
    ).all()
    needs_group: list[tuple[_Open, str]] = []
    for state in created:
        row = state.new
        assert row is not None
        sig: Signal = row["_signal"]
        conf = settings[state.service_id]
        if state.service_id in maintenance:
            row["suppressed"] = True
            row["suppressed_reason"] = f"maintenance:{maintenance[state.service_id]}"
            continue
        silence = next(
            (
                s
                for s in silences
                if (s.service_id in (None, state.service_id))
                and routing.matches(_matchers(s.matchers), sig)
            ),
            None,
        )
        if silence is not None:
            row["suppressed"] = True
            row["suppressed_reason"] = f"silence:{silence.id}"
            continue
        flap = conf["flap"]
        since = now - timedelta(minutes=flap["window_minutes"])
        recent = [
            first
            for first, _ in history.get((state.integration_id, state.dedup_key), ())
            if first >= since
        ]
        if len(recent) + 1 >= flap["max_opens"]:
            row["suppressed"] = True
            row["flapping"] = True
            row["suppressed_reason"] = (
                f"flapping: opened {len(recent) + 1} times in {flap['window_minutes']} min"
            )
            continue
        key = group_key(conf, sig)
        row["group_key"] = key
        needs_group.append((state, key))
    if not needs_group:
        return
    open_groups = _open_groups(session, {(s.service_id, k) for s, k in needs_group})
    for state, key in needs_group:
        conf = settings[state.service_id]
        slot = (state.service_id, key)
        found = open_groups.get(slot)
        if found is not None and conf["grouping"]["mode"] == "time_window":
            window = timedelta(minutes=conf["grouping"]["window_minutes"])
            if now - found[1] >= window:
                found = None
        if found is None:
            incident_id = _open_incident(session, ctx, state, conf, key, now)
            found = (incident_id, now)
            open_groups[slot] = found
        state.incident_id = found[0]
        assert state.new is not None
        state.new["incident_id"] = found[0]


def _matchers(raw: Any) -> dict[str, str]:
    return raw if isinstance(raw, dict) else {}


def _open_groups(
    session: Session, slots: set[tuple[int, str]]
) -> dict[tuple[int, str], tuple[int, datetime]]:
    """Open incidents per (service, group key): (incident id, opened at), newest wins."""
    result: dict[tuple[int, str], tuple[int, datetime]] = {}
    services = sorted({s for s, _ in slots})
    for part in _chunks(sorted({k for _, k in slots})):
        rows = session.execute(
            select(
                AlertGroup.service_id,
                AlertGroup.group_key,
                AlertGroup.incident_id,
                AlertGroup.opened_at,
            )
            .join(Incident, Incident.id == AlertGroup.incident_id)
            .where(
                AlertGroup.service_id.in_(services),
                AlertGroup.group_key.in_(part),
                Incident.status.in_(OPEN_INCIDENT),
            )
            .order_by(AlertGroup.id)
        )
        for row in rows:
            slot = (row.service_id, row.group_key)
            if slot in slots:
                result[slot] = (row.incident_id, row.opened_at)
    return result


def _open_incident(
    session: Session, ctx: Context, state: _Open, conf: dict[str, Any], key: str, now: datetime
) -> int:
    assert state.new is not None
    sig: Signal = state.new["_signal"]
    levels = conf["severity_map"].get(sig.severity) or conf["severity_map"]["error"]
    title = (sig.summary or sig.dedup_key).strip()[:300] or "Alert"
    incident = incidents.declare_tx(
        session,
        ctx,
        incidents.IncidentDraft(
            title=title,
            description=sig.annotations.get("description", "")[:50_000],
            services=[state.service_id],
            impact=Level(levels["impact"]),
            urgency=Level(levels["urgency"]),
            source=incidents.Source.MONITORING,
            detected_at=now,
            fingerprint=(sig.fingerprint or sig.dedup_key)[:255],
        ),
    )
    session.add(
        AlertGroup(
            service_id=state.service_id, group_key=key, incident_id=incident.id, opened_at=now
        )
    )
    return incident.id


def _insert_new(session: Session, ctx: Context, created: list[_Open], now: datetime) -> None:
    rows = []
    for state in created:
        assert state.new is not None
        row = {k: v for k, v in state.new.items() if k != "_signal"}
        row["status"] = state.status
        if state.acked:
            row["acknowledged_at"] = now
        if state.resolved:
            row["resolved_at"] = now
        row["occurrence_count"] = 1 + state.bump
        rows.append(row)
    session.flush()
    ids = alert_repo.reserve_alert_ids(session, len(rows))
    for row, alert_id in zip(rows, ids, strict=True):
        row["id"] = alert_id
    alert_repo.insert_alerts(session, rows)
    events = []
    for state, alert_id in zip(created, ids, strict=True):
        state.id = alert_id
        if state.incident_id is None:
            continue
        assert state.new is not None
        events.append(
            {
                "record_type": incidents.RECORD,
                "record_id": state.incident_id,
                "kind": EventKind.ALERT_ATTACHED.value,
                "at": now,
                "actor_id": None,
                "actor_label": ctx.actor.label,
                "visibility": "internal",
                "body": None,
                "data": {
                    "alert_id": alert_id,
                    "summary": state.new["summary"],
                    "severity": state.new["severity"],
                    "dedup_key": state.dedup_key,
                    "source": state.new["source"],
                },
            }
        )
    alert_repo.insert_events(session, events)


def _apply_updates(session: Session, touched: list[_Open], now: datetime) -> None:
    alert_repo.bump(session, [(s.id, s.bump) for s in touched if s.bump and s.id], now=now)
    acks = [{"b_id": s.id} for s in touched if s.acked and not s.resolved]
    if acks:
        session.execute(
            update(A)
            .where(and_(A.c.id == bindparam("b_id"), A.c.status == "firing"))
            .values(status="acknowledged", acknowledged_at=now),
            acks,
        )
    resolves = [{"b_id": s.id} for s in touched if s.resolved]
    if resolves:
        session.execute(
            update(A)
            .where(and_(A.c.id == bindparam("b_id"), A.c.status != "resolved"))
            .values(status="resolved", resolved_at=now),
            resolves,
        )


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
    session: Session, ctx: Context, submissions: Sequence[Submission], now: datetime
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
    alert_repo.insert_events(session, rows)
