"""Automatic problem follow-up at the use-case level: covering problems and idempotency."""

from __future__ import annotations

from fireline.domain import incident_lifecycle as incident_lifecycle
from fireline.domain.priority import Level
from fireline.store.models import Incident
from fireline.store.repos import problems as repo
from fireline.usecases import catalog, incidents, known_errors, problem_watch, problems
from fireline.usecases.context import Context


def _closed_major(ctx: Context, title: str, **fields: object) -> Incident:
    draft = incidents.IncidentDraft(
        title=title,
        impact=Level.HIGH,
        urgency=Level.HIGH,
        **fields,  # type: ignore[arg-type]
    )
    incident = incidents.declare(ctx, draft)
    incidents.transition(
        ctx, incident.id, incident_lifecycle.Action.RESOLVE, incident_lifecycle.TransitionInput()
    )
    incidents.transition(
        ctx,
        incident.id,
        incident_lifecycle.Action.CLOSE,
        incident_lifecycle.TransitionInput(resolution_summary="Restarted", service_stable=True),
    )
    return incident


def _links(ctx: Context, problem_id: int) -> list[str]:
    with ctx.reading() as session:
        return [incidents.ref_of(i) for _, i in repo.incidents_of(session, problem_id)]


def test_incident_matching_an_open_problems_known_error_is_linked_not_duplicated(
    ctx: Context,
) -> None:
    catalog.create_service(ctx, name="checkout")
    open_problem = problems.create(
        ctx, problems.ProblemDraft(title="Pool exhaustion", services=["checkout"])
    )
    known_errors.create(
        ctx,
        known_errors.KnownErrorDraft(
            title="Pool exhaustion",
            labels={"alertname": "DBPool"},
            workaround="Restart pods",
            problem=open_problem.id,
        ),
    )
    incident = _closed_major(
        ctx, "Checkout errors", services=["checkout"], labels={"alertname": "DBPool"}
    )
    found = problem_watch.follow_up_closed_incident(ctx, incident.id)
    assert found is not None and found.id == open_problem.id
    assert _links(ctx, open_problem.id) == [incidents.ref_of(incident)]


def test_follow_up_runs_any_number_of_times_with_one_problem(ctx: Context) -> None:
    incident = _closed_major(ctx, "Payments down")
    first = problem_watch.follow_up_closed_incident(ctx, incident.id)
    second = problem_watch.follow_up_closed_incident(ctx, incident.id)
    assert first is not None and second is not None and first.id == second.id
    with ctx.reading() as session:
        assert repo.by_origin_incident(session, incident.id) is not None
        assert len(repo.problems_of(session, incident.id)) == 1


def test_incident_without_service_is_not_folded_into_an_unrelated_open_problem(
    ctx: Context,
) -> None:
    catalog.create_service(ctx, name="checkout")
    unrelated = problems.create(
        ctx, problems.ProblemDraft(title="Payments down again", services=["checkout"])
    )
    incident = _closed_major(ctx, "Payments down again")
    found = problem_watch.follow_up_closed_incident(ctx, incident.id)
    assert found is not None and found.id != unrelated.id
    assert found.origin == problems.Origin.REACTIVE.value


def test_open_incident_or_minor_priority_gets_no_problem(ctx: Context) -> None:
    still_open = incidents.declare(
        ctx, incidents.IncidentDraft(title="Down", impact=Level.HIGH, urgency=Level.HIGH)
    )
    assert problem_watch.follow_up_closed_incident(ctx, still_open.id) is None
    problem_watch.set_auto_create(ctx, [])
    closed = _closed_major(ctx, "Down again")
    assert problem_watch.follow_up_closed_incident(ctx, closed.id) is None
