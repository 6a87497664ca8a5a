"""The worker loop: claim due jobs, run them, record the outcome; safe with many workers.

A job is claimed with a lease in its own short transaction (SKIP LOCKED on PostgreSQL), run
outside any claim transaction, then completed or rescheduled. A worker that dies mid-job
loses its lease, and another worker picks the job up after the lease expires, so a job is
never lost. Handlers must therefore be idempotent for the rare re-run after a crash (use a
dedup key or check state first); the job's id is a natural idempotency key.

Tests call `tick(ctx)` after advancing a FrozenClock instead of running the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fireline.store.models import Job
from fireline.store.repos import jobs
from fireline.usecases.context import Context
from fireline.usecases.events import EVENT_JOB
from fireline.worker.registry import (
    BatchHandler,
    Event,
    JobData,
    PermanentFailure,
    Registry,
    RetryLater,
    load,
)

log = logging.getLogger("fireline.worker")

SUBSCRIBER_JOB = "subscriber"
PERIODIC_JOB = "periodic"
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential back-off with jitter: ~5 s, 10 s, 20 s ... capped at one hour."""
    base = min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_CAP)
    jitter: float = (rng or random).uniform(0.8, 1.2)
    return timedelta(seconds=base.total_seconds() * jitter)


def schedule_periodics(ctx: Context, registry: Registry, *, now: datetime) -> None:
    """Make sure each periodic task has a pending job for its current slot (idempotent)."""
    with ctx.transaction() as session:
        for periodic in registry.periodics.values():
            _enqueue_periodic(session, periodic.name, periodic.every, now=now, after=None)


