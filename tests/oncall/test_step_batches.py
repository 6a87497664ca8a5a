"""A worker tick fires all its claimed escalation steps together (set-based): each due step
pages once, stale steps are skipped, and the SQL a tick issues does not grow with the batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from tests.conftest import Person
from tests.oncall.conftest import Mailbox
from tests.oncall.helpers import (
    act,
    declare,
    levels_reached,
    ok,
    timeline,
    two_level_setup,
)

from fireline.clock import FrozenClock
from fireline.store.models import Job
from fireline.usecases.context import Context
from fireline.worker import runner


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: object, **kwargs: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_batch_of_due_steps_pages_each_incident_once_and_skips_acknowledged_ones(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    alice, bob, sid = two_level_setup(client, admin, make_person)
    refs = [declare(client, admin, title=f"Outage {n}", services=[sid])["ref"] for n in range(5)]
    runner.drain(ctx)
    assert len(smtp.to(alice.email)) == 5
    ok(act(client, alice, refs[2], "acknowledge"))
    runner.drain(ctx)
    clock.advance(minutes=5)
    runner.drain(ctx)
    assert len(smtp.to(bob.email)) == 4
    for ref in refs:
        levels = levels_reached(client, admin, ref)
        assert levels == ([0] if ref == refs[2] else [0, 1]), ref
        sent = timeline(client, admin, ref, "notification")
        assert {e["data"]["status"] for e in sent} == {"sent"}
        assert len(sent) == (1 if ref == refs[2] else 2), ref
    with ctx.reading() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.due_at <= clock.now(), Job.state != "done")
        )
    assert pending == 0


def test_firing_a_batch_of_steps_costs_the_same_statements_for_3_or_9_steps(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    engine: Engine,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    _, bob, sid = two_level_setup(client, admin, make_person)
    for n in range(3):
        declare(client, admin, title=f"First {n}", services=[sid])
    runner.drain(ctx)
    clock.advance(minutes=3)
    for n in range(9):
        declare(client, admin, title=f"Second {n}", services=[sid])
    runner.drain(ctx)

    clock.advance(minutes=2)  # the first three incidents' level-1 steps are due
    with _statements(engine) as three:
        assert runner.tick(ctx) == 3
    runner.drain(ctx)
    clock.advance(minutes=3)  # the other nine
    with _statements(engine) as nine:
        assert runner.tick(ctx) == 9
    runner.drain(ctx)
    assert len(smtp.to(bob.email)) == 3 + 9
    assert len(nine) == len(three), "\n".join(nine)
    assert len(three) <= 16, "\n".join(three)
