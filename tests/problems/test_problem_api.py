"""Problem records through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.helpers import declare, timeline
from tests.conftest import Person
from tests.problems.helpers import act, create_problem, problem_timeline

from fireline.usecases import catalog
from fireline.usecases.context import Context


def test_problem_goes_from_new_to_closed_with_every_step_on_its_timeline(
    client: TestClient, responder: Person
) -> None:
    h = responder.headers
    problem = create_problem(client, responder, priority="P2")
    assert problem["ref"] == "PRB-1"
    assert problem["status"] == "new"
    assert problem["origin"] == "proactive"
    assert problem["allowed_actions"] == ["investigate", "identify_root_cause"]

    assert act(client, responder, "PRB-1", "investigate").json()["status"] == "investigating"
    identified = act(
        client, responder, "PRB-1", "identify_root_cause", root_cause="Pool sized for 10"
    )
    assert identified.json()["root_cause"] == "Pool sized for 10"
    known = act(client, responder, "PRB-1", "mark_known_error", workaround="Restart pods")
    assert known.json()["status"] == "known_error"
    assert known.json()["known_error"]["ref"].startswith("KE-")
    change = client.post(
        "/api/v1/problems/PRB-1/changes",
        json={"change_ref": "CHG-12", "description": "Pool sized from load test"},
        headers=h,
    )
    assert change.status_code == 201, change.text
    resolved = act(client, responder, "PRB-1", "resolve")
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved"
    assert body["resolved_at"] is not None
    assert body["verification"]["state"] == "watching"
    assert body["verification"]["verify_until"] is not None
    assert body["changes"][0]["change_ref"] == "CHG-12"
    closed = act(client, responder, "PRB-1", "close")
    assert closed.json()["status"] == "closed"
    assert closed.json()["allowed_actions"] == ["reopen"]

    events = problem_timeline(client, responder, "PRB-1")
    assert [e["data"].get("to") for e in events if e["kind"] == "status_changed"] == [
        "investigating",
        "root_cause_identified",
        "known_error",
        "resolved",
        "closed",
    ]
    assert any(e["kind"] == "linked" and e["data"].get("change") == "CHG-12" for e in events)
    assert all(e["actor"] == responder.email for e in events)


def test_linking_an_incident_shows_on_both_timelines_and_both_records(
    client: TestClient, responder: Person
) -> None:
    incident = declare(client, responder, title="Checkout 500s")
    create_problem(client, responder)
    linked = client.post(
        "/api/v1/problems/PRB-1/incidents",
        json={"incident": incident["ref"], "reason": "same pool errors"},
        headers=responder.headers,
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["incident_count"] == 1
    assert [i["ref"] for i in linked.json()["incidents"]] == [incident["ref"]]
    assert linked.json()["incidents"][0]["reason"] == "same pool errors"

    on_problem = [e for e in problem_timeline(client, responder, "PRB-1") if e["kind"] == "linked"]
    assert on_problem[0]["data"]["incident"] == incident["ref"]
    on_incident = [e for e in timeline(client, responder, incident["ref"]) if e["kind"] == "linked"]
    assert on_incident[0]["data"]["problem"] == "PRB-1"

    of_incident = client.get(
        f"/api/v1/incidents/{incident['ref']}/problems", headers=responder.headers
    )
    assert [p["ref"] for p in of_incident.json()["problems"]] == ["PRB-1"]

    unlinked = client.delete(
        f"/api/v1/problems/PRB-1/incidents/{incident['ref']}", headers=responder.headers
    )
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["incident_count"] == 0
    assert [e["data"]["action"] for e in timeline(client, responder, incident["ref"])
            if e["kind"] == "linked"] == ["linked", "unlinked"]  # fmt: skip


def test_one_incident_can_belong_to_several_problems(client: TestClient, responder: Person) -> None:
    incident = declare(client, responder)
    create_problem(client, responder, incidents=[incident["ref"]], title="Pool")
    create_problem(client, responder, incidents=[incident["ref"]], title="Alerting gap")
    found = client.get(f"/api/v1/incidents/{incident['ref']}/problems", headers=responder.headers)
    assert [p["ref"] for p in found.json()["problems"]] == ["PRB-1", "PRB-2"]


def test_create_with_owner_services_and_incidents(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    team = catalog.create_team(ctx, name="Database")
    catalog.create_service(ctx, name="checkout", team=team.id)
    incident = declare(client, responder, services=["checkout"])
    problem = create_problem(
        client,
        responder,
        services=["checkout"],
        incidents=[incident["ref"]],
        owner_user=responder.email,
        origin="reactive",
        watch_days=14,
    )
    assert problem["owner_team"]["name"] == "Database"  # defaulted from the service
    assert problem["owner_user"]["email"] == responder.email
    assert [s["name"] for s in problem["services"]] == ["checkout"]
    assert problem["origin"] == "reactive"
    assert problem["incident_count"] == 1
    assert problem["verification"]["watch_days"] == 14


def test_list_filters_by_status_service_and_text_with_a_cursor(
    client: TestClient, responder: Person, ctx: Context
) -> None:
    catalog.create_service(ctx, name="search")
    for n in range(3):
        create_problem(client, responder, title=f"Pool problem {n}")
    create_problem(client, responder, title="Index lag", services=["search"])
    act(client, responder, "PRB-1", "investigate")
    h = responder.headers

    first = client.get("/api/v1/problems", params={"limit": 2}, headers=h).json()
    assert [p["ref"] for p in first["items"]] == ["PRB-4", "PRB-3"]
    second = client.get(
        "/api/v1/problems", params={"limit": 2, "cursor": first["next_cursor"]}, headers=h
    ).json()
    assert [p["ref"] for p in second["items"]] == ["PRB-2", "PRB-1"]
    assert second["next_cursor"] is None

    def refs(**params: str) -> list[str]:
        response = client.get("/api/v1/problems", params=params, headers=h)
        assert response.status_code == 200, response.text
        return [p["ref"] for p in response.json()["items"]]

    assert refs(status="investigating") == ["PRB-1"]
    assert refs(service="search") == ["PRB-4"]
    assert refs(q="pool 2") == ["PRB-3"]
    bad = client.get("/api/v1/problems", params={"status": "open"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "status"


def test_update_fields_records_before_and_after(client: TestClient, responder: Person) -> None:
    create_problem(client, responder)
    changed = client.patch(
        "/api/v1/problems/PRB-1",
        json={"priority": "P1", "title": "Pool exhaustion", "version": 1},
        headers=responder.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == "P1"
    stale = client.patch(
        "/api/v1/problems/PRB-1", json={"title": "Again", "version": 1}, headers=responder.headers
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["field"] == "version"
    fields = {
        e["data"]["field"]: (e["data"]["before"], e["data"]["after"])
        for e in problem_timeline(client, responder, "PRB-1")
        if e["kind"] == "field_changed"
    }
    assert fields["priority"] == ("P3", "P1")
    assert fields["title"] == ("Checkout DB pool exhausts under load", "Pool exhaustion")


def test_viewer_reads_but_cannot_create(
    client: TestClient, responder: Person, viewer: Person
) -> None:
    create_problem(client, responder)
    assert client.get("/api/v1/problems/PRB-1", headers=viewer.headers).status_code == 200
    refused = client.post("/api/v1/problems", json={"title": "x"}, headers=viewer.headers)
    assert refused.status_code == 403
