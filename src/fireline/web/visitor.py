"""Who is looking at a page: the signed-in user behind the `fireline_session` cookie.

Page handlers depend on `Reader` (any signed-in user) or on `Poster*` for writes, which also
verify the CSRF token and the role server-side. A missing session raises Unauthenticated; the
web error page turns that into a redirect to `/login?next=...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from fireline.api.deps import SESSION_COOKIE
from fireline.domain.roles import Role
from fireline.errors import Forbidden, Unauthenticated
from fireline.store.models import User
from fireline.usecases import identity
from fireline.usecases.context import Context
from fireline.web import csrf


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in browser: the user, a context acting as them, and their CSRF token."""

    user: User
    ctx: Context
    csrf_token: str

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    def can(self, role: Role | str) -> bool:
        """Whether the user holds at least `role` (used to hide buttons; never to allow)."""
        return self.role.at_least(Role(role))


def base_context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


def current(request: Request) -> Visitor | None:
    """The signed-in visitor, or None when the cookie is missing, expired or revoked."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    ctx = base_context(request)
    found = identity.resolve_session(ctx, cookie)
    if found is None:
        return None
    user, web_session = found
    return Visitor(
        user=user, ctx=ctx.as_actor(identity.actor_for(user)), csrf_token=web_session.csrf_token
    )


def _reader(request: Request) -> Visitor:
    request.state.web_page = True
    visitor = current(request)
    if visitor is None:
        raise Unauthenticated("please sign in")
    return visitor


async def _poster(request: Request, role: Role) -> Visitor:
    visitor = _reader(request)
    if not csrf.matches(await csrf.submitted(request), visitor.csrf_token):
        raise Forbidden("the form's security token is missing or out of date; reload the page")
    visitor.ctx.actor.require(role)
    return visitor


async def _post_viewer(request: Request) -> Visitor:
    return await _poster(request, Role.VIEWER)


async def _post_responder(request: Request) -> Visitor:
    return await _poster(request, Role.RESPONDER)


async def _post_manager(request: Request) -> Visitor:
    return await _poster(request, Role.MANAGER)


async def _post_admin(request: Request) -> Visitor:
    return await _poster(request, Role.ADMIN)


Reader = Annotated[Visitor, Depends(_reader)]
PosterAny = Annotated[Visitor, Depends(_post_viewer)]
PosterResponder = Annotated[Visitor, Depends(_post_responder)]
PosterManager = Annotated[Visitor, Depends(_post_manager)]
PosterAdmin = Annotated[Visitor, Depends(_post_admin)]
