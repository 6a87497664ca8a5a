"""Escalation through the worker with a frozen clock: levels, repeats, ack, resolve, reassign."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import Person
from tests.oncall.conftest import Mailbox
from tests.oncall.helpers import (
    act,
    declare,
    ok,
    timeline,
    two_level_setup,
)

from fireline.clock import FrozenClock
from fireline.domain.roles import Role
from fireline.store.models import Job
from fireline.usecases.context import Context
from fireline.worker import runner


def test_levels_escalate_on_time_then_repeat_then_exhaust(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    alice, bob, sid = two_level_setup(client, admin, make_person, repeat=1)
    incident = declare(client, admin, services=[sid])
    runner.drain(ctx)
    assert len(smtp.to(alice.email)) == 1 and smtp.to(bob.email) == []
    clock.advance(minutes=4)
    runner.drain(ctx)
    assert smtp.to(bob.email) == []
    clock.advance(minutes=1)
    runner.drain(ctx)
    assert len(smtp.to(bob.email)) == 1
    clock.advance(minutes=10)  # round 2, level 0
    runner.drain(ctx)
    assert len(smtp.to(alice.email)) == 2
    clock.advance(minutes=5)
    runner.drain(ctx)
    assert len(smtp.to(bob.email)) == 2
    clock.advance(minutes=10)
    runner.drain(ctx)
    clock.advance(minutes=60)
    runner.drain(ctx)
    assert (len(smtp.to(alice.email)), len(smtp.to(bob.email))) == (2, 2)
    steps = timeline(client, admin, incident["ref"], "escalation")
    assert [e["data"]["action"] for e in steps] == [
        "started",
        "level",
        "level",
        "level",
        "level",
        "exhausted",
    ]
    sent = timeline(client, admin, incident["ref"], "notification")
    assert len(sent) == 4 and {e["data"]["status"] for e in sent} == {"sent"}
    escalations = ok(
        client.get(f"/api/v1/incidents/{incident['ref']}/escalations", headers=admin.headers)
    )
    assert escalations[0]["state"] == "exhausted"


def test_ack_stops_escalation(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    alice, bob, sid = two_level_setup(client, admin, make_person)
    incident = declare(client, admin, services=[sid])
    runner.drain(ctx)
    ok(act(client, alice, incident["ref"], "acknowledge"))
    runner.drain(ctx)
    clock.advance(minutes=30)
    runner.drain(ctx)
    assert smtp.to(bob.email) == []
    escalations = ok(
        client.get(f"/api/v1/incidents/{incident['ref']}/escalations", headers=admin.headers)
    )
    assert escalations[0]["state"] == "stopped"
    assert escalations[0]["stop_reason"] == "acknowledged"


def test_resolve_cancels_pending_deliveries(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    alice, bob, sid = two_level_setup(client, admin, make_person)
    address = "alice.later@example.com"
    from tests.oncall.helpers import method

    method(client, alice, "email", alice.email, delay=0)
    method(client, alice, "email", address, delay=3)
    incident = declare(client, admin, services=[sid])
    runner.drain(ctx)
    assert len(smtp.to(alice.email)) == 1
    ok(act(client, admin, incident["ref"], "resolve"))
    runner.drain(ctx)
    clock.advance(minutes=60)
    runner.drain(ctx)
    assert smtp.to(address) == [] and smtp.to(bob.email) == []
    with ctx.reading() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.state.in_(["pending", "running"]), Job.kind != "periodic")
        )
    assert pending == 0


def test_reassign_restarts_from_level_one_for_the_new_owner(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    alice, bob, sid = two_level_setup(client, admin, make_person)
    carol = make_person(Role.RESPONDER)
    incident = declare(client, admin, services=[sid])
    runner.drain(ctx)
    clock.advance(minutes=5)
    runner.drain(ctx)
    assert len(smtp.to(bob.email)) == 1
    ok(
        client.patch(
            f"/api/v1/incidents/{incident['ref']}",
            json={"assignee": carol.id},
            headers=admin.headers,
        )
    )
    runner.drain(ctx)
    assert len(smtp.to(carol.email)) == 1  # the new owner first
    assert len(smtp.to(alice.email)) == 1
    clock.advance(minutes=5)  # then level 1 of the policy again
    runner.drain(ctx)
    assert len(smtp.to(alice.email)) == 2
    clock.advance(minutes=10)
    runner.drain(ctx)
    assert len(smtp.to(bob.email)) == 2
    states = [
        e["state"]
        for e in ok(
            client.get(f"/api/v1/incidents/{incident['ref']}/escalations", headers=admin.headers)
        )
    ]
    assert states == ["stopped", "active"]


def test_page_someone_now(
    client: TestClient,
    ctx: Context,
    smtp: Mailbox,
    admin: Person,
    responder: Person,
    make_person: Callable[..., Person],
) -> None:
    expert = make_person(Role.VIEWER)
    incident = declare(client, responder)
    paged = ok(
        client.post(
            f"/api/v1/incidents/{incident['ref']}/page",
            json={"target": {"kind": "user", "id": expert.id}},
            headers=responder.headers,
        )
    )
    assert paged == {"paged_user_ids": [expert.id]}
    runner.drain(ctx)
    assert len(smtp.to(expert.email)) == 1
    bad = client.post(
        f"/api/v1/incidents/{incident['ref']}/page",
        json={"target": {"kind": "team", "id": 999}},
        headers=responder.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "target.id"
