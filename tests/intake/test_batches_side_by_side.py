"""Intake batches on PostgreSQL run side by side (shared service locks) unless they resolve
alerts; where they could collide they take turns. Also: the host's intake turns, and alert ids
coming back from the batch's one write statement."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.intake import helpers

from fireline.app import create_app
from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.domain.alert_grouping import Action
from fireline.ingest import committer as committer_module
from fireline.ingest.committer import GroupCommitter, host_lock_path
from fireline.store.models import Incident, TimelineEvent
from fireline.store.models.alerts import Integration
from fireline.usecases import alert_placement, alert_settings, alerts, integrations
from fireline.usecases.context import Context
from fireline.usecases.submissions import Submission

POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]


def _side_by_side(ctx: Context, batches: list[list[Submission]]) -> None:
    """Write each batch in a transaction of its own, all at once, from as many threads."""
    start = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def write(batch: list[Submission]) -> None:
        try:
            start.wait()
            with ctx.transaction() as session:
                alerts.ingest_tx(session, ctx, batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def _slowed(
    monkeypatch: Any, name: str, seconds: float, only: Callable[[], bool]
) -> threading.Event:
    """Make `alert_placement.<name>` take `seconds` longer where `only()` says so; the event
    returned is set once such a slowed call has begun."""
    real = getattr(alert_placement, name)
    begun = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        if only():
            begun.set()
            time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(alert_placement, name, slow)
    return begun


@pytest.mark.parametrize("backend", POSTGRES, indirect=True)
def test_batches_that_open_the_same_group_side_by_side_open_one_incident(
    ctx: Context, monkeypatch: Any
) -> None:
    """Six batches of new alerts for one service, with no incident open, arrive at once. They
    hold the service's lock side by side, but opening an incident is taken in turns, and each
    looks at the open groups again once it is its turn: one incident, every alert in it."""
    source = helpers.pagerduty_source(ctx)
    # widen the window between deciding to open an incident and its commit
    _slowed(monkeypatch, "_open_incident", 0.1, lambda: True)
    _side_by_side(ctx, [[helpers.submission(source, f"k-{n}")] for n in range(6)])
    stored = helpers.alerts(ctx)
    assert len(stored) == 6
    assert helpers.incident_count(ctx) == 1
    assert len({a.incident_id for a in stored}) == 1


@pytest.mark.parametrize("backend", POSTGRES, indirect=True)
def test_a_batch_that_resolves_waits_for_a_batch_adding_alerts_beside_it(
    ctx: Context, monkeypatch: Any
) -> None:
    """An incident with one open alert, a batch adding a second alert to it (slow), and a batch
    resolving the first alert meanwhile. The resolving batch runs alone: it waits for the other
    and then sees the incident still has an open alert, so the incident stays open (without
    the wait it resolved the incident while an alert was being attached to it)."""
    source = helpers.pagerduty_source(ctx)
    with ctx.transaction() as session:
        alerts.ingest_tx(session, ctx, [helpers.submission(source, "first")])
    (incident_id,) = {a.incident_id for a in helpers.alerts(ctx)}
    adding = threading.local()
    attaching = _slowed(monkeypatch, "assign", 0.5, lambda: getattr(adding, "slow", False))

    def add() -> None:
        adding.slow = True
        with ctx.transaction() as session:
            alerts.ingest_tx(session, ctx, [helpers.submission(source, "second")])

    thread = threading.Thread(target=add)
    thread.start()
    assert attaching.wait(10)
    with ctx.transaction() as session:  # resolves "first" while "second" is being attached
        alerts.ingest_tx(session, ctx, [helpers.submission(source, "first", Action.RESOLVE)])
    thread.join(10)
    assert [(a.dedup_key, a.status, a.incident_id) for a in helpers.alerts(ctx)] == [
        ("first", "resolved", incident_id),
        ("second", "firing", incident_id),
    ]
    with ctx.reading() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert incident.status != "resolved"


@pytest.mark.parametrize("backend", POSTGRES, indirect=True)
def test_the_same_new_key_from_two_batches_side_by_side_is_one_alert(ctx: Context) -> None:
    """Two batches with a trigger for the same new dedup key at once: one of them opens the
    alert, the other's insert fails on the open-alert index and its request is retried on
    its own (as the committer does): one alert, seen twice."""
    source = helpers.pagerduty_source(ctx)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def write() -> None:
        start.wait()
        try:
            with ctx.transaction() as session:
                alerts.ingest_tx(session, ctx, [helpers.submission(source, "same")])
            outcomes.append("stored")
        except Exception:
            alerts.ingest(ctx, [helpers.submission(source, "same")])  # the committer's retry
            outcomes.append("retried")

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 2
    stored = helpers.alerts(ctx)
    assert [(a.dedup_key, a.occurrence_count) for a in stored] == [("same", 2)]


@pytest.mark.parametrize("backend", ["sqlite", *POSTGRES], indirect=True)
def test_a_key_opened_resolved_and_opened_again_in_one_batch_is_two_alerts(
    ctx: Context,
) -> None:
    """Trigger, resolve, trigger for one key in one batch: two alerts, and each attachment
    event on the incident names its own alert (the ids come back from the batch's write)."""
    source = helpers.pagerduty_source(ctx)
    batch = [
        helpers.submission(source, "k"),
        helpers.submission(source, "k", Action.RESOLVE),
        helpers.submission(source, "k"),
    ]
    with ctx.transaction() as session:
        alerts.ingest_tx(session, ctx, batch)
    first, second = helpers.alerts(ctx)
    assert (first.status, second.status) == ("resolved", "firing")
    assert [s.outcome.alert_ids if s.outcome else None for s in batch] == [
        [first.id],
        [first.id],
        [second.id],
    ]
    with ctx.reading() as session:
        attached = session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.kind == "alert_attached")
            .order_by(TimelineEvent.id)
        ).all()
    assert [e.data["alert_id"] for e in attached] == [first.id, second.id]
    assert [e.record_id for e in attached] == [first.incident_id, second.incident_id]
    # what the incident's timeline shows of each alert, the same on both databases
    assert [e.data for e in attached] == [
        {
            "summary": "k",
            "severity": "critical",
            "dedup_key": "k",
            "source": "pagerduty",
            "alert_id": alert.id,
        }
        for alert in (first, second)
    ]
    assert {(e.record_type, e.actor_label, e.visibility, e.at) for e in attached} == {
        ("incident", ctx.actor.label, "internal", first.first_seen_at)
    }


