"""Problem-management pages cost the same number of queries whatever the amount of data
(no N+1): the problem list, the trends page and the known-error list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.conftest import Person

from fireline.clock import FrozenClock
from fireline.usecases import catalog, incidents, known_errors, problems
from fireline.usecases.context import Context
from fireline.usecases.incidents import History, IncidentDraft

SignedIn = Callable[[Person], str]
PAGES = ("/problems?status=all", "/trends?range=30d", "/known-errors")


@contextmanager
def _count_queries(app: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(app.state.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(app.state.engine, "before_cursor_execute", count)


def _add(ctx: Context, clock: FrozenClock, n: int, offset: int) -> None:
    for i in range(offset, offset + n):
        detected = clock.now() - timedelta(days=1 + i % 20)
        incident = incidents.declare(
            ctx,
            IncidentDraft(
                title=f"Queue backlog {i}",
                services=("queue", "api") if i % 2 else ("queue",),
                category="performance",
                detected_at=detected,
                history=History(resolved_at=detected + timedelta(hours=1)),
            ),
        )
        problem = problems.create(
            ctx,
            problems.ProblemDraft(
                title=f"Backlog cause {i}", services=("queue",), incidents=(incident.id,)
            ),
        )
        known_errors.create(
            ctx, known_errors.KnownErrorDraft(title=f"Backlog {i}", problem=problem.id)
        )


def _counts(app: Any, client: TestClient) -> dict[str, int]:
    found = {}
    for path in PAGES:
        with _count_queries(app) as statements:
            response = client.get(path)
        assert response.status_code == 200, path
        found[path] = len(statements)
    return found


def test_pages_take_the_same_number_of_queries_for_2_or_12_records(
    app: Any,
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    viewer: Person,
    signed_in: SignedIn,
) -> None:
    catalog.create_service(ctx, name="queue")
    catalog.create_service(ctx, name="api")
    signed_in(viewer)
    _add(ctx, clock, 2, 0)
    few = _counts(app, client)
    _add(ctx, clock, 10, 2)
    many = _counts(app, client)
    assert many == few
    assert client.get("/problems?status=all").text.count('class="row prio-row-') == 12
