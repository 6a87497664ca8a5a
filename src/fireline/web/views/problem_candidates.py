"""The /problems/candidates page: clusters of past incidents that look like one recurring
cause, each with its evidence (why they were grouped) and a one-click "Create problem".

This module sorts before `problems` (see `web/app.py`), so `/problems/candidates` is matched
here before `/problems/{key}` can take it for a problem reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.domain import recurrence_clusters
from fireline.domain.priority import Priority
from fireline.domain.recurrence_clusters import Cluster
from fireline.domain.refs import PROBLEM_PREFIX, format_ref
from fireline.errors import FirelineError, InvalidField
from fireline.store.models import Incident
from fireline.store.models.problems import Problem, ProblemIncident
from fireline.usecases import catalog, problems, recurrence
from fireline.usecases.incidents import ref_of
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterResponder, Reader, Visitor

router = APIRouter(include_in_schema=False)

DAYS = (7, 30, 90, 180, 365)
SIZES = (2, 3, 5, 10)
SHOWN_MEMBERS = 10  # members listed per cluster before "and N more"


@dataclass(frozen=True, slots=True)
class Member:
    """One incident of a cluster, as the page lists it."""

    ref: str
    title: str
    priority: str
    status: str
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class CandidateView:
    cluster: Cluster
    headline: str
    members: list[Member]
    # Problems already linked to some of the incidents: "PRB-3" -> how many of them.
    covered_by: dict[str, int]


@dataclass(frozen=True, slots=True)
class Query:
    days: int = 30
    min_size: int = 3
    service: str = ""


def _query(params: forms.FormLike) -> Query:
    def number(name: str, allowed: tuple[int, ...], default: int) -> int:
        raw = forms.text(params, name)
        if not raw:
            return default
        if not (raw.isascii() and raw.isdigit()) or int(raw) not in allowed:
            raise InvalidField(name, f"choose one of {', '.join(map(str, allowed))}")
        return int(raw)

    return Query(
        days=number("days", DAYS, 30),
        min_size=number("min_size", SIZES, 3),
        service=forms.text(params, "service")[:120],
    )


@router.get("/problems/candidates")
def candidate_page(request: Request, visitor: Reader) -> Response:
    """The page shell; the clusters load right after it (clustering a long history takes a
    while, so the page never waits for it)."""
    return _page(request, visitor)


def _page(
    request: Request, visitor: Visitor, *, error: FirelineError | None = None, status: int = 200
) -> Response:
    problem = None
    query = Query()
    try:
        query = _query(request.query_params)
    except InvalidField as exc:
        problem = exc.message
        status = 422
    return render(
        request,
        "problems/candidates.html",
        {
            "query": query,
            "problem": problem,
            "error": error,
            "days_choices": DAYS,
            "size_choices": SIZES,
            "services": catalog.list_services(visitor.ctx),
        },
        visitor=visitor,
        status_code=status,
    )


@router.get("/problems/candidates/clusters")
def candidate_clusters(request: Request, visitor: Reader) -> Response:
    """The clusters alone (an HTMX partial, also readable on its own)."""
    ctx = visitor.ctx
    query = _query(request.query_params)
    found = recurrence.candidates(
        ctx, days=query.days, min_size=query.min_size, service=query.service or None
    )
    with ctx.reading() as session:
        views = _views(session, found.clusters)
    return render(
        request,
        "problems/_candidates.html",
        {
            "candidates": views,
            "query": query,
            "considered": found.incidents_considered,
            "priorities": [p.value for p in Priority],
            "shown": SHOWN_MEMBERS,
        },
        visitor=visitor,
    )


def _views(session: Session, clusters: list[Cluster]) -> list[CandidateView]:
    """Clusters with the listed members' titles and the problems that already cover them,
    read in two queries whatever the number of clusters."""
    shown = {i for c in clusters for i in c.incident_ids[:SHOWN_MEMBERS]}
    every = {i for c in clusters for i in c.incident_ids}
    members = {
        row.id: Member(
            ref=ref_of(row),
            title=row.title,
            priority=row.priority,
            status=row.status,
            detected_at=row.detected_at,
        )
        for row in _chunked(session, shown)
    }
    linked: dict[int, set[str]] = defaultdict(set)
    for incident_id, number in _links(session, every):
        linked[incident_id].add(format_ref(PROBLEM_PREFIX, number))
    result = []
    for c in clusters:
        covered: dict[str, int] = defaultdict(int)
        for i in c.incident_ids:
            for ref in linked.get(i, ()):
                covered[ref] += 1
        result.append(
            CandidateView(
                cluster=c,
                headline=recurrence_clusters.headline(c),
                members=[members[i] for i in c.incident_ids[:SHOWN_MEMBERS] if i in members],
                covered_by=dict(sorted(covered.items(), key=lambda kv: -kv[1])),
            )
        )
    return result


def _chunked(session: Session, ids: Iterable[int]) -> list[Incident]:
    wanted = sorted(ids)
    rows: list[Incident] = []
    for start in range(0, len(wanted), 1000):
        rows.extend(
            session.scalars(select(Incident).where(Incident.id.in_(wanted[start : start + 1000])))
        )
    return rows


def _links(session: Session, ids: Iterable[int]) -> list[tuple[int, int]]:
    wanted = sorted(ids)
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(wanted), 1000):
        pairs.extend(
            session.execute(
                select(ProblemIncident.incident_id, Problem.number)
                .join(Problem, Problem.id == ProblemIncident.problem_id)
                .where(ProblemIncident.incident_id.in_(wanted[start : start + 1000]))
            ).tuples()
        )
    return pairs


@router.post("/problems/candidates/create")
async def create_from_cluster(request: Request, visitor: PosterResponder) -> Response:
    """Open a reactive problem linking the cluster's incidents (title and priority editable)."""
    form = await request.form()
    refs = forms.many(form, "incident")[:500]
    priority = forms.text(form, "priority") or None
    try:
        created = recurrence.create_problem(
            visitor.ctx,
            refs,
            title=forms.text(form, "title")[:300] or None,
            priority=priority.upper() if priority else None,
        )
    except FirelineError as exc:
        return _page(request, visitor, error=exc, status=exc.status)
    return RedirectResponse(f"/problems/{problems.ref_of(created)}", status_code=303)
