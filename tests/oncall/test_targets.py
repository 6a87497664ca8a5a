"""Escalation targets resolved when each step fires: a schedule pages whoever is on call at
that moment (overrides included), a team pages every member; and the worker embedded in the
server (the single-machine default) delivers pages on the real clock."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.conftest import Person
from tests.oncall.conftest import Mailbox
from tests.oncall.helpers import attach, declare, ok, policy, service, timeline

from fireline.app import create_app
from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.domain.roles import Role
from fireline.usecases.context import Context
from fireline.worker import runner


def test_schedule_target_pages_who_is_on_call_when_the_step_fires_then_the_team(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    day, cover = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    lead, member = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    layer = {
        "users": [day.id],
        "time_zone": "UTC",
        "start": "2026-03-01T09:00",
        "length": {"unit": "day", "count": 1},
    }
    schedule = ok(
        client.post(
            "/api/v1/schedules",
            json={"name": "Primary", "layers": [layer]},
            headers=admin.headers,
        ),
        201,
    )
    team = ok(
        client.post(
            "/api/v1/teams",
            json={"name": "SRE", "members": [{"user": lead.id}, {"user": member.id}]},
            headers=admin.headers,
        ),
        201,
    )
    sid = service(client, admin)
    levels = [([("schedule", schedule["id"])], 5), ([("team", team["id"])], 5)]
    attach(client, admin, sid, policy(client, admin, levels, repeat=1))
    # From 09:07 someone else covers the schedule: the second round must page them instead.
    ok(
        client.post(
            f"/api/v1/schedules/{schedule['id']}/overrides",
            json={"user": cover.id, "start": "2026-03-02T09:07:00Z", "end": "2026-03-02T12:00:00Z"},
            headers=admin.headers,
        ),
        201,
    )
    incident = declare(client, admin, services=[sid])

    def pages(person: Person) -> int:  # not the schedule-change and hand-off notices
        return sum(incident["ref"] in str(m["Subject"]) for m in smtp.to(person.email))

    runner.drain(ctx)
    assert (pages(day), pages(lead), pages(member)) == (1, 0, 0)
    clock.advance(minutes=5)
    runner.drain(ctx)
    assert (pages(day), pages(lead), pages(member)) == (1, 1, 1)
    clock.advance(minutes=5)  # round 2, level 0, at 09:10: the override holds the pager
    runner.drain(ctx)
    assert (pages(day), pages(cover)) == (1, 1)
    paged = [
        e["data"]["user_ids"]
        for e in timeline(client, admin, incident["ref"], "escalation")
        if e["data"]["action"] == "level"
    ]
    assert paged == [[day.id], sorted([lead.id, member.id]), [cover.id]]


def test_worker_embedded_in_the_server_pages_on_the_real_clock(
    settings: Settings, smtp: Mailbox, admin: Person, make_person: Callable[..., Person]
) -> None:
    alice = make_person(Role.RESPONDER)
    embedded = settings.model_copy(update={"embedded_worker": True, "worker_poll_seconds": 0.05})
    with TestClient(create_app(embedded)) as client:  # real clock, worker thread in-process
        sid = service(client, admin)
        attach(client, admin, sid, policy(client, admin, [([("user", alice.id)], 5)]))
        started = time.monotonic()
        incident = declare(client, admin, services=[sid])
        while not smtp.to(alice.email) and time.monotonic() - started < 30:
            time.sleep(0.05)
        assert len(smtp.to(alice.email)) == 1
        assert incident["ref"] in str(smtp.to(alice.email)[0]["Subject"])
