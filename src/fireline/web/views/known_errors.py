"""Known-error pages: the searchable list and one known error with its symptoms, root cause,
workaround, permanent-fix status and matching rules.

Read-only here: known errors are written through their problem (marking it a known error
records one) or through the API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fireline.errors import InvalidField
from fireline.usecases import catalog, known_errors, problem_views
from fireline.usecases.problem_views import KnownErrorView
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import Reader

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
    known = problem_views.known_error_view(visitor.ctx, key)
    return render(request, "problems/known_error.html", {"ke": known}, visitor=visitor)
