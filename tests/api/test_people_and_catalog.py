"""Users, teams, services and categories through the API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.helpers import declare, error_of, row_counts
from tests.conftest import Person

from fireline.domain.priority import DEFAULT_MATRIX
from fireline.domain.roles import Role


def test_admin_creates_reads_and_updates_users(client: TestClient, admin: Person) -> None:
    h = admin.headers
    created = client.post(
        "/api/v1/users",
        json={
            "email": " Ana@Example.com ",
            "name": "Ana",
            "role": "manager",
            "password": "a-long-password",
            "timezone": "Europe/Lisbon",
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "ana@example.com"
    assert "password" not in user and "password_hash" not in user
    assert client.get(f"/api/v1/users/{user['id']}", headers=h).json()["name"] == "Ana"
    clash = client.post("/api/v1/users", json={"email": "ana@example.com"}, headers=h)
    assert clash.status_code == 409
    assert error_of(clash)["field"] == "email"
    renamed = client.patch(f"/api/v1/users/{user['id']}", json={"name": "Ana M."}, headers=h)
    assert renamed.json()["name"] == "Ana M."
    emails = [u["email"] for u in client.get("/api/v1/users", headers=h).json()]
    assert "ana@example.com" in emails
    assert client.get("/api/v1/users/999999", headers=h).status_code == 404


def test_bad_user_fields_are_refused_naming_them(client: TestClient, admin: Person) -> None:
    h = admin.headers
    cases = [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "a@example.com", "role": "overlord"}, "role"),
        ({"email": "a@example.com", "nickname": "x"}, "nickname"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/users", json=body, headers=h)
        assert response.status_code == 422, (body, response.text)
        assert error_of(response)["field"] == field


def test_users_change_their_own_profile_but_not_their_role(
    client: TestClient, responder: Person
) -> None:
    own = client.patch(
        f"/api/v1/users/{responder.id}",
        json={"timezone": "Asia/Tokyo"},
        headers=responder.headers,
    )
    assert own.status_code == 200
    assert own.json()["timezone"] == "Asia/Tokyo"
    raise_role = client.patch(
        f"/api/v1/users/{responder.id}", json={"role": "admin"}, headers=responder.headers
    )
    assert raise_role.status_code == 403


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    client: TestClient, admin: Person, make_person: Callable[..., Person]
) -> None:
    h = admin.headers
    for change in ({"role": "manager"}, {"is_active": False}):
        response = client.patch(f"/api/v1/users/{admin.id}", json=change, headers=h)
        assert response.status_code == 409, response.text
        assert error_of(response)["field"] == "role"
    other = make_person(Role.ADMIN)
    demoted = client.patch(f"/api/v1/users/{admin.id}", json={"role": "manager"}, headers=h)
    assert demoted.status_code == 200
    last = client.patch(
        f"/api/v1/users/{other.id}", json={"is_active": False}, headers=other.headers
    )
    assert last.status_code == 409


def test_teams_crud_with_members(client: TestClient, admin: Person, responder: Person) -> None:
    h = admin.headers
    created = client.post(
        "/api/v1/teams",
        json={"name": "Payments", "members": [{"user": responder.email, "team_role": "lead"}]},
        headers=h,
    )
    assert created.status_code == 201, created.text
    team = created.json()
    assert team["members"][0]["email"] == responder.email
    assert team["members"][0]["team_role"] == "lead"
    assert client.get("/api/v1/teams/payments", headers=h).json()["id"] == team["id"]
    assert client.get(f"/api/v1/teams/{team['id']}", headers=h).json()["name"] == "Payments"
    dup = client.post("/api/v1/teams", json={"name": "PAYMENTS"}, headers=h)
    assert dup.status_code == 409
    updated = client.patch(
        f"/api/v1/teams/{team['id']}", json={"description": "money", "members": []}, headers=h
    )
    assert updated.status_code == 200
    assert updated.json()["members"] == []
    unknown_member = client.post(
        "/api/v1/teams", json={"name": "X", "members": [{"user": "ghost@example.com"}]}, headers=h
    )
    assert unknown_member.status_code == 422
    assert error_of(unknown_member)["field"] == "members[0].user"
    assert client.delete(f"/api/v1/teams/{team['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/teams/{team['id']}", headers=h).status_code == 404
    assert client.delete(f"/api/v1/teams/{team['id']}", headers=h).status_code == 404
    assert client.get("/api/v1/teams/nope", headers=h).status_code == 404


def test_services_crud_and_dependency_cycles_are_refused(
    client: TestClient, admin: Person, engine: Engine
) -> None:
    h = admin.headers
    team = client.post("/api/v1/teams", json={"name": "Core"}, headers=h).json()
    db = client.post("/api/v1/services", json={"name": "db", "tier": 1}, headers=h).json()
    api = client.post(
        "/api/v1/services", json={"name": "api", "team": "core", "depends_on": ["db"]}, headers=h
    )
    assert api.status_code == 201, api.text
    assert api.json()["team"] == {"id": team["id"], "name": "Core"}
    assert api.json()["depends_on"] == [{"id": db["id"], "name": "db"}]
    web = client.post(
        "/api/v1/services", json={"name": "web", "depends_on": [api.json()["id"]]}, headers=h
    ).json()
    before = row_counts(engine)
    cycle = client.patch(f"/api/v1/services/{db['id']}", json={"depends_on": ["web"]}, headers=h)
    assert cycle.status_code == 422
    assert error_of(cycle)["field"] == "depends_on"
    self_dep = client.patch(
        f"/api/v1/services/{db['id']}", json={"depends_on": [db["id"]]}, headers=h
    )
    assert self_dep.status_code == 422
    assert error_of(self_dep)["field"] == "depends_on"
    unknown = client.post("/api/v1/services", json={"name": "x", "depends_on": ["nope"]}, headers=h)
    assert unknown.status_code == 422
    assert error_of(unknown)["field"] == "depends_on[0]"
    assert row_counts(engine) == before
    assert client.get("/api/v1/services/web", headers=h).json()["id"] == web["id"]
    listed = client.get(f"/api/v1/services?team={team['id']}", headers=h).json()
    assert [s["name"] for s in listed] == ["api"]
    renamed = client.patch(f"/api/v1/services/{db['id']}", json={"name": "postgres"}, headers=h)
    assert renamed.json()["name"] == "postgres"
    clash = client.patch(f"/api/v1/services/{db['id']}", json={"name": "API"}, headers=h)
    assert clash.status_code == 409
    assert client.delete(f"/api/v1/services/{db['id']}", headers=h).status_code == 204
    assert client.get("/api/v1/services/api", headers=h).json()["depends_on"] == []
    assert client.get("/api/v1/services/postgres", headers=h).status_code == 404


def test_deleting_a_team_or_service_keeps_their_incidents(
    client: TestClient, admin: Person, responder: Person
) -> None:
    h = admin.headers
    team = client.post("/api/v1/teams", json={"name": "Core"}, headers=h).json()
    service = client.post("/api/v1/services", json={"name": "db", "team": "core"}, headers=h)
    incident = declare(client, responder, services=["db"])
    assert incident["team"]["id"] == team["id"]
    assert client.delete(f"/api/v1/services/{service.json()['id']}", headers=h).status_code == 204
    assert client.delete(f"/api/v1/teams/{team['id']}", headers=h).status_code == 204
    kept = client.get(f"/api/v1/incidents/{incident['ref']}", headers=h).json()
    assert kept["services"] == [] and kept["team"] is None


def test_categories_are_listed_and_added_by_admins(client: TestClient, admin: Person) -> None:
    h = admin.headers
    names = [c["name"] for c in client.get("/api/v1/categories", headers=h).json()]
    assert "security" in names
    created = client.post("/api/v1/categories", json={"name": "Billing"}, headers=h)
    assert created.status_code == 201
    assert created.json() == {**created.json(), "name": "billing", "built_in": False}
    assert client.post("/api/v1/categories", json={"name": "billing"}, headers=h).status_code == 409
    bad = client.post("/api/v1/categories", json={"name": "no spaces!"}, headers=h)
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "name"


def test_priority_matrix_changes_apply_to_new_incidents(
    client: TestClient, admin: Person, responder: Person
) -> None:
    h = admin.headers
    matrix = {k: dict(v) for k, v in DEFAULT_MATRIX.items()}
    matrix["low"]["low"] = "P2"
    assert (
        client.put(
            "/api/v1/settings/priority-matrix", json={"matrix": matrix}, headers=h
        ).status_code
        == 200
    )
    assert (
        client.get("/api/v1/settings/priority-matrix", headers=responder.headers).json()["matrix"]
        == matrix
    )
    assert declare(client, responder, impact="low", urgency="low")["priority"] == "P2"
    gap = {k: dict(v) for k, v in matrix.items()}
    del gap["high"]["low"]
    refused = client.put("/api/v1/settings/priority-matrix", json={"matrix": gap}, headers=h)
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "matrix.high.low"


def test_null_user_fields_are_refused_not_applied(
    client: TestClient, admin: Person, responder: Person
) -> None:
    for field in ("is_active", "role", "password", "timezone", "email", "name"):
        response = client.patch(
            f"/api/v1/users/{responder.id}", json={field: None}, headers=admin.headers
        )
        assert response.status_code == 422, (field, response.text)
        assert error_of(response)["field"] == field
    assert client.get("/api/v1/me", headers=responder.headers).json()["is_active"] is True


def test_admins_read_the_audit_log_newest_first_and_filtered(
    client: TestClient, admin: Person, make_person: Callable[..., Person]
) -> None:
    h = admin.headers
    manager = make_person(Role.MANAGER)
    made = client.post("/api/v1/tokens", json={"name": "ci deploys"}, headers=h).json()
    client.delete(f"/api/v1/tokens/{made['id']}", headers=h)
    client.put("/api/v1/settings/priority-matrix", json={"matrix": DEFAULT_MATRIX}, headers=h)

    page = client.get("/api/v1/audit-log", params={"limit": 2}, headers=h).json()
    assert [e["action"] for e in page["items"]] == ["settings.priority_matrix", "token.revoke"]
    assert page["items"][0]["actor_label"] == admin.email
    older = client.get(
        "/api/v1/audit-log", params={"limit": 2, "cursor": page["next_cursor"]}, headers=h
    ).json()
    assert older["items"][0]["action"] == "token.create"
    assert older["items"][0]["data"]["name"] == "ci deploys"
    assert "secret" not in str(older["items"][0]["data"]) and made["token"] not in str(older)

    tokens_only = client.get("/api/v1/audit-log", params={"action": "token"}, headers=h).json()
    assert {e["action"] for e in tokens_only["items"]} == {"token.create", "token.revoke"}

    refused = client.get("/api/v1/audit-log", headers=manager.headers)
    assert refused.status_code == 403
    assert client.get("/api/v1/audit-log").status_code == 401
