"""Append timeline events and read a record's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from fireline.store.models import TimelineEvent


def append(
    session: Session,
    *,
    record_type: str,
    record_id: int,
    kind: str,
    at: datetime,
    actor_id: int | None,
    actor_label: str,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    visibility: str = "internal",
) -> TimelineEvent:
    event = TimelineEvent(
        record_type=record_type,
        record_id=record_id,
        kind=kind,
        at=at,
        actor_id=actor_id,
        actor_label=actor_label,
        body=body,
        data=data or {},
        visibility=visibility,
    )
    session.add(event)
    return event


def append_many(session: Session, events: Sequence[dict[str, Any]]) -> None:
    """Insert many events in one executemany (no ORM objects, ids not returned). Each dict
    holds `append`'s keyword arguments (`body`, `data`, `visibility` optional)."""
    if not events:
        return
    session.execute(
        insert(cast(Table, TimelineEvent.__table__)),
        [
            {
                "body": None,
                "visibility": "internal",
                **event,
                "data": event.get("data") or {},
            }
            for event in events
        ],
    )


def for_record(
    session: Session,
    *,
    record_type: str,
    record_id: int,
    after_id: int = 0,
    limit: int = 500,
    newest_first: bool = False,
) -> Sequence[TimelineEvent]:
    query = select(TimelineEvent).where(
        TimelineEvent.record_type == record_type,
        TimelineEvent.record_id == record_id,
        TimelineEvent.id > after_id,
    )
    order = TimelineEvent.id.desc() if newest_first else TimelineEvent.id
    return session.scalars(query.order_by(order).limit(limit)).all()
