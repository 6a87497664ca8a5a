"""Changing incidents through the API: versions, priority overrides, field history, duplicates,
Markdown notes, and idempotent creation."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.api.helpers import act, declare, error_of, row_counts, timeline
from tests.conftest import Person

from fireline.store.models import Incident


def test_update_with_stale_version_is_refused_naming_version(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    incident = declare(client, responder)
    ref, version = incident["ref"], incident["version"]
    first = client.patch(
        f"/api/v1/incidents/{ref}",
        json={"title": "Checkout slow", "version": version},
        headers=responder.headers,
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == version + 1
    before = row_counts(engine)
    stale = client.patch(
        f"/api/v1/incidents/{ref}",
        json={"title": "Checkout broken", "version": version},
        headers=responder.headers,
    )
    assert stale.status_code == 409
    assert error_of(stale)["field"] == "version"
    assert row_counts(engine) == before
    assert (
        client.get(f"/api/v1/incidents/{ref}", headers=responder.headers).json()["title"]
        == "Checkout slow"
    )


def test_update_with_stale_if_match_header_is_refused(
    client: TestClient, responder: Person
) -> None:
    incident = declare(client, responder)
    ref = incident["ref"]
    ok = client.patch(
        f"/api/v1/incidents/{ref}",
        json={"description": "more"},
        headers={**responder.headers, "If-Match": f'"{incident["version"]}"'},
    )
    assert ok.status_code == 200
    stale = client.patch(
        f"/api/v1/incidents/{ref}",
        json={"description": "again"},
        headers={**responder.headers, "If-Match": str(incident["version"])},
    )
    assert stale.status_code == 409
    assert error_of(stale)["field"] == "version"
    bad = client.patch(
        f"/api/v1/incidents/{ref}",
        json={"description": "again"},
        headers={**responder.headers, "If-Match": "abc"},
    )
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "If-Match"


def test_stale_transition_is_refused(client: TestClient, responder: Person) -> None:
    incident = declare(client, responder)
    act(client, responder, incident["ref"], "acknowledge")
    stale = act(client, responder, incident["ref"], "resolve", version=incident["version"])
    assert stale.status_code == 409
    assert error_of(stale)["field"] == "version"


def test_refused_transition_answers_409_with_the_allowed_actions(
    client: TestClient, responder: Person
) -> None:
    incident = declare(client, responder)
    response = act(client, responder, incident["ref"], "close")
    assert response.status_code == 409
    assert error_of(response)["allowed"] == incident["allowed_actions"]
    assert "resolve" in error_of(response)["allowed"]


def test_priority_override_is_recorded_on_the_timeline_with_its_reason(
    client: TestClient, responder: Person
) -> None:
    refused = client.post(
        "/api/v1/incidents",
        json={"title": "Slow", "impact": "low", "urgency": "low", "priority": "P1"},
        headers=responder.headers,
    )
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "priority_reason"
    incident = declare(
        client,
        responder,
        impact="low",
        urgency="low",
        priority="P1",
        priority_reason="CEO demo in an hour",
    )
    assert incident["priority"] == "P1"
    assert incident["priority_derived"] == "P4"
    assert incident["priority_override_reason"] == "CEO demo in an hour"
    events = timeline(client, responder, incident["ref"])
    override = [e for e in events if e["kind"] == "priority_overridden"]
    assert override and override[0]["data"] == {
        "derived": "P4",
        "priority": "P1",
        "reason": "CEO demo in an hour",
    }


def test_priority_override_by_update_needs_and_records_a_reason(
    client: TestClient, responder: Person
) -> None:
    incident = declare(client, responder, impact="medium", urgency="medium")
    ref = incident["ref"]
    refused = client.patch(
        f"/api/v1/incidents/{ref}", json={"priority": "P1"}, headers=responder.headers
    )
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "priority_reason"
    ok = client.patch(
        f"/api/v1/incidents/{ref}",
        json={"priority": "P1", "priority_reason": "revenue impact"},
        headers=responder.headers,
    )
    assert ok.status_code == 200
    assert ok.json()["priority"] == "P1"
    change = [e for e in timeline(client, responder, ref) if e["kind"] == "field_changed"]
    assert change[-1]["data"] == {
        "field": "priority",
        "before": "P3",
        "after": "P1",
        "reason": "revenue impact",
    }
    # Raising impact keeps the override while its reason stands.
    kept = client.patch(
        f"/api/v1/incidents/{ref}", json={"impact": "high"}, headers=responder.headers
    )
    assert kept.json()["priority"] == "P1"
    assert kept.json()["priority_derived"] == "P2"


def test_field_changes_record_who_what_before_and_after(
    client: TestClient, responder: Person, admin: Person
) -> None:
    client.post("/api/v1/teams", json={"name": "Payments"}, headers=admin.headers)
    client.post("/api/v1/services", json={"name": "checkout"}, headers=admin.headers)
    incident = declare(client, responder, labels={"env": "prod"})
    ref = incident["ref"]
    response = client.patch(
        f"/api/v1/incidents/{ref}",
        json={
            "title": "Checkout degraded",
            "team": "payments",
            "services": ["checkout"],
            "assignee": responder.email,
            "labels": {"env": "prod", "region": "eu"},
        },
        headers=responder.headers,
    )
    assert response.status_code == 200, response.text
    changes = {
        e["data"]["field"]: e
        for e in timeline(client, responder, ref)
        if e["kind"] == "field_changed"
    }
    assert set(changes) == {"title", "team", "services", "assignee", "labels"}
    assert all(e["actor"] == responder.email for e in changes.values())
    assert changes["title"]["data"]["before"] == "Checkout is down"
    assert changes["title"]["data"]["after"] == "Checkout degraded"
    assert changes["team"]["data"] == {"field": "team", "before": None, "after": "Payments"}
    assert changes["services"]["data"]["after"] == ["checkout"]
    assert changes["assignee"]["data"]["after"] == responder.email
    assert changes["labels"]["data"]["after"] == {"env": "prod", "region": "eu"}
    # The same values again change nothing and record nothing.
    count = len(timeline(client, responder, ref))
    again = client.patch(
        f"/api/v1/incidents/{ref}", json={"title": "Checkout degraded"}, headers=responder.headers
    )
    assert again.status_code == 200
    assert again.json()["version"] == response.json()["version"]
    assert len(timeline(client, responder, ref)) == count


def test_cancel_as_duplicate_links_both_incidents(client: TestClient, responder: Person) -> None:
    original = declare(client, responder, title="Database down")
    copy = declare(client, responder, title="DB unreachable")
    response = act(
        client,
        responder,
        copy["ref"],
        "cancel",
        cancel_reason="duplicate",
        duplicate_of=original["ref"],
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["duplicate_of"] == original["ref"]
    linked = [e for e in timeline(client, responder, original["ref"]) if e["kind"] == "linked"]
    assert linked and linked[0]["data"] == {"link": "duplicate", "incident": copy["ref"]}
    status_events = [
        e for e in timeline(client, responder, copy["ref"]) if e["kind"] == "status_changed"
    ]
    assert status_events[-1]["data"]["duplicate_of"] == original["ref"]


def test_cancel_as_duplicate_of_itself_or_unknown_is_refused_naming_duplicate_of(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    incident = declare(client, responder)
    before = row_counts(engine)
    for target in (incident["ref"], str(incident["id"]), "INC-999", 999, None):
        response = act(
            client,
            responder,
            incident["ref"],
            "cancel",
            cancel_reason="duplicate",
            duplicate_of=target,
        )
        assert response.status_code == 422, (target, response.text)
        assert error_of(response)["field"] == "duplicate_of"
    assert row_counts(engine) == before


def test_duplicates_cannot_point_at_each_other(client: TestClient, responder: Person) -> None:
    first = declare(client, responder)
    second = declare(client, responder)
    act(
        client,
        responder,
        second["ref"],
        "cancel",
        cancel_reason="duplicate",
        duplicate_of=first["ref"],
    )
    response = act(
        client,
        responder,
        first["ref"],
        "cancel",
        cancel_reason="duplicate",
        duplicate_of=second["ref"],
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == "duplicate_of"


def test_notes_render_markdown_safely(client: TestClient, responder: Person) -> None:
    incident = declare(client, responder)
    body = (
        "**Rolled back** <script>alert(1)</script>\n\n"
        "[click](javascript:alert(2)) [docs](https://example.com/runbook)"
    )
    response = client.post(
        f"/api/v1/incidents/{incident['ref']}/notes",
        json={"body": body},
        headers=responder.headers,
    )
    assert response.status_code == 201
    html = response.json()["body_html"]
    assert "<strong>Rolled back</strong>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html.replace(" ", "").lower()
    assert "<a" not in html.split("docs")[0].split("alert(2)")[0]
    assert 'href="https://example.com/runbook"' in html
    listed = timeline(client, responder, incident["ref"])[-1]
    assert listed["body"] == body
    assert listed["body_html"] == html


def test_stakeholder_status_update_is_recorded(client: TestClient, responder: Person) -> None:
    incident = declare(client, responder)
    response = client.post(
        f"/api/v1/incidents/{incident['ref']}/status-updates",
        json={"body": "We are on it", "audience": "stakeholders"},
        headers=responder.headers,
    )
    assert response.status_code == 201
    assert response.json()["visibility"] == "stakeholders"
    assert response.json()["data"]["status"] == "triggered"


# ---------------------------------------------------------------- idempotency


def _incident_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def test_retried_create_with_same_idempotency_key_returns_the_same_incident(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    headers = {**responder.headers, "Idempotency-Key": "abc-123"}
    body = {"title": "Queue backlog", "impact": "high"}
    first = client.post("/api/v1/incidents", json=body, headers=headers)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    retry = client.post("/api/v1/incidents", json=body, headers=headers)
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert _incident_count(engine) == 1


def test_same_idempotency_key_with_a_different_body_is_refused(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    headers = {**responder.headers, "Idempotency-Key": "abc-123"}
    client.post("/api/v1/incidents", json={"title": "Queue backlog"}, headers=headers)
    before = row_counts(engine)
    other = client.post("/api/v1/incidents", json={"title": "Something else"}, headers=headers)
    assert other.status_code == 409
    assert error_of(other)["field"] == "Idempotency-Key"
    assert row_counts(engine) == before


def test_idempotency_keys_belong_to_their_user(
    client: TestClient, responder: Person, admin: Person, engine: Engine
) -> None:
    body = {"title": "Queue backlog"}
    a = client.post(
        "/api/v1/incidents", json=body, headers={**responder.headers, "Idempotency-Key": "k"}
    )
    b = client.post(
        "/api/v1/incidents", json=body, headers={**admin.headers, "Idempotency-Key": "k"}
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_concurrent_double_post_with_one_key_creates_one_incident(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    headers = {**responder.headers, "Idempotency-Key": "double-click"}
    body = {"title": "Payments failing"}
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        results.append(client.post("/api/v1/incidents", json=body, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert _incident_count(engine) == 1
