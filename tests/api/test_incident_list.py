"""Listing incidents: every filter, a stable cursor, and a fixed number of SQL queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.api.helpers import act, declare, error_of
from tests.conftest import Person

from fireline.clock import FrozenClock


def _refs(client: TestClient, person: Person, **params: Any) -> list[str]:
    response = client.get("/api/v1/incidents", params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    return [i["ref"] for i in response.json()["items"]]


@pytest.fixture
def catalog(client: TestClient, admin: Person) -> dict[str, dict[str, Any]]:
    h = admin.headers
    team = client.post("/api/v1/teams", json={"name": "Payments"}, headers=h).json()
    other_team = client.post("/api/v1/teams", json={"name": "Search"}, headers=h).json()
    checkout = client.post(
        "/api/v1/services", json={"name": "checkout", "team": team["id"]}, headers=h
    ).json()
    search = client.post(
        "/api/v1/services", json={"name": "search-api", "team": other_team["id"]}, headers=h
    ).json()
    return {"team": team, "other_team": other_team, "checkout": checkout, "search": search}


def test_list_filters_narrow_the_result(
    client: TestClient,
    responder: Person,
    viewer: Person,
    clock: FrozenClock,
    catalog: dict[str, dict[str, Any]],
) -> None:
    a = declare(
        client,
        responder,
        title="Checkout errors",
        impact="high",
        urgency="high",
        services=["checkout"],
        category="security",
        labels={"env": "prod"},
        assignee=responder.email,
    )["ref"]
    clock.advance(hours=1)
    middle = clock.now()
    b = declare(
        client,
        responder,
        title="Search latency",
        services=[catalog["search"]["id"]],
        labels={"env": "staging"},
    )["ref"]
    clock.advance(hours=1)
    c = declare(client, responder, title="Disk full on db-3", impact="low", urgency="low")["ref"]
    act(client, responder, c, "resolve")

    assert _refs(client, viewer) == [c, b, a]
    assert _refs(client, viewer, status="triggered") == [b, a]
    assert _refs(client, viewer, status=["resolved", "triggered"]) == [c, b, a]
    assert _refs(client, viewer, priority="P1") == [a]
    assert _refs(client, viewer, priority=["P3", "P4"]) == [c, b]
    assert _refs(client, viewer, service="checkout") == [a]
    assert _refs(client, viewer, service="CHECKOUT") == [a]
    assert _refs(client, viewer, service=str(catalog["search"]["id"])) == [b]
    assert _refs(client, viewer, service=["checkout", "search-api"]) == [b, a]
    assert _refs(client, viewer, team="payments") == [a]
    assert _refs(client, viewer, team=str(catalog["other_team"]["id"])) == [b]
    assert _refs(client, viewer, category="security") == [a]
    assert _refs(client, viewer, label="env=prod") == [a]
    assert _refs(client, viewer, label=["env=staging"]) == [b]
    assert _refs(client, viewer, label="env=dev") == []
    assert _refs(client, viewer, created_after=middle.isoformat()) == [c, b]
    assert _refs(client, viewer, created_before=middle.isoformat()) == [a]
    assert _refs(client, viewer, q="disk") == [c]
    assert _refs(client, viewer, q="LATENCY search") == [b]
    assert _refs(client, viewer, q=c) == [c]
    assert _refs(client, viewer, q="100%_") == []
    assert _refs(client, responder, assignee="me") == [a]
    assert _refs(client, viewer, assignee="me") == []
    assert _refs(client, viewer, assignee=responder.email) == [a]
    assert _refs(client, viewer, status="triggered", priority="P1", service="checkout") == [a]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"service": "nope"}, "service"),
        ({"team": "nope"}, "team"),
        ({"category": "nope"}, "category"),
        ({"assignee": "ghost@example.com"}, "assignee"),
        ({"label": "novalue"}, "label[0]"),
        ({"status": "sleeping"}, "status[0]"),
        ({"priority": "P9"}, "priority[0]"),
        ({"created_after": "2026-01-01T00:00:00"}, "created_after"),
        ({"created_before": "yesterday"}, "created_before"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "-1"}, "cursor"),
    ],
)
def test_bad_list_filters_are_refused_naming_the_parameter(
    client: TestClient, viewer: Person, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/incidents", params=params, headers=viewer.headers)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field


def test_cursor_pages_neither_repeat_nor_miss_while_incidents_arrive(
    client: TestClient, responder: Person
) -> None:
    existing = [declare(client, responder, title=f"old {n}")["ref"] for n in range(7)]
    seen: list[str] = []
    cursor: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/api/v1/incidents", params=params, headers=responder.headers).json()
        seen.extend(i["ref"] for i in page["items"])
        declare(client, responder, title=f"new during page {pages}")
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(existing))
    assert pages == 3


def test_last_page_has_no_cursor(client: TestClient, responder: Person) -> None:
    for n in range(3):
        declare(client, responder, title=f"n{n}")
    page = client.get("/api/v1/incidents?limit=3", headers=responder.headers).json()
    assert len(page["items"]) == 3
    assert page["next_cursor"] is None


@contextmanager
def _count_queries(app: Any) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.engine

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_listing_takes_the_same_number_of_queries_for_5_or_50_incidents(
    client: TestClient,
    app: Any,
    responder: Person,
    admin: Person,
    catalog: dict[str, dict[str, Any]],
) -> None:
    def declare_many(n: int) -> None:
        for i in range(n):
            declare(
                client,
                responder,
                title=f"incident {i}",
                services=["checkout", "search-api"],
                team="payments",
                category="infrastructure",
                labels={"k": str(i)},
                assignee=responder.email,
                commander=admin.email,
                responders=[responder.email, admin.email],
                stakeholders=[admin.email],
            )

    declare_many(5)
    act(client, responder, "INC-5", "cancel", cancel_reason="duplicate", duplicate_of="INC-1")
    with _count_queries(app) as few:
        response = client.get(
            "/api/v1/incidents?limit=200&service=checkout", headers=responder.headers
        )
    assert len(response.json()["items"]) == 5
    declare_many(45)
    act(client, responder, "INC-50", "cancel", cancel_reason="duplicate", duplicate_of="INC-2")
    with _count_queries(app) as many:
        response = client.get(
            "/api/v1/incidents?limit=200&service=checkout", headers=responder.headers
        )
    assert len(response.json()["items"]) == 50
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 20, "\n".join(many)
