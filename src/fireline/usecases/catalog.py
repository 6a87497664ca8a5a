"""Teams (with members), services (owner, tier, dependencies) and incident categories."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from fireline.domain.roles import Role, TeamRole
from fireline.errors import Conflict, InvalidField, NotFound
from fireline.store.models import Category, Service, ServiceDependency, Team, TeamMember, User
from fireline.usecases import lookups
from fireline.usecases.context import Context

_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


def _name(value: str, field: str = "name", limit: int = 120) -> str:
    name = (value or "").strip()
    if not name or len(name) > limit:
        raise InvalidField(field, f"must be 1-{limit} characters")
    return name


# ---------------------------------------------------------------- teams


def create_team(
    ctx: Context,
    *,
    name: str,
    description: str = "",
    members: Sequence[tuple[lookups.Ref, TeamRole]] = (),
) -> Team:
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        clean = _name(name)
        if session.scalar(select(Team.id).where(func.lower(Team.name) == clean.lower())):
            raise Conflict(f"a team named {clean!r} already exists", field="name")
        team = Team(name=clean, description=description[:2000], created_at=ctx.clock.now())
        session.add(team)
        session.flush()
        _set_members(session, team, members)
        ctx.audit(session, "team.create", "team", team.id, name=clean)
    return team


def update_team(
    ctx: Context,
    team_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    members: Sequence[tuple[lookups.Ref, TeamRole]] | None = None,
) -> Team:
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        team = session.get(Team, team_id)
        if team is None:
            raise NotFound(f"no team {team_id}", field="team")
        if name is not None:
            clean = _name(name)
            clash = session.scalar(
                select(Team.id).where(func.lower(Team.name) == clean.lower(), Team.id != team.id)
            )
            if clash:
                raise Conflict(f"a team named {clean!r} already exists", field="name")
            team.name = clean
        if description is not None:
            team.description = description[:2000]
        if members is not None:
            _set_members(session, team, members)
        ctx.audit(session, "team.update", "team", team.id, name=team.name)
    return team


def _set_members(
    session: Session, team: Team, members: Sequence[tuple[lookups.Ref, TeamRole]]
) -> None:
    wanted: dict[int, str] = {}
    for index, (ref, role) in enumerate(members):
        user = lookups.user(session, ref, field=f"members[{index}].user")
        wanted[user.id] = TeamRole(role).value
    team.members = [TeamMember(user_id=uid, team_role=role) for uid, role in wanted.items()]


def list_teams(ctx: Context) -> Sequence[Team]:
    """Teams with their members and the members' users loaded (in three queries, not N+1)."""
    with ctx.reading() as session:
        return (
            session.scalars(
                select(Team)
                .options(selectinload(Team.members).selectinload(TeamMember.user))
                .order_by(Team.name)
            )
            .unique()
            .all()
        )


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a form's pick list."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class PickLists:
    """What filter and edit forms offer, by name: no memberships, no descriptions."""

    services: list[Choice]
    teams: list[Choice]
    categories: list[Choice]
    users: list[Choice]  # active users only


def pick_lists(ctx: Context) -> PickLists:
    """Names and ids of services, teams, categories and active users, in one read session."""
    with ctx.reading() as session:
        return PickLists(
            services=_choices(session, select(Service.id, Service.name).order_by(Service.name)),
            teams=_choices(session, select(Team.id, Team.name).order_by(Team.name)),
            categories=_choices(
                session, select(Category.id, Category.name).order_by(Category.name)
            ),
            users=_choices(
                session,
                select(User.id, User.name)
                .where(User.is_active.is_(True))
                .order_by(User.name, User.id),
            ),
        )


def _choices(session: Session, query: Any) -> list[Choice]:
    return [Choice(id=ident, name=name) for ident, name in session.execute(query)]


def get_team(ctx: Context, key: lookups.Ref) -> Team:
    with ctx.reading() as session:
        try:
            team = lookups.team(session, key, field="team")
        except InvalidField:
            raise NotFound(f"no team {key!r}", field="team") from None
        for member in team.members:
            _ = member.user.email
        return team


def delete_team(ctx: Context, team_id: int) -> None:
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        team = session.get(Team, team_id)
        if team is None:
            raise NotFound(f"no team {team_id}", field="team")
        ctx.audit(session, "team.delete", "team", team.id, name=team.name)
        session.delete(team)


# ---------------------------------------------------------------- services


def create_service(
    ctx: Context,
    *,
    name: str,
    description: str = "",
    team: lookups.Ref | None = None,
    tier: int = 3,
    depends_on: Sequence[lookups.Ref] = (),
) -> Service:
    ctx.actor.require(Role.MANAGER)
    _tier(tier)
    with ctx.transaction() as session:
        clean = _name(name)
        if session.scalar(select(Service.id).where(func.lower(Service.name) == clean.lower())):
            raise Conflict(f"a service named {clean!r} already exists", field="name")
        service = Service(
            name=clean,
            description=description[:2000],
            team_id=lookups.team(session, team, field="team").id if team is not None else None,
            tier=tier,
            created_at=ctx.clock.now(),
        )
        session.add(service)
        session.flush()
        _set_dependencies(session, service, depends_on)
        ctx.audit(session, "service.create", "service", service.id, name=clean)
    return service