@pytest.mark.parametrize("backend", POSTGRES, indirect=True)
def test_new_grouping_rules_apply_to_the_next_batch(ctx: Context) -> None:
    """A process asks for the groups a batch will join by the rules it last used; when the
    service's rules have changed since, the batch still groups by the new ones. Here the batch
    also resolves an alert, so it runs alone and has no second look before opening."""
    source = helpers.pagerduty_source(ctx, grouping="dedup_key")
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": "dedup_key"}})
    with ctx.transaction() as session:  # "x" opens an incident that stays open
        alerts.ingest_tx(session, ctx, [helpers.submission(source, "x")])
        alerts.ingest_tx(session, ctx, [helpers.submission(source, "x", Action.RESOLVE)])
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": "service"}})
    with ctx.transaction() as session:  # this process now knows the "service" rules
        alerts.ingest_tx(session, ctx, [helpers.submission(source, "a")])
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": "dedup_key"}})
    with ctx.transaction() as session:
        batch = [helpers.submission(source, "x"), helpers.submission(source, "a", Action.RESOLVE)]
        alerts.ingest_tx(session, ctx, batch)
    x_first, a, x_again = helpers.alerts(ctx)
    assert (x_first.dedup_key, a.dedup_key, x_again.dedup_key) == ("x", "a", "x")
    assert x_again.incident_id == x_first.incident_id  # joined x's group, by the new rules
    assert a.incident_id != x_first.incident_id
    assert helpers.incident_count(ctx) == 2


# ---------------------------------------------------------------- the host's intake turns


def _postgres_settings(url: str) -> Settings:
    return Settings(database_url=url, secret_key="x" * 32)


