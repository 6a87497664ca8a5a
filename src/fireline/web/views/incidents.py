"""Incident pages: the self-refreshing list, declare form, detail with timeline and actions.

Writes follow post/redirect/get; a use-case error re-renders the page with the message next to
the form that caused it (never a 500). HTMX requests (note and status-update forms, periodic
refreshes) get partials: `_rows.html` and `_timeline.html`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain.priority import Level, Priority
from fireline.domain.roles import Role
from fireline.errors import FirelineError, InvalidField
from fireline.store.models import TimelineEvent
from fireline.store.repos.incidents import list_page
from fireline.usecases import catalog, incident_views, incidents
from fireline.usecases.incident_views import IncidentView
from fireline.usecases.incidents import Audience
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterResponder, Reader, Visitor

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
# Which actions get the primary (big, coloured) button, in order of preference.
PRIMARY = ("acknowledge", "resolve", "close")
ACTION_LABELS = {
    "acknowledge": "Acknowledge",
    "investigate": "Investigating",
    "mitigate": "Mitigated",
    "resolve": "Resolve",
    "close": "Close…",
    "reopen": "Reopen",
    "cancel": "Cancel incident…",
}
_SINGLE_FIELDS = (
    "title",
    "description",
    "category",
    "impact",
    "urgency",
    "priority",
    "priority_reason",
    "commander",
    "assignee",
    "team",
    "labels",
)
_MULTI_FIELDS = ("services", "responders", "stakeholders")
_NEW_DEFAULTS: dict[str, Any] = {
    "impact": "medium",
    "urgency": "medium",
    "priority": "auto",
    "services": [],
    "responders": [],
    "stakeholders": [],
}


@dataclass(frozen=True, slots=True)
class FormError:
    """A use-case error to show beside one form on the page."""

    form: str
    field: str | None
    message: str


# ---------------------------------------------------------------- list


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[IncidentView]
    problem: str | None = None
    next_cursor: int | None = None
    cursor: int | None = None


def _listing(visitor: Visitor, query: forms.ListQuery, raw_cursor: str | None) -> Listing:
    ctx = visitor.ctx
    try:
        filters = query.filters(ctx, now=ctx.clock.now())
    except InvalidField as exc:
        return Listing(items=[], problem=exc.message)
    cursor = int(raw_cursor) if raw_cursor and raw_cursor.isdigit() else None
    if cursor is not None and not 1 <= cursor <= 2**31 - 1:
        cursor = None
    with ctx.reading() as session:
        page = list_page(session, filters, cursor=cursor, limit=PAGE_SIZE)
        items = incident_views.views(session, page.items)
    return Listing(items=items, next_cursor=page.next_cursor, cursor=cursor)


def _choices(visitor: Visitor) -> dict[str, Any]:
    picks = catalog.pick_lists(visitor.ctx)
    return {
        "services": picks.services,
        "teams": picks.teams,
        "categories": picks.categories,
        "users": picks.users,
        "statuses": [s.value for s in lifecycle.Status],
        "priorities": [p.value for p in Priority],
        "levels": [lv.value for lv in Level],
        "ranges": list(forms.RANGES),
    }


@router.get("/incidents")
def incident_list(request: Request, visitor: Reader) -> Response:
    query = forms.ListQuery.from_params(request.query_params)
    listing = _listing(visitor, query, request.query_params.get("cursor"))
    return render(
        request,
        "incidents/list.html",
        {"listing": listing, "query": query, **_choices(visitor)},
        visitor=visitor,
    )


@router.get("/incidents/rows")
def incident_rows(request: Request, visitor: Reader) -> Response:
    """The list's table body alone, for the HTMX refresh every few seconds."""
    query = forms.ListQuery.from_params(request.query_params)
    listing = _listing(visitor, query, request.query_params.get("cursor"))
    return render(
        request,
        "incidents/_rows.html",
        {"listing": listing, "query": query},
        visitor=visitor,
    )


# ---------------------------------------------------------------- declare


@router.get("/incidents/new")
def new_incident(request: Request, visitor: Reader) -> Response:
    visitor.ctx.actor.require(Role.RESPONDER)
    return _new_page(request, visitor)


def _new_page(
    request: Request,
    visitor: Visitor,
    *,
    error: FormError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "incidents/new.html",
        {"error": error, "fields": values or _NEW_DEFAULTS, **_choices(visitor)},
        visitor=visitor,
        status_code=_status_of(error),
    )


