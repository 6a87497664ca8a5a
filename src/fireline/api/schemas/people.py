"""Users, teams, services, categories and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, StringConstraints

from fireline.api.schemas.common import NamedRef, Out, Ref, Strict
from fireline.domain.roles import Role, TeamRole

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserCreate(Strict):
    email: Email
    name: Name | None = None
    role: Role = Role.RESPONDER
    password: Password | None = None
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "UTC"


class UserUpdate(Strict):
    name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    is_active: bool | None = None
    password: Password | None = None
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class UserOut(Out):
    id: int
    email: str
    name: str
    role: str
    timezone: str
    is_active: bool
    created_at: datetime


class TeamMemberIn(Strict):
    user: Ref
    team_role: TeamRole = TeamRole.MEMBER


class TeamCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    members: Annotated[list[TeamMemberIn], Field(max_length=500)] = []


class TeamUpdate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    members: Annotated[list[TeamMemberIn], Field(max_length=500)] | None = None


class TeamMemberOut(Out):
    user_id: int
    name: str
    email: str
    team_role: str


class TeamOut(Out):
    id: int
    name: str
    description: str
    created_at: datetime
    members: list[TeamMemberOut]


class ServiceCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    team: Ref | None = None
    tier: Annotated[int, Field(ge=1, le=4)] = 3
    depends_on: Annotated[list[Ref], Field(max_length=100)] = []


class ServiceUpdate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    team: Ref | None = None
    tier: Annotated[int, Field(ge=1, le=4)] | None = None
    depends_on: Annotated[list[Ref], Field(max_length=100)] | None = None


class ServiceOut(Out):
    id: int
    name: str
    description: str
    team: NamedRef | None
    tier: int
    depends_on: list[NamedRef]
    created_at: datetime


class CategoryCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class CategoryOut(Out):
    id: int
    name: str
    description: str
    built_in: bool


class TokenCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)] = "api"
    expires_at: AwareDatetime | None = None
    user_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        default=None, description="Admins may issue tokens for another user."
    )


class TokenOut(Out):
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class AuditEntryOut(Out):
    id: int
    at: datetime
    actor_id: int | None
    actor_label: str
    action: str = Field(description="What was done, e.g. `token.create`, `user.update`.")
    target_type: str
    target_id: str
    data: dict[str, Any] = Field(description="Details of the change (never secrets).")


class TokenIssued(TokenOut):
    token: str = Field(description="The secret. Shown once; store it now.")


class PriorityMatrixIn(Strict):
    matrix: dict[
        Annotated[str, StringConstraints(max_length=10)],
        dict[
            Annotated[str, StringConstraints(max_length=10)],
            Annotated[str, StringConstraints(max_length=4)],
        ],
    ]


class PriorityMatrixOut(Out):
    matrix: dict[str, dict[str, str]]