def _slot(now: datetime, every: timedelta) -> int:
    return int(now.timestamp() // every.total_seconds())


def _enqueue_periodic(
    session: Session, name: str, every: timedelta, *, now: datetime, after: datetime | None
) -> None:
    # After a run, the next slot; after downtime, the current one (no backlog of catch-ups).
    base = now if after is None else max(after + every, now)
    slot = _slot(base, every)
    due = datetime.fromtimestamp(slot * every.total_seconds(), tz=now.tzinfo)
    jobs.enqueue(
        session,
        kind=PERIODIC_JOB,
        payload={"name": name},
        due_at=max(due, now) if after is None else due,
        now=now,
        dedup_key=f"periodic:{name}:{slot}",
        max_attempts=3,
    )


def tick(
    ctx: Context,
    *,
    worker_id: str | None = None,
    limit: int = 100,
    registry: Registry | None = None,
) -> int:
    """Claim and run one batch of due jobs; return how many ran."""
    registry = registry or load()
    worker_id = worker_id or default_worker_id()
    now = ctx.clock.now()
    with ctx.transaction() as session:
        claimed = [
            JobData(
                id=job.id,
                kind=job.kind,
                payload=dict(job.payload),
                attempts=job.attempts,
                due_at=job.due_at,
            )
            for job in jobs.claim_due(session, now=now, worker_id=worker_id, limit=limit)
        ]
    by_kind: dict[str, list[JobData]] = {}
    for job in claimed:
        by_kind.setdefault(job.kind, []).append(job)
    for kind, group in by_kind.items():
        batch = registry.batches.get(kind)
        if batch is not None and len(group) > 1:
            _run_batch(ctx, registry, batch, group)
        else:
            for job in group:
                _run_one(ctx, registry, job)
    return len(claimed)


def _run_batch(ctx: Context, registry: Registry, batch: BatchHandler, group: list[JobData]) -> None:
    """Run one kind's claimed jobs through its batch handler; settle each job's outcome."""
    try:
        outcomes = batch(ctx, group)
    except Exception:
        # Nothing of the batch was committed (a handler commits its effects with the jobs'
        # completion): run each job on its own, which is safe for idempotent handlers.
        log.exception(
            "batch of %d %s jobs failed; running them one by one", len(group), group[0].kind
        )
        outcomes = {}
    done: list[int] = []
    for job in group:
        if job.id not in outcomes:
            _run_one(ctx, registry, job)
            continue
        error = outcomes[job.id]
        if error is None:
            done.append(job.id)
        else:
            _settle_failure(ctx, job, error)
    if done:
        # Normally already done in the handler's commit (then this writes nothing).
        with ctx.transaction() as session:
            jobs.complete_many(session, job_ids=done, now=ctx.clock.now())


def drain(ctx: Context, *, max_rounds: int = 100, registry: Registry | None = None) -> int:
    """Run ticks until nothing is due (tests: jobs that enqueue due jobs run too)."""
    total = 0
    for _ in range(max_rounds):
        ran = tick(ctx, registry=registry)
        total += ran
        if ran == 0:
            break
    return total


def _run_one(ctx: Context, registry: Registry, job: JobData) -> None:
    try:
        _dispatch(ctx, registry, job)
    except Exception as exc:
        _settle_failure(ctx, job, exc)
        return
    with ctx.transaction() as session:
        jobs.complete(session, job_id=job.id, now=ctx.clock.now())
        if job.kind == PERIODIC_JOB:
            periodic = registry.periodics.get(str(job.payload.get("name")))
            if periodic is not None:
                _enqueue_periodic(
                    session, periodic.name, periodic.every, now=ctx.clock.now(), after=job.due_at
                )


def _settle_failure(ctx: Context, job: JobData, exc: BaseException) -> None:
    """Retry a failed job with back-off, or dead-letter it (PermanentFailure)."""
    if isinstance(exc, PermanentFailure):
        _record_failure(ctx, job, f"permanent: {exc}", retry_at=None)
        log.warning("job %s (%s) dead-lettered: %s", job.id, job.kind, exc)
    elif isinstance(exc, RetryLater):
        delay = exc.delay or backoff(job.attempts)
        _record_failure(ctx, job, f"retry: {exc}", retry_at=ctx.clock.now() + delay)
    else:
        log.error("job %s (%s) failed", job.id, job.kind, exc_info=exc)
        _record_failure(
            ctx,
            job,
            f"{type(exc).__name__}: {exc}",
            retry_at=ctx.clock.now() + backoff(job.attempts),
        )


def _record_failure(ctx: Context, job: JobData, error: str, *, retry_at: datetime | None) -> None:
    with ctx.transaction() as session:
        row = session.get(Job, job.id)
        if row is not None:
            jobs.fail(session, job=row, now=ctx.clock.now(), error=error, retry_at=retry_at)


def _dispatch(ctx: Context, registry: Registry, job: JobData) -> None:
    if job.kind == EVENT_JOB:
        _fan_out(ctx, registry, job)
        return
    if job.kind == SUBSCRIBER_JOB:
        name = str(job.payload["subscriber"])
        found = registry.subscribers.get(name)
        if found is None:
            raise PermanentFailure(f"no subscriber {name!r}")
        event = job.payload["event"]
        found[1](
            ctx,
            Event(type=event["type"], data=event["data"], at=event["at"], job_id=job.id),
        )
        return
    if job.kind == PERIODIC_JOB:
        periodic = registry.periodics.get(str(job.payload.get("name")))
        if periodic is None:
            return  # a task that no longer exists: nothing to do
        periodic.handler(ctx, ctx.clock.now())
        return
    handler = registry.jobs.get(job.kind)
    if handler is None:
        raise PermanentFailure(f"no handler for job kind {job.kind!r}")
    handler(ctx, job)


def _fan_out(ctx: Context, registry: Registry, job: JobData) -> None:
    """Turn one event into one job per subscriber, so each retries on its own."""
    event_type = str(job.payload.get("type", ""))
    names = registry.subscribers_for(event_type)
    if not names:
        return
    now = ctx.clock.now()
    with ctx.transaction() as session:
        for name in names:
            jobs.enqueue(
                session,
                kind=SUBSCRIBER_JOB,
                payload={"subscriber": name, "event": job.payload},
                due_at=now,
                now=now,
                dedup_key=f"event:{job.id}:{name}",
            )


# ---------------------------------------------------------------- running


class WorkerLoop:
    """Runs `tick` until stopped; sleeps `poll` seconds when idle."""

    def __init__(self, ctx: Context, *, poll: float | None = None) -> None:
        self.ctx = ctx
        self.poll = poll if poll is not None else ctx.settings.worker_poll_seconds
        self.stop_event = threading.Event()
        self.worker_id = default_worker_id()

    def run(self) -> None:
        registry = load()
        schedule_periodics(self.ctx, registry, now=self.ctx.clock.now())
        log.info("worker %s started", self.worker_id)
        while not self.stop_event.is_set():
            try:
                ran = tick(
                    self.ctx,
                    worker_id=self.worker_id,
                    limit=self.ctx.settings.worker_batch_size,
                    registry=registry,
                )
            except Exception:
                log.exception("worker tick failed")
                ran = 0
            if ran == 0:
                self.stop_event.wait(self.poll)
        log.info("worker %s stopped", self.worker_id)


def start_embedded(ctx: Context) -> Callable[[], Awaitable[None]]:
    """Run the worker in a background thread of the server process; return its async stop."""
    loop = WorkerLoop(ctx)
    thread = threading.Thread(target=loop.run, name="fireline-worker", daemon=True)
    thread.start()

    async def stop() -> None:
        loop.stop_event.set()
        await asyncio.to_thread(thread.join, 10)

    return stop


def run_forever(ctx: Context) -> None:
    """`fireline worker`: run until SIGINT/SIGTERM."""
    import signal

    logging.basicConfig(level=ctx.settings.log_level.upper(), format="%(asctime)s %(message)s")
    loop = WorkerLoop(ctx)

    def _stop(*_: object) -> None:
        loop.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    loop.run()
