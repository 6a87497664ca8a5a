"""Schemathesis drives every foundation operation from /openapi.json: nothing answers 5xx."""

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

from fireline.api import ops
from fireline.api.routes import incidents as incident_routes
from fireline.api.routes import people as people_routes

# The foundation's own operations; other capabilities fuzz theirs in their own tests.
FOUNDATION_PATHS = {
    route.path  # type: ignore[attr-defined]
    for router in (incident_routes.router, people_routes.router, ops.router)
    for route in router.routes
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_generated_requests_never_get_a_server_error(
    app: Any, client: TestClient, admin: Person, responder: Person
) -> None:
    h = admin.headers
    team = client.post("/api/v1/teams", json={"name": "Core"}, headers=h).json()
    service = client.post("/api/v1/services", json={"name": "db", "team": "core"}, headers=h)
    first = declare(client, responder, services=["db"], labels={"env": "prod"})
    declare(client, responder, title="Second")
    client.post(f"/api/v1/incidents/{first['ref']}/notes", json={"body": "x"}, headers=h)

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path in FOUNDATION_PATHS
    ]
    assert len(operations) >= 25
    # Known records for path parameters, so generated bodies reach the use cases, not a 404.
    known = {
        "key": first["ref"],
        "team": "Core",
        "team_id": team["id"],
        "service": "db",
        "service_id": service.json()["id"],
        "user_id": responder.id,
    }
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        pinned = {name: known[name] for name in names if name in known}
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
        strategy = st.one_of(strategies)

        @given(case=strategy)
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(headers=h)
            case.validate_response(response, checks=[not_a_server_error])

        call()
