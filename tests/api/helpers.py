"""Small request helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.conftest import Person

from fireline.store.models import Base


def declare(client: TestClient, person: Person, **fields: Any) -> dict[str, Any]:
    """Declare an incident through the API and return its JSON (asserts 201)."""
    body: dict[str, Any] = {"title": "Checkout is down", **fields}
    response = client.post("/api/v1/incidents", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def act(client: TestClient, person: Person, ref: str, action: str, **fields: Any) -> Any:
    return client.post(
        f"/api/v1/incidents/{ref}/transitions",
        json={"action": action, **fields},
        headers=person.headers,
    )


def timeline(client: TestClient, person: Person, ref: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/incidents/{ref}/timeline", headers=person.headers)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, to prove a refused request wrote nothing."""
    with Session(engine) as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def error_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body