def update_service(ctx: Context, service_id: int, changes: dict[str, Any]) -> Service:
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        service = session.get(Service, service_id)
        if service is None:
            raise NotFound(f"no service {service_id}", field="service")
        if "name" in changes:
            clean = _name(changes["name"])
            clash = session.scalar(
                select(Service.id).where(
                    func.lower(Service.name) == clean.lower(), Service.id != service.id
                )
            )
            if clash:
                raise Conflict(f"a service named {clean!r} already exists", field="name")
            service.name = clean
        if "description" in changes:
            service.description = str(changes["description"] or "")[:2000]
        if "team" in changes:
            value = changes["team"]
            service.team_id = (
                None if value is None else lookups.team(session, value, field="team").id
            )
        if "tier" in changes:
            service.tier = _tier(changes["tier"])
        if "depends_on" in changes:
            _set_dependencies(session, service, changes["depends_on"] or [])
        ctx.audit(session, "service.update", "service", service.id, fields=sorted(changes))
    return service


def _tier(value: Any) -> int:
    if not isinstance(value, int) or not 1 <= value <= 4:
        raise InvalidField("tier", "must be 1 (most critical) to 4")
    return value


def _set_dependencies(session: Session, service: Service, refs: Sequence[lookups.Ref]) -> None:
    targets = lookups.services(session, refs, field="depends_on")
    if any(t.id == service.id for t in targets):
        raise InvalidField("depends_on", "a service cannot depend on itself")
    graph = _dependency_graph(session)
    graph[service.id] = {t.id for t in targets}
    if _reaches(graph, start={t.id for t in targets}, goal=service.id):
        raise InvalidField("depends_on", "would create a dependency cycle")
    session.execute(delete(ServiceDependency).where(ServiceDependency.service_id == service.id))
    for target in targets:
        session.add(ServiceDependency(service_id=service.id, depends_on_id=target.id))


def _dependency_graph(session: Session) -> dict[int, set[int]]:
    graph: dict[int, set[int]] = {}
    for sid, did in session.execute(
        select(ServiceDependency.service_id, ServiceDependency.depends_on_id)
    ):
        graph.setdefault(sid, set()).add(did)
    return graph


def _reaches(graph: dict[int, set[int]], *, start: set[int], goal: int) -> bool:
    seen: set[int] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return False


def dependencies(ctx: Context) -> dict[int, list[int]]:
    with ctx.reading() as session:
        return {k: sorted(v) for k, v in _dependency_graph(session).items()}


def list_services(ctx: Context, *, team_id: int | None = None) -> Sequence[Service]:
    with ctx.reading() as session:
        query = select(Service).order_by(Service.name)
        if team_id is not None:
            query = query.where(Service.team_id == team_id)
        return session.scalars(query).all()


def get_service(ctx: Context, key: lookups.Ref) -> Service:
    with ctx.reading() as session:
        try:
            return lookups.service(session, key, field="service")
        except InvalidField:
            raise NotFound(f"no service {key!r}", field="service") from None


def delete_service(ctx: Context, service_id: int) -> None:
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        service = session.get(Service, service_id)
        if service is None:
            raise NotFound(f"no service {service_id}", field="service")
        ctx.audit(session, "service.delete", "service", service.id, name=service.name)
        session.delete(service)


# ---------------------------------------------------------------- categories


def list_categories(ctx: Context) -> Sequence[Category]:
    with ctx.reading() as session:
        return session.scalars(select(Category).order_by(Category.name)).all()


def create_category(ctx: Context, *, name: str, description: str = "") -> Category:
    ctx.actor.require(Role.ADMIN)
    clean = (name or "").strip().lower()
    if not _CATEGORY.match(clean):
        raise InvalidField("name", "use 1-60 lowercase letters, digits and dashes")
    with ctx.transaction() as session:
        if session.scalar(select(Category.id).where(Category.name == clean)):
            raise Conflict(f"category {clean!r} already exists", field="name")
        category = Category(name=clean, description=description[:500], built_in=False)
        session.add(category)
        session.flush()
        ctx.audit(session, "category.create", "category", category.id, name=clean)
    return category


def team_members(ctx: Context, team_id: int) -> list[tuple[User, str]]:
    with ctx.reading() as session:
        team = session.get(Team, team_id)
        if team is None:
            raise NotFound(f"no team {team_id}", field="team")
        return [(m.user, m.team_role) for m in team.members]
