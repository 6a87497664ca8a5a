"""Alertmanager and webhook intake: fixtures, grouping, storms, auto-resolve, noise control."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import Person
from tests.intake import helpers as h

from fireline.clock import FrozenClock
from fireline.domain.alert_grouping import Action
from fireline.store.models import Incident, TimelineEvent
from fireline.usecases import alert_settings, alerts
from fireline.usecases.context import Context
from fireline.worker import runner

FIXTURES = Path("/work/shared/fixtures/alertmanager")
if not FIXTURES.is_dir():
    FIXTURES = Path(__file__).resolve().parents[2].parent / "shared/fixtures/alertmanager"


def _settings(client: TestClient, admin: Person, service: str, body: dict[str, object]) -> None:
    response = client.put(
        f"/api/v1/services/{service}/alert-settings", json=body, headers=admin.headers
    )
    assert response.status_code == 200, response.text


def test_real_alertmanager_fixtures_fire_then_resolve(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    firing = (FIXTURES / "firing.json").read_bytes()
    for _ in range(2):  # Alertmanager repeats deliveries
        response = client.post(
            "/hooks/alertmanager", content=firing, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202, response.text
    [alert] = h.alerts(ctx)
    assert (alert.status, alert.occurrence_count, alert.fingerprint) == (
        "firing",
        2,
        "25fd4baa08fdec7d",
    )
    assert alert.labels["alertname"] == "FirelineBenchAlwaysFiring"
    assert alert.incident_id is not None
    resolved = (FIXTURES / "resolved.json").read_bytes()
    assert client.post(f"/hooks/alertmanager/{key}", content=resolved).status_code == 202
    [alert] = h.alerts(ctx)
    assert alert.status == "resolved"


def test_same_instance_resent_after_resolve_is_a_repeat_new_starts_at_is_new(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    url = f"/hooks/alertmanager/{key}"
    first = h.am_alert("Down", "fp1", starts="2026-03-02T08:00:00Z")
    client.post(url, json=h.am_payload(first))
    client.post(
        url,
        json=h.am_payload(
            h.am_alert("Down", "fp1", status="resolved", starts="2026-03-02T08:00:00Z")
        ),
    )
    client.post(url, json=h.am_payload(first))  # a late retry of the old firing notification
    assert [a.status for a in h.alerts(ctx)] == ["resolved"]
    client.post(url, json=h.am_payload(h.am_alert("Down", "fp1", starts="2026-03-02T08:30:00Z")))
    assert [a.status for a in h.alerts(ctx)] == ["resolved", "firing"]


def test_storm_of_500_alerts_is_one_incident_with_500_alerts(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    for batch in range(5):
        items = [
            h.am_alert("CheckoutDown", f"fp-{batch}-{i}", instance=f"i{i}") for i in range(100)
        ]
        response = client.post(f"/hooks/alertmanager/{key}", json=h.am_payload(*items))
        assert response.status_code == 202, response.text
    rows = h.alerts(ctx)
    assert len(rows) == 500
    assert len({a.incident_id for a in rows}) == 1
    assert h.incident_count(ctx) == 1
    with ctx.reading() as session:
        attached = session.scalars(
            select(TimelineEvent).where(TimelineEvent.kind == "alert_attached")
        ).all()
    assert len(attached) == 500


def test_grouping_by_dedup_key_opens_one_incident_per_alert(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    _settings(client, admin, "checkout", {"grouping": {"mode": "dedup_key"}})
    key = h.integration(client, admin)["key"]
    for name in ("a", "b", "a"):
        client.post("/v2/enqueue", json=h.trigger(key, name))
    assert h.incident_count(ctx) == 2


def test_time_window_grouping_opens_a_new_incident_after_the_window(
    client: TestClient, ctx: Context, admin: Person, clock: FrozenClock
) -> None:
    h.service(ctx)
    _settings(
        client, admin, "checkout", {"grouping": {"mode": "time_window", "window_minutes": 10}}
    )
    key = h.integration(client, admin)["key"]
    client.post("/v2/enqueue", json=h.trigger(key, "a"))
    clock.advance(minutes=5)
    client.post("/v2/enqueue", json=h.trigger(key, "b"))
    assert h.incident_count(ctx) == 1
    clock.advance(minutes=6)
    client.post("/v2/enqueue", json=h.trigger(key, "c"))
    assert h.incident_count(ctx) == 2


def test_all_alerts_resolved_auto_resolves_when_configured(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    _settings(client, admin, "checkout", {"grouping": {"mode": "service"}, "auto_resolve": True})
    key = h.integration(client, admin)["key"]
    client.post("/v2/enqueue", json=h.trigger(key, "a"))
    client.post("/v2/enqueue", json=h.trigger(key, "b"))
    client.post("/v2/enqueue", json=h.action(key, "resolve", "a"))
    with ctx.reading() as session:
        assert session.scalars(select(Incident.status)).one() == "triggered"
    client.post("/v2/enqueue", json=h.action(key, "resolve", "b"))
    with ctx.reading() as session:
        assert session.scalars(select(Incident.status)).one() == "resolved"


def test_all_alerts_resolved_only_notes_the_timeline_by_default(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    client.post("/v2/enqueue", json=h.trigger(key, "a"))
    client.post("/v2/enqueue", json=h.action(key, "resolve", "a"))
    with ctx.reading() as session:
        incident = session.scalars(select(Incident)).one()
        kinds = session.scalars(
            select(TimelineEvent.kind).where(
                TimelineEvent.record_id == incident.id, TimelineEvent.record_type == "incident"
            )
        ).all()
    assert incident.status == "triggered"
    assert "alert_resolved" in kinds


def test_maintenance_window_records_alerts_without_incident(
    client: TestClient, ctx: Context, admin: Person, clock: FrozenClock
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    response = client.post(
        "/api/v1/maintenance-windows",
        json={
            "service": "checkout",
            "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
            "reason": "db upgrade",
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    client.post("/v2/enqueue", json=h.trigger(key, "a"))
    [alert] = h.alerts(ctx)
    assert alert.suppressed and alert.incident_id is None
    assert (alert.suppressed_reason or "").startswith("maintenance:")
    assert h.incident_count(ctx) == 0
    clock.advance(hours=2)
    client.post("/v2/enqueue", json=h.trigger(key, "b"))
    assert h.incident_count(ctx) == 1


def test_silence_by_labels_until_expiry(
    client: TestClient, ctx: Context, admin: Person, clock: FrozenClock
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    response = client.post(
        "/api/v1/silences",
        json={
            "matchers": {"alertname": "Noisy", "env": "~stag.*"},
            "reason": "known flaky",
            "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    url = f"/hooks/alertmanager/{key}"
    client.post(url, json=h.am_payload(h.am_alert("Noisy", "f1", env="staging")))
    client.post(url, json=h.am_payload(h.am_alert("Noisy", "f2", env="prod")))
    silenced, paged = h.alerts(ctx)
    assert silenced.suppressed and silenced.incident_id is None
    assert not paged.suppressed and paged.incident_id is not None
    clock.advance(hours=2)
    client.post(url, json=h.am_payload(h.am_alert("Noisy", "f3", env="staging")))
    assert h.alerts(ctx)[-1].suppressed is False


def test_flapping_alert_is_held_back(client: TestClient, ctx: Context, admin: Person) -> None:
    h.service(ctx)
    _settings(client, admin, "checkout", {"flap": {"window_minutes": 60, "max_opens": 3}})
    key = h.integration(client, admin)["key"]
    for _ in range(3):
        client.post("/v2/enqueue", json=h.trigger(key, "flappy"))
        client.post("/v2/enqueue", json=h.action(key, "resolve", "flappy"))
    rows = h.alerts(ctx)
    assert [a.flapping for a in rows] == [False, False, True]
    assert rows[-1].incident_id is None and rows[-1].suppressed


def test_flapping_counts_resolved_alerts_when_one_batch_resolves_and_triggers(
    ctx: Context, clock: FrozenClock
) -> None:
    """The resolve of an open alert and its next trigger can arrive in one batch (two
    requests a few milliseconds apart). The new alert's flap check counts the alert's earlier
    resolved instances and the one the batch resolves."""
    source = h.pagerduty_source(ctx)
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": "service"}, "flap": {"max_opens": 3}})
    alerts.ingest(ctx, [h.submission(source, "flappy")])
    clock.advance(minutes=1)
    alerts.ingest(ctx, [h.submission(source, "flappy", Action.RESOLVE)])
    clock.advance(minutes=1)
    alerts.ingest(ctx, [h.submission(source, "flappy")])  # opened twice
    clock.advance(minutes=1)
    alerts.ingest(
        ctx,
        [h.submission(source, "flappy", Action.RESOLVE), h.submission(source, "flappy")],
    )
    rows = h.alerts(ctx)
    assert [(a.status, a.flapping) for a in rows] == [
        ("resolved", False),
        ("resolved", False),
        ("firing", True),  # opened three times
    ]
    assert rows[-1].suppressed and rows[-1].incident_id is None


def test_a_key_open_on_one_integration_still_flaps_on_another_in_the_same_batch(
    ctx: Context, clock: FrozenClock
) -> None:
    """Dedup keys are per integration: one batch repeats key "k" on an integration where it
    is open and opens it again on another, where it opened and resolved a minute before. The
    second one's flap check sees that earlier alert."""
    first = h.pagerduty_source(ctx)
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": "service"}, "flap": {"max_opens": 2}})
    second = h.pagerduty_on(ctx, first.service_id, "pd2")
    alerts.ingest(ctx, [h.submission(first, "k"), h.submission(second, "k")])
    clock.advance(minutes=1)
    alerts.ingest(ctx, [h.submission(second, "k", Action.RESOLVE)])
    clock.advance(minutes=1)
    alerts.ingest(ctx, [h.submission(first, "k"), h.submission(second, "k")])
    rows = [(a.integration_id, a.status, a.occurrence_count, a.flapping) for a in h.alerts(ctx)]
    assert rows == [
        (first.id, "firing", 2, False),
        (second.id, "resolved", 1, False),
        (second.id, "firing", 1, True),  # opened twice in two minutes
    ]


