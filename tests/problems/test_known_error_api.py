"""The known-error database: a matching new incident shows the workaround at once."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.helpers import declare, error_of, row_counts, timeline
from tests.conftest import Person
from tests.problems.helpers import act, create_problem

from fireline.usecases import catalog
from fireline.usecases.context import Context
from fireline.worker import runner

FIXTURES = Path("/work/shared/fixtures/alertmanager")
if not FIXTURES.exists():  # a checkout outside the shared workspace
    FIXTURES = Path(__file__).resolve().parents[2].parent / "shared/fixtures/alertmanager"


def _known_error(client: TestClient, person: Person, **fields: object) -> dict[str, object]:
    body = {
        "title": "Checkout DB connection pool exhausted",
        "symptoms": "Checkout answers 500, logs show connection pool exhausted",
        "root_cause": "Pool sized for half the workers",
        "workaround": "Restart the checkout pods one at a time",
        "services": ["checkout"],
        "labels": {"alertname": "DBPoolExhausted"},
        **fields,
    }
    response = client.post("/api/v1/known-errors", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_matching_incident_shows_the_workaround_and_records_the_link(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    catalog.create_service(ctx, name="checkout")
    known = _known_error(client, responder)
    incident = declare(
        client,
        responder,
        title="db-42: connection pool exhausted (812 waiting)",
        services=["checkout"],
        labels={"alertname": "DBPoolExhausted", "instance": "db-42"},
    )
    matched = client.get(
        f"/api/v1/incidents/{incident['ref']}/known-errors", headers=responder.headers
    )
    assert matched.status_code == 200, matched.text
    [match] = matched.json()["matches"]
    assert match["known_error"]["ref"] == known["ref"]
    assert match["known_error"]["workaround"] == "Restart the checkout pods one at a time"
    assert "same service" in match["reasons"]
    assert "labels alertname=DBPoolExhausted" in match["reasons"]
    [event] = [
        e
        for e in timeline(client, responder, incident["ref"])
        if e["kind"] == "known_error_matched"
    ]
    assert event["data"]["workaround"] == "Restart the checkout pods one at a time"
    assert "Restart the checkout pods" in (event["body"] or "")


def test_unrelated_incident_gets_no_known_error(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    catalog.create_service(ctx, name="checkout")
    _known_error(client, responder)
    incident = declare(client, responder, title="Product images slow", services=["checkout"])
    matched = client.get(
        f"/api/v1/incidents/{incident['ref']}/known-errors", headers=responder.headers
    )
    assert matched.json()["matches"] == []
    assert "known_error_matched" not in [
        e["kind"] for e in timeline(client, responder, incident["ref"])
    ]


def test_retired_known_error_stops_matching_and_rematch_adds_new_ones(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    catalog.create_service(ctx, name="checkout")
    h = responder.headers
    known = _known_error(client, responder)
    retired = client.patch(
        f"/api/v1/known-errors/{known['ref']}", json={"active": False}, headers=h
    )
    assert retired.status_code == 200 and retired.json()["active"] is False
    incident = declare(
        client, responder, title="connection pool exhausted", services=["checkout"],
        labels={"alertname": "DBPoolExhausted"},
    )  # fmt: skip
    path = f"/api/v1/incidents/{incident['ref']}/known-errors"
    assert client.get(path, headers=h).json()["matches"] == []
    client.patch(f"/api/v1/known-errors/{known['ref']}", json={"active": True}, headers=h)
    rematched = client.post(path + "/match", headers=h)
    assert rematched.status_code == 200, rematched.text
    assert [m["known_error"]["ref"] for m in rematched.json()["matches"]] == [known["ref"]]
    again = client.post(path + "/match", headers=h)
    assert len(again.json()["matches"]) == 1  # matched once, not twice


def test_marking_a_problem_known_error_fills_the_database_from_the_problem(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    catalog.create_service(ctx, name="checkout")
    h = responder.headers
    create_problem(
        client, responder, title="Search index lags behind writes", services=["checkout"]
    )
    act(client, responder, "PRB-1", "investigate")
    act(client, responder, "PRB-1", "identify_root_cause", root_cause="Single indexer thread")
    act(client, responder, "PRB-1", "mark_known_error", workaround="Trigger a manual reindex")
    listed = client.get("/api/v1/known-errors", headers=h).json()["items"]
    assert len(listed) == 1
    entry = listed[0]
    assert entry["problem"] == "PRB-1"
    assert entry["root_cause"] == "Single indexer thread"
    assert entry["workaround"] == "Trigger a manual reindex"
    assert [s["name"] for s in entry["services"]] == ["checkout"]
    incident = declare(
        client, responder, title="Search index lags behind writes again", services=["checkout"]
    )
    matches = client.get(f"/api/v1/incidents/{incident['ref']}/known-errors", headers=h).json()
    assert [m["known_error"]["problem"] for m in matches["matches"]] == ["PRB-1"]
    # Resolving the problem records the permanent fix as released.
    act(client, responder, "PRB-1", "resolve", fix_description="Parallel indexers")
    assert (
        client.get(f"/api/v1/known-errors/{entry['ref']}", headers=h).json()["fix_status"]
        == "released"
    )


def test_bad_known_error_input_is_named_and_writes_nothing(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    h = responder.headers
    before = row_counts(engine)
    no_service = client.post(
        "/api/v1/known-errors", json={"title": "x", "services": ["nope"]}, headers=h
    )
    assert no_service.status_code == 422
    assert error_of(no_service)["field"] == "services[0]"
    no_problem = client.post(
        "/api/v1/known-errors", json={"title": "x", "problem": "PRB-5"}, headers=h
    )
    assert no_problem.status_code == 422
    assert error_of(no_problem)["field"] == "problem"
    bad_status = client.post(
        "/api/v1/known-errors", json={"title": "x", "fix_status": "done"}, headers=h
    )
    assert bad_status.status_code == 422
    assert "fix_status" in error_of(bad_status)["field"]
    assert client.get("/api/v1/known-errors/KE-9", headers=h).status_code == 404
    assert row_counts(engine) == before


def test_alert_labels_match_a_known_error_once_the_worker_has_seen_the_alert(
    client: TestClient, responder: Person, admin: Person, ctx: Context
) -> None:
    firing = (FIXTURES / "firing.json").read_bytes()
    catalog.create_service(ctx, name="checkout")
    known = _known_error(
        client,
        responder,
        title="Synthetic probe noise",
        symptoms="",
        labels={"alertname": "FirelineBenchAlwaysFiring"},
    )
    integration = client.post(
        "/api/v1/integrations",
        json={"type": "alertmanager", "service": "checkout", "name": "am"},
        headers=admin.headers,
    ).json()
    sent = client.post(
        "/hooks/alertmanager",
        content=firing,
        headers={"Authorization": f"Bearer {integration['key']}"},
    )
    assert sent.status_code == 202, sent.text
    runner.drain(ctx)
    [incident] = client.get("/api/v1/incidents", headers=responder.headers).json()["items"]
    matched = client.get(
        f"/api/v1/incidents/{incident['ref']}/known-errors", headers=responder.headers
    ).json()["matches"]
    assert [m["known_error"]["ref"] for m in matched] == [known["ref"]]
    assert "labels alertname=FirelineBenchAlwaysFiring" in matched[0]["reasons"]
