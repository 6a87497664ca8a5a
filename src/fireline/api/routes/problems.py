"""/api/v1/problems and /api/v1/known-errors: problem records, RCA, links, known errors.

    /api/v1/problems                      POST create, GET list (filters, cursor)
    /api/v1/problems/{key}                GET, PATCH
    /api/v1/problems/{key}/transitions    POST lifecycle action
    /api/v1/problems/{key}/incidents      POST link; DELETE …/incidents/{incident} unlink
    /api/v1/problems/{key}/changes        POST link a change (the fix)
    /api/v1/problems/{key}/rca            PUT the structured root-cause analysis
    /api/v1/problems/{key}/notes          POST; …/timeline GET; …/export GET (json|markdown)
    /api/v1/problem-settings/auto-create  GET, PUT (admin): priorities that get a problem
    /api/v1/known-errors[/{key}]          CRUD of the known-error database
    /api/v1/incidents/{key}/known-errors  GET matches (with workarounds); POST …/match re-runs
    /api/v1/incidents/{key}/problems      GET the problems an incident is linked to

`{key}` of a problem is `PRB-7` or a numeric id; the path only matches those shapes, so
sibling routes such as `/api/v1/problems/candidates` (recurrence) are never shadowed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Response, status
from fastapi.responses import PlainTextResponse
from starlette.convertors import Convertor, register_url_convertor

from fireline import markdown
from fireline.api.deps import Admin, Responder, Viewer
from fireline.api.schemas.common import Page
from fireline.api.schemas.incidents import TimelineEventOut
from fireline.api.schemas.problems import (
    AutoCreateIn,
    AutoCreateOut,
    ChangeIn,
    IncidentKnownErrorOut,
    IncidentKnownErrorsOut,
    IncidentProblemsOut,
    KnownErrorCreate,
    KnownErrorOut,
    KnownErrorUpdate,
    LinkIncidentIn,
    NoteIn,
    ProblemCreate,
    ProblemOut,
    ProblemTimelineOut,
    ProblemTransitionIn,
    ProblemUpdate,
    RcaIn,
)
from fireline.domain import problem_lifecycle as lifecycle
from fireline.errors import InvalidField
from fireline.usecases import (
    incidents,
    known_errors,
    problem_links,
    problem_rca,
    problem_transitions,
    problem_views,
    problem_watch,
    problems,
)
from fireline.usecases.context import Context
from fireline.usecases.known_errors import FixStatus, KnownErrorDraft
from fireline.usecases.problems import Origin, ProblemDraft


class _ProblemKey(Convertor[str]):
    """`PRB-7` (any case) or a numeric id; anything else is left to other routes."""

    regex = r"(?:[Pp][Rr][Bb]-)?[0-9]{1,12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("problem_key", _ProblemKey())

router = APIRouter(prefix="/api/v1/problems", tags=["problems"])
known_router = APIRouter(prefix="/api/v1/known-errors", tags=["known errors"])
incident_router = APIRouter(prefix="/api/v1/incidents", tags=["problems"])
settings_router = APIRouter(prefix="/api/v1/problem-settings", tags=["problems"])

K = "/{key:problem_key}"
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


def _out(ctx: Context, key: str | int) -> ProblemOut:
    return ProblemOut.model_validate(problem_views.view(ctx, key))


# ---------------------------------------------------------------- problems


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProblemOut)
def create_problem(body: ProblemCreate, auth: Responder, response: Response) -> ProblemOut:
    """Open a problem (status `new`), optionally linking incidents at once."""
    draft = ProblemDraft(
        title=body.title,
        description=body.description,
        priority=body.priority,
        origin=Origin(body.origin),
        owner_team=body.owner_team,
        owner_user=body.owner_user,
        services=body.services,
        incidents=body.incidents,
        watch_days=body.watch_days,
    )
    problem = problems.create(auth.ctx, draft)
    response.headers["Location"] = f"/api/v1/problems/{problems.ref_of(problem)}"
    return _out(auth.ctx, problem.id)


@router.get("", response_model=Page[ProblemOut])
def list_problems(
    auth: Viewer,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    service: Annotated[list[str] | None, Query(description="service id or name")] = None,
    owner_team: Annotated[list[str] | None, Query(description="team id or name")] = None,
    origin: Annotated[list[str] | None, Query(description="reactive | proactive")] = None,
    verification: Annotated[
        list[str] | None, Query(description="none | watching | verified | failed")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="free text")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ProblemOut]:
    """List problems, newest first, with a stable cursor."""
    found = problem_views.list_views(
        auth.ctx,
        statuses=status_ or [],
        services=service or [],
        owner_teams=owner_team or [],
        origins=origin or [],
        verification=verification or [],
        text=q,
        cursor=cursor,
        limit=limit,
    )
    return Page[ProblemOut](
        items=[ProblemOut.model_validate(v) for v in found.items], next_cursor=found.next_cursor
    )


@router.get(K, response_model=ProblemOut)
def get_problem(key: str, auth: Viewer) -> ProblemOut:
    """One problem by id or reference (`PRB-7`) with its RCA, incidents and changes."""
    return _out(auth.ctx, key)


@router.patch(K, response_model=ProblemOut)
def update_problem(key: str, body: ProblemUpdate, auth: Responder) -> ProblemOut:
    """Change fields; each change goes on the timeline. `version` refuses stale updates."""
    changes = body.model_dump(exclude_unset=True, mode="json")
    version = changes.pop("version", None)
    problem = problems.update_fields(auth.ctx, key, changes, expected_version=version)
    return _out(auth.ctx, problem.id)


@router.post(K + "/transitions", response_model=ProblemOut)
def transition(key: str, body: ProblemTransitionIn, auth: Responder) -> ProblemOut:
    """investigate, identify_root_cause, mark_known_error, resolve, close or reopen.

    A disallowed action answers 409 with the allowed ones in `error.allowed`; a missing
    statement answers 422 naming it (`root_cause`, `workaround`, `fix_description`, `reason`).
    """
    try:
        action = lifecycle.Action(body.action.strip().lower())
    except ValueError:
        known = ", ".join(a.value for a in lifecycle.Action)
        raise InvalidField("action", f"unknown action; use one of {known}") from None
    given = problem_transitions.transition_input(
        root_cause=body.root_cause,
        workaround=body.workaround,
        fix_description=body.fix_description,
        reason=body.reason,
    )
    problem = problem_transitions.transition(
        auth.ctx, key, action, given, expected_version=body.version, reason=body.reason
    )
    return _out(auth.ctx, problem.id)


@router.post(K + "/incidents", status_code=status.HTTP_201_CREATED, response_model=ProblemOut)
def link_incident(key: str, body: LinkIncidentIn, auth: Responder) -> ProblemOut:
    """Link an incident (recorded on both timelines). Linking twice answers 409."""
    problem_links.link_incident(auth.ctx, key, body.incident, reason=body.reason)
    return _out(auth.ctx, key)


@router.delete(K + "/incidents/{incident}", response_model=ProblemOut)
def unlink_incident(key: str, incident: str, auth: Responder) -> ProblemOut:
    """Remove an incident's link (recorded on both timelines)."""
    problem_links.unlink_incident(auth.ctx, key, incident)
    return _out(auth.ctx, key)


