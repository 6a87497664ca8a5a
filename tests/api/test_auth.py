"""Who may call what: tokens, roles, revocation, expiry, hashed secrets and audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from tests.api.helpers import declare, error_of, row_counts
from tests.conftest import Person

from fireline import security
from fireline.clock import FrozenClock
from fireline.domain.priority import DEFAULT_MATRIX
from fireline.domain.roles import Role
from fireline.store.models import ApiToken


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer flt_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer something-without-prefix"},
    ],
)
def test_requests_without_a_valid_token_get_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/incidents", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_stops_working_at_once(client: TestClient, responder: Person) -> None:
    assert client.get("/api/v1/me", headers=responder.headers).status_code == 200
    tokens = client.get("/api/v1/tokens", headers=responder.headers).json()
    revoked = client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=responder.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=responder.headers).status_code == 401


def test_tokens_show_when_they_were_last_used(
    client: TestClient, responder: Person, clock: FrozenClock
) -> None:
    def last_used() -> str | None:
        (token,) = client.get("/api/v1/tokens", headers=responder.headers).json()
        return token["last_used_at"]  # type: ignore[no-any-return]

    first = clock.now()
    assert last_used() is not None
    assert last_used() == last_used()  # within a minute: kept, no write per request
    clock.advance(minutes=5)
    later = last_used()
    assert later is not None and later > first.isoformat()


def test_expired_token_gets_401(client: TestClient, responder: Person, clock: FrozenClock) -> None:
    issued = client.post(
        "/api/v1/tokens",
        json={"name": "short", "expires_at": (clock.now() + timedelta(hours=1)).isoformat()},
        headers=responder.headers,
    )
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    clock.advance(hours=1)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_deactivated_user_token_gets_401(
    client: TestClient, admin: Person, responder: Person
) -> None:
    off = client.patch(
        f"/api/v1/users/{responder.id}", json={"is_active": False}, headers=admin.headers
    )
    assert off.status_code == 200
    assert client.get("/api/v1/me", headers=responder.headers).status_code == 401


def test_token_secret_is_stored_only_as_a_hash(
    client: TestClient, responder: Person, engine: Engine
) -> None:
    issued = client.post("/api/v1/tokens", json={"name": "ci"}, headers=responder.headers)
    secret = issued.json()["token"]
    assert secret.startswith("flt_")
    with Session(engine) as session:
        row = session.get(ApiToken, issued.json()["id"])
        assert row is not None
        assert row.token_hash == security.token_digest(secret)
        for table in ("api_tokens", "audit_log"):
            dumped = " ".join(
                str(value) for r in session.execute(text(f"SELECT * FROM {table}")) for value in r
            )
            assert secret not in dumped
            assert secret[4:] not in dumped
    listed = client.get("/api/v1/tokens", headers=responder.headers).json()
    assert all("token" not in t for t in listed)


def test_viewer_may_read_but_not_work_incidents(
    client: TestClient, viewer: Person, responder: Person, engine: Engine
) -> None:
    incident = declare(client, responder)
    ref = incident["ref"]
    assert client.get(f"/api/v1/incidents/{ref}", headers=viewer.headers).status_code == 200
    before = row_counts(engine)
    attempts = [
        client.post("/api/v1/incidents", json={"title": "x"}, headers=viewer.headers),
        client.patch(f"/api/v1/incidents/{ref}", json={"title": "y"}, headers=viewer.headers),
        client.post(
            f"/api/v1/incidents/{ref}/transitions",
            json={"action": "acknowledge"},
            headers=viewer.headers,
        ),
        client.post(f"/api/v1/incidents/{ref}/notes", json={"body": "hi"}, headers=viewer.headers),
        client.post(
            f"/api/v1/incidents/{ref}/status-updates", json={"body": "hi"}, headers=viewer.headers
        ),
    ]
    for response in attempts:
        assert response.status_code == 403, response.text
        assert error_of(response)["code"] == "forbidden"
    assert row_counts(engine) == before


def test_responder_cannot_manage_the_catalog(
    client: TestClient, responder: Person, admin: Person
) -> None:
    team = client.post("/api/v1/teams", json={"name": "Core"}, headers=admin.headers).json()
    service = client.post("/api/v1/services", json={"name": "api"}, headers=admin.headers).json()
    h = responder.headers
    attempts = [
        client.post("/api/v1/teams", json={"name": "Ops"}, headers=h),
        client.patch(f"/api/v1/teams/{team['id']}", json={"name": "Ops"}, headers=h),
        client.delete(f"/api/v1/teams/{team['id']}", headers=h),
        client.post("/api/v1/services", json={"name": "db"}, headers=h),
        client.patch(f"/api/v1/services/{service['id']}", json={"tier": 1}, headers=h),
        client.delete(f"/api/v1/services/{service['id']}", headers=h),
    ]
    assert [r.status_code for r in attempts] == [403] * len(attempts)


def test_manager_cannot_administer_users_categories_or_settings(
    client: TestClient, make_person: Callable[..., Person], responder: Person
) -> None:
    manager = make_person(Role.MANAGER)
    h = manager.headers
    attempts = [
        client.post("/api/v1/users", json={"email": "new@example.com"}, headers=h),
        client.patch(f"/api/v1/users/{responder.id}", json={"role": "admin"}, headers=h),
        client.patch(f"/api/v1/users/{manager.id}", json={"role": "admin"}, headers=h),
        client.post("/api/v1/categories", json={"name": "billing"}, headers=h),
        client.put("/api/v1/settings/priority-matrix", json={"matrix": DEFAULT_MATRIX}, headers=h),
        client.post("/api/v1/tokens", json={"user_id": responder.id}, headers=h),
        client.get(f"/api/v1/tokens?user_id={responder.id}", headers=h),
    ]
    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert client.post("/api/v1/teams", json={"name": "Ops"}, headers=h).status_code == 201


def test_user_cannot_revoke_someone_elses_token(
    client: TestClient, responder: Person, make_person: Callable[..., Person]
) -> None:
    other = make_person(Role.RESPONDER)
    token_id = client.get("/api/v1/tokens", headers=other.headers).json()[0]["id"]
    response = client.delete(f"/api/v1/tokens/{token_id}", headers=responder.headers)
    assert response.status_code == 403
    assert client.get("/api/v1/me", headers=other.headers).status_code == 200


def test_admin_actions_are_written_to_the_audit_log(
    client: TestClient, admin: Person, responder: Person, engine: Engine
) -> None:
    h = admin.headers
    user = client.post(
        "/api/v1/users", json={"email": "New@Example.com", "role": "viewer"}, headers=h
    ).json()
    client.patch(f"/api/v1/users/{user['id']}", json={"role": "manager"}, headers=h)
    token = client.post("/api/v1/tokens", json={"user_id": responder.id}, headers=h).json()
    client.delete(f"/api/v1/tokens/{token['id']}", headers=h)
    matrix = {k: dict(v) for k, v in DEFAULT_MATRIX.items()}
    matrix["low"]["low"] = "P3"
    assert (
        client.put("/api/v1/settings/priority-matrix", json={"matrix": matrix}, headers=h)
    ).status_code == 200
    with Session(engine) as session:
        rows = session.execute(
            text("SELECT action, actor_label, target_id, data FROM audit_log ORDER BY id")
        ).all()
    by_action = {r.action: r for r in rows if r.actor_label == admin.email}
    assert {
        "user.create",
        "user.update",
        "token.create",
        "token.revoke",
        "settings.priority_matrix",
    } <= set(by_action)
    assert by_action["user.create"].target_id == str(user["id"])
    assert "manager" in str(by_action["user.update"].data)
    assert "P3" in str(by_action["settings.priority_matrix"].data)
    with Session(engine) as session:
        assert session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == token["id"]))
