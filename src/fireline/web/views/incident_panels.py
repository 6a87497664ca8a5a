"""Problem-management panels on the incident page, loaded lazily with HTMX so the incident
page itself stays fast: a matching known error's workaround, the problems the incident is
linked to, and a way to open a problem from it.

The incident page includes `incidents/_problem_panels.html`, a placeholder that fetches
`/incidents/{ref}/problem-panels` once it has loaded.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fireline.usecases import incident_views, problem_views
from fireline.web.rendering import render
from fireline.web.visitor import Reader

router = APIRouter(include_in_schema=False)


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
        },
        visitor=visitor,
    )