@router.post(K + "/changes", status_code=status.HTTP_201_CREATED, response_model=ProblemOut)
def add_change(key: str, body: ChangeIn, auth: Responder) -> ProblemOut:
    """Link a change (the fix, or part of it) by its reference."""
    problem_links.add_change(
        auth.ctx, key, change_ref=body.change_ref, description=body.description
    )
    return _out(auth.ctx, key)


@router.put(K + "/rca", response_model=ProblemOut)
def put_rca(key: str, body: RcaIn, auth: Responder) -> ProblemOut:
    """Replace the root-cause analysis (5 whys, fishbone, contributing factors, statement)."""
    raw = body.model_dump(exclude={"version"})
    problem = problem_rca.set_rca(auth.ctx, key, raw, expected_version=body.version)
    return _out(auth.ctx, problem.id)


def _event_out(event: object) -> TimelineEventOut:
    out = TimelineEventOut.model_validate(event)
    if out.body and out.kind == "note":
        out.body_html = markdown.render(out.body)
    return out


@router.post(K + "/notes", status_code=status.HTTP_201_CREATED, response_model=TimelineEventOut)
def add_note(key: str, body: NoteIn, auth: Responder) -> TimelineEventOut:
    """Add a Markdown note to the problem's timeline."""
    return _event_out(problems.add_note(auth.ctx, key, body.body))


