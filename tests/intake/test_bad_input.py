"""Bad input to the intake: a clear 4xx naming the field, never a 5xx, and nothing stored.

Alertmanager retries 5xx forever and repeats 4xx every interval, so refusals must be cheap and
must not leave half an alert behind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Person
from tests.intake import helpers as h

from fireline.usecases.context import Context

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


def _nothing_stored(ctx: Context) -> None:
    assert h.alerts(ctx) == []
    assert h.incident_count(ctx) == 0


def _am(key: str, client: TestClient, body: Any) -> Any:
    return client.post(f"/hooks/alertmanager/{key}", content=json.dumps(body))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_action": "explode"}, "event_action"),
        ({"dedup_key": "k" * 256}, "dedup_key"),
        ({"payload": {"summary": "x", "source": "db-1", "severity": "fatal!"}}, "payload.severity"),
        ({"payload": {"source": "db-1", "severity": "info"}}, "payload.summary"),
        ({"payload": {"summary": 5, "source": "db-1", "severity": "info"}}, "payload.summary"),
        ({"payload": "disk full"}, "payload"),
        ({"links": [{"text": "no href"}]}, "links[0].href"),
        ({"routing_key": "short"}, "routing_key"),
    ],
)
def test_pagerduty_refuses_bad_events_naming_the_field(
    client: TestClient, ctx: Context, admin: Person, change: dict[str, Any], field: str
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    response = client.post("/v2/enqueue", json=h.trigger(key, "k1") | change)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "invalid event"
    assert any(error.startswith(f"{field}:") for error in body["errors"]), body
    _nothing_stored(ctx)


def test_pagerduty_lists_every_problem_at_once(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    response = client.post("/v2/enqueue", json={"event_action": "trigger", "payload": {}})
    errors = response.json()["errors"]
    assert response.status_code == 400
    fields = {error.split(":")[0] for error in errors}
    assert {"routing_key", "payload.summary", "payload.source", "payload.severity"} <= fields


def test_unknown_and_revoked_keys_are_refused_without_side_effects(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    pd = h.integration(client, admin)
    am = h.integration(client, admin, type="alertmanager")
    unknown = client.post("/v2/enqueue", json=h.trigger("u" * 32, "k1"))
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == ["routing_key: unknown or revoked integration key"]
    client.delete(f"/api/v1/integrations/{pd['id']}", headers=admin.headers)
    client.delete(f"/api/v1/integrations/{am['id']}", headers=admin.headers)
    assert client.post("/v2/enqueue", json=h.trigger(pd["key"], "k1")).status_code == 400
    payload = h.am_payload(h.am_alert("Down", "fp1"))
    revoked = _am(am["key"], client, payload)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["field"] == "key"
    assert _am("nope", client, payload).status_code == 401
    _nothing_stored(ctx)


def test_a_key_sent_to_another_sources_hook_is_refused(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="grafana")["key"]
    response = _am(key, client, h.am_payload(h.am_alert("Down", "fp1")))
    assert response.status_code == 404
    assert "grafana" in response.json()["error"]["message"]
    _nothing_stored(ctx)


@pytest.mark.parametrize("path", ["/v2/enqueue", "/hooks/alertmanager/{key}"])
def test_body_over_the_limit_is_413(
    client: TestClient, ctx: Context, admin: Person, path: str
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    huge = b'{"alerts": ["' + b"x" * (ctx.settings.max_body_bytes + 1) + b'"]}'
    response = client.post(path.format(key=key), content=huge)
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "body"
    _nothing_stored(ctx)


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b'{"alerts": [}'])
def test_invalid_json_is_400_naming_the_body(
    client: TestClient, ctx: Context, admin: Person, body: bytes
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    hook = client.post(f"/hooks/alertmanager/{key}", content=body)
    assert hook.status_code == 400
    assert hook.json()["error"] | {"message": ""} == {
        "code": "malformed_json",
        "field": "body",
        "message": "",
        "errors": hook.json()["error"]["errors"],
    }
    pd = client.post("/v2/enqueue", content=body)
    assert pd.status_code == 400
    assert pd.json()["errors"][0].startswith("body:")
    _nothing_stored(ctx)


def test_nul_characters_are_stored_as_replacement_characters_on_every_database(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    """PostgreSQL text cannot hold NUL: such an alert used to fail to store (503, resent
    forever). Now it is stored, with U+FFFD where the NUL was, and the sender's later
    resolve for the same key still finds it. A backslash before `u0000` is text, not NUL."""
    h.service(ctx)
    pd_key = h.integration(client, admin)["key"]
    am_key = h.integration(client, admin, type="alertmanager")["key"]
    event = h.trigger(pd_key, "disk\x00full", summary="full\x00disk \\u0000 literal")
    assert client.post("/v2/enqueue", json=event).status_code == 202
    alert = h.am_alert("Nul\x00Name", "fp-1", team="ops\x00")
    alert["annotations"]["note\x00"] = "x"
    assert client.post(f"/hooks/alertmanager/{am_key}", json=h.am_payload(alert)).status_code == 202

    stored = {a.source: a for a in h.alerts(ctx)}
    assert stored["pagerduty"].dedup_key == "disk\ufffdfull"
    assert stored["pagerduty"].summary == "full\ufffddisk \\u0000 literal"
    assert stored["alertmanager"].labels["alertname"] == "Nul\ufffdName"
    assert stored["alertmanager"].labels["team"] == "ops\ufffd"
    assert stored["alertmanager"].annotations["note\ufffd"] == "x"

    resolve = h.action(pd_key, "resolve", "disk\x00full")
    assert client.post("/v2/enqueue", json=resolve).status_code == 202
    assert {a.source: a.status for a in h.alerts(ctx)}["pagerduty"] == "resolved"


def _labels(n: int) -> dict[str, str]:
    return {"alertname": "Big", **{f"l{i}": "v" for i in range(n)}}


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"labels": _labels(5000)}, "alerts[0].labels"),
        ({"labels": {"alertname": "Big", "huge": "v" * 100_000}}, "alerts[0].labels.huge"),
        ({"labels": {"alertname": "Big", "": "empty name"}}, "alerts[0].labels"),
        ({"labels": ["alertname", "Big"]}, "alerts[0].labels"),
        ({"labels": {"alertname": 7}}, "alerts[0].labels.alertname"),
        ({"status": "on fire"}, "alerts[0].status"),
        ({"startsAt": "yesterday"}, "alerts[0].startsAt"),
        ({"fingerprint": "f" * 300}, "alerts[0].fingerprint"),
        ({"annotations": {f"a{i}": "x" for i in range(3000)}}, "alerts[0].annotations"),
    ],
)
def test_alertmanager_refuses_oversized_or_mistyped_alerts_naming_the_field(
    client: TestClient, ctx: Context, admin: Person, alert: dict[str, Any], field: str
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    good = h.am_alert("Fine", "fp-ok")
    bad = h.am_alert("Big", "fp-bad") | alert
    response = _am(key, client, h.am_payload(good, bad))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field.replace("[0]", "[1]"), error
    assert error["message"].startswith(error["field"])
    _nothing_stored(ctx)  # the good alert of a refused batch is not stored either


def test_more_alerts_than_a_batch_may_hold_is_refused(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    alerts = [h.am_alert("Many", f"fp{i}") for i in range(1001)]
    response = _am(key, client, h.am_payload(*alerts))
    assert (response.status_code, response.json()["error"]["field"]) == (422, "alerts")
    _nothing_stored(ctx)


def test_generic_hook_refuses_unusable_fields(
    client: TestClient, ctx: Context, admin: Person
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="generic")["key"]
    cases = {
        "labels": {"summary": "x", "labels": 5},
        "status": {"summary": "x", "status": "exploding"},
        "timestamp": {"summary": "x", "timestamp": "not a time"},
        "body": "just a string",
    }
    for field, body in cases.items():
        response = client.post(f"/hooks/generic/{key}", content=json.dumps(body))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    _nothing_stored(ctx)


@pytest.fixture
def hook_keys(client: TestClient, ctx: Context, admin: Person) -> dict[str, str]:
    h.service(ctx)
    return {
        "alertmanager": h.integration(client, admin, type="alertmanager")["key"],
        "grafana": h.integration(client, admin, type="grafana")["key"],
    }


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON)
def test_arbitrary_json_never_gets_a_5xx_nor_stores_anything(
    client: TestClient, ctx: Context, hook_keys: dict[str, str], body: Any
) -> None:
    paths = ["/v2/enqueue", *(f"/hooks/{kind}/{key}" for kind, key in hook_keys.items())]
    for path in paths:
        response = client.post(path, content=json.dumps(body))
        assert response.status_code < 500, response.text
    _nothing_stored(ctx)
