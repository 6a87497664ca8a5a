"""Known-error pages: the searchable list and one known error with its symptoms, root cause,
workaround, permanent-fix status and matching rules, which responders can edit.

Known errors are created through their problem (marking it a known error records one) or
through the API; here they are kept current (fix status, workaround, what to match on).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.domain.roles import Role
from fireline.errors import FirelineError, InvalidField
from fireline.usecases import catalog, known_errors, problem_views
from fireline.usecases.problem_views import KnownErrorView
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterResponder, Reader, Visitor

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
_ACTIVE = {"active": True, "retired": False, "all": None}


@router.get("/known-errors")
def known_error_list(request: Request, visitor: Reader) -> Response:
    params = request.query_params
    state = forms.text(params, "state", "active")[:10] or "active"
    service = forms.text(params, "service")[:120]
    q = forms.text(params, "q")[:200]
    raw_cursor = forms.text(params, "cursor")
    cursor = int(raw_cursor) if raw_cursor.isascii() and raw_cursor.isdigit() else None
    if cursor is not None and not 1 <= cursor <= 2**31 - 1:
        cursor = None
    items: list[KnownErrorView] = []
    next_cursor = None
    problem = None
    try:
        if state not in _ACTIVE:
            raise InvalidField("state", "choose active, retired or all")
        page = known_errors.search(
            visitor.ctx,
            active=_ACTIVE[state],
            service=service or None,
            text=q or None,
            cursor=cursor,
            limit=PAGE_SIZE,
        )
        with visitor.ctx.reading() as session:
            items = problem_views.known_error_views(session, page.items)
        next_cursor = page.next_cursor
    except InvalidField as exc:
        problem = exc.message
    return render(
        request,
        "problems/known_errors.html",
        {
            "items": items,
            "state": state,
            "service": service,
            "q": q,
            "cursor": cursor,
            "next_cursor": next_cursor,
            "problem": problem,
            "services": catalog.list_services(visitor.ctx),
        },
        visitor=visitor,
        status_code=422 if problem else 200,
    )


@router.get("/known-errors/{key}")
def known_error_detail(key: str, request: Request, visitor: Reader) -> Response:
    return _detail(request, visitor, key)


def _detail(
    request: Request,
    visitor: Visitor,
    key: str,
    *,
    error: FirelineError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    known = problem_views.known_error_view(visitor.ctx, key)
    context: dict[str, Any] = {
        "ke": known,
        "error": error,
        "fields": values or _values(known),
        "fix_statuses": [s.value for s in known_errors.FixStatus],
    }
    if visitor.can(Role.RESPONDER):
        context["services"] = catalog.list_services(visitor.ctx)
    return render(
        request,
        "problems/known_error.html",
        context,
        visitor=visitor,
        status_code=error.status if error else 200,
    )


def _values(known: KnownErrorView) -> dict[str, Any]:
    return {
        "title": known.title,
        "symptoms": known.symptoms,
        "root_cause": known.root_cause,
        "workaround": known.workaround,
        "fix_status": known.fix_status,
        "services": [str(s.id) for s in known.services],
        "labels": forms.format_labels(known.labels),
        "keywords": ", ".join(known.keywords),
        "active": known.active,
    }


def _keywords(raw: str) -> list[str]:
    """Key words separated by commas or new lines."""
    return [w.strip() for w in raw.replace("\n", ",").split(",") if w.strip()]


@router.post("/known-errors/{key}/edit")
async def edit_known_error(key: str, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        changes: dict[str, Any] = {
            "title": forms.text(form, "title"),
            "symptoms": forms.text(form, "symptoms"),
            "root_cause": forms.text(form, "root_cause"),
            "workaround": forms.text(form, "workaround"),
            "fix_status": forms.text(form, "fix_status"),
            "services": forms.many(form, "services"),
            "labels": forms.parse_labels(forms.text(form, "labels")),
            "keywords": _keywords(forms.text(form, "keywords")),
            "active": forms.checked(form, "active"),
        }
        updated = known_errors.update(visitor.ctx, key, changes)
    except FirelineError as exc:
        values = forms.values_of(
            form,
            ("title", "symptoms", "root_cause", "workaround", "fix_status", "labels", "keywords"),
            ("services",),
        )
        values["active"] = forms.checked(form, "active")
        return _detail(request, visitor, key, error=exc, values=values)
    return RedirectResponse(f"/known-errors/{updated.id}", status_code=303)
