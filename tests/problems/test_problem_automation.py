"""Worker-driven problem management: a problem for every closed major incident, and fix
verification that reopens on recurrence or marks the fix verified."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.api.helpers import act as incident_act
from tests.api.helpers import declare, timeline
from tests.conftest import Person
from tests.problems.helpers import act, create_problem, problem_timeline

from fireline.clock import FrozenClock
from fireline.store.models import Job, Service
from fireline.store.models.alerts import Alert
from fireline.usecases import catalog
from fireline.usecases.context import Context
from fireline.worker import runner
from fireline.worker.registry import load


def _work(ctx: Context) -> None:
    """One worker pass (periodic tasks included); no problem job may have failed."""
    runner.schedule_periodics(ctx, load(), now=ctx.clock.now())
    runner.drain(ctx)
    with ctx.reading() as session:
        failed = [
            (j.payload.get("subscriber") or j.payload.get("name"), j.last_error)
            for j in session.scalars(select(Job).where(Job.last_error.is_not(None)))
        ]
    assert [f for f in failed if "problems" in str(f[0])] == []


def _close(client: TestClient, person: Person, ref: str) -> None:
    assert incident_act(client, person, ref, "resolve").status_code == 200
    closed = incident_act(
        client, person, ref, "close", resolution_summary="Restarted pods", service_stable=True
    )
    assert closed.status_code == 200, closed.text


def _major(client: TestClient, person: Person, **fields: Any) -> dict[str, Any]:
    return declare(client, person, impact="high", urgency="high", **fields)


def _problems(client: TestClient, person: Person) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/problems", headers=person.headers).json()[
        "items"
    ]
    return items


def test_closed_major_incident_gets_a_linked_reactive_problem_once(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    catalog.create_service(ctx, name="checkout")
    incident = _major(client, responder, title="Checkout down", services=["checkout"])
    assert incident["priority"] == "P1"
    _close(client, responder, incident["ref"])
    _work(ctx)
    _work(ctx)
    [problem] = _problems(client, responder)
    assert problem["origin"] == "reactive"
    assert problem["origin_incident"] == incident["ref"]
    assert problem["priority"] == "P1"
    assert problem["title"] == "Checkout down"
    assert "Restarted pods" in problem["description"]
    assert [s["name"] for s in problem["services"]] == ["checkout"]
    assert problem["incident_count"] == 1
    linked = [e for e in timeline(client, responder, incident["ref"]) if e["kind"] == "linked"]
    assert linked[0]["data"]["problem"] == problem["ref"]


def test_second_major_incident_is_linked_to_the_open_problem_that_covers_it(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    catalog.create_service(ctx, name="checkout")
    first = _major(
        client, responder, title="Pool exhausted", services=["checkout"], fingerprint="fp-1"
    )
    _close(client, responder, first["ref"])
    _work(ctx)
    second = _major(
        client, responder, title="Checkout 500s", services=["checkout"], fingerprint="fp-1"
    )
    _close(client, responder, second["ref"])
    _work(ctx)
    [problem] = _problems(client, responder)
    assert problem["incident_count"] == 2
    links = [
        e for e in problem_timeline(client, responder, problem["ref"]) if e["kind"] == "linked"
    ]
    assert links[-1]["data"]["incident"] == second["ref"]
    assert "same alert fingerprint fp-1" in links[-1]["data"]["reason"]


def test_minor_incident_gets_no_problem_until_its_priority_is_configured_major(
    client: TestClient, responder: Person, admin: Person, ctx: Context
) -> None:
    minor = declare(client, responder, title="Typo on FAQ page", impact="low", urgency="low")
    _close(client, responder, minor["ref"])
    _work(ctx)
    assert _problems(client, responder) == []

    path = "/api/v1/problem-settings/auto-create"
    assert client.get(path, headers=responder.headers).json()["priorities"] == ["P1", "P2"]
    refused = client.put(path, json={"priorities": ["P4"]}, headers=responder.headers)
    assert refused.status_code == 403
    changed = client.put(path, json={"priorities": ["P4", "P3"]}, headers=admin.headers)
    assert changed.json()["priorities"] == ["P3", "P4"]
    other = declare(client, responder, title="Broken link", impact="low", urgency="low")
    assert other["priority"] in ("P3", "P4")
    _close(client, responder, other["ref"])
    _work(ctx)
    assert [p["origin_incident"] for p in _problems(client, responder)] == [other["ref"]]


def _resolved_problem(client: TestClient, person: Person, ctx: Context) -> dict[str, Any]:
    catalog.create_service(ctx, name="checkout")
    catalog.create_service(ctx, name="search")
    first = declare(
        client,
        person,
        title="db-3 connection pool exhausted, checkout failing",
        services=["checkout"],
        fingerprint="fp-pool",
        labels={"alertname": "DBPool", "host": "db-3"},
    )
    create_problem(client, person, incidents=[first["ref"]], services=["checkout"], watch_days=30)
    act(client, person, "PRB-1", "investigate")
    resolved = act(client, person, "PRB-1", "resolve", fix_description="Pool sized to workers")
    assert resolved.status_code == 200, resolved.text
    body: dict[str, Any] = resolved.json()
    assert body["verification"]["state"] == "watching"
    return body


def test_recurrence_during_the_watch_reopens_the_problem_with_evidence(
    client: TestClient, responder: Person, ctx: Context, clock: FrozenClock
) -> None:
    _resolved_problem(client, responder, ctx)
    clock.advance(timedelta(days=3))
    again = declare(
        client,
        responder,
        title="db-9 connection pool exhausted",
        services=["checkout"],
        labels={"alertname": "DBPool", "host": "db-9"},
    )
    _work(ctx)
    problem = client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()
    assert problem["status"] == "investigating"
    assert problem["verification"]["state"] == "failed"
    assert again["ref"] in [i["ref"] for i in problem["incidents"]]
    [reopen] = [
        e
        for e in problem_timeline(client, responder, "PRB-1")
        if e["kind"] == "status_changed" and e["data"]["action"] == "reopen"
    ]
    assert reopen["data"]["evidence"]["incident"] == again["ref"]
    assert "labels alertname=DBPool" in reopen["data"]["evidence"]["reasons"]
    assert again["ref"] in reopen["data"]["reason"]
    linked = [e for e in timeline(client, responder, again["ref"]) if e["kind"] == "linked"]
    assert linked[0]["data"]["problem"] == "PRB-1"


def test_unrelated_incidents_do_not_reopen_and_a_quiet_watch_verifies_the_fix(
    client: TestClient, responder: Person, ctx: Context, clock: FrozenClock
) -> None:
    _resolved_problem(client, responder, ctx)
    clock.advance(timedelta(days=1))
    declare(client, responder, title="Product images slow", services=["checkout"])
    declare(client, responder, title="connection pool exhausted", services=["search"])
    _work(ctx)
    problem = client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()
    assert problem["status"] == "resolved"
    assert problem["verification"]["state"] == "watching"

    clock.advance(timedelta(days=28))
    _work(ctx)
    still = client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()
    assert still["verification"]["state"] == "watching"

    clock.advance(timedelta(days=2))
    _work(ctx)
    verified = client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()
    assert verified["status"] == "resolved"
    assert verified["verification"]["state"] == "verified"
    assert verified["verification"]["verified_at"] is not None
    events = problem_timeline(client, responder, "PRB-1")
    assert events[-1]["data"]["verification"] == "verified"
    assert "no recurrence in 30 days" in events[-1]["body"]
    # After verification a similar incident no longer reopens the problem.
    declare(client, responder, title="connection pool exhausted", services=["checkout"],
            fingerprint="fp-pool")  # fmt: skip
    _work(ctx)
    assert client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()["status"] == (
        "resolved"
    )


def test_changing_watch_days_moves_the_running_watch(
    client: TestClient, responder: Person, ctx: Context, clock: FrozenClock
) -> None:
    resolved = _resolved_problem(client, responder, ctx)
    changed = client.patch(
        "/api/v1/problems/PRB-1", json={"watch_days": 7}, headers=responder.headers
    ).json()
    assert changed["verification"]["verify_until"] < resolved["verification"]["verify_until"]
    clock.advance(timedelta(days=8))
    _work(ctx)
    verified = client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()
    assert verified["verification"]["state"] == "verified"


def test_alert_joining_an_open_incident_during_the_watch_reopens_the_problem(
    client: TestClient, responder: Person, admin: Person, ctx: Context, clock: FrozenClock
) -> None:
    _resolved_problem(client, responder, ctx)
    lingering = declare(client, responder, title="Checkout slow", services=["checkout"])
    integration = client.post(
        "/api/v1/integrations",
        json={"type": "alertmanager", "service": "checkout", "name": "am"},
        headers=admin.headers,
    ).json()
    _work(ctx)
    clock.advance(timedelta(days=2))
    now = clock.now()
    with ctx.transaction() as session:
        service_id = session.scalar(select(Service.id).where(Service.name == "checkout"))
        assert service_id is not None
        session.add(
            Alert(
                integration_id=integration["id"],
                service_id=service_id,
                source="alertmanager",
                dedup_key="am-123",
                fingerprint="am-123",
                status="firing",
                summary="DBPool firing on db-12",
                severity="critical",
                labels={"alertname": "DBPool", "host": "db-12"},
                annotations={},
                links=[],
                first_seen_at=now,
                last_seen_at=now,
                incident_id=lingering["id"],
            )
        )
    _work(ctx)
    problem = client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()
    assert problem["status"] == "investigating"
    assert problem["verification"]["state"] == "failed"
    assert lingering["ref"] in [i["ref"] for i in problem["incidents"]]
    [reopen] = [
        e
        for e in problem_timeline(client, responder, "PRB-1")
        if e["kind"] == "status_changed" and e["data"]["action"] == "reopen"
    ]
    reasons = reopen["data"]["evidence"]["reasons"]
    assert reasons[0].startswith("alert ") and "DBPool firing on db-12" in reasons[0]
    assert "labels alertname=DBPool" in reasons


def test_imported_history_creates_no_problems_and_matches_no_known_errors(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    known = client.post(
        "/api/v1/known-errors",
        json={"title": "DB pool exhausted", "labels": {"alertname": "DBPoolExhausted"}},
        headers=responder.headers,
    )
    assert known.status_code == 201, known.text
    imported = declare(
        client,
        responder,
        title="Orders DB connection pool exhausted",
        impact="high",
        urgency="high",
        detected_at="2026-01-10T03:00:00Z",
        resolved_at="2026-01-10T04:00:00Z",
        closed_at="2026-01-11T09:00:00Z",
        resolution_summary="Raised pool size",
        labels={"alertname": "DBPoolExhausted"},
    )
    assert imported["priority"] == "P1" and imported["imported"] is True
    _work(ctx)
    assert _problems(client, responder) == []
    matches = client.get(
        f"/api/v1/incidents/{imported['ref']}/known-errors", headers=responder.headers
    ).json()["matches"]
    assert matches == []