@router.get(K + "/timeline", response_model=ProblemTimelineOut)
def get_timeline(
    key: str,
    auth: Viewer,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="only events after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> ProblemTimelineOut:
    """The problem's timeline, oldest first."""
    problem, events = problems.timeline_of(auth.ctx, key, after_id=after, limit=limit)
    return ProblemTimelineOut(
        problem=problems.ref_of(problem), events=[_event_out(e) for e in events]
    )


@router.get(K + "/export", response_model=None)
def export(
    key: str, auth: Viewer, format: Literal["json", "markdown"] = "json"
) -> PlainTextResponse | dict[str, object]:
    """The problem with its RCA, links and timeline: JSON, or Markdown for a review doc."""
    if format == "markdown":
        return PlainTextResponse(
            problem_views.export_markdown(auth.ctx, key), media_type="text/markdown"
        )
    return problem_views.export_data(auth.ctx, key)


# ---------------------------------------------------------------- settings


@settings_router.get("/auto-create", response_model=AutoCreateOut)
def get_auto_create(auth: Viewer) -> AutoCreateOut:
    """Priorities whose closed incidents get a problem automatically (empty: off)."""
    return AutoCreateOut(priorities=[p.value for p in problem_watch.get_auto_create(auth.ctx)])


@settings_router.put("/auto-create", response_model=AutoCreateOut)
def put_auto_create(body: AutoCreateIn, auth: Admin) -> AutoCreateOut:
    """Set which priorities count as major for automatic problem creation (audited)."""
    chosen = problem_watch.set_auto_create(auth.ctx, [p.value for p in body.priorities])
    return AutoCreateOut(priorities=[p.value for p in chosen])


# ---------------------------------------------------------------- known errors


def _known_out(ctx: Context, key: int | str) -> KnownErrorOut:
    return KnownErrorOut.model_validate(problem_views.known_error_view(ctx, key))


@known_router.post("", status_code=status.HTTP_201_CREATED, response_model=KnownErrorOut)
def create_known_error(body: KnownErrorCreate, auth: Responder) -> KnownErrorOut:
    """Record a known error; new incidents that match it show its workaround at once."""
    draft = KnownErrorDraft(
        title=body.title,
        symptoms=body.symptoms,
        root_cause=body.root_cause,
        workaround=body.workaround,
        fix_status=FixStatus(body.fix_status),
        services=body.services,
        labels=dict(body.labels),
        keywords=body.keywords,
        problem=body.problem,
        active=body.active,
    )
    known = known_errors.create(auth.ctx, draft)
    return _known_out(auth.ctx, known.id)


@known_router.get("", response_model=Page[KnownErrorOut])
def list_known_errors(
    auth: Viewer,
    active: bool | None = None,
    service: Annotated[str | None, Query(description="service id or name")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[KnownErrorOut]:
    """List known errors, newest first."""
    found = problem_views.known_error_list(
        auth.ctx, active=active, service=service, text=q, cursor=cursor, limit=limit
    )
    return Page[KnownErrorOut](
        items=[KnownErrorOut.model_validate(v) for v in found.items],
        next_cursor=found.next_cursor,
    )


@known_router.get("/{key}", response_model=KnownErrorOut)
def get_known_error(key: str, auth: Viewer) -> KnownErrorOut:
    """One known error by id or `KE-12`."""
    return _known_out(auth.ctx, key)


@known_router.patch("/{key}", response_model=KnownErrorOut)
def update_known_error(key: str, body: KnownErrorUpdate, auth: Responder) -> KnownErrorOut:
    """Change fields of a known error (`active: false` retires it from matching)."""
    changes = body.model_dump(exclude_unset=True, mode="json")
    known = known_errors.update(auth.ctx, key, changes)
    return _known_out(auth.ctx, known.id)


@known_router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
def delete_known_error(key: str, auth: Responder) -> Response:
    """Delete a known error and its matches (managers; prefer retiring it)."""
    known_errors.delete(auth.ctx, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- incident side


def _matches(ctx: Context, key: str) -> IncidentKnownErrorsOut:
    incident = incidents.find(ctx, key)
    return IncidentKnownErrorsOut(
        incident=incidents.ref_of(incident),
        matches=[
            IncidentKnownErrorOut.model_validate(m)
            for m in problem_views.matches_for_incident(ctx, incident.id)
        ],
    )


@incident_router.get("/{key}/known-errors", response_model=IncidentKnownErrorsOut)
def incident_known_errors(key: str, auth: Viewer) -> IncidentKnownErrorsOut:
    """Known errors matched to the incident, best first, each with its workaround."""
    return _matches(auth.ctx, key)


@incident_router.post("/{key}/known-errors/match", response_model=IncidentKnownErrorsOut)
def rematch_known_errors(key: str, auth: Responder) -> IncidentKnownErrorsOut:
    """Match the incident again (e.g. after new known errors were recorded)."""
    known_errors.match_incident(auth.ctx, key)
    return _matches(auth.ctx, key)


@incident_router.get("/{key}/problems", response_model=IncidentProblemsOut)
def incident_problems(key: str, auth: Viewer) -> IncidentProblemsOut:
    """The problems the incident is linked to."""
    incident = incidents.find(auth.ctx, key)
    return IncidentProblemsOut(
        incident=incidents.ref_of(incident),
        problems=[
            ProblemOut.model_validate(v) for v in problem_views.for_incident(auth.ctx, incident.id)
        ],
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(settings_router)
    app.include_router(known_router)
    app.include_router(incident_router)
