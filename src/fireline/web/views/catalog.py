"""Teams, services and users pages: lists for everyone, create forms for managers/admins.

Users: admins create users and change roles; everyone else only reads the list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.domain.roles import Role, TeamRole
from fireline.errors import FirelineError, InvalidField
from fireline.usecases import catalog, identity
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterAdmin, PosterManager, Reader, Visitor

router = APIRouter(include_in_schema=False)


def _error(exc: FirelineError) -> dict[str, Any]:
    field = exc.field.split("[")[0].split(".")[0] if exc.field else None
    return {"field": field, "message": exc.message, "status": exc.status}


def _status(error: dict[str, Any] | None) -> int:
    if error is None:
        return 200
    return int(error.get("status", 422))


# ---------------------------------------------------------------- teams


def _teams_page(
    request: Request, visitor: Visitor, *, error: dict[str, Any] | None = None, values: Any = None
) -> Response:
    ctx = visitor.ctx
    teams = catalog.list_teams(ctx)
    services = catalog.list_services(ctx)
    return render(
        request,
        "catalog/teams.html",
        {
            "teams": teams,
            "services_by_team": {t.id: [s for s in services if s.team_id == t.id] for t in teams},
            "users": [u for u in identity.list_users(ctx) if u.is_active],
            "error": error,
            "form_values": values or {},
        },
        visitor=visitor,
        status_code=_status(error),
    )


@router.get("/teams")
def teams(request: Request, visitor: Reader) -> Response:
    return _teams_page(request, visitor)


@router.post("/teams")
async def create_team(request: Request, visitor: PosterManager) -> Response:
    form = await request.form()
    lead = forms.optional(form, "lead")
    members: list[tuple[str | int, TeamRole]] = [
        (m, TeamRole.MEMBER) for m in forms.many(form, "members") if m != lead
    ]
    if lead:
        members.insert(0, (lead, TeamRole.LEAD))
    try:
        catalog.create_team(
            visitor.ctx,
            name=forms.text(form, "name"),
            description=forms.text(form, "description"),
            members=members,
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("name", "description", "lead"), ("members",))
        return _teams_page(request, visitor, error=_error(exc), values=values)
    return RedirectResponse("/teams", status_code=303)


# ---------------------------------------------------------------- services


def _services_page(
    request: Request, visitor: Visitor, *, error: dict[str, Any] | None = None, values: Any = None
) -> Response:
    ctx = visitor.ctx
    services = catalog.list_services(ctx)
    teams = catalog.pick_lists(ctx).teams
    return render(
        request,
        "catalog/services.html",
        {
            "services": services,
            "names": {s.id: s.name for s in services},
            "teams": teams,
            "team_names": {t.id: t.name for t in teams},
            "dependencies": catalog.dependencies(ctx),
            "error": error,
            "form_values": values or {},
        },
        visitor=visitor,
        status_code=_status(error),
    )


@router.get("/services")
def services(request: Request, visitor: Reader) -> Response:
    return _services_page(request, visitor)


@router.post("/services")
async def create_service(request: Request, visitor: PosterManager) -> Response:
    form = await request.form()
    try:
        tier_text = forms.text(form, "tier", "3") or "3"
        if not tier_text.isdigit():
            raise InvalidField("tier", "must be 1 (most critical) to 4")
        catalog.create_service(
            visitor.ctx,
            name=forms.text(form, "name"),
            description=forms.text(form, "description"),
            team=forms.optional(form, "team"),
            tier=int(tier_text),
            depends_on=forms.many(form, "depends_on"),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("name", "description", "team", "tier"), ("depends_on",))
        return _services_page(request, visitor, error=_error(exc), values=values)
    return RedirectResponse("/services", status_code=303)


# ---------------------------------------------------------------- users


def _users_page(
    request: Request, visitor: Visitor, *, error: dict[str, Any] | None = None, values: Any = None
) -> Response:
    return render(
        request,
        "catalog/users.html",
        {
            "users": identity.list_users(visitor.ctx),
            "roles": [r.value for r in Role],
            "error": error,
            "form_values": values or {},
        },
        visitor=visitor,
        status_code=_status(error),
    )


@router.get("/users")
def users(request: Request, visitor: Reader) -> Response:
    return _users_page(request, visitor)


@router.post("/users")
async def create_user(request: Request, visitor: PosterAdmin) -> Response:
    form = await request.form()
    try:
        try:
            role = Role(forms.text(form, "role", "responder"))
        except ValueError:
            raise InvalidField("role", "choose viewer, responder, manager or admin") from None
        identity.create_user(
            visitor.ctx,
            email=forms.text(form, "email"),
            name=forms.optional(form, "name"),
            role=role,
            password=forms.optional(form, "password"),
            timezone=forms.text(form, "timezone", "UTC") or "UTC",
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("email", "name", "role", "timezone"))
        return _users_page(request, visitor, error=_error(exc), values=values)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/role")
async def change_role(user_id: int, request: Request, visitor: PosterAdmin) -> Response:
    form = await request.form()
    try:
        try:
            role = Role(forms.text(form, "role"))
        except ValueError:
            raise InvalidField("role", "choose viewer, responder, manager or admin") from None
        identity.update_user(visitor.ctx, user_id, {"role": role.value})
    except FirelineError as exc:
        error = {**_error(exc), "user_id": user_id}
        return _users_page(request, visitor, error=error)
    return RedirectResponse("/users", status_code=303)
