"""Bad input on problems: clear 4xx naming the field, and nothing half-written."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.helpers import declare, error_of, row_counts
from tests.conftest import Person
from tests.problems.helpers import act, create_problem


def test_linking_an_incident_twice_is_a_conflict_naming_incident(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    incident = declare(client, responder)
    create_problem(client, responder, incidents=[incident["ref"]])
    before = row_counts(engine)
    again = client.post(
        "/api/v1/problems/PRB-1/incidents",
        json={"incident": incident["ref"]},
        headers=responder.headers,
    )
    assert again.status_code == 409
    assert error_of(again)["field"] == "incident"
    assert "already linked" in error_of(again)["message"]
    assert row_counts(engine) == before


def test_unknown_ids_are_named(client: TestClient, responder: Person, engine: Engine) -> None:
    h = responder.headers
    create_problem(client, responder)
    before = row_counts(engine)
    unknown_incident = client.post(
        "/api/v1/problems/PRB-1/incidents", json={"incident": "INC-404"}, headers=h
    )
    assert unknown_incident.status_code == 422
    assert error_of(unknown_incident)["field"] == "incident"
    unknown_problem = client.post(
        "/api/v1/problems/PRB-99/incidents", json={"incident": "INC-1"}, headers=h
    )
    assert unknown_problem.status_code == 404
    assert error_of(unknown_problem)["field"] == "problem"
    assert client.get("/api/v1/problems/PRB-99", headers=h).status_code == 404
    not_linked = client.delete("/api/v1/problems/PRB-1/incidents/INC-404", headers=h)
    assert not_linked.status_code == 404
    assert error_of(not_linked)["field"] == "incident"
    assert row_counts(engine) == before


def test_create_with_one_unknown_incident_writes_nothing(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    incident = declare(client, responder)
    before = row_counts(engine)
    refused = client.post(
        "/api/v1/problems",
        json={"title": "Pool", "incidents": [incident["ref"], "INC-77"]},
        headers=responder.headers,
    )
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "incidents[1]"
    assert row_counts(engine) == before


def test_transition_out_of_order_lists_the_allowed_actions(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    create_problem(client, responder)
    before = row_counts(engine)
    refused = act(client, responder, "PRB-1", "resolve", fix_description="Patched")
    assert refused.status_code == 409
    error = error_of(refused)
    assert error["field"] == "action"
    assert error["allowed"] == ["investigate", "identify_root_cause"]
    closed = act(client, responder, "PRB-1", "close")
    assert closed.status_code == 409
    unknown = act(client, responder, "PRB-1", "fix")
    assert unknown.status_code == 422
    assert error_of(unknown)["field"] == "action"
    assert row_counts(engine) == before


def test_missing_statement_is_named_and_nothing_changes(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    create_problem(client, responder)
    act(client, responder, "PRB-1", "investigate")
    before = row_counts(engine)
    for action, field in [
        ("identify_root_cause", "root_cause"),
        ("mark_known_error", "workaround"),
        ("resolve", "fix_description"),
    ]:
        refused = act(client, responder, "PRB-1", action)
        assert refused.status_code == 422, action
        assert error_of(refused)["field"] == field
    assert row_counts(engine) == before
    problem = client.get("/api/v1/problems/PRB-1", headers=responder.headers).json()
    assert problem["status"] == "investigating"


def test_reopen_needs_a_reason(client: TestClient, responder: Person) -> None:
    create_problem(client, responder)
    act(client, responder, "PRB-1", "investigate")
    act(client, responder, "PRB-1", "resolve", fix_description="Bigger pool")
    refused = act(client, responder, "PRB-1", "reopen")
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "reopen_reason"
    reopened = act(client, responder, "PRB-1", "reopen", reason="INC-9 looks the same")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "investigating"
    assert reopened.json()["resolved_at"] is None
    assert reopened.json()["verification"]["state"] == "none"


def test_linking_the_same_change_twice_and_bad_watch_days(
    client: TestClient, responder: Person
) -> None:
    h = responder.headers
    create_problem(client, responder)
    first = client.post("/api/v1/problems/PRB-1/changes", json={"change_ref": "CHG-1"}, headers=h)
    assert first.status_code == 201
    again = client.post("/api/v1/problems/PRB-1/changes", json={"change_ref": "CHG-1"}, headers=h)
    assert again.status_code == 409
    assert error_of(again)["field"] == "change_ref"
    bad = client.post("/api/v1/problems", json={"title": "x", "watch_days": 0}, headers=h)
    assert bad.status_code == 422
    assert "watch_days" in error_of(bad)["field"]
