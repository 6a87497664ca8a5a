"""The structured RCA through the API: saved together, validated by path, exported."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.helpers import declare, error_of
from tests.conftest import Person
from tests.problems.helpers import act, create_problem, problem_timeline

RCA = {
    "five_whys": [
        {"why": "Why did checkout fail?", "answer": "The DB pool was exhausted"},
        {"why": "Why was it exhausted?", "answer": "Workers doubled in a deploy"},
    ],
    "fishbone": {"technology": ["Fixed pool size"], "process": ["No load test before deploy"]},
    "contributing_factors": [{"description": "Friday deploy", "category": "process"}],
    "root_cause": "The pool was sized for half the workers.",
}


def test_rca_is_saved_whole_and_its_statement_satisfies_the_guard(
    client: TestClient, responder: Person
) -> None:
    create_problem(client, responder)
    saved = client.put("/api/v1/problems/PRB-1/rca", json=RCA, headers=responder.headers)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["rca"]["five_whys"][1]["answer"] == "Workers doubled in a deploy"
    assert body["rca"]["fishbone"]["process"] == ["No load test before deploy"]
    assert body["root_cause"] == "The pool was sized for half the workers."
    # The statement from the RCA is enough to identify the root cause.
    identified = act(client, responder, "PRB-1", "identify_root_cause")
    assert identified.status_code == 200, identified.text
    change = [
        e for e in problem_timeline(client, responder, "PRB-1") if e["kind"] == "field_changed"
    ]
    assert change[0]["data"]["field"] == "rca"
    assert change[0]["data"]["after"]["whys"] == 2


def test_bad_rca_names_the_path_and_keeps_the_old_one(
    client: TestClient, responder: Person
) -> None:
    h = responder.headers
    create_problem(client, responder)
    client.put("/api/v1/problems/PRB-1/rca", json=RCA, headers=h)
    bad = dict(RCA, five_whys=[{"why": "Why?", "answer": ""}])
    refused = client.put("/api/v1/problems/PRB-1/rca", json=bad, headers=h)
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "five_whys[0].answer"
    weird = client.put(
        "/api/v1/problems/PRB-1/rca", json={"fishbone": {"luck": ["bad"]}}, headers=h
    )
    assert error_of(weird)["field"] == "fishbone.luck"
    kept = client.get("/api/v1/problems/PRB-1", headers=h).json()
    assert kept["rca"]["five_whys"][0]["answer"] == "The DB pool was exhausted"


def test_export_carries_the_rca_links_and_timeline(client: TestClient, responder: Person) -> None:
    h = responder.headers
    incident = declare(client, responder, title="Checkout 500s")
    create_problem(client, responder, incidents=[incident["ref"]])
    client.put("/api/v1/problems/PRB-1/rca", json=RCA, headers=h)
    markdown = client.get("/api/v1/problems/PRB-1/export", params={"format": "markdown"}, headers=h)
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    text = markdown.text
    assert text.startswith("# PRB-1: Checkout DB pool exhausts under load")
    assert "sized for half the workers" in text
    assert "**Why?** Why was it exhausted? — Workers doubled in a deploy" in text
    assert "- **Process:** No load test before deploy" in text
    assert "- Friday deploy (process)" in text
    assert f"- {incident['ref']} (" in text
    data = client.get("/api/v1/problems/PRB-1/export", headers=h).json()
    assert data["rca"]["root_cause"] == RCA["root_cause"]
    assert [i["ref"] for i in data["incidents"]] == [incident["ref"]]
    assert [e["kind"] for e in data["timeline"]][:2] == ["created", "linked"]
