"""Problem pages: the filtered list, the new-problem form and the detail page with status
transitions, linked incidents and changes, the timeline and the RCA editor.

Writes follow post/redirect/get. A use-case error re-renders the page with the message beside
the form that caused it (422 for a bad field, 409 for a clash), never a 500. The RCA editor
posts the 5 whys, fishbone, contributing factors and root-cause statement together, with the
problem's version so a concurrent edit is refused instead of overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.domain import problem_lifecycle as lifecycle
from fireline.domain.priority import Priority
from fireline.domain.roles import Role
from fireline.errors import FirelineError, InvalidField, InvalidTransition
from fireline.store.repos.problems import ProblemFilters
from fireline.usecases import (
    catalog,
    lookups,
    problem_links,
    problem_rca,
    problem_transitions,
    problem_views,
    problems,
)
from fireline.usecases.problem_views import ProblemView
from fireline.web import forms, rca_form
from fireline.web.rendering import render
from fireline.web.visitor import PosterResponder, Reader, Visitor

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
ACTION_LABELS = {
    "investigate": "Start investigating",
    "identify_root_cause": "Root cause identified…",
    "mark_known_error": "Mark as known error…",
    "resolve": "Resolve…",
    "close": "Close",
    "reopen": "Reopen…",
}
# Which input each action's form asks for (the guards in domain.problem_lifecycle).
ACTION_INPUT = {
    "identify_root_cause": ("root_cause", "Root-cause statement"),
    "mark_known_error": ("workaround", "Workaround for responders"),
    "resolve": ("fix_description", "What fixed it"),
    "reopen": ("reason", "Why reopen (e.g. the recurring incident)"),
}
OPEN = "open"
ALL = "all"
_FIELDS = ("title", "description", "priority", "owner_team", "owner_user", "watch_days")
_NEW_FIELDS = (*_FIELDS, "origin", "incidents", "link_reason")


@dataclass(frozen=True, slots=True)
class FormError:
    """A use-case error to show beside one form on the page."""

    form: str
    field: str | None
    message: str
    status: int = 409


def _form_error(form: str, exc: FirelineError) -> FormError:
    return FormError(form=form, field=exc.field, message=exc.message, status=exc.status)


def _status_of(error: FormError | None) -> int:
    """The error's own HTTP status (422 bad field, 404 unknown record, 409 clash)."""
    return 200 if error is None else error.status


def _choices(visitor: Visitor) -> dict[str, Any]:
    picks = catalog.pick_lists(visitor.ctx)
    return {
        "services": picks.services,
        "teams": picks.teams,
        "users": picks.users,
        "priorities": [p.value for p in Priority],
        "statuses": [s.value for s in lifecycle.Status],
        "origins": [o.value for o in problems.Origin],
    }


# ---------------------------------------------------------------- list


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list's filters exactly as they appear in the URL."""

    status: str = OPEN
    service: str = ""
    team: str = ""
    origin: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params: forms.FormLike) -> ListQuery:
        return cls(
            status=forms.text(params, "status", OPEN)[:40] or OPEN,
            service=forms.text(params, "service")[:120],
            team=forms.text(params, "team")[:120],
            origin=forms.text(params, "origin")[:20],
            q=forms.text(params, "q")[:200],
        )

    @property
    def active(self) -> bool:
        return self != ListQuery()

    def filters(self, visitor: Visitor) -> ProblemFilters:
        if self.status == ALL:
            statuses: list[str] = []
        elif self.status == OPEN:
            statuses = sorted(s.value for s in lifecycle.OPEN_STATUSES)
        elif self.status in {s.value for s in lifecycle.Status}:
            statuses = [self.status]
        else:
            raise InvalidField("status", "choose a problem status, open or all")
        if self.origin and self.origin not in {o.value for o in problems.Origin}:
            raise InvalidField("origin", "choose reactive or proactive")
        with visitor.ctx.reading() as session:
            services = (
                [lookups.service(session, self.service, field="service").id] if self.service else []
            )
            teams = [lookups.team(session, self.team, field="team").id] if self.team else []
        return ProblemFilters(
            statuses=statuses,
            service_ids=services,
            owner_team_ids=teams,
            origins=[self.origin] if self.origin else [],
            text=self.q or None,
        )


@router.get("/problems")
def problem_list(request: Request, visitor: Reader) -> Response:
    query = ListQuery.from_params(request.query_params)
    raw_cursor = request.query_params.get("cursor", "")
    cursor = int(raw_cursor) if raw_cursor.isascii() and raw_cursor.isdigit() else None
    if cursor is not None and not 1 <= cursor <= 2**31 - 1:
        cursor = None
    items: list[ProblemView] = []
    next_cursor = None
    problem = None
    try:
        page = problems.search(visitor.ctx, query.filters(visitor), cursor=cursor, limit=PAGE_SIZE)
        with visitor.ctx.reading() as session:
            items = problem_views.views(session, page.items)
        next_cursor = page.next_cursor
    except InvalidField as exc:
        problem = exc.message
    return render(
        request,
        "problems/list.html",
        {
            "items": items,
            "query": query,
            "problem": problem,
            "cursor": cursor,
            "next_cursor": next_cursor,
            **_choices(visitor),
        },
        visitor=visitor,
        status_code=422 if problem else 200,
    )


