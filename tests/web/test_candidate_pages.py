"""The candidate-problems page: clusters of recurring incidents with their evidence, and
"Create problem" opening a problem that links the cluster."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from tests.conftest import Person

from fireline.usecases import catalog, incidents, problems
from fireline.usecases.context import Context
from fireline.usecases.incidents import History, IncidentDraft

SignedIn = Callable[[Person], str]
XSS = "<script>alert(1)</script>"


def _past(ctx: Context, title: str, description: str, day: int, service: str) -> str:
    detected = datetime(2026, 2, day, 3, 0, tzinfo=UTC)
    incident = incidents.declare(
        ctx,
        IncidentDraft(
            title=title,
            description=description,
            services=(service,),
            detected_at=detected,
            history=History(resolved_at=detected + timedelta(hours=1)),
        ),
    )
    return incidents.ref_of(incident)


def _history(ctx: Context) -> list[str]:
    catalog.create_service(ctx, name="orders-api")
    catalog.create_service(ctx, name="search-api")
    pools = [
        _past(
            ctx,
            f"Connection pool exhausted on {host}",
            f"All {n} connections to orders-db in use on pod orders-api-{pod}; requests waiting.",
            day,
            "orders-api",
        )
        for day, host, n, pod in [
            (2, "web-17", 50, "x2k4p"),
            (9, "web-3", 80, "q8z2m"),
            (16, "ip-10-0-3-7", 64, "r7t9v"),
        ]
    ]
    _past(ctx, f"Search results empty {XSS}", "index alias missing after reindex", 5, "search-api")
    return pools


def test_candidates_show_clusters_with_evidence_and_members(
    client: TestClient, ctx: Context, viewer: Person, signed_in: SignedIn
) -> None:
    pools = _history(ctx)
    signed_in(viewer)

    page = client.get("/problems/candidates?days=90&min_size=3")
    assert page.status_code == 200
    loader = 'hx-get="/problems/candidates/clusters?days=90&amp;min_size=3&amp;service="'
    assert loader in page.text  # the clusters load after the page

    clusters = client.get("/problems/candidates/clusters?days=90&min_size=3")

    assert clusters.status_code == 200
    html = clusters.text
    assert "3 incidents over 14 days look like one problem" in html
    assert (
        "Why they were grouped" in html
        and '<span class="chip chip-service">orders-api</span>' in html
    )
    members = html.split('<details class="members">')[1].split("</details>")[0]
    for ref in pools:
        assert f'href="/incidents/{ref}"' in members
    assert "Search results empty" not in html  # a one-off is no candidate
    assert "Create problem" not in html  # viewers cannot open problems
    bad = client.get("/problems/candidates?days=3")
    assert bad.status_code == 422 and "choose one of 7, 30, 90, 180, 365" in bad.text
    assert "hx-get" not in bad.text.split('id="main"')[1]
    assert client.get("/problems/candidates/clusters?min_size=99").status_code == 422


def test_create_problem_from_a_cluster_links_its_incidents(
    client: TestClient, ctx: Context, responder: Person, signed_in: SignedIn
) -> None:
    pools = _history(ctx)
    csrf = signed_in(responder)
    page = client.get("/problems/candidates/clusters?days=90")
    assert "Create problem" in page.text and 'value="Recurring ' in page.text

    created = client.post(
        "/problems/candidates/create",
        data={
            "csrf_token": csrf,
            "incident": pools,
            "title": "Orders pool too small",
            "priority": "P2",
        },
        follow_redirects=False,
    )

    assert created.status_code == 303
    ref = created.headers["location"].removeprefix("/problems/")
    problem = problems.find(ctx, ref)
    assert problem.title == "Orders pool too small" and problem.priority == "P2"
    detail = client.get(created.headers["location"]).text
    assert all(f'href="/incidents/{r}"' in detail for r in pools)
    again = client.get("/problems/candidates/clusters?days=90").text
    assert f'Already linked: <a href="/problems/{ref}">{ref}</a> (3 of 3)' in again
    assert "Create another problem" in again  # fully covered: no eye-catching button
    one = client.post(
        "/problems/candidates/create", data={"csrf_token": csrf, "incident": pools[:1]}
    )
    assert one.status_code == 422 and "give at least 2 incidents" in one.text
