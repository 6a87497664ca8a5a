"""The problem list costs the same number of queries for 2 or 10 problems (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.api.helpers import declare
from tests.conftest import Person

from fireline.usecases import catalog, known_errors, problem_links, problems
from fireline.usecases.context import Context


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


def test_listing_takes_the_same_number_of_queries_for_2_or_10_problems(
    app: Any, client: TestClient, responder: Person, ctx: Context
) -> None:
    team = catalog.create_team(ctx, name="Database")
    catalog.create_service(ctx, name="checkout", team=team.id)
    catalog.create_service(ctx, name="search")
    incident = declare(client, responder, services=["checkout"])

    def create_many(n: int) -> None:
        for i in range(n):
            problem = problems.create(
                ctx,
                problems.ProblemDraft(
                    title=f"problem {i}",
                    services=["checkout", "search"],
                    owner_user=responder.email,
                    incidents=[incident["ref"]],
                ),
            )
            problem_links.add_change(ctx, problem.id, change_ref=f"CHG-{problem.id}")
            known_errors.create(
                ctx, known_errors.KnownErrorDraft(title=f"ke {i}", problem=problem.id)
            )

    def list_all() -> tuple[int, list[str]]:
        with _count_queries(app) as statements:
            response = client.get("/api/v1/problems?limit=200", headers=responder.headers)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert all(p["known_error"] and p["owner_team"] and p["changes"] for p in items)
        return len(items), statements

    create_many(2)
    few_count, few = list_all()
    create_many(8)
    many_count, many = list_all()
    assert (few_count, many_count) == (2, 10)
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 15, "\n".join(many)
