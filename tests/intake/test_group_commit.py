"""The group committer: on SQLite batches are written on the event loop but never wait there;
on PostgreSQL a batch that fails is retried one by one and the writer goes on."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from tests.intake import helpers

from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.ingest import committer as committer_module
from fireline.ingest.committer import GroupCommitter
from fireline.store import checkpoint
from fireline.store.repos import alerts as alert_repo
from fireline.usecases.context import Context


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_event_loop_keeps_running_while_another_writer_holds_sqlite(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    """A batch that finds SQLite's write lock taken (by the worker, a web request, another
    program) waits for it in the writer thread: the server's other requests go on meanwhile,
    and the event is stored and answered 202 once the lock is free."""
    app, key = helpers.app_and_key(ctx, settings, engine, clock)
    path = settings.sqlite_path()
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)

    async def scenario() -> tuple[int, float, bool]:
        assert await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "warm-up")) == 202
        other.execute("BEGIN IMMEDIATE")  # someone else is writing
        request = asyncio.ensure_future(
            helpers.post(app, "/v2/enqueue", helpers.trigger(key, "k-1"))
        )
        started = time.monotonic()
        for _ in range(30):  # ~0.3 s of other work on the same loop
            await asyncio.sleep(0.01)
        other_work = time.monotonic() - started
        waiting = not request.done()
        other.execute("COMMIT")
        status = await asyncio.wait_for(request, 10)
        return status, other_work, waiting

    try:
        status, other_work, waited = asyncio.run(scenario())
    finally:
        other.close()
    assert waited, "the event was answered while the database was locked"
    assert other_work < 2, f"the event loop stalled ({other_work:.1f} s for 0.3 s of work)"
    assert status == 202
    assert [a.dedup_key for a in helpers.alerts(ctx)] == ["warm-up", "k-1"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_waiting_writer_takes_the_intake_lock_as_soon_as_another_process_releases_it(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock, monkeypatch: Any
) -> None:
    """Server processes take turns writing on one SQLite file: the one that releases the
    intake lock wakes the one waiting for it (through the FIFO beside the lock), so a batch
    is not left waiting for a poll. The fallback poll is made far too slow to do it here."""
    monkeypatch.setattr(committer_module, "WAKE_FALLBACK_SECONDS", 60.0)
    app, key = helpers.app_and_key(ctx, settings, engine, clock)
    other_process = GroupCommitter(ctx)  # the same lock and FIFO, as another process has

    async def scenario() -> tuple[bool, int, float]:
        assert await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "warm-up")) == 202
        request = helpers.post(app, "/v2/enqueue", helpers.trigger(key, "k-3"))
        return await helpers.wait_for_other_process(other_process, request, 0.2)

    try:
        waited, status, took = asyncio.run(scenario())
    finally:
        other_process.close()
    assert waited, "the event was stored while another process held the intake lock"
    assert status == 202
    assert took < 5, f"the waiting writer took {took:.1f} s to notice the released lock"
    assert [a.dedup_key for a in helpers.alerts(ctx)] == ["warm-up", "k-3"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_sqlite_log_stays_bounded_while_the_intake_writes(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock, monkeypatch: Any
) -> None:
    """The intake's writers leave WAL checkpoints to a thread; the log still starts over."""
    monkeypatch.setattr(checkpoint, "CATCH_UP_FRAMES", 50)
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.02)
    app, key = helpers.app_and_key(ctx, settings, engine, clock)
    count = 400

    async def scenario() -> list[int]:
        statuses = []
        for n in range(count):
            body = helpers.trigger(key, f"k-{n}", custom_details={"padding": "x" * 2000})
            statuses.append(await helpers.post(app, "/v2/enqueue", body))  # about a page each
        return statuses

    assert set(asyncio.run(scenario())) == {202}
    committer = app.state.intake.committer
    committer.close()  # stops its checkpoint thread
    assert committer.checkpointer is not None and committer.checkpointer.catch_ups > 0
    path = settings.sqlite_path()
    assert path is not None
    # Each event commits at least two pages (its alert and its timeline event): a log that
    # never started over would be larger than this (measured: 8.7 MB; with the catch-ups,
    # 1-2.5 MB at most).
    wal = Path(str(path) + "-wal").stat().st_size
    assert wal < count * 2 * 4096, f"the log holds {wal} bytes after {count} events"
    assert len(helpers.alerts(ctx)) == count


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_failing_event_loop_writer_leaves_the_batch_to_the_thread(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    """Whatever breaks in the event-loop writer, the request is still stored and answered
    (by the writer thread), never left waiting."""
    app, key = helpers.app_and_key(ctx, settings, engine, clock)

    async def scenario() -> int:
        assert await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "warm-up")) == 202
        committer = app.state.intake.committer

        def broken() -> None:
            raise RuntimeError("cannot open the database")

        committer._inline_connection = broken
        return await asyncio.wait_for(
            helpers.post(app, "/v2/enqueue", helpers.trigger(key, "k-2")), 10
        )

    assert asyncio.run(scenario()) == 202
    assert [a.dedup_key for a in helpers.alerts(ctx)] == ["warm-up", "k-2"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("batch_of", ["new alerts", "repeats"])
def test_an_event_loop_batch_failing_after_its_writes_is_rolled_back_and_written_again(
    ctx: Context,
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    monkeypatch: Any,
    batch_of: str,
) -> None:
    """The event-loop writer begins its transactions on the driver. A batch that fails after
    its writes leaves nothing behind, whether it opened incidents (through the ORM session,
    which joins that transaction) and inserted alerts, or only counted repeats (SQLAlchemy
    never knew of its transaction): the thread writes it again, every request is answered 202
    and counted once, and the next batch is written on the event loop again."""
    app, key = helpers.app_and_key(ctx, settings, engine, clock)
    name = "insert_alerts" if batch_of == "new alerts" else "bump"
    real = getattr(alert_repo, name)
    failed: list[int] = []

    def failing_once(db: Any, rows: Any, *args: Any, **kwargs: Any) -> Any:
        done = real(db, rows, *args, **kwargs)
        if rows and not failed:
            failed.append(len(rows))
            raise RuntimeError("the disk went away")
        return done

    in_thread: list[int] = []
    kept: list[Any] = []
    keys = [f"k-{i}" for i in range(6)]

    async def scenario() -> tuple[list[int], int]:
        first = ["warm-up"] if batch_of == "new alerts" else keys
        for dedup_key in first:
            assert await helpers.post(app, "/v2/enqueue", helpers.trigger(key, dedup_key)) == 202
        monkeypatch.setattr(alert_repo, name, failing_once)
        committer = app.state.intake.committer
        kept.append(committer._conn)
        write = committer._write

        def counted(subs: Any) -> Any:
            in_thread.append(len(subs))
            return write(subs)

        committer._write = counted
        batch = await asyncio.gather(
            *(helpers.post(app, "/v2/enqueue", helpers.trigger(key, k)) for k in keys)
        )
        after = await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "k-0"))
        return list(batch), after

    batch, after = asyncio.run(scenario())
    assert failed, "the failure was never injected"
    assert len(in_thread) == 1, "only the failed batch goes to the thread"
    assert batch == [202] * 6
    assert after == 202
    stored = {a.dedup_key: a for a in helpers.alerts(ctx)}
    assert sorted(stored) == sorted(["warm-up", *keys] if batch_of == "new alerts" else keys)
    assert all(a.incident_id is not None for a in stored.values())
    # nothing of the failed batch stayed: each request counted once, and the last repeat too
    counts = [stored[k].occurrence_count for k in keys]
    assert counts == ([2, 1, 1, 1, 1, 1] if batch_of == "new alerts" else [3, 2, 2, 2, 2, 2])
    assert helpers.incident_count(ctx) == len(stored)
    committer = app.state.intake.committer
    assert kept[0] is not None
    assert committer._conn is kept[0], "the event-loop writer's connection was dropped"
    assert not committer._conn.connection.dbapi_connection.in_transaction


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_new_event_loop_connection_from_the_pool_writes_on_the_event_loop(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    """After the event-loop writer gave its connection back to the pool (as it does when one
    breaks), the connection it takes next still writes batches that open incidents on the
    event loop, in one transaction with their ORM session, not through the thread."""
    app, key = helpers.app_and_key(ctx, settings, engine, clock)
    in_thread: list[int] = []

    async def scenario() -> int:
        assert await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "warm-up")) == 202
        committer = app.state.intake.committer
        committer._release(committer._conn)  # back to the pool, flags and all
        committer._conn = None
        write = committer._write

        def counted(subs: Any) -> Any:
            in_thread.append(len(subs))
            return write(subs)

        committer._write = counted
        return await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "after"))

    assert asyncio.run(scenario()) == 202
    assert in_thread == [], "the batch went to the thread"
    stored = {a.dedup_key: a for a in helpers.alerts(ctx)}
    assert stored["after"].incident_id is not None
    assert helpers.incident_count(ctx) == 2


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("pipelines", [True, False], ids=["pipelined", "no-pipeline-mode"])
def test_a_postgres_batch_failing_after_its_writes_is_rolled_back_and_retried_one_by_one(
    ctx: Context,
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    monkeypatch: Any,
    pipelines: bool,
) -> None:
    """A batch that fails on the server after its new alerts were inserted (here: a statement
    that divides by zero, right after the insert) is rolled back as a whole, inserts and all;
    each request is then stored on its own and answered 202. The writer thread's kept
    connection serves the next batch. So with pipelines (BEGIN, COMMIT and the writes travel
    together) as without them (libpq older than 14)."""
    if not pipelines:
        monkeypatch.setattr(alert_repo, "_pipeline_supported", lambda: False)
    app, key = helpers.app_and_key(ctx, settings, engine, clock)
    real_insert = alert_repo.insert_alerts
    failed: list[int] = []

    def insert_failing_once(db: Any, rows: Any, attached: Any, **kwargs: Any) -> Any:
        inserted = real_insert(db, rows, attached, **kwargs)
        if rows and not failed:
            failed.append(len(rows))
            alert_repo.driver_cursor(alert_repo.connection_of(db)).execute("SELECT 1/0")
        return inserted

    monkeypatch.setattr(alert_repo, "insert_alerts", insert_failing_once)

    async def scenario() -> tuple[list[int], int]:
        batch = await asyncio.gather(
            *(helpers.post(app, "/v2/enqueue", helpers.trigger(key, f"k-{i}")) for i in range(6))
        )
        after = await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "after"))
        return list(batch), after

    batch, after = asyncio.run(scenario())
    assert failed, "the failure was never injected"
    assert batch == [202] * 6
    assert after == 202
    stored = helpers.alerts(ctx)
    assert sorted(a.dedup_key for a in stored) == sorted([*(f"k-{i}" for i in range(6)), "after"])
    # one incident per alert (grouping by dedup key); nothing left of the rolled-back batch:
    # had any of it stayed, the retries would have found their alerts open and repeated them
    assert all(a.incident_id is not None for a in stored)
    assert [a.occurrence_count for a in stored] == [1] * 7
    assert helpers.incident_count(ctx) == 7
    assert app.state.intake.committer._thread_conn is not None


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_postgres_intake_works_without_pipeline_mode(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock, monkeypatch: Any
) -> None:
    """With a libpq older than 14 (no pipeline mode) the batch's statements go one by one:
    triggers, repeats and resolves are all stored as with pipelining."""
    monkeypatch.setattr(alert_repo, "_pipeline_supported", lambda: False)
    app, key = helpers.app_and_key(ctx, settings, engine, clock)

    async def scenario() -> list[int]:
        first = await asyncio.gather(
            *(helpers.post(app, "/v2/enqueue", helpers.trigger(key, f"k-{i}")) for i in range(4))
        )
        repeat = await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "k-0"))
        resolve = await helpers.post(app, "/v2/enqueue", helpers.action(key, "resolve", "k-1"))
        return [*first, repeat, resolve]

    assert asyncio.run(scenario()) == [202] * 6
    stored = {a.dedup_key: a for a in helpers.alerts(ctx)}
    assert sorted(stored) == ["k-0", "k-1", "k-2", "k-3"]
    assert stored["k-0"].occurrence_count == 2
    assert stored["k-1"].status == "resolved"
    assert helpers.incident_count(ctx) == 4
