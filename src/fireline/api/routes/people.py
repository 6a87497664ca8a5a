"""/api/v1/users, /teams, /services, /categories, /tokens, /settings and /me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from fireline.api.deps import Admin, AuthDep, Manager, Viewer
from fireline.api.schemas.common import NamedRef, Page
from fireline.api.schemas.people import (
    AuditEntryOut,
    CategoryCreate,
    CategoryOut,
    PriorityMatrixIn,
    PriorityMatrixOut,
    ServiceCreate,
    ServiceOut,
    ServiceUpdate,
    TeamCreate,
    TeamMemberOut,
    TeamOut,
    TeamUpdate,
    TokenCreate,
    TokenIssued,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from fireline.store.models import Service, Team
from fireline.usecases import app_settings, audit_log, catalog, identity
from fireline.usecases.context import Context

router = APIRouter(prefix="/api/v1")

# ---------------------------------------------------------------- users


@router.get("/me", response_model=UserOut, tags=["users"])
def me(auth: AuthDep) -> UserOut:
    """The calling user."""
    return UserOut.model_validate(auth.user)


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(auth: Viewer) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in identity.list_users(auth.ctx)]


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut, tags=["users"])
def create_user(body: UserCreate, auth: Admin) -> UserOut:
    """Create a user (admin)."""
    user = identity.create_user(
        auth.ctx,
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        timezone=body.timezone,
    )
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(user_id: Annotated[int, "user id"], auth: Viewer) -> UserOut:
    return UserOut.model_validate(identity.get_user(auth.ctx, _int_id(user_id)))


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"])
def update_user(user_id: int, body: UserUpdate, auth: AuthDep) -> UserOut:
    """Users change their own name, time zone and password; admins change anything."""
    changes = body.model_dump(exclude_unset=True, mode="json")
    return UserOut.model_validate(identity.update_user(auth.ctx, _int_id(user_id), changes))


def _int_id(value: int) -> int:
    from fireline.errors import NotFound

    if not 1 <= value <= 2**31 - 1:
        raise NotFound(f"no record {value}")
    return value


# ---------------------------------------------------------------- teams


def _team_out(team: Team) -> TeamOut:
    return TeamOut(
        id=team.id,
        name=team.name,
        description=team.description,
        created_at=team.created_at,
        members=[
            TeamMemberOut(
                user_id=m.user_id, name=m.user.name, email=m.user.email, team_role=m.team_role
            )
            for m in team.members
        ],
    )


@router.get("/teams", response_model=list[TeamOut], tags=["teams"])
def list_teams(auth: Viewer) -> list[TeamOut]:
    return [_team_out(t) for t in catalog.list_teams(auth.ctx)]


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut, tags=["teams"])
def create_team(body: TeamCreate, auth: Manager) -> TeamOut:
    team = catalog.create_team(
        auth.ctx,
        name=body.name,
        description=body.description,
        members=[(m.user, m.team_role) for m in body.members],
    )
    return _team_out(catalog.get_team(auth.ctx, team.id))


@router.get("/teams/{team}", response_model=TeamOut, tags=["teams"])
def get_team(team: str, auth: Viewer) -> TeamOut:
    """A team by id or name."""
    return _team_out(catalog.get_team(auth.ctx, team))


@router.patch("/teams/{team_id}", response_model=TeamOut, tags=["teams"])
def update_team(team_id: int, body: TeamUpdate, auth: Manager) -> TeamOut:
    catalog.update_team(
        auth.ctx,
        _int_id(team_id),
        name=body.name,
        description=body.description,
        members=None if body.members is None else [(m.user, m.team_role) for m in body.members],
    )
    return _team_out(catalog.get_team(auth.ctx, team_id))


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["teams"])
def delete_team(team_id: int, auth: Manager) -> Response:
    catalog.delete_team(auth.ctx, _int_id(team_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- services


def _service_out(ctx: Context, service: Service, deps: dict[int, list[int]]) -> ServiceOut:
    names = {s.id: s.name for s in catalog.list_services(ctx)}
    teams = {t.id: t.name for t in catalog.list_teams(ctx)}
    return ServiceOut(
        id=service.id,
        name=service.name,
        description=service.description,
        team=NamedRef(id=service.team_id, name=teams.get(service.team_id, "?"))
        if service.team_id
        else None,
        tier=service.tier,
        depends_on=[NamedRef(id=d, name=names.get(d, "?")) for d in deps.get(service.id, [])],
        created_at=service.created_at,
    )


@router.get("/services", response_model=list[ServiceOut], tags=["services"])
def list_services(
    auth: Viewer, team: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> list[ServiceOut]:
    deps = catalog.dependencies(auth.ctx)
    services = catalog.list_services(auth.ctx, team_id=team)
    return [_service_out(auth.ctx, s, deps) for s in services]


@router.post(
    "/services", status_code=status.HTTP_201_CREATED, response_model=ServiceOut, tags=["services"]
)
def create_service(body: ServiceCreate, auth: Manager) -> ServiceOut:
    service = catalog.create_service(
        auth.ctx,
        name=body.name,
        description=body.description,
        team=body.team,
        tier=body.tier,
        depends_on=body.depends_on,
    )
    return _service_out(auth.ctx, service, catalog.dependencies(auth.ctx))


@router.get("/services/{service}", response_model=ServiceOut, tags=["services"])
def get_service(service: str, auth: Viewer) -> ServiceOut:
    """A service by id or name."""
    found = catalog.get_service(auth.ctx, service)
    return _service_out(auth.ctx, found, catalog.dependencies(auth.ctx))


@router.patch("/services/{service_id}", response_model=ServiceOut, tags=["services"])
def update_service(service_id: int, body: ServiceUpdate, auth: Manager) -> ServiceOut:
    changes = body.model_dump(exclude_unset=True, mode="json")
    service = catalog.update_service(auth.ctx, _int_id(service_id), changes)
    return _service_out(auth.ctx, service, catalog.dependencies(auth.ctx))


@router.delete("/services/{service_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["services"])
def delete_service(service_id: int, auth: Manager) -> Response:
    catalog.delete_service(auth.ctx, _int_id(service_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- categories


@router.get("/categories", response_model=list[CategoryOut], tags=["categories"])
def list_categories(auth: Viewer) -> list[CategoryOut]:
    return [CategoryOut.model_validate(c) for c in catalog.list_categories(auth.ctx)]


@router.post(
    "/categories",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryOut,
    tags=["categories"],
)
def create_category(body: CategoryCreate, auth: Admin) -> CategoryOut:
    """Add a category to the taxonomy (admin)."""
    category = catalog.create_category(auth.ctx, name=body.name, description=body.description)
    return CategoryOut.model_validate(category)


# ---------------------------------------------------------------- tokens


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(
    auth: AuthDep, user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> list[TokenOut]:
    """Your API tokens (admins may pass `user_id`). Secrets are never shown again."""
    return [TokenOut.model_validate(t) for t in identity.list_tokens(auth.ctx, user_id=user_id)]


@router.post(
    "/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenIssued, tags=["tokens"]
)
def create_token(body: TokenCreate, auth: AuthDep) -> TokenIssued:
    """Create a personal API token. The `token` field is shown only in this answer."""
    issued = identity.create_token(
        auth.ctx, user_id=body.user_id, name=body.name, expires_at=body.expires_at
    )
    return TokenIssued(**TokenOut.model_validate(issued.token).model_dump(), token=issued.secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"])
def revoke_token(token_id: int, auth: AuthDep) -> TokenOut:
    """Revoke a token; it stops working at once."""
    return TokenOut.model_validate(identity.revoke_token(auth.ctx, _int_id(token_id)))


# ---------------------------------------------------------------- settings


@router.get("/settings/priority-matrix", response_model=PriorityMatrixOut, tags=["settings"])
def get_priority_matrix(auth: Viewer) -> PriorityMatrixOut:
    """The impact x urgency -> priority matrix (`matrix[impact][urgency]`)."""
    return PriorityMatrixOut(matrix=app_settings.get_priority_matrix(auth.ctx).to_mapping())


@router.put("/settings/priority-matrix", response_model=PriorityMatrixOut, tags=["settings"])
def put_priority_matrix(body: PriorityMatrixIn, auth: Admin) -> PriorityMatrixOut:
    """Replace the matrix (admin, audited)."""
    matrix = app_settings.set_priority_matrix(auth.ctx, body.matrix)
    return PriorityMatrixOut(matrix=matrix.to_mapping())


# ---------------------------------------------------------------- audit log


@router.get("/audit-log", response_model=Page[AuditEntryOut], tags=["audit"])
def list_audit_log(
    auth: Admin,
    action: Annotated[
        str | None, Query(max_length=60, description="`token` or `token.create`")
    ] = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[AuditEntryOut]:
    """Administrative actions (users, roles, tokens, settings, integrations), newest first."""
    entries, next_cursor = audit_log.list_entries(
        auth.ctx,
        cursor=cursor,
        limit=limit,
        action=action,
        target_type=target_type,
        actor_id=actor_id,
    )
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(e) for e in entries], next_cursor=next_cursor
    )
