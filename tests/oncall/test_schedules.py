"""Schedules through the API: DST-correct rotations, overrides, swaps, who is on call,
shift-change and hand-off notices, iCalendar feeds, and refused bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import icalendar
import recurring_ical_events
from fastapi.testclient import TestClient
from tests.conftest import Person
from tests.oncall.conftest import Mailbox
from tests.oncall.helpers import attach, ok, policy, service

from fireline.clock import FrozenClock
from fireline.domain.roles import Role
from fireline.usecases.context import Context
from fireline.worker import runner


def _layer(users: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "users": users,
        "time_zone": "Europe/Berlin",
        "start": "2026-03-27T09:00",
        "length": {"unit": "day", "count": 1},
        **extra,
    }


def _create(
    client: TestClient, admin: Person, layers: list[dict[str, Any]], name: str = "Ops"
) -> dict[str, Any]:
    body = {"name": name, "time_zone": "Europe/Berlin", "layers": layers}
    result: dict[str, Any] = ok(
        client.post("/api/v1/schedules", json=body, headers=admin.headers), 201
    )
    return result


def _shifts(client: TestClient, person: Person, sid: int, start: str, end: str) -> list[Any]:
    found: list[Any] = ok(
        client.get(
            f"/api/v1/schedules/{sid}/shifts",
            params={"start": start, "end": end},
            headers=person.headers,
        )
    )
    return found


def test_daily_handoff_stays_at_nine_local_across_dst(
    client: TestClient,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    a, b = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    sid = _create(client, admin, [_layer([a.id, b.id])])["id"]
    shifts = _shifts(client, admin, sid, "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z")
    assert [(s["user"]["id"], s["start"], s["end"]) for s in shifts] == [
        (a.id, "2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z"),
        (b.id, "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"),  # 23 h: clocks go forward
        (a.id, "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"),
        (b.id, "2026-03-30T07:00:00Z", "2026-03-31T00:00:00Z"),
    ]
    now = ok(
        client.get(
            f"/api/v1/schedules/{sid}/oncall",
            params={"at": "2026-03-29T07:30:00+00:00"},
            headers=admin.headers,
        )
    )
    assert [u["id"] for u in now["users"]] == [a.id]


def test_restrictions_overrides_and_swaps(
    client: TestClient,
    ctx: Context,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    a, b, c = (make_person(Role.RESPONDER) for _ in range(3))
    hours = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)]
    sid = _create(client, admin, [_layer([a.id, b.id], restrictions=hours)])["id"]
    sat = _shifts(client, admin, sid, "2026-03-28T00:00:00Z", "2026-03-29T00:00:00Z")
    assert sat == []  # Saturday: outside the business hours
    override = ok(
        client.post(
            f"/api/v1/schedules/{sid}/overrides",
            json={
                "user": c.id,
                "start": "2026-03-30T10:00:00Z",
                "end": "2026-03-30T12:00:00Z",
            },
            headers=a.headers,
        ),
        201,
    )
    monday = _shifts(client, admin, sid, "2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z")
    assert [s["user"]["id"] for s in monday] == [b.id, c.id, b.id]
    swapped = ok(
        client.post(
            f"/api/v1/schedules/{sid}/swaps",
            json={
                "first": "2026-03-31T09:00:00Z",
                "second": "2026-04-01T09:00:00Z",
            },
            headers=b.headers,
        ),
        201,
    )
    assert swapped[0]["swap_id"] == swapped[1]["swap_id"]
    tue = _shifts(client, admin, sid, "2026-03-31T00:00:00Z", "2026-04-01T00:00:00Z")
    wed = _shifts(client, admin, sid, "2026-04-01T00:00:00Z", "2026-04-02T00:00:00Z")
    assert {s["user"]["id"] for s in tue} == {b.id} and {s["user"]["id"] for s in wed} == {a.id}
    ok(client.delete(f"/api/v1/schedules/{sid}/overrides/{override['id']}", headers=a.headers), 204)
    monday = _shifts(client, admin, sid, "2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z")
    assert [s["user"]["id"] for s in monday] == [b.id]


def test_who_is_on_call_per_schedule_team_and_service(
    client: TestClient,
    clock: FrozenClock,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    a = make_person(Role.RESPONDER)
    team = ok(client.post("/api/v1/teams", json={"name": "SRE"}, headers=admin.headers), 201)
    body = {
        "name": "SRE primary",
        "team": team["id"],
        "layers": [{**_layer([a.id]), "start": "2026-03-01T09:00"}],
    }
    sched = ok(client.post("/api/v1/schedules", json=body, headers=admin.headers), 201)
    sid = service(client, admin)
    attach(client, admin, sid, policy(client, admin, [([("schedule", sched["id"])], 5)]))
    now = ok(client.get("/api/v1/oncall", headers=admin.headers))
    assert [u["id"] for u in now["schedules"][0]["users"]] == [a.id]
    assert now["teams"][0]["team"]["name"] == "SRE"
    assert [u["id"] for u in now["teams"][0]["users"]] == [a.id]
    assert now["services"][0]["service"]["id"] == sid
    assert [u["id"] for u in now["services"][0]["levels"][0]] == [a.id]


def test_schedule_change_notifies_people_whose_shifts_moved(
    client: TestClient,
    ctx: Context,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    a, b, c = (make_person(Role.RESPONDER) for _ in range(3))
    body = {"name": "Ops", "layers": [{**_layer([a.id, b.id]), "start": "2026-03-02T09:00"}]}
    sched = ok(client.post("/api/v1/schedules", json=body, headers=admin.headers), 201)
    runner.drain(ctx)
    smtp.messages.clear()
    body["layers"][0]["users"] = [a.id, c.id]  # c takes over b's shifts
    ok(client.put(f"/api/v1/schedules/{sched['id']}", json=body, headers=admin.headers))
    runner.drain(ctx)
    assert smtp.to(a.email) == []
    [to_b] = smtp.to(b.email)
    [to_c] = smtp.to(c.email)
    assert "changed" in to_b["Subject"] and "No longer yours" in smtp.body(to_b)
    assert "New or changed shifts" in smtp.body(to_c)


def test_handoff_notice_at_the_start_of_a_shift_once(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    a, b = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    clock.set(datetime(2026, 3, 2, 7, 55, tzinfo=UTC))
    body = {"name": "Ops", "layers": [{**_layer([a.id, b.id]), "start": "2026-03-01T09:00"}]}
    ok(client.post("/api/v1/schedules", json=body, headers=admin.headers), 201)  # b at 08:00Z
    runner.drain(ctx)
    smtp.messages.clear()
    runner.schedule_periodics(ctx, runner.load(), now=clock.now())
    runner.drain(ctx)
    runner.schedule_periodics(ctx, runner.load(), now=clock.now())
    runner.drain(ctx)
    assert smtp.to(b.email) == []
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    runner.drain(ctx)
    clock.advance(minutes=5)
    runner.drain(ctx)
    [notice] = smtp.to(b.email)
    assert "now on call for Ops" in notice["Subject"]


def test_ical_feeds_with_tokens_etag_and_revocation(
    client: TestClient,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    a, b = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    sid = _create(client, admin, [{**_layer([a.id, b.id]), "start": "2026-03-01T09:00"}])["id"]
    issued = ok(client.post(f"/api/v1/schedules/{sid}/calendar-tokens", headers=a.headers), 201)
    path = issued["url"].removeprefix("http://testserver")
    feed = client.get(path)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(feed.content)
    events = recurring_ical_events.of(calendar).between(
        datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    )
    starts = sorted(e["DTSTART"].dt for e in events)
    assert datetime(2026, 3, 29, 7, 0, tzinfo=UTC) in starts  # 09:00 CEST after the change
    assert all(
        e["DTSTART"].dt.tzinfo is not None and e["DTSTART"].dt.utcoffset().total_seconds() == 0
        for e in events
    )
    again = client.get(path, headers={"If-None-Match": feed.headers["etag"]})
    assert again.status_code == 304
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    mine = ok(client.post(f"/api/v1/users/{a.id}/calendar-tokens", headers=a.headers), 201)
    own = icalendar.Calendar.from_ical(
        client.get(mine["url"].removeprefix("http://testserver")).content
    )
    assert own.walk("VEVENT") and all(f"-{a.id}-" in str(e["UID"]) for e in own.walk("VEVENT"))
    assert (
        client.post(f"/api/v1/users/{a.id}/calendar-tokens", headers=b.headers).status_code == 403
    )
    assert client.get(path.replace("token=", "token=x")).status_code == 404
    ok(client.delete(f"/api/v1/calendar-tokens/{issued['id']}", headers=a.headers), 204)
    assert client.get(path).status_code == 404


def test_bad_schedules_and_policies_are_refused_with_the_field(
    client: TestClient,
    admin: Person,
    responder: Person,
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (_layer([responder.id], time_zone="Mars/Olympus"), "layers[0].time_zone"),
        (_layer([responder.id], length={"unit": "day", "count": 0}), "layers[0].length.count"),
        (_layer([]), "layers[0].users"),
        (_layer([responder.id, 98765]), "layers[0].users[1]"),
        (_layer([responder.id], start="2026-03-27T09:00:00+01:00"), "layers[0].start"),
        (
            _layer(
                [responder.id],
                restrictions=[
                    {"weekday": 0, "start": "09:00", "end": "17:00"},
                    {"weekday": 0, "start": "12:00", "end": "18:00"},
                ],
            ),
            "layers[0].restrictions",
        ),
        (
            _layer([responder.id], restrictions=[{"weekday": 0, "start": "17:00", "end": "09:00"}]),
            "layers[0].restrictions[0].end",
        ),
    ]
    for layer, field in cases:
        response = client.post(
            "/api/v1/schedules", json={"name": "x", "layers": [layer]}, headers=admin.headers
        )
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"]["field"] == field, response.text
    bad_zone = client.post(
        "/api/v1/schedules", json={"name": "x", "time_zone": "Nowhere"}, headers=admin.headers
    )
    assert bad_zone.json()["error"]["field"] == "time_zone"
    assert (
        client.post("/api/v1/schedules", json={"name": "x"}, headers=responder.headers).status_code
        == 403
    )
    sid = _create(client, admin, [_layer([responder.id])])["id"]
    zero = client.post(
        f"/api/v1/schedules/{sid}/overrides",
        json={"user": responder.id, "start": "2026-03-30T10:00:00Z", "end": "2026-03-30T10:00:00Z"},
        headers=admin.headers,
    )
    assert zero.status_code == 422 and zero.json()["error"]["field"] == "end"
    policies: list[tuple[dict[str, Any], str]] = [
        ({"name": "p", "levels": []}, "levels"),
        ({"name": "p", "levels": [{"delay_minutes": 5, "targets": []}]}, "levels[0].targets"),
        (
            {
                "name": "p",
                "levels": [{"delay_minutes": 5, "targets": [{"kind": "schedule", "id": 4242}]}],
            },
            "levels[0].targets[0].id",
        ),
        (
            {
                "name": "p",
                "levels": [{"delay_minutes": 0, "targets": [{"kind": "user", "id": responder.id}]}],
            },
            "levels[0].delay_minutes",
        ),
        (
            {
                "name": "p",
                "repeat": -1,
                "levels": [{"delay_minutes": 5, "targets": [{"kind": "user", "id": responder.id}]}],
            },
            "repeat",
        ),
    ]
    for body, field in policies:
        response = client.post("/api/v1/escalation-policies", json=body, headers=admin.headers)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"]["field"] == field, response.text
    unknown = client.put(
        "/api/v1/services/1/escalation-policy", json={"policy_id": 5}, headers=admin.headers
    )
    assert unknown.status_code == 404
