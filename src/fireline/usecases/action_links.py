"""One-click acknowledge/resolve links for notifications: single-use, expiring, no login.

A link is `<base>/actions/<token>`; the token is 32 random bytes (prefix `fla_`) and only its
SHA-256 is stored with the incident, the user it acts as, the action and the expiry. Using a
link marks it used and applies the lifecycle action as that user in one transaction, so a
link works once even when two people click it at the same moment.

    InvalidLink (NotFound, 404)   unknown token
    LinkExpired (Conflict, 410)   past `expires_at`
    LinkUsed    (Conflict, 409)   already used
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from fireline import security
from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain.roles import Role
from fireline.errors import Conflict, NotFound
from fireline.store.models import Incident, User
from fireline.store.models.oncall import ActionToken
from fireline.usecases.context import Actor, Context

TOKEN_PREFIX = "fla"  # noqa: S105 (a prefix, not a secret)
LINK_TTL = timedelta(hours=24)
ACTIONS = ("acknowledge", "resolve")


class InvalidLink(NotFound):
    code = "invalid_link"


class LinkExpired(Conflict):
    status = 410
    code = "link_expired"


class LinkUsed(Conflict):
    code = "link_used"


def issue_tx(session: Session, ctx: Context, incident_id: int, user_id: int, action: str) -> str:
    """Create a link for `action` on the incident as `user_id`; return its absolute URL."""
    if action not in ACTIONS:
        raise ValueError(f"unsupported action {action!r}")
    secret = security.new_token(TOKEN_PREFIX, 32)
    now = ctx.clock.now()
    session.add(
        ActionToken(
            token_hash=security.token_digest(secret),
            incident_id=incident_id,
            user_id=user_id,
            action=action,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    return f"{ctx.settings.public_base_url}/actions/{secret}"


class Minter:
    """Mints many links and inserts them in one statement (`insert_tx`): a batch of pages
    needs two links each, and one INSERT per link was most of a delivery's cost."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._now = ctx.clock.now()
        self._rows: list[dict[str, Any]] = []

    def mint(self, incident_id: int, user_id: int, action: str) -> str:
        """A link's absolute URL; the link exists once `insert_tx` ran in the same commit."""
        if action not in ACTIONS:
            raise ValueError(f"unsupported action {action!r}")
        secret = security.new_token(TOKEN_PREFIX, 32)
        self._rows.append(
            {
                "token_hash": security.token_digest(secret),
                "incident_id": incident_id,
                "user_id": user_id,
                "action": action,
                "created_at": self._now,
                "expires_at": self._now + LINK_TTL,
                "used_at": None,
            }
        )
        return f"{self._ctx.settings.public_base_url}/actions/{secret}"

    def insert_tx(self, session: Session) -> None:
        """Insert the links minted so far (in the caller's transaction) and forget them."""
        if self._rows:
            session.execute(insert(cast(Table, ActionToken.__table__)), self._rows)
            self._rows = []


@dataclass(frozen=True, slots=True)
class LinkInfo:
    action: str
    incident_ref: str
    incident_title: str
    incident_status: str
    user_name: str


def _find(session: Session, ctx: Context, secret: str) -> ActionToken:
    token = session.scalar(
        select(ActionToken).where(ActionToken.token_hash == security.token_digest(secret))
    )
    if token is None:
        raise InvalidLink("this link is not valid")
    if token.used_at is not None:
        raise LinkUsed("this link has already been used")
    if token.expires_at <= ctx.clock.now():
        raise LinkExpired("this link has expired")
    return token


def inspect(ctx: Context, secret: str) -> LinkInfo:
    """What the link would do (for the confirmation page). Raises the errors above."""
    from fireline.usecases.incidents import ref_of

    with ctx.reading() as session:
        token = _find(session, ctx, secret)
        incident = session.get(Incident, token.incident_id)
        user = session.get(User, token.user_id)
        if incident is None or user is None:
            raise InvalidLink("this link is not valid")
        return LinkInfo(
            action=token.action,
            incident_ref=ref_of(incident),
            incident_title=incident.title,
            incident_status=incident.status,
            user_name=user.name,
        )


def use(ctx: Context, secret: str) -> LinkInfo:
    """Perform the link's action as its user and mark it used (atomically, once)."""
    from fireline.usecases import incidents
    from fireline.usecases.identity import actor_for

    with ctx.transaction() as session:
        token = _find(session, ctx, secret)
        claimed = session.execute(
            update(ActionToken)
            .where(ActionToken.id == token.id, ActionToken.used_at.is_(None))
            .values(used_at=ctx.clock.now())
        )
        if getattr(claimed, "rowcount", 1) != 1:
            raise LinkUsed("this link has already been used")
        user = session.get(User, token.user_id)
        incident = session.get(Incident, token.incident_id)
        if user is None or incident is None or not user.is_active:
            raise InvalidLink("this link is not valid")
        actor: Actor = actor_for(user)
        if not actor.role.at_least(Role.RESPONDER):
            actor = Actor(user_id=user.id, label=f"{user.email} (via link)", role=Role.RESPONDER)
        acting = ctx.as_actor(Actor(user_id=actor.user_id, label=actor.label, role=actor.role))
        incidents.transition_tx(
            session, acting, incident, lifecycle.Action(token.action), lifecycle.TransitionInput()
        )
        return LinkInfo(
            action=token.action,
            incident_ref=incidents.ref_of(incident),
            incident_title=incident.title,
            incident_status=incident.status,
            user_name=user.name,
        )