def test_an_alert_opened_for_the_first_time_is_not_flapping_whatever_its_batch_holds(
    ctx: Context,
) -> None:
    """A batch that opens a key's first alert, resolves it and opens it again: the first
    alert was opened once, so it is not flapping, and it pages."""
    source = h.pagerduty_source(ctx)
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": "service"}, "flap": {"max_opens": 2}})
    alerts.ingest(
        ctx,
        [
            h.submission(source, "new-key"),
            h.submission(source, "new-key", Action.RESOLVE),
            h.submission(source, "new-key"),
        ],
    )
    first = h.alerts(ctx)[0]
    assert (first.status, first.flapping, first.suppressed) == ("resolved", False, False)
    assert first.incident_id is not None


def test_routing_rules_route_change_severity_and_drop(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    h.service(ctx, "payments")
    rules = [
        {"match": {"team": "payments"}, "service": "payments"},
        {"match": {"severity": "info"}, "drop": True},
        {"match": {"alertname": "Slow"}, "severity": "warning"},
    ]
    key = h.integration(client, admin, type="alertmanager", config={"routing_rules": rules})["key"]
    url = f"/hooks/alertmanager/{key}"
    client.post(
        url,
        json=h.am_payload(
            h.am_alert("Down", "r1", team="payments", severity="critical"),
            h.am_alert("Chatty", "r2", severity="info"),
            h.am_alert("Slow", "r3", severity="critical"),
        ),
    )
    routed, slow = h.alerts(ctx)
    assert routed.dedup_key == "r1" and routed.service_id != slow.service_id
    assert slow.severity == "warning"


def test_mark_noise_and_report(client: TestClient, ctx: Context, admin: Person) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    client.post(
        f"/hooks/alertmanager/{key}",
        json=h.am_payload(h.am_alert("Chatty", "n1"), h.am_alert("Chatty", "n2")),
    )
    alert_id = h.alerts(ctx)[0].id
    response = client.post(
        f"/api/v1/alerts/{alert_id}/noise", json={"reason": "not actionable"}, headers=admin.headers
    )
    assert response.status_code == 200 and response.json()["noise"] is True
    incident = client.get(f"/api/v1/alerts/{alert_id}", headers=admin.headers).json()
    response = client.post(
        f"/api/v1/incidents/{incident['incident_id']}/noise",
        json={"reason": "all noise"},
        headers=admin.headers,
    )
    assert response.json() == {"alerts": 2}
    report = client.get("/api/v1/noise/report", headers=admin.headers).json()
    assert report[0]["rule"] == "Chatty" and report[0]["noise"] == 2


def test_alert_list_filters_and_cursor(client: TestClient, ctx: Context, admin: Person) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    for i in range(5):
        client.post("/v2/enqueue", json=h.trigger(key, f"k{i}"))
    client.post("/v2/enqueue", json=h.action(key, "resolve", "k0"))
    page = client.get("/api/v1/alerts?limit=2&status=firing", headers=admin.headers).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        f"/api/v1/alerts?limit=10&status=firing&cursor={page['next_cursor']}", headers=admin.headers
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    found = client.get("/api/v1/alerts?q=k3", headers=admin.headers).json()["items"]
    assert [a["dedup_key"] for a in found] == ["k3"]


def test_heartbeat_missed_raises_alert_and_ping_resolves(
    client: TestClient, ctx: Context, admin: Person, clock: FrozenClock
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="heartbeat", config={"interval_minutes": 5})["key"]
    assert client.get(f"/hooks/heartbeat/{key}").status_code == 200
    from fireline.worker.tasks import heartbeats

    clock.advance(minutes=4)
    heartbeats.check(ctx, clock.now())
    assert h.alerts(ctx) == []
    clock.advance(minutes=2)
    heartbeats.check(ctx, clock.now())
    heartbeats.check(ctx, clock.now())
    [alert] = h.alerts(ctx)
    assert alert.status == "firing" and alert.incident_id is not None
    assert client.post(f"/hooks/heartbeat/{key}").status_code == 200
    assert h.alerts(ctx)[0].status == "resolved"
    assert "heartbeats.check" in runner.load().periodics


def test_rate_limit_answers_429_with_retry_after(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, config={"rate_limit_per_minute": 3})["key"]
    codes = [client.post("/v2/enqueue", json=h.trigger(key, f"r{i}")).status_code for i in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    response = client.post("/v2/enqueue", json=h.trigger(key, "x"))
    assert int(response.headers["retry-after"]) >= 1
    assert len(h.alerts(ctx)) == 3


def test_metrics_count_the_intake_events_by_source_and_result(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    """An owner can see in /metrics how many events each source sent and how many were
    throttled (Prometheus text format, counter `fireline_intake_events`)."""
    h.service(ctx)
    key = h.integration(client, admin, config={"rate_limit_per_minute": 3})["key"]
    for i in range(5):
        client.post("/v2/enqueue", json=h.trigger(key, f"r{i}"))
    text = client.get("/metrics").text
    assert 'fireline_intake_events_total{result="accepted",source="pagerduty"} 3.0' in text
    assert 'fireline_intake_events_total{result="throttled",source="pagerduty"} 2.0' in text


def test_integration_key_rotate_and_revoke(client: TestClient, ctx: Context, admin: Person) -> None:
    h.service(ctx)
    created = h.integration(client, admin)
    assert len(created["key"]) == 32 and created["url"] == "http://testserver/v2/enqueue"
    listed = client.get("/api/v1/integrations", headers=admin.headers).json()
    assert "key" not in listed[0] and listed[0]["key_prefix"] == created["key"][:6]
    rotated = client.post(f"/api/v1/integrations/{created['id']}/rotate", headers=admin.headers)
    new_key = rotated.json()["key"]
    assert client.post("/v2/enqueue", json=h.trigger(created["key"], "a")).status_code == 400
    assert client.post("/v2/enqueue", json=h.trigger(new_key, "a")).status_code == 202
    client.delete(f"/api/v1/integrations/{created['id']}", headers=admin.headers)
    assert client.post("/v2/enqueue", json=h.trigger(new_key, "a")).status_code == 400
    from sqlalchemy import select as sel

    from fireline.store.models import AuditEntry

    with ctx.reading() as session:
        actions = session.scalars(sel(AuditEntry.action)).all()
    assert {"integration.create", "integration.rotate", "integration.revoke"} <= set(actions)


def test_only_admins_manage_integrations(
    client: TestClient, ctx: Context, responder: Person
) -> None:
    h.service(ctx)
    response = client.post(
        "/api/v1/integrations",
        json={"type": "generic", "service": "checkout", "name": "x"},
        headers=responder.headers,
    )
    assert response.status_code == 403


def test_generic_webhook_with_field_mapping(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    mapping = {
        "summary": "event.title",
        "dedup_key": "event.id",
        "status": "event.state",
        "severity": "event.level",
    }
    key = h.integration(client, admin, type="generic", config={"mapping": mapping})["key"]
    body = {"event": {"title": "queue backlog", "id": 7, "state": "open", "level": "warning"}}
    assert client.post(f"/hooks/generic/{key}", json=body).status_code == 202
    body["event"]["state"] = "closed"
    assert client.post(f"/hooks/generic/{key}", json=body).status_code == 202
    [alert] = h.alerts(ctx)
    assert (alert.summary, alert.dedup_key, alert.severity, alert.status) == (
        "queue backlog",
        "7",
        "warning",
        "resolved",
    )
    assert json.loads(alert.raw or "{}")["event"]["id"] == 7
