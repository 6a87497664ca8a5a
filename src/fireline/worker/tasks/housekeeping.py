"""Housekeeping: forget finished jobs and old idempotency records."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from fireline.store.models import IdempotencyRecord, Job
from fireline.usecases.context import Context
from fireline.worker.registry import registry

KEEP_DONE_JOBS = timedelta(days=7)
KEEP_IDEMPOTENCY = timedelta(hours=24)


@registry.periodic("housekeeping.purge", every=timedelta(hours=1))
def purge(ctx: Context, now: datetime) -> None:
    with ctx.transaction() as session:
        session.execute(
            delete(Job).where(Job.state == "done", Job.finished_at < now - KEEP_DONE_JOBS)
        )
        session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEEP_IDEMPOTENCY)
        )
