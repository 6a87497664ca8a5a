"""Problem-management panels on the incident page, loaded lazily with HTMX so the incident
page itself stays fast: a matching known error's workaround, the problems the incident is
linked to (and a way to open one), and similar past incidents with why they look alike.

The incident page includes `incidents/_problem_panels.html` at the top of its main column, a
placeholder that fetches `/incidents/{ref}/problem-panels` once it has loaded, and
`incidents/_problem_related.html` below the description. The response fills the first with
any known-error workaround and the second (an out-of-band swap) with the linked problems and
similar past incidents, so the workaround is seen first and the description is not pushed
down by lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from fireline.store.models import Incident
from fireline.usecases import incident_views, problem_views, recurrence
from fireline.usecases.context import Context
from fireline.web.rendering import render
from fireline.web.visitor import Reader

router = APIRouter(include_in_schema=False)

SIMILAR_SHOWN = 5


@dataclass(frozen=True, slots=True)
class SimilarView:
    """A similar past incident as the panel lists it: what it was, and why it matched."""

    ref: str
    title: str
    priority: str
    status: str
    detected_at: datetime
    resolved_at: datetime | None
    score: float
    reasons: tuple[str, ...]


@router.get("/incidents/{key}/problem-panels")
def problem_panels(key: str, request: Request, visitor: Reader) -> Response:
    ctx = visitor.ctx
    incident = incident_views.view(ctx, key.upper() if not key.isdigit() else key)
    return render(
        request,
        "problems/_incident_panels.html",
        {
            "incident": incident,
            "matches": problem_views.matches_for_incident(ctx, incident.id),
            "linked": problem_views.for_incident(ctx, incident.id),
            "similar": _similar(ctx, incident.id),
            # Fetched by HTMX: the related part swaps itself into its own slot further down.
            "oob": "hx-request" in request.headers,
        },
        visitor=visitor,
    )


def _similar(ctx: Context, incident_id: int) -> list[SimilarView]:
    found = recurrence.similar(ctx, incident_id, limit=SIMILAR_SHOWN).similar
    if not found:
        return []
    with ctx.reading() as session:
        rows = {
            row.id: row
            for row in session.scalars(
                select(Incident).where(Incident.id.in_([s.incident_id for s in found]))
            )
        }
    return [
        SimilarView(
            ref=s.ref,
            title=rows[s.incident_id].title,
            priority=rows[s.incident_id].priority,
            status=rows[s.incident_id].status,
            detected_at=rows[s.incident_id].detected_at,
            resolved_at=rows[s.incident_id].resolved_at,
            score=s.score,
            reasons=s.reasons,
        )
        for s in found
        if s.incident_id in rows
    ]
