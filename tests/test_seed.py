"""`fireline seed`: realistic data that the rest of Fireline treats like its own.

Seeded incidents take references from the same counter as declared ones, carry the same
`search_text`, and have lifecycles whose timestamps and timelines are in order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import Person

from fireline import seed
from fireline.clock import FrozenClock
from fireline.store.models import (
    Counter,
    Incident,
    IncidentLabel,
    IncidentService,
    Service,
    ServiceDependency,
    Team,
    TimelineEvent,
    User,
)
from fireline.usecases.context import Context
from fireline.usecases.incidents import _search_text


def _count(ctx: Context, model: Any) -> int:
    with ctx.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _refs(client: TestClient, person: Person, **params: Any) -> list[str]:
    response = client.get("/api/v1/incidents", params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    return [item["ref"] for item in response.json()["items"]]


def test_seed_fills_catalog_incidents_and_timelines(ctx: Context) -> None:
    result = seed.seed(ctx, incidents=120, seed=3, months=4)

    assert (result.incidents, result.first_number, result.last_number) == (120, 1, 120)
    assert _count(ctx, Incident) == 120
    assert _count(ctx, Team) == result.teams == 13
    assert _count(ctx, Service) == result.services == len(seed.SERVICES)
    assert _count(ctx, User) == result.users
    assert _count(ctx, ServiceDependency) > 0
    assert _count(ctx, TimelineEvent) == result.timeline_events
    with ctx.reading() as session:
        assert session.get(Counter, "INC").value == 120  # type: ignore[union-attr]
        assert session.scalar(select(func.count(func.distinct(IncidentService.incident_id)))) == 120
        keys = set(session.scalars(select(IncidentLabel.key)))
        statuses = set(session.scalars(select(Incident.status)))
        created = session.scalar(
            select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == "created")
        )
    assert {"env", "region", "cluster", "alertname"} <= keys
    assert "closed" in statuses and statuses & {"triggered", "acknowledged", "investigating"}
    assert created == 120


def test_seed_again_adds_more_and_is_deterministic(ctx: Context) -> None:
    seed.seed(ctx, incidents=25, seed=7, months=2)
    again = seed.seed(ctx, incidents=25, seed=7, months=2)

    assert (again.first_number, again.last_number) == (26, 50)
    assert (again.teams, again.users, again.services) == (0, 0, 0)
    with ctx.reading() as session:
        rows = session.execute(
            select(Incident.number, Incident.title, Incident.priority, Incident.status).order_by(
                Incident.number
            )
        ).all()
    assert [r[1:] for r in rows[:25]] == [r[1:] for r in rows[25:]]


def test_references_continue_after_seeding(
    ctx: Context, client: TestClient, responder: Person
) -> None:
    seed.seed(ctx, incidents=30, seed=1, months=2)

    response = client.post(
        "/api/v1/incidents", json={"title": "Declared after seeding"}, headers=responder.headers
    )

    assert response.status_code == 201, response.text
    assert response.json()["ref"] == "INC-31"
    assert _refs(client, responder, limit=2) == ["INC-31", "INC-30"]


def test_seeded_lifecycles_and_timelines_are_in_order(ctx: Context, clock: FrozenClock) -> None:
    seed.seed(ctx, incidents=300, seed=11, months=3)
    now = clock.now()
    with ctx.reading() as session:
        incidents = list(session.scalars(select(Incident)))
        events: dict[int, list[TimelineEvent]] = defaultdict(list)
        for event in session.scalars(select(TimelineEvent).order_by(TimelineEvent.id)):
            events[event.record_id].append(event)
        for incident in incidents:
            labels = {label.key: label.value for label in incident.labels}
            assert incident.search_text == _search_text(incident, labels)

    for incident in incidents:
        stamps = [
            incident.detected_at,
            incident.created_at,
            incident.acknowledged_at,
            incident.mitigated_at,
            incident.resolved_at,
            incident.closed_at,
        ]
        present = [s for s in stamps if s is not None]
        assert present == sorted(present), incident.number
        assert present[-1] <= incident.updated_at <= now
        if incident.status == "closed":
            assert incident.closed_at and incident.resolved_at and incident.resolution_summary
        if incident.status in ("triggered", "acknowledged", "investigating", "mitigated"):
            assert incident.resolved_at is None and incident.closed_at is None
        if incident.status == "cancelled":
            assert incident.cancel_reason in ("error", "duplicate")
        if incident.cancel_reason == "duplicate":
            assert incident.duplicate_of_id is not None
        timeline = events[incident.id]
        assert timeline[0].kind == "created" and timeline[0].at == incident.created_at
        times: list[datetime] = [event.at for event in timeline]
        assert times == sorted(times), incident.number
        changes = [e.data["to"] for e in timeline if e.kind == "status_changed"]
        assert (changes[-1] if changes else "triggered") == incident.status


def test_search_finds_new_and_changed_incidents(
    ctx: Context, client: TestClient, responder: Person
) -> None:
    seed.seed(ctx, incidents=60, seed=5, months=2)
    ref = client.post(
        "/api/v1/incidents",
        json={"title": "Zanzibar gateway times out", "labels": {"env": "prod"}},
        headers=responder.headers,
    ).json()["ref"]

    assert _refs(client, responder, q="zanzibar") == [ref]
    assert _refs(client, responder, q="ZANZIBAR gateway", status="triggered") == [ref]
    assert _refs(client, responder, q="zanzibar", status="closed") == []
    latency = _refs(client, responder, q="latency", limit=200)
    assert latency and all(r != ref for r in latency)

    changed = client.patch(
        f"/api/v1/incidents/{ref}",
        json={"title": "Quokka cache stampede"},
        headers=responder.headers,
    )
    assert changed.status_code == 200, changed.text
    assert _refs(client, responder, q="zanzibar") == []
    assert _refs(client, responder, q="quokka stampede") == [ref]


def test_seed_command_demo_on_a_fresh_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env["FIRELINE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "fireline", "seed", "--demo", "--seed", "9"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "A first admin account was created" in done.stdout
    assert (
        f"added {seed.DEMO_INCIDENTS} incidents (INC-1..INC-{seed.DEMO_INCIDENTS})" in done.stdout
    )
