"""Recurring-incident detection over HTTP: similar incidents, candidate clusters, and a
problem from a cluster (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.helpers import error_of, row_counts
from tests.conftest import Person

from fireline.usecases import recurrence
from fireline.usecases.context import Context
from fireline.worker import runner

POOL = (
    "Connection pool exhausted on {host}",
    "All {n} connections to orders-db in use on pod orders-api-7f9c8d5b4-{pod}; "
    "requests waiting {n}s. Trace {trace}.",
)


def _service(client: TestClient, admin: Person, name: str, *depends_on: str) -> None:
    answer = client.post(
        "/api/v1/services",
        json={"name": name, "depends_on": list(depends_on)},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text


def _past(
    client: TestClient, person: Person, title: str, description: str, day: int, **extra: Any
) -> str:
    body = {
        "title": title,
        "description": description,
        "detected_at": f"2026-02-{day:02d}T03:00:00Z",
        "resolved_at": f"2026-02-{day:02d}T04:00:00Z",
        **extra,
    }
    answer = client.post("/api/v1/incidents", json=body, headers=person.headers)
    assert answer.status_code == 201, answer.text
    ref: str = answer.json()["ref"]
    return ref


def _history(client: TestClient, admin: Person, responder: Person) -> dict[str, list[str]]:
    _service(client, admin, "orders-db")
    _service(client, admin, "orders-api", "orders-db")
    _service(client, admin, "search-api")
    pools = [
        _past(
            client,
            responder,
            POOL[0].format(host=host),
            POOL[1].format(n=n, pod=pod, trace=trace),
            day,
            services=["orders-api"],
        )
        for day, host, n, pod, trace in [
            (2, "web-17", 50, "x2k4p", "3f2a9c1e-1111-2222-3333-444455556666"),
            (9, "ip-10-0-3-7", 80, "q8z2m", "0b1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff"),
            (16, "web-3", 64, "r7t9v", "9a8b7c6d-1234-5678-9abc-def012345678"),
        ]
    ]
    disks = [
        _past(
            client,
            responder,
            f"[FIRING:1] NodeFilesystemAlmostFull {host}",
            f"Filesystem /var/log on {host} is {pct}% full",
            day,
            services=["search-api"],
            fingerprint="5e1f7a2b9c3d4e6f",
            labels={"alertname": "NodeFilesystemAlmostFull", "instance": f"{host}:9100"},
        )
        for day, host, pct in [(4, "search-1", 91), (11, "search-7", 97), (20, "search-4", 95)]
    ]
    other = [
        _past(
            client,
            responder,
            "TLS certificate for orders-api.example.com expired",
            "x509: certificate has expired; cert-manager renewal stuck",
            6,
            services=["orders-api"],
        )
    ]
    return {"pools": pools, "disks": disks, "other": other}


def test_similar_incidents_ignore_hosts_and_ids_and_say_why(
    client: TestClient, admin: Person, responder: Person, viewer: Person, ctx: Context
) -> None:
    refs = _history(client, admin, responder)
    runner.drain(ctx)  # the worker indexes every new incident
    answer = client.get(f"/api/v1/incidents/{refs['pools'][0]}/similar", headers=viewer.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["incident"] == refs["pools"][0]
    assert {i["ref"] for i in body["items"]} == set(refs["pools"][1:])
    first = body["items"][0]
    assert "same service orders-api" in first["reasons"]
    assert any(r.startswith("shared words: ") and "pool" in r for r in first["reasons"])
    assert refs["other"][0] not in [i["ref"] for i in body["items"]]  # same service, other cause


def test_similar_incidents_find_a_shared_fingerprint(
    client: TestClient, admin: Person, responder: Person, ctx: Context
) -> None:
    refs = _history(client, admin, responder)
    runner.drain(ctx)
    recurrence.refresh_statistics(ctx)
    body = client.get(
        f"/api/v1/incidents/{refs['disks'][2]}/similar", headers=responder.headers
    ).json()
    assert sorted(i["ref"] for i in body["items"]) == sorted(refs["disks"][:2])
    assert "same alert fingerprint 5e1f7a2b9c3d" in body["items"][0]["reasons"]


def test_an_incident_changed_after_indexing_is_found_by_its_new_words(
    client: TestClient, admin: Person, responder: Person, ctx: Context
) -> None:
    refs = _history(client, admin, responder)
    runner.drain(ctx)
    target = refs["other"][0]
    patch = {
        "title": "Connection pool exhausted on web-99",
        "description": "All 90 connections to orders-db in use; requests waiting 20s.",
    }
    assert (
        client.patch(
            f"/api/v1/incidents/{target}", json=patch, headers=responder.headers
        ).status_code
        == 200
    )
    runner.drain(ctx)
    body = client.get(
        f"/api/v1/incidents/{refs['pools'][1]}/similar", headers=responder.headers
    ).json()
    assert target in [i["ref"] for i in body["items"]]


def test_similar_of_an_unknown_incident_is_a_404_naming_it(
    client: TestClient, viewer: Person
) -> None:
    answer = client.get("/api/v1/incidents/INC-999/similar", headers=viewer.headers)
    assert answer.status_code == 404
    assert error_of(answer)["field"] == "incident"
    bad = client.get("/api/v1/incidents/INC-1/similar?limit=0", headers=viewer.headers)
    assert bad.status_code == 422


def test_candidates_list_clusters_with_references_score_and_reasons(
    client: TestClient, admin: Person, responder: Person, viewer: Person
) -> None:
    refs = _history(client, admin, responder)
    answer = client.get("/api/v1/problems/candidates?days=60&min_size=3", headers=viewer.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["incidents_considered"] == 7
    clusters = {frozenset(c["incidents"]): c for c in body["items"]}
    assert set(clusters) == {frozenset(refs["pools"]), frozenset(refs["disks"])}
    disks = clusters[frozenset(refs["disks"])]
    assert disks["size"] == 3 and 0 < disks["score"] <= 1
    assert disks["reasons"][0].startswith("3 incidents over 16 days")
    assert "same alert fingerprint 5e1f7a2b9c3d on 3 of 3" in disks["reasons"]
    assert disks["services"] == ["search-api"]
    assert disks["labels"] == ["alertname=nodefilesystemalmostfull"]
    pools = clusters[frozenset(refs["pools"])]
    assert "pool" in pools["words"] and pools["suggested_title"].startswith("Recurring ")
    only = client.get(
        "/api/v1/problems/candidates?days=60&service=search-api", headers=viewer.headers
    ).json()
    assert [c["incidents"] for c in only["items"]] == [disks["incidents"]]
    recent = client.get("/api/v1/problems/candidates?days=1", headers=viewer.headers).json()
    assert recent["items"] == [] and recent["incidents_considered"] == 0


def test_a_problem_is_created_from_a_cluster_and_links_its_incidents(
    client: TestClient, admin: Person, responder: Person
) -> None:
    refs = _history(client, admin, responder)
    answer = client.post(
        "/api/v1/problems/candidates/problem",
        json={"incidents": refs["pools"]},
        headers=responder.headers,
    )
    assert answer.status_code == 201, answer.text
    problem = answer.json()
    assert problem["ref"].startswith("PRB-")
    assert problem["origin"] == "reactive"
    assert problem["title"].startswith("Recurring ")
    assert "orders-api" in problem["title"]
    linked = client.get(f"/api/v1/incidents/{refs['pools'][0]}/problems", headers=responder.headers)
    assert problem["ref"] in linked.text


def test_a_problem_from_a_cluster_refuses_bad_input_and_writes_nothing(
    client: TestClient, admin: Person, responder: Person, viewer: Person, engine: Engine
) -> None:
    refs = _history(client, admin, responder)
    before = row_counts(engine)
    url = "/api/v1/problems/candidates/problem"
    unknown = client.post(
        url, json={"incidents": [refs["pools"][0], "INC-999"]}, headers=responder.headers
    )
    assert unknown.status_code == 404
    assert error_of(unknown)["field"] == "incidents[1]"
    twice = client.post(
        url, json={"incidents": [refs["pools"][0], refs["pools"][0]]}, headers=responder.headers
    )
    assert twice.status_code == 422
    assert error_of(twice)["field"] == "incidents"
    one = client.post(url, json={"incidents": [refs["pools"][0]]}, headers=responder.headers)
    assert one.status_code == 422
    denied = client.post(url, json={"incidents": refs["pools"]}, headers=viewer.headers)
    assert denied.status_code == 403
    assert row_counts(engine) == before
