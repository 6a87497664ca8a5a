"""Bad input is refused with 4xx naming what is wrong, never 500, and nothing is half-written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.helpers import declare, error_of, row_counts
from tests.conftest import Person

from fireline.config import Settings


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"title": "x",}', b"not json", b'{"title": "x"', b"\xff\xfe"],
)
def test_malformed_json_is_400_naming_the_body(
    client: TestClient, responder: Person, engine: Engine, raw: bytes
) -> None:
    before = row_counts(engine)
    response = client.post(
        "/api/v1/incidents",
        content=raw,
        headers={**responder.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert error_of(response)["field"] == "body"
    assert error_of(response)["code"] == "malformed_json"
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": 123}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "x", "impact": "huge"}, "impact"),
        ({"title": "x", "urgency": None}, "urgency"),
        ({"title": "x", "priority": "P0", "priority_reason": "r"}, "priority"),
        ({"title": "x", "source": "email"}, "source"),
        ({"title": "x", "services": "checkout"}, "services"),
        ({"title": "x", "services": [0]}, "services[0]"),
        ({"title": "x", "labels": ["a"]}, "labels"),
        ({"title": "x", "labels": {"k": 1}}, "labels.k"),
        ({"title": "x", "detected_at": "2026-03-02T09:00:00"}, "detected_at"),
        ({"title": "x", "detected_at": "2030-01-01T00:00:00Z"}, "detected_at"),
        ({"title": "x", "severity": "high"}, "severity"),
        ({"title": "x", "assignee": "ghost@example.com"}, "assignee"),
        ({"title": "x", "services": ["checkout"]}, "services[0]"),
        ({"title": "x", "team": "nobody"}, "team"),
        ({"title": "x", "category": "astrology"}, "category"),
        ({"title": "x", "responders": [99999]}, "responders[0]"),
        ({"title": "x", "stakeholders": ["²"]}, "stakeholders[0]"),
        ({"title": "x", "team": "99999999999999"}, "team"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "x", "labels": {"a\x00": "b"}}, "labels"),
        ([{"title": "x"}], "body"),
        ("title", "body"),
        (None, "body"),
    ],
)
def test_bad_incident_fields_are_refused_naming_the_field(
    client: TestClient, responder: Person, engine: Engine, body: Any, field: str
) -> None:
    before = row_counts(engine)
    response = client.post("/api/v1/incidents", json=body, headers=responder.headers)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert field.split("[")[0].split(".")[0] in error_of(response)["message"]
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"impact": "extreme"}, "impact"),
        ({"version": 0}, "version"),
        ({"version": "one"}, "version"),
        ({"status": "resolved"}, "status"),
        ({"assignee": "nobody@example.com"}, "assignee"),
        ({"labels": {"": "x"}}, "labels"),
        ({"description": "a\x00"}, "description"),
    ],
)
def test_bad_updates_are_refused_and_change_nothing(
    client: TestClient, responder: Person, engine: Engine, body: Any, field: str
) -> None:
    incident = declare(client, responder)
    before = row_counts(engine)
    response = client.patch(
        f"/api/v1/incidents/{incident['ref']}", json=body, headers=responder.headers
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["field"].startswith(field)
    assert row_counts(engine) == before
    assert (
        client.get(f"/api/v1/incidents/{incident['ref']}", headers=responder.headers).json()[
            "version"
        ]
        == incident["version"]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "action"),
        ({"action": "explode"}, "action"),
        ({"action": "cancel"}, "cancel_reason"),
        ({"action": "cancel", "cancel_reason": "boredom"}, "cancel_reason"),
        ({"action": "resolve", "service_stable": "maybe"}, "service_stable"),
    ],
)
def test_bad_transitions_are_refused_naming_the_field(
    client: TestClient, responder: Person, engine: Engine, body: Any, field: str
) -> None:
    incident = declare(client, responder)
    before = row_counts(engine)
    response = client.post(
        f"/api/v1/incidents/{incident['ref']}/transitions", json=body, headers=responder.headers
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    "key",
    [
        "INC-999",
        "999",
        "PRB-1",
        "INC-",
        "abc",
        "99999999999999999999",
        "²",
        "INC-99999999999",
        "0",
        "-1",
    ],
)
def test_unknown_incident_is_404_naming_it(client: TestClient, responder: Person, key: str) -> None:
    declare(client, responder)
    for response in (
        client.get(f"/api/v1/incidents/{key}", headers=responder.headers),
        client.get(f"/api/v1/incidents/{key}/timeline", headers=responder.headers),
        client.patch(f"/api/v1/incidents/{key}", json={"title": "x"}, headers=responder.headers),
        client.post(
            f"/api/v1/incidents/{key}/notes", json={"body": "x"}, headers=responder.headers
        ),
    ):
        assert response.status_code == 404, response.text
        assert error_of(response)["field"] == "incident"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/teams/99999999999999",
        "/api/v1/teams/²",
        "/api/v1/services/99999999999999",
        "/api/v1/services/²",
        "/api/v1/users/99999999999",
        "/api/v1/users/0",
    ],
)
def test_unknown_catalog_records_are_404(client: TestClient, admin: Person, path: str) -> None:
    response = client.get(path, headers=admin.headers)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ("q=a%00", "q"),
        ("label=a%00%3Db", "label"),
        ("service=99999999999", "service"),
        ("assignee=%C2%B2", "assignee"),
    ],
)
def test_odd_query_values_are_refused_not_500(
    client: TestClient, responder: Person, params: str, field: str
) -> None:
    response = client.get(f"/api/v1/incidents?{params}", headers=responder.headers)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field


def test_nul_characters_in_other_bodies_are_refused(
    client: TestClient, admin: Person, responder: Person, engine: Engine
) -> None:
    incident = declare(client, responder)
    before = row_counts(engine)
    cases = [
        ("/api/v1/teams", {"name": "x\x00"}, "name"),
        ("/api/v1/users", {"email": "a\x00@example.com"}, "email"),
        ("/api/v1/services", {"name": "db", "description": "\x00"}, "description"),
        (f"/api/v1/incidents/{incident['ref']}/notes", {"body": "x\x00"}, "body"),
    ]
    for path, body, field in cases:
        response = client.post(path, json=body, headers=admin.headers)
        assert response.status_code == 422, (path, response.text)
        assert error_of(response)["field"] == field
    assert row_counts(engine) == before


# ---------------------------------------------------------------- body size


def _big_body(settings: Settings) -> bytes:
    return b'{"title": "x", "description": "' + b"a" * settings.max_body_bytes + b'"}'


def test_oversize_body_with_content_length_is_413(
    client: TestClient, responder: Person, settings: Settings, engine: Engine
) -> None:
    before = row_counts(engine)
    response = client.post(
        "/api/v1/incidents",
        content=_big_body(settings),
        headers={**responder.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_of(response)["field"] == "body"
    assert row_counts(engine) == before


def test_oversize_chunked_body_is_413(
    client: TestClient, responder: Person, settings: Settings, engine: Engine
) -> None:
    before = row_counts(engine)
    data = _big_body(settings)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    response = client.post(
        "/api/v1/incidents",
        content=chunks(),
        headers={**responder.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_of(response)["field"] == "body"
    assert row_counts(engine) == before


def test_chunked_body_under_the_limit_is_accepted(client: TestClient, responder: Person) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": '
        yield b'"Chunked"}'

    response = client.post(
        "/api/v1/incidents",
        content=chunks(),
        headers={**responder.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Chunked"


def test_unknown_route_and_method_answer_json_errors(client: TestClient, responder: Person) -> None:
    missing = client.get("/api/v1/nothing-here", headers=responder.headers)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    wrong = client.delete("/api/v1/incidents", headers=responder.headers)
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method_not_allowed"
