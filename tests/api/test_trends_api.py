"""GET /api/v1/trends: the trend report as JSON, with errors that name the field."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from tests.api.helpers import error_of
from tests.conftest import Person

from fireline.clock import FrozenClock
from fireline.usecases import catalog, incidents
from fireline.usecases.context import Context
from fireline.usecases.incidents import History, IncidentDraft


def test_trends_count_incidents_per_service_per_day(
    client: TestClient, ctx: Context, clock: FrozenClock, viewer: Person
) -> None:
    catalog.create_service(ctx, name="payments")
    for days in (1, 1, 2):
        detected = clock.now() - timedelta(days=days)
        incidents.declare(
            ctx,
            IncidentDraft(
                title="Card auth failing",
                services=("payments",),
                detected_at=detected,
                history=History(resolved_at=detected + timedelta(minutes=30)),
            ),
        )

    response = client.get("/api/v1/trends?range=7d&by=service", headers=viewer.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bucket"] == "day" and body["by"] == "service"
    assert body["keys"] == ["payments"] and body["total"] == 3
    per_day = {b["start"]: b["counts"]["payments"] for b in body["buckets"]}
    assert per_day["2026-03-01"] == 2 and per_day["2026-02-28"] == 1
    assert body["costliest_problems"] == []


def test_trends_refuse_an_unknown_range_naming_it(client: TestClient, viewer: Person) -> None:
    response = client.get("/api/v1/trends?range=2w", headers=viewer.headers)
    assert response.status_code == 422
    assert error_of(response)["field"] == "range"
    assert client.get("/api/v1/trends").status_code == 401
