"""Request helpers for the on-call tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Person

from fireline.domain.roles import Role


def ok(response: Any, code: int = 200) -> Any:
    assert response.status_code == code, response.text
    return response.json() if response.content else None


def service(client: TestClient, admin: Person, name: str = "checkout") -> int:
    body = {"name": name}
    return int(ok(client.post("/api/v1/services", json=body, headers=admin.headers), 201)["id"])


def policy(
    client: TestClient,
    admin: Person,
    levels: list[tuple[list[tuple[str, int]], int]],
    *,
    repeat: int = 0,
    name: str = "Primary",
) -> int:
    body = {
        "name": name,
        "repeat": repeat,
        "levels": [
            {"delay_minutes": delay, "targets": [{"kind": k, "id": i} for k, i in targets]}
            for targets, delay in levels
        ],
    }
    created = ok(client.post("/api/v1/escalation-policies", json=body, headers=admin.headers), 201)
    return int(created["id"])


def attach(client: TestClient, admin: Person, service_id: int, policy_id: int) -> None:
    ok(
        client.put(
            f"/api/v1/services/{service_id}/escalation-policy",
            json={"policy_id": policy_id},
            headers=admin.headers,
        )
    )


def declare(client: TestClient, person: Person, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Checkout is down", **fields}
    result: dict[str, Any] = ok(
        client.post("/api/v1/incidents", json=body, headers=person.headers), 201
    )
    return result


def act(client: TestClient, person: Person, ref: str, action: str, **fields: Any) -> Any:
    return client.post(
        f"/api/v1/incidents/{ref}/transitions",
        json={"action": action, **fields},
        headers=person.headers,
    )


def timeline(client: TestClient, person: Person, ref: str, kind: str) -> list[dict[str, Any]]:
    events = ok(client.get(f"/api/v1/incidents/{ref}/timeline", headers=person.headers))
    return [e for e in events["events"] if e["kind"] == kind]


def method(
    client: TestClient, person: Person, kind: str, address: str, *, delay: int = 0
) -> dict[str, Any]:
    """Add a contact method and a rule using it `delay` minutes after a page."""
    created: dict[str, Any] = ok(
        client.post(
            f"/api/v1/users/{person.id}/contact-methods",
            json={"kind": kind, "address": address},
            headers=person.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"/api/v1/users/{person.id}/notification-rules",
            json={"contact_method_id": created["id"], "delay_minutes": delay},
            headers=person.headers,
        ),
        201,
    )
    return created


def levels_reached(client: TestClient, person: Person, ref: str) -> list[int]:
    """The escalation levels an incident's timeline says were paged, in order."""
    return [
        e["data"]["level"]
        for e in timeline(client, person, ref, "escalation")
        if e["data"]["action"] == "level"
    ]


def two_level_setup(
    client: TestClient, admin: Person, make_person: Callable[..., Person], *, repeat: int = 0
) -> tuple[Person, Person, int]:
    """Alice (level 0, 5 min) then Bob (level 1, 10 min) on a new service's policy."""
    alice, bob = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    sid = service(client, admin)
    pid = policy(
        client, admin, [([("user", alice.id)], 5), ([("user", bob.id)], 10)], repeat=repeat
    )
    attach(client, admin, sid, pid)
    return alice, bob, sid