# ---------------------------------------------------------------- new


@router.get("/problems/new")
def new_problem(request: Request, visitor: Reader) -> Response:
    visitor.ctx.actor.require(Role.RESPONDER)
    values = {
        "priority": "P3",
        "origin": problems.Origin.PROACTIVE.value,
        "watch_days": str(problems.DEFAULT_WATCH_DAYS),
        "incidents": forms.text(request.query_params, "incidents")[:2000],
        "services": forms.many(request.query_params, "services"),
        "title": forms.text(request.query_params, "title")[:300],
        "link_reason": forms.text(request.query_params, "link_reason")[:500],
    }
    if values["incidents"]:
        values["origin"] = problems.Origin.REACTIVE.value
    return _new_page(request, visitor, values=values)


def _new_page(
    request: Request,
    visitor: Visitor,
    *,
    values: dict[str, Any],
    error: FormError | None = None,
) -> Response:
    return render(
        request,
        "problems/new.html",
        {"error": error, "fields": values, **_choices(visitor)},
        visitor=visitor,
        status_code=_status_of(error),
    )


def _references(raw: str) -> list[str]:
    """`INC-1, INC-2 INC-3` (commas, spaces or lines) as a list of references."""
    return [part.upper() for part in raw.replace(",", " ").split() if part][:200]