def test_postgres_processes_of_one_host_take_turns_in_a_private_directory(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The turn file of a PostgreSQL database sits in a directory only this user can write,
    one per database; in a directory others can write there is none (anyone could hold it)."""
    private = tmp_path / "run"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private))
    one = host_lock_path(_postgres_settings("postgresql+psycopg://u:p@db1:5432/fireline"))
    other = host_lock_path(_postgres_settings("postgresql+psycopg://u:p@db2:5432/fireline"))
    assert one is not None and other is not None
    assert Path(one).parent == private and Path(other).parent == private
    assert one != other
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    assert host_lock_path(_postgres_settings("postgresql+psycopg://u:p@db1/fireline")) is None
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    made = host_lock_path(_postgres_settings("postgresql+psycopg://u:p@db1/fireline"))
    assert made is not None
    assert os.stat(Path(made).parent).st_mode & 0o077 == 0


async def _post(app: Any, key: str, dedup_key: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fireline") as client:
        response = await client.post("/v2/enqueue", json=helpers.trigger(key, dedup_key))
        return response.status_code


@pytest.fixture
def served_with_turns(
    ctx: Context,
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    monkeypatch: Any,
    tmp_path: Path,
) -> tuple[Any, str]:
    """The app, its intake's turn file in a private directory of `tmp_path`, and the key of a
    PagerDuty integration (rate limit off) on a service grouping everything."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    helpers.pagerduty_source(ctx)
    key = integrations.create(
        ctx, type="pagerduty", service="checkout", name="pd2", config={"rate_limit_per_minute": 0}
    ).key
    return create_app(settings, clock=clock, engine=engine, start_worker=False), key


@pytest.mark.parametrize("backend", POSTGRES, indirect=True)
def test_a_postgres_batch_waits_for_its_turn_but_not_forever(
    ctx: Context, served_with_turns: tuple[Any, str], monkeypatch: Any
) -> None:
    """While another process of the host holds the intake turn, a batch waits and is stored
    once the turn is released; a turn held for longer than the patience does not stop intake."""
    monkeypatch.setattr(committer_module, "HOST_LOCK_PATIENCE_SECONDS", 1.5)
    app, key = served_with_turns
    other_process = GroupCommitter(ctx)

    async def scenario() -> tuple[bool, float, float]:
        assert await _post(app, key, "warm-up") == 202
        request = _post(app, key, "released")
        waited, status, after_release = await helpers.wait_for_other_process(
            other_process, request, 0.3
        )
        assert status == 202
        fileno = other_process._lock_fileno()
        assert fileno is not None
        fcntl.flock(fileno, fcntl.LOCK_EX)  # and never released
        started = time.monotonic()
        assert await asyncio.wait_for(_post(app, key, "held"), 10) == 202
        return waited, after_release, time.monotonic() - started

    try:
        waited, after_release, held = asyncio.run(scenario())
    finally:
        other_process.close()
    assert waited, "the batch was written while another process had the turn"
    assert after_release < 1.0
    assert 1.4 < held < 5
    assert [a.dedup_key for a in helpers.alerts(ctx)] == ["warm-up", "released", "held"]


@pytest.mark.parametrize("backend", POSTGRES, indirect=True)
def test_a_postgres_batch_passes_the_turn_once_it_has_read_not_once_it_commits(
    ctx: Context, settings: Settings, served_with_turns: tuple[Any, str], monkeypatch: Any
) -> None:
    """While a batch decides where its alerts go (slowed here), another process of the host
    can already take the turn and cut its own batch: the turn covers only the batch's locks and
    reads. The slow batch is still stored and answered."""
    app, key = served_with_turns
    slow = threading.Event()
    deciding = _slowed(monkeypatch, "assign", 0.6, slow.is_set)
    path = host_lock_path(settings)
    assert path is not None

    async def scenario() -> tuple[int, bool]:
        assert await _post(app, key, "warm-up") == 202
        slow.set()
        request = asyncio.ensure_future(_post(app, key, "slow"))
        for _ in range(500):  # until the batch is deciding (it has cut its batch by then)
            if deciding.is_set():
                break
            await asyncio.sleep(0.01)
        assert deciding.is_set() and not request.done()
        with open(path, "a+b") as other_process:
            try:
                fcntl.flock(other_process.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                taken = not request.done()
                fcntl.flock(other_process.fileno(), fcntl.LOCK_UN)
            except BlockingIOError:
                taken = False
        return await request, taken

    status, taken = asyncio.run(scenario())
    assert status == 202
    assert taken, "the turn stayed with the batch while it decided and wrote"
    assert [a.dedup_key for a in helpers.alerts(ctx)] == ["warm-up", "slow"]


@pytest.mark.parametrize("backend", POSTGRES, indirect=True)
def test_the_postgres_writers_planner_setting_stays_with_its_connection(ctx: Context) -> None:
    """The writer's kept connection plans without sequential scans (its reads run from cached
    index plans); when the committer lets it go, it is closed for good rather than returned to
    the pool, where the web pages' queries would inherit the setting."""
    source = helpers.pagerduty_source(ctx)
    committer = GroupCommitter(ctx)
    try:
        assert committer._write([helpers.submission(source, "k")]) == [None]
        conn = committer._thread_conn
        assert conn is not None
        assert conn.exec_driver_sql("SHOW enable_seqscan").scalar() == "off"
        conn.rollback()
        raw = conn.connection.dbapi_connection
    finally:
        committer.close()
    assert raw is not None and raw.closed
    assert [a.dedup_key for a in helpers.alerts(ctx)] == ["k"]
    with ctx.reading() as session:
        assert session.connection().exec_driver_sql("SHOW enable_seqscan").scalar() == "on"


@pytest.mark.parametrize("backend", ["sqlite", *POSTGRES], indirect=True)
def test_an_integrations_last_event_time_follows_its_events_within_a_second(
    ctx: Context, clock: FrozenClock
) -> None:
    """`last_event_at` shows when an integration last sent something (new alerts, repeats),
    updated at most once a second so that batches side by side do not queue on its row."""
    source = helpers.pagerduty_source(ctx)

    def last_event() -> Any:
        with ctx.reading() as session:
            integration = session.get(Integration, source.id)
            assert integration is not None
            return integration.last_event_at

    def send(key: str) -> None:
        with ctx.transaction() as session:
            alerts.ingest_tx(session, ctx, [helpers.submission(source, key)])

    assert last_event() is None
    start = clock.now()
    send("a")
    assert last_event() == start
    clock.advance(seconds=0.5)
    send("b")
    assert last_event() == start  # within the second
    clock.advance(seconds=1)
    send("a")  # a repeat counts too
    assert last_event() == clock.now()
    clock.advance(seconds=2)
    send("c")
    assert last_event() == clock.now()
