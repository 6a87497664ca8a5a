"""PagerDuty Events v2 intake: dedup, idempotency, acknowledge/resolve, change events."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from tests.conftest import Person
from tests.intake import helpers as h

from fireline.clock import FrozenClock
from fireline.usecases.context import Context


def test_trigger_creates_alert_and_incident(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    response = client.post("/v2/enqueue", json=h.trigger(key, "disk-1"))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-1",
    }
    [alert] = h.alerts(ctx)
    assert (alert.status, alert.severity, alert.occurrence_count) == ("firing", "critical", 1)
    assert alert.incident_id is not None
    assert h.incident_count(ctx) == 1


def test_an_alerts_raw_payload_does_not_keep_the_integration_key(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    """The key is the integration's secret: the raw event kept with an alert (shown to
    anyone who can read alerts) has it replaced, also where the sender repeated it in the
    details or escaped it in JSON; the rest of the payload is kept as sent."""
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    plain = {**h.trigger(key, "plain"), "payload": {
        "summary": "disk full", "source": "db-1", "severity": "critical",
        "custom_details": {"sent_with": key},
    }}  # fmt: skip
    assert client.post("/v2/enqueue", json=plain).status_code == 202
    escaped = json.dumps(h.trigger(key, "escaped")).replace(
        key, "".join(f"\\u{ord(c):04x}" for c in key)
    )
    assert key not in escaped
    response = client.post(
        "/v2/enqueue", content=escaped, headers={"content-type": "application/json"}
    )
    assert response.status_code == 202, response.text
    for alert in h.alerts(ctx):
        shown = client.get(f"/api/v1/alerts/{alert.id}", headers=admin.headers).json()
        assert key not in shown["raw"]
        assert json.loads(shown["raw"])["routing_key"] == "[redacted]"
        assert json.loads(shown["raw"])["dedup_key"] == alert.dedup_key
    first = json.loads(h.alerts(ctx)[0].raw or "{}")
    assert first["payload"]["custom_details"] == {"sent_with": "[redacted]"}
    assert first["payload"]["summary"] == "disk full"


def test_repeat_only_bumps_last_seen_and_count(
    client: TestClient, ctx: Context, admin: Person, clock: FrozenClock
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    client.post("/v2/enqueue", json=h.trigger(key, "k"))
    clock.advance(minutes=1)
    for _ in range(3):
        assert client.post("/v2/enqueue", json=h.trigger(key, "k")).status_code == 202
    [alert] = h.alerts(ctx)
    assert alert.occurrence_count == 4
    assert alert.last_seen_at == clock.now()
    assert alert.first_seen_at < alert.last_seen_at
    assert h.incident_count(ctx) == 1


def test_trigger_without_dedup_key_gets_one(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    response = client.post("/v2/enqueue", json=h.trigger(key))
    dedup = response.json()["dedup_key"]
    assert len(dedup) >= 16
    assert h.alerts(ctx)[0].dedup_key == dedup


def test_ack_resolve_then_trigger_opens_new_alert(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    client.post("/v2/enqueue", json=h.trigger(key, "k"))
    assert client.post("/v2/enqueue", json=h.action(key, "acknowledge", "k")).status_code == 202
    assert h.alerts(ctx)[0].status == "acknowledged"
    assert client.post("/v2/enqueue", json=h.action(key, "resolve", "k")).status_code == 202
    assert h.alerts(ctx)[0].status == "resolved"
    client.post("/v2/enqueue", json=h.trigger(key, "k"))
    first, second = h.alerts(ctx)
    assert (first.status, second.status) == ("resolved", "firing")


def test_ack_and_resolve_of_unknown_keys_are_accepted_and_ignored(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    for name in ("acknowledge", "resolve"):
        response = client.post("/v2/enqueue", json=h.action(key, name, "nope"))
        assert response.status_code == 202
        assert response.json()["dedup_key"] == "nope"
    assert h.alerts(ctx) == []


def test_change_event_lands_on_service_timeline(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    service_id = h.service(ctx)
    key = h.integration(client, admin)["key"]
    response = client.post(
        "/v2/change/enqueue",
        json={"routing_key": key, "payload": {"summary": "deploy v42", "source": "ci"}},
    )
    assert response.status_code == 202, response.text
    from fireline.store.repos import timeline

    with ctx.reading() as session:
        [event] = timeline.for_record(session, record_type="service", record_id=service_id)
    assert (event.kind, event.body) == ("change_event", "deploy v42")
