"""Schemathesis drives every problem and known-error operation: nothing answers 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from tests.api.helpers import declare
from tests.conftest import Person
from tests.problems.helpers import create_problem

from fireline.api.routes import problems as problem_routes

PATHS = {
    route.path  # type: ignore[attr-defined]
    for router in (
        problem_routes.router,
        problem_routes.known_router,
        problem_routes.incident_router,
        problem_routes.settings_router,
    )
    for route in router.routes
}


def _openapi_path(path: str) -> str:
    return path.replace("{key:problem_key}", "{key}")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_generated_problem_requests_never_get_a_server_error(
    app: Any, client: TestClient, admin: Person, responder: Person
) -> None:
    h = admin.headers
    client.post("/api/v1/services", json={"name": "db"}, headers=h)
    incident = declare(client, responder, services=["db"], labels={"env": "prod"})
    create_problem(client, responder, incidents=[incident["ref"]], services=["db"])
    known = client.post(
        "/api/v1/known-errors", json={"title": "Pool", "workaround": "restart"}, headers=h
    )
    assert known.status_code == 201, known.text

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    wanted = {_openapi_path(p) for p in PATHS}
    operations = [
        operation
        for result in schema.get_all_operations()
        if (operation := result.ok()).path in wanted  # type: ignore[union-attr]
    ]
    assert len(operations) >= 20
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        pinned: dict[str, Any] = {}
        if "key" in names:
            path = operation.path
            if path.startswith("/api/v1/known-errors"):
                pinned["key"] = known.json()["ref"]
            elif path.startswith("/api/v1/incidents"):
                pinned["key"] = incident["ref"]
            else:
                pinned["key"] = "PRB-1"
        if "incident" in names:
            pinned["incident"] = incident["ref"]
        strategies = [
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        ]
        if pinned:
            strategies.append(
                operation.as_strategy(
                    generation_mode=GenerationMode.POSITIVE, path_parameters=pinned
                )
            )

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def call(case: Any) -> None:
            response = case.call(headers=h)
            case.validate_response(response, checks=[not_a_server_error])

        call()
