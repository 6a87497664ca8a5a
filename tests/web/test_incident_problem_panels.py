"""Problem panels on the incident page: loaded lazily, they show a matching known error's
workaround (with why it matched), the linked problems and a way to open one."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.api.helpers import declare
from tests.conftest import Person

from fireline.usecases import catalog, known_errors, problem_links, problems, recurrence
from fireline.usecases.context import Context
from fireline.usecases.known_errors import KnownErrorDraft

SignedIn = Callable[[Person], str]
XSS = "<script>alert(1)</script>"


def test_incident_page_loads_the_panels_lazily(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    signed_in(responder)
    page = client.get(f"/incidents/{incident['ref']}")
    assert page.status_code == 200
    assert f'hx-get="/incidents/{incident["ref"]}/problem-panels"' in page.text
    assert 'hx-trigger="load"' in page.text
    assert '<div id="problem-related" class="problem-related"></div>' in page.text
    # Through HTMX the related part swaps itself into that slot below the description.
    fetched = client.get(
        f"/incidents/{incident['ref']}/problem-panels", headers={"HX-Request": "true"}
    )
    assert 'id="problem-related" class="problem-related" hx-swap-oob="true"' in fetched.text


def test_panels_show_the_known_error_workaround_and_linked_problems(
    client: TestClient, ctx: Context, responder: Person, signed_in: SignedIn
) -> None:
    catalog.create_service(ctx, name="db")
    known_errors.create(
        ctx,
        KnownErrorDraft(
            title="Connection pool exhausted",
            symptoms="connection pool exhausted on primary",
            workaround=f"Raise `max_connections` then restart pgbouncer {XSS}",
            services=("db",),
            keywords=("pool", "exhausted"),
        ),
    )
    incident = declare(
        client, responder, title="Connection pool exhausted on db-7", services=["db"]
    )
    known_errors.match_incident(ctx, incident["ref"])
    problems.create(
        ctx,
        problems.ProblemDraft(title="Pool sizing too small", incidents=(incident["ref"],)),
    )
    signed_in(responder)

    panels = client.get(f"/incidents/{incident['ref']}/problem-panels")

    assert panels.status_code == 200
    html = panels.text
    assert "Known error: " in html and "Connection pool exhausted</a>" in html
    assert "<code>max_connections</code>" in html and XSS not in html
    assert "Matched on " in html and "pool" in html.split("Matched on ")[1]
    assert 'href="/problems/PRB-1"' in html and "Pool sizing too small" in html
    assert f"/problems/new?incidents={incident['ref']}" in html


def test_panels_for_an_incident_without_links_offer_to_open_a_problem(
    client: TestClient, responder: Person, viewer: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder, title="Odd blip")
    signed_in(viewer)
    html = client.get(f"/incidents/{incident['ref']}/problem-panels").text
    assert "Not linked to a problem." in html
    assert "Open a problem from" not in html  # viewers cannot open problems
    assert client.get("/incidents/INC-999/problem-panels").status_code == 404


def test_panels_list_similar_past_incidents_with_why(
    client: TestClient, ctx: Context, responder: Person, signed_in: SignedIn
) -> None:
    catalog.create_service(ctx, name="orders-api")
    refs = [
        declare(
            client,
            responder,
            title=f"Connection pool exhausted on {host}",
            description=f"All {n} connections to orders-db in use on pod orders-api-{pod}.",
            services=["orders-api"],
        )["ref"]
        for host, n, pod in [
            ("web-17", 50, "x2k4p"),
            ("web-3", 80, "q8z2m"),
            ("ip-10-0-3-7", 64, "r7t9v"),
        ]
    ]
    other = declare(client, responder, title="TLS certificate expired", services=["orders-api"])
    recurrence.index_pending(ctx)  # the worker's job, run here without a worker
    signed_in(responder)

    html = client.get(f"/incidents/{refs[0]}/problem-panels").text

    similar = html.split('id="similar-heading"')[1]
    assert f'href="/incidents/{refs[1]}"' in similar and f'href="/incidents/{refs[2]}"' in similar
    assert f'href="/incidents/{other["ref"]}"' not in similar
    assert "Why: " in similar and "same service orders-api" in similar


def test_incident_timeline_names_the_problem_it_was_linked_to_and_unlinked_from(
    client: TestClient, ctx: Context, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    problem = problems.create(
        ctx, problems.ProblemDraft(title=f"Pool sizing {XSS}", incidents=(incident["ref"],))
    )
    signed_in(responder)

    linked = client.get(f"/incidents/{incident['ref']}/timeline").text
    assert 'Linked to problem <a href="/problems/PRB-1">PRB-1</a>' in linked
    assert "None" not in linked and XSS not in linked

    problem_links.unlink_incident(ctx, problem.id, incident["ref"])
    unlinked = client.get(f"/incidents/{incident['ref']}/timeline").text
    assert 'Unlinked from problem <a href="/problems/PRB-1">PRB-1</a>' in unlinked
