"""Heartbeat monitors (dead-man's switches): raise an alert when a ping is overdue.

A heartbeat integration expects a ping (`/hooks/heartbeat/{key}`) at least every
`config.interval_minutes`. Every minute this task raises an alert on the integration's service
for each one whose last ping (or creation) is older than that; the next ping resolves it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from fireline.domain.alert_grouping import Action, AlertEvent, Severity
from fireline.store.models.alerts import OPEN_ALERT, Alert, Integration
from fireline.usecases import alerts, integrations
from fireline.usecases.context import Context
from fireline.usecases.submissions import Incoming, Submission
from fireline.worker.registry import registry

HEARTBEAT_KEY = "heartbeat:missed"


@registry.periodic("heartbeats.check", every=timedelta(minutes=1))
def check(ctx: Context, now: datetime) -> None:
    """Raise an alert for every overdue heartbeat that has none open yet."""
    with ctx.reading() as session:
        rows = session.scalars(
            select(Integration).where(
                Integration.type == "heartbeat", Integration.revoked_at.is_(None)
            )
        ).all()
        already = set(
            session.scalars(
                # the open-alert index's own condition, as SQL text, so that it is used
                select(Alert.integration_id).where(Alert.dedup_key == HEARTBEAT_KEY, OPEN_ALERT)
            )
        )
    due: list[Submission] = []
    for row in rows:
        interval = timedelta(minutes=int(row.config.get("interval_minutes", 5)))
        last = row.last_event_at or row.created_at
        if now - last <= interval or row.id in already:
            continue
        minutes = int((now - last).total_seconds() // 60)
        info = integrations.info_of(
            id=row.id, type=row.type, service_id=row.service_id, config=row.config, name=row.name
        )
        event = AlertEvent(
            source="heartbeat",
            action=Action.TRIGGER,
            dedup_key=HEARTBEAT_KEY,
            summary=f"Heartbeat '{row.name}' missed: no ping for {minutes} min "
            f"(expected every {interval.total_seconds() / 60:.0f} min)",
            severity=Severity.CRITICAL,
            labels={"alertname": "HeartbeatMissed", "heartbeat": row.name},
        )
        incoming = Incoming(event, row.service_id)
        due.append(Submission(integration=info, alerts=[incoming], touch=False))
    if due:
        alerts.ingest(ctx, due)
