"""Two `fireline worker` processes on one PostgreSQL database: every escalation step fires
exactly once and none is lost when one worker is killed (SIGKILL) in the middle of a batch.

The incidents are declared and escalated to level 0 at a frozen time. Their level-1 steps
(and, from them, the webhook pages to the second responder) are held back until both worker
processes are polling, then all made due at once for the real clock the workers run on. Small
claim batches make the two workers share the burst; a slow webhook endpoint keeps each busy
with leased jobs; one worker is killed while it holds leases, and after the survivor has done
all it can, a worker whose clock is past the lease (two minutes) picks up the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from tests.conftest import Person
from tests.oncall.conftest import Receiver
from tests.oncall.helpers import attach, declare, levels_reached, method, policy, service

from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.domain.roles import Role
from fireline.store.models import Job
from fireline.usecases.context import Context
from fireline.worker import runner
from fireline.worker.tasks import notifications as notification_tasks

INCIDENTS = 60
BATCH = 5  # jobs a worker claims at a time: both workers get a share of the burst


def _start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FIRELINE_DATABASE_URL": settings.database_url,
        "FIRELINE_SECRET_KEY": str(settings.secret_key),
        "FIRELINE_PUBLIC_BASE_URL": settings.public_base_url,
        "FIRELINE_WORKER_POLL_SECONDS": "0.05",
        "FIRELINE_WORKER_BATCH_SIZE": str(BATCH),
        "FIRELINE_LOG_LEVEL": "info",
        "FIRELINE_SMTP_HOST": str(settings.smtp_host),
        "FIRELINE_SMTP_PORT": str(settings.smtp_port),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "fireline", "worker"], env=env, stdout=out, stderr=out
        )


def _leased_by(ctx: Context, pid: int) -> int:
    with ctx.reading() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.state == "running", Job.locked_by.like(f"%:{pid}:%"))
            )
            or 0
        )


def _frozen_holding_leases(ctx: Context, proc: subprocess.Popen[bytes]) -> bool:
    """Freeze `proc` (SIGSTOP) if it holds leased jobs, so it is killed holding them: between
    a look at its leases and a SIGKILL it could otherwise record its batch and claim nothing
    new. Left running (SIGCONT) when it holds none."""
    if _leased_by(ctx, proc.pid) == 0:
        return False
    proc.send_signal(signal.SIGSTOP)
    time.sleep(0.1)  # a commit already on its way to the database lands first
    if _leased_by(ctx, proc.pid) > 0:
        return True
    proc.send_signal(signal.SIGCONT)
    return False


def _outstanding(ctx: Context, *, dead_pid: int) -> int:
    """Jobs due now that a live worker could still claim (not the dead worker's leases)."""
    now = datetime.now(UTC)
    with ctx.reading() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(
                    Job.due_at <= now,
                    (Job.state == "pending")
                    | ((Job.state == "running") & ~Job.locked_by.like(f"%:{dead_pid}:%")),
                )
            )
            or 0
        )


def _set_level_one_due(ctx: Context, due: datetime) -> None:
    with ctx.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.kind == "escalation.step", Job.state == "pending")
            .values(due_at=due)
        )


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_worker_processes_page_every_step_once_even_when_one_is_killed(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    settings: Settings,
    receiver: Receiver,
    admin: Person,
    make_person: Callable[..., Person],
    tmp_path: Path,
) -> None:
    first, second = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    method(client, first, "webhook", f"{receiver.url}/first")
    method(client, second, "webhook", f"{receiver.url}/second")
    sid = service(client, admin)
    attach(
        client,
        admin,
        sid,
        policy(client, admin, [([("user", first.id)], 5), ([("user", second.id)], 5)]),
    )
    refs = [
        declare(client, admin, title=f"Outage {n}", services=[sid])["ref"] for n in range(INCIDENTS)
    ]
    runner.drain(ctx)  # level 0 at the frozen time
    assert len(receiver.at("/first")) == INCIDENTS and receiver.at("/second") == [], (
        _unfinished(ctx)  # a delivery waiting for its retry says why it failed
    )
    _set_level_one_due(ctx, datetime.now(UTC) + timedelta(hours=1))  # held until both poll

    receiver.delay = 0.2  # slow pages keep workers holding leases long enough to observe
    logs = tmp_path / "doomed.log", tmp_path / "survivor.log"
    doomed, survivor = (_start_worker(settings, log) for log in logs)
    try:
        _wait(
            lambda: all("started" in log.read_text() for log in logs),
            "both workers to start polling",
        )
        _set_level_one_due(ctx, datetime.now(UTC) - timedelta(seconds=1))
        _wait(
            lambda: len(receiver.at("/second")) >= 10 and _frozen_holding_leases(ctx, doomed),
            "the first worker to hold leased jobs mid-run",
        )
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        stranded = _leased_by(ctx, doomed.pid)
        assert stranded > 0, "the killed worker held no jobs: the test proved nothing"
        _wait(lambda: _outstanding(ctx, dead_pid=doomed.pid) == 0, "the survivor to finish")
        # The survivor never takes a job whose lease the dead worker still holds. (Its pages
        # may all have arrived already: a delivery sent but not yet recorded counts as leased.)
        assert _leased_by(ctx, doomed.pid) == stranded
    finally:
        for proc in (doomed, survivor):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    assert survivor.returncode == 0, (tmp_path / "survivor.log").read_text()

    # A worker that comes along after the dead worker's leases ran out finishes its jobs.
    later = FrozenClock(datetime.now(UTC) + timedelta(minutes=3))
    runner.drain(Context(sessions=ctx.sessions, clock=later, settings=settings))

    pages = receiver.at("/second")
    ids_per_incident: dict[str, set[str]] = defaultdict(set)
    for page in pages:
        ids_per_incident[page.json()["data"]["ref"]].add(page.headers["webhook-id"])
    assert set(ids_per_incident) == set(refs), "an incident's level-1 page was lost"
    assert all(len(ids) == 1 for ids in ids_per_incident.values()), "a step was paged twice"
    resent = Counter(p.headers["webhook-id"] for p in pages)
    # A delivery the killed worker had sent but not yet recorded goes out again with the same
    # webhook-id (receivers deduplicate on it); that can only be the chunks it was sending
    # or recording (at most UNRECORDED_MAX: one chunk recorded while the next is sent).
    assert sum(n - 1 for n in resent.values()) <= notification_tasks.UNRECORDED_MAX

    for ref in refs:
        levels = levels_reached(client, admin, ref)
        assert levels == [0, 1], ref
    with ctx.reading() as session:
        states = dict(
            session.execute(
                select(Job.state, func.count())
                .where(
                    Job.kind.in_(["escalation.step", "notify.deliver"]), Job.due_at <= later.now()
                )
                .group_by(Job.state)
            ).all()
        )
    assert set(states) == {"done"}, states


def _unfinished(ctx: Context) -> list[tuple[str, str, int, str | None]]:
    """(kind, state, attempts, last error) of every job that has not completed."""
    with ctx.reading() as session:
        rows = session.execute(
            select(Job.kind, Job.state, Job.attempts, Job.last_error).where(Job.state != "done")
        )
        return [(r.kind, r.state, r.attempts, r.last_error) for r in rows]