@router.post("/incidents/new")
async def declare(request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        incident = incidents.declare(visitor.ctx, forms.incident_draft(form))
    except FirelineError as exc:
        values = forms.values_of(form, _SINGLE_FIELDS, _MULTI_FIELDS)
        return _new_page(request, visitor, error=_form_error("declare", exc), values=values)
    return RedirectResponse(f"/incidents/{incidents.ref_of(incident)}", status_code=303)


# ---------------------------------------------------------------- detail


@router.get("/incidents/{key}")
def incident_detail(key: str, request: Request, visitor: Reader) -> Response:
    return _detail_page(request, visitor, key)


@router.get("/incidents/{key}/timeline")
def incident_timeline(key: str, request: Request, visitor: Reader) -> Response:
    """The timeline alone, for the HTMX refresh and after adding a note."""
    _, events = incidents.timeline_of(visitor.ctx, key.upper())
    return render(
        request,
        "incidents/_timeline.html",
        {"events": _newest_first(events), "ref": key.upper()},
        visitor=visitor,
    )


def _detail_page(
    request: Request,
    visitor: Visitor,
    key: str,
    *,
    error: FormError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    ctx = visitor.ctx
    view = incident_views.view(ctx, key.upper() if not key.isdigit() else key)
    _, events = incidents.timeline_of(ctx, view.id)
    primary = next((a for a in PRIMARY if a in view.allowed_actions), None)
    context: dict[str, Any] = {
        "incident": view,
        "events": _newest_first(events),
        "ref": view.ref,
        "error": error,
        "form_values": values or {},
        "fields": values if values and error and error.form == "edit" else _edit_values(view),
        "action_labels": ACTION_LABELS,
        "primary_action": primary,
        "open_statuses": [s.value for s in lifecycle.OPEN_STATUSES],
        "lifecycle": _lifecycle(view),
    }
    if visitor.can(Role.RESPONDER):
        context.update(_choices(visitor))
    return render(
        request, "incidents/detail.html", context, visitor=visitor, status_code=_status_of(error)
    )


def _newest_first(events: Any) -> list[TimelineEvent]:
    return sorted(events, key=lambda e: (e.at, e.id), reverse=True)


def _status_of(error: FormError | None) -> int:
    return 200 if error is None else 422 if error.field else 409


def _form_error(form: str, exc: FirelineError) -> FormError:
    field = exc.field.split("[")[0].split(".")[0] if exc.field else None
    return FormError(form=form, field=field, message=exc.message)


def _back(ref: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/incidents/{ref}{anchor}", status_code=303)


@router.post("/incidents/{key}/edit")
async def edit_incident(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        changes, version = forms.incident_changes(form)
        incident = incidents.update_fields(visitor.ctx, key, changes, expected_version=version)
    except FirelineError as exc:
        values = forms.values_of(form, _SINGLE_FIELDS, _MULTI_FIELDS)
        return _detail_page(request, visitor, key, error=_form_error("edit", exc), values=values)
    return _back(incidents.ref_of(incident))


@router.post("/incidents/{key}/actions/{action}")
async def act(key: str, action: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        chosen = lifecycle.Action(action)
    except ValueError:
        return _detail_page(
            request,
            visitor,
            key,
            error=FormError(form="actions", field=None, message=f"unknown action {action!r}"),
        )
    try:
        given, duplicate_of = forms.transition_input(form, chosen)
        incident = incidents.transition(visitor.ctx, key, chosen, given, duplicate_of=duplicate_of)
    except FirelineError as exc:
        values = forms.values_of(
            form, ("resolution_summary", "service_stable", "cancel_reason", "duplicate_of")
        )
        return _detail_page(request, visitor, key, error=_form_error(action, exc), values=values)
    return _back(incidents.ref_of(incident))


@router.post("/incidents/{key}/notes")
async def add_note(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    body = _body(form)
    return _post_to_timeline(
        request, visitor, key, "note", body, lambda: incidents.add_note(visitor.ctx, key, body)
    )


@router.post("/incidents/{key}/status-updates")
async def post_status_update(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()

    def post() -> TimelineEvent:
        try:
            audience = Audience(forms.text(form, "audience", "internal") or "internal")
        except ValueError:
            raise InvalidField("audience", "choose internal or stakeholders") from None
        return incidents.post_status_update(visitor.ctx, key, body, audience=audience)

    body = _body(form)
    return _post_to_timeline(request, visitor, key, "status_update", body, post)


def _body(form: forms.FormLike) -> str:
    value = form.get("body", "")
    return value if isinstance(value, str) else ""


def _post_to_timeline(
    request: Request,
    visitor: Visitor,
    key: str,
    form_name: str,
    body: str,
    write: Callable[[], TimelineEvent],
) -> Response:
    htmx = "hx-request" in request.headers
    try:
        write()
    except FirelineError as exc:
        if htmx:
            # Put the message beside the form instead of replacing the timeline.
            return render(
                request,
                "_form_error.html",
                {"message": exc.message},
                visitor=visitor,
                status_code=422,
                headers={"HX-Retarget": f"#{form_name}-error", "HX-Reswap": "innerHTML"},
            )
        return _detail_page(
            request, visitor, key, error=_form_error(form_name, exc), values={"body": body}
        )
    if htmx:
        _, events = incidents.timeline_of(visitor.ctx, key)
        return render(
            request,
            "incidents/_timeline.html",
            {"events": _newest_first(events), "ref": key.upper()},
            visitor=visitor,
        )
    return _back(key.upper(), "#timeline")


def _edit_values(view: IncidentView) -> dict[str, Any]:
    """The edit form's initial values (ids as strings, like a submitted form)."""

    def ident(ref: Any) -> str:
        return str(ref.id) if ref is not None else ""

    return {
        "title": view.title,
        "description": view.description,
        "category": _category_id(view.category),
        "services": [str(s.id) for s in view.services],
        "impact": view.impact,
        "urgency": view.urgency,
        "priority": view.priority if view.priority_override_reason else "auto",
        "priority_reason": view.priority_override_reason or "",
        "commander": ident(view.commander),
        "assignee": ident(view.assignee),
        "team": ident(view.team),
        "responders": [str(u.id) for u in view.responders],
        "stakeholders": [str(u.id) for u in view.stakeholders],
        "labels": forms.format_labels(view.labels),
    }


def _category_id(name: str | None) -> str:
    # The view carries the category name; the select submits names too (see templates).
    return name or ""


def _lifecycle(view: IncidentView) -> list[tuple[str, datetime | None]]:
    return [
        ("Detected", view.detected_at),
        ("Declared", view.created_at),
        ("Acknowledged", view.acknowledged_at),
        ("Mitigated", view.mitigated_at),
        ("Resolved", view.resolved_at),
        ("Closed", view.closed_at),
        ("Last change", view.updated_at),
    ]
