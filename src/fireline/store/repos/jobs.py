"""Durable jobs: enqueue in the caller's transaction; claim due jobs safely across processes.

On PostgreSQL `claim_due` uses `FOR UPDATE SKIP LOCKED`, so several workers never claim the
same job. On SQLite the claiming transaction is `BEGIN IMMEDIATE` (one writer at a time).
A claimed job carries a lease (`locked_until`); a worker that dies loses its lease and the
job becomes claimable again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fireline.store.models import Job


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    due_at: datetime,
    now: datetime,
    dedup_key: str | None = None,
    max_attempts: int = 8,
) -> None:
    """Insert a job. With `dedup_key`, a second job with the same key is silently skipped."""
    values = {
        "kind": kind,
        "payload": payload,
        "due_at": due_at,
        "state": "pending",
        "attempts": 0,
        "max_attempts": max_attempts,
        "dedup_key": dedup_key,
        "created_at": now,
    }
    if dedup_key is None:
        session.add(Job(**values))
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(Job).values(**values).on_conflict_do_nothing())


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to insert with `enqueue_many` (same fields as `enqueue`)."""

    kind: str
    payload: dict[str, Any]
    due_at: datetime
    dedup_key: str | None = None
    max_attempts: int = 8


def enqueue_many(session: Session, new: Sequence[NewJob], *, now: datetime) -> None:
    """Insert many jobs in one executemany; a job whose dedup key exists is skipped, as in
    `enqueue`. Hot path (escalation steps page many people per tick): no ORM objects."""
    if not new:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(cast(Table, Job.__table__)).on_conflict_do_nothing(),
        [
            {
                "kind": job.kind,
                "payload": job.payload,
                "due_at": job.due_at,
                "state": "pending",
                "attempts": 0,
                "max_attempts": job.max_attempts,
                "dedup_key": job.dedup_key,
                "created_at": now,
            }
            for job in new
        ],
    )


def claim_due(
    session: Session,
    *,
    now: datetime,
    worker_id: str,
    limit: int = 100,
    lease: timedelta = timedelta(minutes=2),
    kinds: Sequence[str] | None = None,
) -> list[Job]:
    """Lease up to `limit` due jobs to `worker_id`, oldest due first. The caller commits
    right after. On PostgreSQL one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
    RETURNING` statement: a worker claims often, and loading then updating row by row cost
    a round trip per job."""
    due = [
        Job.due_at <= now,
        or_(Job.state == "pending", (Job.state == "running") & (Job.locked_until < now)),
    ]
    if kinds:
        due.append(Job.kind.in_(kinds))
    if session.get_bind().dialect.name == "postgresql":
        ids = (
            select(Job.id)
            .where(*due)
            .order_by(Job.due_at, Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = session.scalars(
            update(Job)
            .where(Job.id.in_(ids.scalar_subquery()))
            .values(
                state="running",
                locked_by=worker_id,
                locked_until=now + lease,
                attempts=Job.attempts + 1,
            )
            .returning(Job)
            .execution_options(synchronize_session=False)
        ).all()
        return sorted(claimed, key=lambda job: (job.due_at, job.id))
    jobs = list(session.scalars(select(Job).where(*due).order_by(Job.due_at, Job.id).limit(limit)))
    for job in jobs:
        job.state = "running"
        job.locked_by = worker_id
        job.locked_until = now + lease
        job.attempts += 1
    return jobs


def complete(session: Session, *, job_id: int, now: datetime) -> None:
    """Mark a job done. A no-op for a job already done, so a handler may complete its job in
    the transaction that holds the job's effect (one commit, and no re-run after a crash)
    before the runner's own completion, which then writes nothing."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state != "done")
        .values(state="done", finished_at=now, locked_by=None, locked_until=None)
    )


def complete_many(session: Session, *, job_ids: Collection[int], now: datetime) -> None:
    """`complete` for many jobs in one statement."""
    if not job_ids:
        return
    session.execute(
        update(Job)
        .where(Job.id.in_(sorted(job_ids)), Job.state != "done")
        .values(state="done", finished_at=now, locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )


def fail(
    session: Session, *, job: Job, now: datetime, error: str, retry_at: datetime | None
) -> None:
    """Record a failed attempt: retry at `retry_at`, or dead-letter when attempts are spent."""
    job.last_error = error[:4000]
    job.locked_by = None
    job.locked_until = None
    if retry_at is None or job.attempts >= job.max_attempts:
        job.state = "dead"
        job.finished_at = now
    else:
        job.state = "pending"
        job.due_at = retry_at
