"""Dependencies shared by the API routes: the use-case context and the authenticated actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from fireline import security
from fireline.domain.roles import Role
from fireline.errors import Forbidden, Unauthenticated
from fireline.store.models import User
from fireline.usecases import identity
from fireline.usecases.context import Context

SESSION_COOKIE = "fireline_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def base_context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


@dataclass(frozen=True, slots=True)
class Auth:
    user: User
    ctx: Context
    via: str  # "token" or "session"
    csrf_token: str | None = None


def authenticate(request: Request) -> Auth:
    """Find who is calling: `Authorization: Bearer <token>` or the session cookie.

    Cookie-authenticated writes must echo the session's CSRF token in `X-CSRF-Token`.
    Raises Unauthenticated (401) when neither is valid.
    """
    ctx = base_context(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("use 'Authorization: Bearer <API token>'")
        user = identity.resolve_token(ctx, value.strip())
        if user is None:
            raise Unauthenticated("API token is invalid, expired or revoked")
        return Auth(user=user, ctx=ctx.as_actor(identity.actor_for(user)), via="token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = identity.resolve_session(ctx, cookie)
        if found is not None:
            user, web_session = found
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not sent or not security.same(sent, web_session.csrf_token):
                    raise Forbidden(
                        "missing or wrong X-CSRF-Token for a cookie-authenticated write"
                    )
            return Auth(
                user=user,
                ctx=ctx.as_actor(identity.actor_for(user)),
                via="session",
                csrf_token=web_session.csrf_token,
            )
    raise Unauthenticated("authentication required: send an API token or log in")


AuthDep = Annotated[Auth, Depends(authenticate)]


def require(role: Role) -> object:
    """Dependency that authenticates and checks the caller's role (403 if too low)."""

    def _check(request: Request) -> Auth:
        auth = authenticate(request)
        auth.ctx.actor.require(role)
        return auth

    return Depends(_check)


Viewer = Annotated[Auth, require(Role.VIEWER)]
Responder = Annotated[Auth, require(Role.RESPONDER)]
Manager = Annotated[Auth, require(Role.MANAGER)]
Admin = Annotated[Auth, require(Role.ADMIN)]
