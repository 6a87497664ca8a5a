"""Recurring-incident detection over HTTP.

GET  /api/v1/incidents/{key}/similar       similar past incidents, with score and reasons
GET  /api/v1/problems/candidates           candidate clusters, with score and reasons
POST /api/v1/problems/candidates/problem   open a problem linking a cluster's incidents
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, status

from fireline.api.deps import Responder, Viewer
from fireline.api.schemas.problems import ProblemOut
from fireline.api.schemas.recurrence import (
    CandidatesOut,
    ClusterOut,
    ProblemFromCluster,
    SimilarIncidentOut,
    SimilarIncidentsOut,
)
from fireline.domain.recurrence_clusters import Cluster, headline
from fireline.usecases import problem_views, problems, recurrence

router = APIRouter(prefix="/api/v1", tags=["recurrence"])


@router.get("/incidents/{key}/similar", response_model=SimilarIncidentsOut)
def similar_incidents(
    key: str,
    auth: Viewer,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.3,
) -> SimilarIncidentsOut:
    """Past incidents that look like the same cause as incident `key` (INC-n or id), best
    first, each with a score and the reasons (fingerprint, services, labels, words)."""
    found = recurrence.similar(auth.ctx, key, limit=limit, min_score=min_score)
    return SimilarIncidentsOut(
        incident=found.ref,
        items=[
            SimilarIncidentOut(
                incident_id=s.incident_id, ref=s.ref, score=s.score, reasons=list(s.reasons)
            )
            for s in found.similar
        ],
    )


@router.get("/problems/candidates", response_model=CandidatesOut)
def problem_candidates(
    auth: Viewer,
    days: Annotated[int, Query(ge=1, le=3660)] = 90,
    min_size: Annotated[int, Query(ge=2, le=1000)] = 3,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    service: Annotated[str | None, Query(min_length=1, max_length=120)] = None,
) -> CandidatesOut:
    """Clusters of incidents of the last `days` that look like one recurring cause ("these 9
    incidents over 30 days look like one problem"): largest first, with why they were grouped."""
    found = recurrence.candidates(
        auth.ctx, days=days, min_size=min_size, limit=limit, service=service
    )
    return CandidatesOut(
        since=found.since,
        until=found.until,
        incidents_considered=found.incidents_considered,
        items=[_cluster_out(c) for c in found.clusters],
    )


@router.post(
    "/problems/candidates/problem",
    status_code=status.HTTP_201_CREATED,
    response_model=ProblemOut,
)
def create_problem_from_cluster(body: ProblemFromCluster, auth: Responder) -> ProblemOut:
    """Open a reactive problem that links the given incidents of a candidate cluster; title
    and description default to the cluster's headline and the reasons it was grouped."""
    problem = recurrence.create_problem(
        auth.ctx,
        body.incidents,
        title=body.title,
        description=body.description,
        priority=body.priority.value if body.priority else None,
    )
    return ProblemOut.model_validate(problem_views.view(auth.ctx, problems.ref_of(problem)))


def _cluster_out(cluster: Cluster) -> ClusterOut:
    return ClusterOut(
        incidents=list(cluster.refs),
        incident_ids=list(cluster.incident_ids),
        size=len(cluster.incident_ids),
        score=cluster.score,
        first_seen=cluster.first_seen,
        last_seen=cluster.last_seen,
        reasons=list(cluster.reasons),
        services=list(cluster.services),
        fingerprints=list(cluster.fingerprints),
        labels=list(cluster.labels),
        words=list(cluster.words),
        suggested_title=headline(cluster),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
