"""Recurring-incident detection: similar incidents, candidate clusters, problem from a cluster."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from fireline.api.schemas.common import Ref, Strict
from fireline.api.schemas.incidents import Description, Title
from fireline.domain.priority import Priority


class SimilarIncidentOut(BaseModel):
    incident_id: int
    ref: str = Field(description="Reference of the similar past incident (INC-n).")
    score: float = Field(description="0..1: how likely both share a cause.")
    reasons: list[str] = Field(
        description="Why they match: shared fingerprint, service relation, labels and words."
    )


class SimilarIncidentsOut(BaseModel):
    incident: str = Field(description="The incident asked about (INC-n).")
    items: list[SimilarIncidentOut]


class ClusterOut(BaseModel):
    incidents: list[str] = Field(description="References of the member incidents, oldest first.")
    incident_ids: list[int]
    size: int
    score: float = Field(description="0..1: how closely the members' texts agree.")
    first_seen: datetime
    last_seen: datetime
    reasons: list[str] = Field(description="Why they were grouped, strongest evidence first.")
    services: list[str] = Field(description="Services of the members, most frequent first.")
    fingerprints: list[str] = Field(description="Alert fingerprints shared by members.")
    labels: list[str] = Field(description="Stable labels (key=value) on most members.")
    words: list[str] = Field(description="Heaviest words most members share.")
    suggested_title: str


class CandidatesOut(BaseModel):
    since: datetime
    until: datetime
    incidents_considered: int
    items: list[ClusterOut]


class ProblemFromCluster(Strict):
    """Incidents of a candidate cluster (as listed by GET /problems/candidates)."""

    incidents: Annotated[list[Ref], Field(min_length=2, max_length=500)]
    title: Title | None = Field(
        default=None, description="Defaults to the cluster's suggested title."
    )
    description: Description | None = Field(
        default=None, description="Defaults to the reasons the incidents were grouped."
    )
    priority: Priority | None = None
