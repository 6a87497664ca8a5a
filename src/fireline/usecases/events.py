"""Domain events leave through the outbox: a `Job(kind="event")` written in the same
transaction as the change. The worker fans them out to subscribers (escalation, notifications,
webhooks, problem management); nothing is sent inline in a request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fireline.store.repos import jobs

EVENT_JOB = "event"


def publish(session: Session, *, type: str, data: dict[str, Any], now: datetime) -> None:
    """Queue domain event `type` (e.g. `incident.triggered`) with its JSON `data`."""
    jobs.enqueue(
        session,
        kind=EVENT_JOB,
        payload={"type": type, "data": data, "at": now.isoformat()},
        due_at=now,
        now=now,
    )
