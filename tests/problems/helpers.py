"""Request helpers shared by the problem tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Person


def create_problem(client: TestClient, person: Person, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Checkout DB pool exhausts under load", **fields}
    response = client.post("/api/v1/problems", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def act(client: TestClient, person: Person, ref: str, action: str, **fields: Any) -> Any:
    return client.post(
        f"/api/v1/problems/{ref}/transitions",
        json={"action": action, **fields},
        headers=person.headers,
    )


def problem_timeline(client: TestClient, person: Person, ref: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/problems/{ref}/timeline", headers=person.headers)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events
