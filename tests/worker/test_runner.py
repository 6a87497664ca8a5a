"""The worker: durable jobs, event fan-out, retries with back-off, dead letters, periodic
tasks, leases, and exactly-once claiming with two workers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from fireline.clock import FrozenClock
from fireline.store.models import Job
from fireline.store.repos import jobs
from fireline.usecases import events
from fireline.usecases.context import Context
from fireline.worker import runner
from fireline.worker.registry import Event, JobData, PermanentFailure, Registry, RetryLater


def _enqueue(ctx: Context, kind: str, payload: dict[str, object], **kw: object) -> None:
    with ctx.transaction() as session:
        jobs.enqueue(
            session, kind=kind, payload=payload, due_at=ctx.clock.now(), now=ctx.clock.now(), **kw
        )


def _states(ctx: Context) -> dict[str, int]:
    with ctx.reading() as session:
        return dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())


def test_event_reaches_every_matching_subscriber_once(ctx: Context) -> None:
    registry = Registry()
    seen: list[tuple[str, str]] = []

    @registry.subscriber("incident.*", name="a")
    def a(_ctx: Context, event: Event) -> None:
        seen.append(("a", event.type))

    @registry.subscriber("incident.resolved", name="b")
    def b(_ctx: Context, event: Event) -> None:
        seen.append(("b", event.type))

    with ctx.transaction() as session:
        events.publish(session, type="incident.triggered", data={"x": 1}, now=ctx.clock.now())
        events.publish(session, type="incident.resolved", data={"x": 2}, now=ctx.clock.now())
    runner.drain(ctx, registry=registry)
    runner.drain(ctx, registry=registry)
    assert sorted(seen) == [
        ("a", "incident.resolved"),
        ("a", "incident.triggered"),
        ("b", "incident.resolved"),
    ]


def test_failing_job_is_retried_with_backoff_then_dead_lettered(
    ctx: Context, clock: FrozenClock
) -> None:
    registry = Registry()
    calls: list[datetime] = []

    @registry.job("flaky")
    def flaky(_ctx: Context, _job: JobData) -> None:
        calls.append(clock.now())
        raise RuntimeError("smtp down")

    _enqueue(ctx, "flaky", {}, max_attempts=3)
    assert runner.tick(ctx, registry=registry) == 1
    assert runner.tick(ctx, registry=registry) == 0  # not due again yet: backing off
    clock.advance(seconds=7)
    assert runner.tick(ctx, registry=registry) == 1
    clock.advance(seconds=13)
    assert runner.tick(ctx, registry=registry) == 1
    clock.advance(hours=2)
    assert runner.tick(ctx, registry=registry) == 0
    assert len(calls) == 3
    assert _states(ctx) == {"dead": 1}
    with ctx.reading() as session:
        assert "smtp down" in (session.scalar(select(Job.last_error)) or "")


def test_retry_later_honours_the_requested_delay(ctx: Context, clock: FrozenClock) -> None:
    registry = Registry()
    calls = Counter[str]()

    @registry.job("limited")
    def limited(_ctx: Context, _job: JobData) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RetryLater("429", delay=timedelta(minutes=3))

    _enqueue(ctx, "limited", {})
    runner.tick(ctx, registry=registry)
    clock.advance(minutes=2)
    assert runner.tick(ctx, registry=registry) == 0
    clock.advance(minutes=1, seconds=1)
    assert runner.tick(ctx, registry=registry) == 1
    assert _states(ctx) == {"done": 1}


def test_permanent_failure_dead_letters_at_once(ctx: Context) -> None:
    registry = Registry()

    @registry.job("gone")
    def gone(_ctx: Context, _job: JobData) -> None:
        raise PermanentFailure("410 Gone")

    _enqueue(ctx, "gone", {})
    runner.tick(ctx, registry=registry)
    assert _states(ctx) == {"dead": 1}


def test_job_of_a_crashed_worker_is_picked_up_after_its_lease(
    ctx: Context, clock: FrozenClock
) -> None:
    _enqueue(ctx, "work", {})
    with ctx.transaction() as session:
        claimed = jobs.claim_due(session, now=clock.now(), worker_id="dead-worker")
    assert len(claimed) == 1
    registry = Registry()
    done: list[int] = []

    @registry.job("work")
    def work(_ctx: Context, job: JobData) -> None:
        done.append(job.id)

    assert runner.tick(ctx, registry=registry) == 0  # still leased to the dead worker
    clock.advance(minutes=3)
    assert runner.tick(ctx, registry=registry) == 1
    assert done and _states(ctx) == {"done": 1}


def test_periodic_task_runs_once_per_slot_and_reschedules(ctx: Context, clock: FrozenClock) -> None:
    registry = Registry()
    runs: list[datetime] = []

    @registry.periodic("tick", every=timedelta(minutes=1))
    def tick(_ctx: Context, now: datetime) -> None:
        runs.append(now)

    runner.schedule_periodics(ctx, registry, now=clock.now())
    runner.schedule_periodics(ctx, registry, now=clock.now())  # a second process starting
    runner.drain(ctx, registry=registry)
    assert len(runs) == 1
    clock.advance(seconds=61)
    runner.drain(ctx, registry=registry)
    assert len(runs) == 2


def test_dedup_key_makes_enqueue_idempotent(ctx: Context) -> None:
    _enqueue(ctx, "once", {}, dedup_key="k1")
    _enqueue(ctx, "once", {}, dedup_key="k1")
    assert _states(ctx) == {"pending": 1}


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_workers_on_postgres_run_every_job_exactly_once(ctx: Context) -> None:
    registry = Registry()
    seen: list[int] = []
    lock = threading.Lock()

    @registry.job("count")
    def count(_ctx: Context, job: JobData) -> None:
        with lock:
            seen.append(int(job.payload["n"]))

    with ctx.transaction() as session:
        for n in range(400):
            jobs.enqueue(
                session, kind="count", payload={"n": n}, due_at=ctx.clock.now(), now=ctx.clock.now()
            )

    def work(name: str) -> None:
        while runner.tick(ctx, worker_id=name, limit=7, registry=registry):
            pass

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(400))
