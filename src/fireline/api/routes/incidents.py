"""/api/v1/incidents: declare, read, list, update, transition, notes, status updates, timeline."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import AwareDatetime

from fireline import markdown
from fireline.api.deps import Responder, Viewer
from fireline.api.schemas.common import Page
from fireline.api.schemas.incidents import (
    IncidentCreate,
    IncidentOut,
    IncidentUpdate,
    NoteIn,
    StatusUpdateIn,
    TimelineEventOut,
    TimelineOut,
    TransitionIn,
)
from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain.priority import Priority
from fireline.errors import InvalidField
from fireline.store.repos.incidents import IncidentFilters
from fireline.usecases import incident_views, incidents, lookups
from fireline.usecases.context import Context
from fireline.usecases.incidents import Audience, History, IncidentDraft, Source

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

Key = Annotated[str, "incident id or reference such as INC-42"]


def _out(ctx: Context, key: str | int) -> IncidentOut:
    return IncidentOut.model_validate(incident_views.view(ctx, key))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IncidentOut)
def declare(
    body: IncidentCreate,
    auth: Responder,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> IncidentOut:
    """Declare an incident. With `Idempotency-Key`, a retried POST returns the first result.

    Importing history: pass `detected_at` and any past `acknowledged_at`, `resolved_at`,
    `closed_at` (+ `resolution_summary`), or `imported: true`; the incident keeps that
    lifecycle, is marked imported on its timeline and pages no one.
    """
    draft = IncidentDraft(
        title=body.title,
        description=body.description,
        category=body.category,
        services=body.services,
        impact=body.impact,
        urgency=body.urgency,
        priority=body.priority,
        priority_reason=body.priority_reason,
        source=Source(body.source),
        commander=body.commander,
        assignee=body.assignee,
        team=body.team,
        responders=body.responders,
        stakeholders=body.stakeholders,
        labels=body.labels,
        detected_at=body.detected_at,
        fingerprint=body.fingerprint,
        history=History(
            acknowledged_at=body.acknowledged_at,
            mitigated_at=body.mitigated_at,
            resolved_at=body.resolved_at,
            closed_at=body.closed_at,
            resolution_summary=body.resolution_summary,
            cancelled=body.cancelled,
        )
        if body.is_import
        else None,
    )
    if idempotency_key is not None:
        digest = hashlib.sha256(
            json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
        ).hexdigest()
        incident, replayed = incidents.declare_idempotent(
            auth.ctx, draft, key=idempotency_key, request_hash=digest
        )
        if replayed:
            response.status_code = status.HTTP_200_OK
            response.headers["Idempotent-Replayed"] = "true"
    else:
        incident = incidents.declare(auth.ctx, draft)
    response.headers["Location"] = f"/api/v1/incidents/{incidents.ref_of(incident)}"
    return _out(auth.ctx, incident.id)


@router.get("", response_model=Page[IncidentOut])
def list_incidents(
    auth: Viewer,
    status_: Annotated[list[lifecycle.Status] | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    service: Annotated[list[str] | None, Query(description="service id or name")] = None,
    team: Annotated[list[str] | None, Query(description="team id or name")] = None,
    category: Annotated[list[str] | None, Query()] = None,
    label: Annotated[list[str] | None, Query(description="key=value; repeat to AND")] = None,
    assignee: Annotated[str | None, Query(description="user id, email or 'me'")] = None,
    created_after: Annotated[AwareDatetime | None, Query()] = None,
    created_before: Annotated[AwareDatetime | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200, description="free text")] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[IncidentOut]:
    """List incidents, newest first, with a stable cursor."""
    filters = build_filters(
        auth.ctx,
        statuses=status_,
        priorities=priority,
        services=service,
        teams=team,
        categories=category,
        labels=label,
        assignee=assignee,
        created_after=created_after,
        created_before=created_before,
        text=q,
    )
    with auth.ctx.reading() as session:
        from fireline.store.repos.incidents import list_page

        page = list_page(session, filters, cursor=cursor, limit=limit)
        items = [IncidentOut.model_validate(v) for v in incident_views.views(session, page.items)]
    return Page[IncidentOut](items=items, next_cursor=page.next_cursor)


def build_filters(
    ctx: Context,
    *,
    statuses: list[lifecycle.Status] | None = None,
    priorities: list[Priority] | None = None,
    services: list[str] | None = None,
    teams: list[str] | None = None,
    categories: list[str] | None = None,
    labels: list[str] | None = None,
    assignee: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    text: str | None = None,
) -> IncidentFilters:
    """Turn query parameters (names or ids) into filters; unknown names are a 422 naming them."""
    parsed_labels: list[tuple[str, str]] = []
    for index, item in enumerate(labels or []):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidField(f"label[{index}]", "use key=value")
        parsed_labels.append((key.strip(), value.strip()))
    with ctx.reading() as session:
        service_ids = [lookups.service(session, s, field="service").id for s in services or []]
        team_ids = [lookups.team(session, t, field="team").id for t in teams or []]
        category_ids = [lookups.category(session, c, field="category").id for c in categories or []]
        assignee_id = None
        if assignee:
            if assignee == "me":
                assignee_id = ctx.actor.user_id
            else:
                assignee_id = lookups.user(session, assignee, field="assignee").id
    return IncidentFilters(
        statuses=[s.value for s in statuses or []],
        priorities=[p.value for p in priorities or []],
        service_ids=service_ids,
        team_ids=team_ids,
        category_ids=category_ids,
        assignee_id=assignee_id,
        labels=parsed_labels,
        created_after=created_after,
        created_before=created_before,
        text=text.strip() if text and text.strip() else None,
    )


@router.get("/{key}", response_model=IncidentOut)
def get_incident(key: Key, auth: Viewer) -> IncidentOut:
    """One incident by id or reference (`INC-42`)."""
    return _out(auth.ctx, key)


@router.patch("/{key}", response_model=IncidentOut)
def update_incident(
    key: Key,
    body: IncidentUpdate,
    auth: Responder,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> IncidentOut:
    """Change fields. Send `version` (or `If-Match: <version>`) to refuse stale updates (409)."""
    changes = body.model_dump(exclude_unset=True, mode="json")
    version = changes.pop("version", None)
    if version is None and if_match:
        cleaned = if_match.strip().strip('"').removeprefix("W/").strip('"')
        if not cleaned.isdigit():
            raise InvalidField("If-Match", "must be the incident version number")
        version = int(cleaned)
    incident = incidents.update_fields(auth.ctx, key, changes, expected_version=version)
    return _out(auth.ctx, incident.id)


@router.post("/{key}/transitions", response_model=IncidentOut)
def transition(key: Key, body: TransitionIn, auth: Responder) -> IncidentOut:
    """Acknowledge, investigate, mitigate, resolve, close, reopen or cancel.

    A disallowed action answers 409 with the allowed ones in `error.allowed`.
    """
    incident = incidents.transition(
        auth.ctx,
        key,
        body.action,
        lifecycle.TransitionInput(
            resolution_summary=body.resolution_summary,
            service_stable=body.service_stable,
            cancel_reason=body.cancel_reason,
        ),
        duplicate_of=body.duplicate_of,
        expected_version=body.version,
    )
    return _out(auth.ctx, incident.id)


def _event_out(event: object) -> TimelineEventOut:
    out = TimelineEventOut.model_validate(event)
    if out.body and out.kind in ("note", "status_update"):
        out.body_html = markdown.render(out.body)
    return out


@router.post("/{key}/notes", status_code=status.HTTP_201_CREATED, response_model=TimelineEventOut)
def add_note(key: Key, body: NoteIn, auth: Responder) -> TimelineEventOut:
    """Add a Markdown note to the timeline."""
    return _event_out(incidents.add_note(auth.ctx, key, body.body))


@router.post(
    "/{key}/status-updates", status_code=status.HTTP_201_CREATED, response_model=TimelineEventOut
)
def post_status_update(key: Key, body: StatusUpdateIn, auth: Responder) -> TimelineEventOut:
    """Post a status update, internal or for stakeholders (subscribers are notified)."""
    event = incidents.post_status_update(auth.ctx, key, body.body, audience=Audience(body.audience))
    return _event_out(event)


@router.get("/{key}/timeline", response_model=TimelineOut)
def get_timeline(
    key: Key,
    auth: Viewer,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="only events after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> TimelineOut:
    """The incident's timeline, oldest first."""
    incident, events = incidents.timeline_of(auth.ctx, key, after_id=after, limit=limit)
    return TimelineOut(incident=incidents.ref_of(incident), events=[_event_out(e) for e in events])
