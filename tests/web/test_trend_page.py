"""The /trends page: stacked-bar SVG charts with a data table, the costliest problems,
escaping and a bad range shown beside the form."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.conftest import Person

from fireline.clock import FrozenClock
from fireline.store.models.problems import Problem, ProblemIncident
from fireline.usecases import catalog, incidents
from fireline.usecases.context import Context
from fireline.usecases.incidents import History, IncidentDraft

SignedIn = Callable[[Person], str]
XSS = "<script>alert(1)</script>"


def _history(ctx: Context, clock: FrozenClock, service: str, days: int, hours: int) -> int:
    detected = clock.now() - timedelta(days=days)
    return incidents.declare(
        ctx,
        IncidentDraft(
            title=f"{service} errors",
            services=(service,),
            category="application",
            detected_at=detected,
            history=History(resolved_at=detected + timedelta(hours=hours)),
        ),
    ).id


def test_trends_page_draws_charts_with_a_table_and_ranks_problems(
    client: TestClient, ctx: Context, clock: FrozenClock, viewer: Person, signed_in: SignedIn
) -> None:
    catalog.create_service(ctx, name="checkout")
    catalog.create_service(ctx, name=f"edge {XSS}")
    linked = [_history(ctx, clock, "checkout", days, 5) for days in (1, 2, 2)]
    _history(ctx, clock, f"edge {XSS}", 3, 1)
    now = clock.now()
    with ctx.transaction() as session:
        problem = Problem(
            number=4,
            title=f"Pool exhaustion {XSS}",
            status="root_cause_identified",
            priority="P2",
            origin="reactive",
            created_at=now,
            updated_at=now,
        )
        session.add(problem)
        session.flush()
        session.add_all(
            ProblemIncident(problem_id=problem.id, incident_id=i, linked_at=now, linked_by="t")
            for i in linked
        )
    signed_in(viewer)

    page = client.get("/trends?range=7d")

    assert page.status_code == 200
    html = page.text
    assert XSS not in html and "&lt;script&gt;" in html
    assert html.count('<svg class="chart"') == 3  # per service, per category, per cause
    assert re.search(r'<svg class="chart"[^>]*role="img"', html)
    assert "<title>Feb 28: checkout, 2 incidents</title>" in html
    assert 'Incidents per service <span class="muted">(4)</span>' in html
    assert "PRB-4 Pool exhaustion" in html  # the cause legend names the problem
    table = html.split('id="service-heading"')[1].split("</table>")[0]
    assert '<th scope="row">2026-02-28</th>' in table
    costly = html.split('id="costly-heading"')[1]
    assert 'href="/problems/PRB-4"' in costly
    assert "15.0 h" in costly and "5.0 h" in costly  # three incidents of five hours each


def test_trends_page_with_no_data_and_a_bad_range(
    client: TestClient, viewer: Person, signed_in: SignedIn
) -> None:
    signed_in(viewer)
    page = client.get("/trends?since=2026-03-01&until=2026-01-01")
    assert page.status_code == 422
    assert "Showing the last 30 days instead." in page.text
    assert "since: must be before until" in page.text
    assert page.text.count("No incidents in this range.") == 3
    assert "No incidents linked to problems in this range." in page.text
    assert "+ Proactive problem" not in page.text  # viewers cannot open problems
    client.cookies.clear()
    anonymous = client.get("/trends", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Ftrends"
