"""The incident lifecycle end to end through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.conftest import Person


def test_declare_acknowledge_note_resolve_close_records_every_step(
    client: TestClient, responder: Person
) -> None:
    h = responder.headers
    created = client.post(
        "/api/v1/incidents",
        json={"title": "Checkout is down", "impact": "high", "urgency": "high"},
        headers=h,
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["ref"] == "INC-1"
    assert incident["priority"] == "P1"
    assert incident["status"] == "triggered"

    ack = client.post(
        "/api/v1/incidents/INC-1/transitions", json={"action": "acknowledge"}, headers=h
    )
    assert ack.json()["status"] == "acknowledged"
    assert ack.json()["acknowledged_at"] is not None
    note = client.post("/api/v1/incidents/INC-1/notes", json={"body": "Rolled back"}, headers=h)
    assert note.status_code == 201
    resolved = client.post(
        "/api/v1/incidents/INC-1/transitions", json={"action": "resolve"}, headers=h
    )
    assert resolved.json()["status"] == "resolved"
    refused = client.post(
        "/api/v1/incidents/INC-1/transitions", json={"action": "close"}, headers=h
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "resolution_summary"
    closed = client.post(
        "/api/v1/incidents/INC-1/transitions",
        json={"action": "close", "resolution_summary": "Bad deploy", "service_stable": True},
        headers=h,
    )
    assert closed.json()["status"] == "closed"

    events = client.get("/api/v1/incidents/INC-1/timeline", headers=h).json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds == ["created", "status_changed", "note", "status_changed", "status_changed"]
    assert [e["data"].get("to") for e in events if e["kind"] == "status_changed"] == [
        "acknowledged",
        "resolved",
        "closed",
    ]
    assert all(e["actor"] == responder.email for e in events)