@router.post("/problems/new")
async def create_problem(request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        draft = problems.ProblemDraft(
            title=forms.text(form, "title"),
            description=forms.text(form, "description"),
            priority=_priority(forms.text(form, "priority", "P3")),
            origin=_origin(forms.text(form, "origin", problems.Origin.PROACTIVE.value)),
            owner_team=forms.optional(form, "owner_team"),
            owner_user=forms.optional(form, "owner_user"),
            services=forms.many(form, "services"),
            incidents=_references(forms.text(form, "incidents")),
            watch_days=_watch_days(forms.text(form, "watch_days")),
            link_reason=forms.text(form, "link_reason")[:500],
        )
        created = problems.create(visitor.ctx, draft)
    except FirelineError as exc:
        values = forms.values_of(form, _NEW_FIELDS, ("services",))
        return _new_page(request, visitor, values=values, error=_form_error("new", exc))
    return RedirectResponse(f"/problems/{problems.ref_of(created)}", status_code=303)


def _priority(raw: str) -> Priority:
    try:
        return Priority(raw.upper())
    except ValueError:
        raise InvalidField("priority", "choose P1, P2, P3 or P4") from None


def _origin(raw: str) -> problems.Origin:
    try:
        return problems.Origin(raw)
    except ValueError:
        raise InvalidField("origin", "choose reactive or proactive") from None


def _watch_days(raw: str) -> int:
    if not raw:
        return problems.DEFAULT_WATCH_DAYS
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4:
        raise InvalidField("watch_days", "enter a whole number of days")
    return int(raw)


# ---------------------------------------------------------------- detail


@router.get("/problems/{key}")
def problem_detail(key: str, request: Request, visitor: Reader) -> Response:
    return _detail_page(request, visitor, key)


def _detail_page(
    request: Request,
    visitor: Visitor,
    key: str,
    *,
    error: FormError | None = None,
    values: dict[str, Any] | None = None,
    rca_raw: dict[str, Any] | None = None,
) -> Response:
    ctx = visitor.ctx
    view = problem_views.view(ctx, key.upper())
    _, events = problems.timeline_of(ctx, view.id)
    context: dict[str, Any] = {
        "problem": view,
        "events": sorted(events, key=lambda e: (e.at, e.id), reverse=True),
        "error": error,
        "form_values": values or {},
        "fields": values if values and error and error.form == "edit" else _edit_values(view),
        "rca": rca_form.fields(
            rca_raw if rca_raw is not None else view.rca, fallback_root_cause=view.root_cause
        ),
        "rca_error_id": rca_form.field_id(error.field) if error and error.form == "rca" else None,
        "categories": rca_form.CATEGORIES,
        "action_labels": ACTION_LABELS,
        "action_input": ACTION_INPUT,
        "has_rca": _has_rca(view),
    }
    if visitor.can(Role.RESPONDER):
        context.update(_choices(visitor))
    return render(
        request, "problems/detail.html", context, visitor=visitor, status_code=_status_of(error)
    )


def _has_rca(view: ProblemView) -> bool:
    rca = view.rca or {}
    return bool(
        rca.get("five_whys")
        or rca.get("fishbone")
        or rca.get("contributing_factors")
        or rca.get("root_cause")
        or view.root_cause
    )


def _edit_values(view: ProblemView) -> dict[str, Any]:
    return {
        "title": view.title,
        "description": view.description,
        "priority": view.priority,
        "owner_team": str(view.owner_team.id) if view.owner_team else "",
        "owner_user": str(view.owner_user.id) if view.owner_user else "",
        "services": [str(s.id) for s in view.services],
        "watch_days": str(view.verification.watch_days),
        "workaround": view.workaround or "",
    }


def _back(ref: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/problems/{ref}{anchor}", status_code=303)


def _version(form: forms.FormLike) -> int | None:
    raw = forms.text(form, "version")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


@router.post("/problems/{key}/edit")
async def edit_problem(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        changes: dict[str, Any] = {
            "title": forms.text(form, "title"),
            "description": forms.text(form, "description"),
            "priority": _priority(forms.text(form, "priority", "P3")).value,
            "owner_team": forms.optional(form, "owner_team"),
            "owner_user": forms.optional(form, "owner_user"),
            "services": forms.many(form, "services"),
            "watch_days": _watch_days(forms.text(form, "watch_days")),
            "workaround": forms.optional(form, "workaround"),
        }
        updated = problems.update_fields(
            visitor.ctx, key.upper(), changes, expected_version=_version(form)
        )
    except FirelineError as exc:
        values = forms.values_of(form, (*_FIELDS, "workaround"), ("services",))
        return _detail_page(request, visitor, key, error=_form_error("edit", exc), values=values)
    return _back(problems.ref_of(updated))


@router.post("/problems/{key}/rca")
async def save_rca(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    raw = rca_form.parse(form)
    try:
        updated = problem_rca.set_rca(
            visitor.ctx, key.upper(), raw, expected_version=_version(form)
        )
    except FirelineError as exc:
        return _detail_page(request, visitor, key, error=_form_error("rca", exc), rca_raw=raw)
    return _back(problems.ref_of(updated), "#rca")


@router.post("/problems/{key}/actions/{action}")
async def act(key: str, action: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        chosen = lifecycle.Action(action)
    except ValueError:
        error = FormError(form="actions", field=None, message=f"unknown action {action[:40]!r}")
        return _detail_page(request, visitor, key, error=error)
    try:
        given = problem_transitions.transition_input(
            root_cause=forms.optional(form, "root_cause"),
            workaround=forms.optional(form, "workaround"),
            fix_description=forms.optional(form, "fix_description"),
            reason=forms.optional(form, "reason"),
        )
        updated = problem_transitions.transition(
            visitor.ctx, key.upper(), chosen, given, expected_version=_version(form)
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("root_cause", "workaround", "fix_description", "reason"))
        # Refused transitions and actions without their own form report above the buttons.
        where = (
            "actions"
            if isinstance(exc, InvalidTransition) or action not in ACTION_INPUT
            else action
        )
        return _detail_page(request, visitor, key, error=_form_error(where, exc), values=values)
    return _back(problems.ref_of(updated))


@router.post("/problems/{key}/incidents")
async def link_incident(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    incident = forms.text(form, "incident")
    try:
        if not incident:
            raise InvalidField("incident", "name the incident to link, e.g. INC-12")
        problem_links.link_incident(
            visitor.ctx,
            key.upper(),
            incident.upper() if not incident.isdigit() else incident,
            reason=forms.text(form, "reason")[:500],
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("incident", "reason"))
        return _detail_page(request, visitor, key, error=_form_error("link", exc), values=values)
    return _back(key.upper(), "#incidents")


@router.post("/problems/{key}/incidents/{incident}/unlink")
async def unlink_incident(
    key: str, incident: str, request: Request, visitor: PosterResponder
) -> Response:
    try:
        problem_links.unlink_incident(visitor.ctx, key.upper(), incident.upper())
    except FirelineError as exc:
        return _detail_page(request, visitor, key, error=_form_error("link", exc))
    return _back(key.upper(), "#incidents")


@router.post("/problems/{key}/changes")
async def add_change(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        problem_links.add_change(
            visitor.ctx,
            key.upper(),
            change_ref=forms.text(form, "change_ref"),
            description=forms.text(form, "description"),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("change_ref", "description"))
        return _detail_page(request, visitor, key, error=_form_error("change", exc), values=values)
    return _back(key.upper(), "#changes")


@router.post("/problems/{key}/notes")
async def add_note(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    body = forms.text(form, "body")
    try:
        problems.add_note(visitor.ctx, key.upper(), body)
    except FirelineError as exc:
        return _detail_page(
            request, visitor, key, error=_form_error("note", exc), values={"body": body}
        )
    return _back(key.upper(), "#timeline")
