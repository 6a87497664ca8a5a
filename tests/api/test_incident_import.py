"""History import through POST /api/v1/incidents: past lifecycles, no paging."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import Person

from fireline.store.models import Job
from fireline.usecases.context import Context


def test_imported_incident_keeps_its_past_lifecycle_and_pages_no_one(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    body = {
        "title": "Orders DB connection pool exhausted",
        "impact": "high",
        "urgency": "high",
        "detected_at": "2026-01-10T03:00:00Z",
        "acknowledged_at": "2026-01-10T03:04:00Z",
        "resolved_at": "2026-01-10T04:00:00Z",
        "closed_at": "2026-01-11T09:00:00Z",
        "resolution_summary": "Raised pool size",
        "fingerprint": "a1b2c3d4e5f60718",
        "labels": {"alertname": "DBPoolExhausted"},
    }
    answer = client.post("/api/v1/incidents", json=body, headers=responder.headers)
    assert answer.status_code == 201, answer.text
    incident = answer.json()
    assert incident["status"] == "closed"
    assert incident["imported"] is True
    assert incident["fingerprint"] == "a1b2c3d4e5f60718"
    assert incident["acknowledged_at"].startswith("2026-01-10T03:04")
    events = client.get(
        f"/api/v1/incidents/{incident['ref']}/timeline", headers=responder.headers
    ).json()["events"]
    assert [e["kind"] for e in events][-1] == "imported"
    changes = [(e["data"]["to"], e["at"][:16]) for e in events if e["kind"] == "status_changed"]
    assert changes == [
        ("acknowledged", "2026-01-10T03:04"),
        ("resolved", "2026-01-10T04:00"),
        ("closed", "2026-01-11T09:00"),
    ]
    with ctx.reading() as session:
        types = [j.payload.get("type") for j in session.scalars(select(Job))]
    assert "incident.imported" in types
    assert "incident.triggered" not in types


def test_import_refuses_timestamps_out_of_order_naming_the_field(
    client: TestClient, responder: Person
) -> None:
    answer = client.post(
        "/api/v1/incidents",
        json={
            "title": "x",
            "detected_at": "2026-01-10T03:00:00Z",
            "resolved_at": "2026-01-10T02:00:00Z",
        },
        headers=responder.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "resolved_at"
    assert client.get("/api/v1/incidents", headers=responder.headers).json()["items"] == []


def test_import_of_closed_incident_needs_a_resolution_summary(
    client: TestClient, responder: Person
) -> None:
    answer = client.post(
        "/api/v1/incidents",
        json={
            "title": "x",
            "detected_at": "2026-01-10T03:00:00Z",
            "resolved_at": "2026-01-10T04:00:00Z",
            "closed_at": "2026-01-10T05:00:00Z",
        },
        headers=responder.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "resolution_summary"
