"""Users, API tokens, browser sessions and login throttling. Admin actions are audited."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fireline import security
from fireline.domain.roles import Role
from fireline.errors import Conflict, Forbidden, InvalidField, NotFound, TooManyRequests
from fireline.store.models import ApiToken, LoginFailure, User, WebSession
from fireline.usecases.context import Actor, Context

TOKEN_PREFIX = "flt"  # noqa: S105 - a label, not a secret
# last_used_at is kept to this resolution: finer would make every API read a write.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
SESSION_PREFIX = "fls"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$|^[^@\s]{1,64}@localhost$")


def actor_for(user: User) -> Actor:
    return Actor(user_id=user.id, label=user.email, role=Role(user.role))


# ---------------------------------------------------------------- users


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    if not _EMAIL.match(email):
        raise InvalidField("email", f"{value!r} is not an email address")
    return email


def check_password(password: str) -> None:
    if len(password) < security.MIN_PASSWORD_LENGTH:
        raise InvalidField(
            "password", f"must be at least {security.MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > 1024:
        raise InvalidField("password", "must be at most 1024 characters")


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidField("timezone", f"unknown IANA time zone {value!r}") from None
    return value


def create_user(
    ctx: Context,
    *,
    email: str,
    name: str | None = None,
    role: Role = Role.RESPONDER,
    password: str | None = None,
    timezone: str = "UTC",
) -> User:
    """Create a user (admin). Without a password the user cannot log in until one is set."""
    ctx.actor.require(Role.ADMIN)
    address = normalise_email(email)
    if password is not None:
        check_password(password)
    display = (name or address.split("@")[0]).strip()
    if not display or len(display) > 200:
        raise InvalidField("name", "must be 1-200 characters")
    with ctx.transaction() as session:
        if session.scalar(select(User.id).where(User.email == address)) is not None:
            raise Conflict(f"a user with email {address} already exists", field="email")
        user = User(
            email=address,
            name=display,
            role=role.value,
            password_hash=security.hash_password(password) if password else None,
            timezone=check_timezone(timezone),
            is_active=True,
            created_at=ctx.clock.now(),
        )
        session.add(user)
        session.flush()
        ctx.audit(session, "user.create", "user", user.id, email=address, role=role.value)
    return user


def update_user(ctx: Context, user_id: int, changes: dict[str, Any]) -> User:
    """Change a user. Users may change their own name, time zone and password; only admins
    change roles, activation and other people."""
    own = ctx.actor.user_id == user_id
    admin_fields = {"role", "is_active", "email"}
    if not own or admin_fields & set(changes):
        ctx.actor.require(Role.ADMIN)
    for key in sorted(changes):
        if changes[key] is None:  # e.g. JSON null: is_active None must not deactivate
            raise InvalidField(key, "must not be null")
    with ctx.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", field="user")
        recorded: dict[str, Any] = {}
        if "name" in changes:
            name = str(changes["name"] or "").strip()
            if not name or len(name) > 200:
                raise InvalidField("name", "must be 1-200 characters")
            user.name = name
            recorded["name"] = name
        if "email" in changes:
            user.email = normalise_email(changes["email"])
            recorded["email"] = user.email
        if "timezone" in changes:
            user.timezone = check_timezone(changes["timezone"])
            recorded["timezone"] = user.timezone
        if "role" in changes:
            new_role = Role(changes["role"])
            if user.role == Role.ADMIN and new_role != Role.ADMIN:
                _ensure_other_admin(session, user.id)
            recorded["role"] = {"before": user.role, "after": new_role.value}
            user.role = new_role.value
        if "is_active" in changes:
            active = bool(changes["is_active"])
            if not active and user.role == Role.ADMIN:
                _ensure_other_admin(session, user.id)
            user.is_active = active
            recorded["is_active"] = active
            if not active:
                session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        if "password" in changes:
            check_password(changes["password"])
            user.password_hash = security.hash_password(changes["password"])
            recorded["password"] = "changed"  # noqa: S105
        if recorded:
            ctx.audit(session, "user.update", "user", user.id, **recorded)
    return user


def _ensure_other_admin(session: Session, user_id: int) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user_id)
    )
    if not others:
        raise Conflict("Fireline needs at least one active admin", field="role")


def list_users(ctx: Context) -> Sequence[User]:
    with ctx.reading() as session:
        return session.scalars(select(User).order_by(User.name, User.id)).all()


def get_user(ctx: Context, user_id: int) -> User:
    with ctx.reading() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", field="user")
        return user


def count_users(ctx: Context) -> int:
    with ctx.reading() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


# ---------------------------------------------------------------- login and sessions


def authenticate(ctx: Context, *, email: str, password: str, client: str = "") -> User:
    """Check credentials; too many recent failures for this email or client are refused (429).

    Failures are kept in the database, so the limit holds across all app processes.
    """
    now = ctx.clock.now()
    address = (email or "").strip().lower()
    window_start = now - timedelta(seconds=ctx.settings.login_window_seconds)
    keys = [f"email:{address}", *([f"client:{client}"] if client else [])]
    with ctx.transaction() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.at < window_start))
        for key in keys:
            failures = session.scalars(
                select(LoginFailure.at)
                .where(LoginFailure.key == key, LoginFailure.at >= window_start)
                .order_by(LoginFailure.at)
            ).all()
            limit = ctx.settings.login_max_failures * (1 if key.startswith("email") else 4)
            if len(failures) >= limit:
                retry = failures[0] + timedelta(seconds=ctx.settings.login_window_seconds) - now
                raise TooManyRequests(
                    "too many failed log-ins; try again later",
                    retry_after=max(1, int(retry.total_seconds())),
                )
        user = session.scalar(select(User).where(User.email == address))
        ok = security.verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not user.is_active:
            for key in keys:
                session.add(LoginFailure(key=key, at=now))
            failed = True
        else:
            session.execute(delete(LoginFailure).where(LoginFailure.key == keys[0]))
            failed = False
    if failed:
        from fireline.errors import Unauthenticated

        raise Unauthenticated("wrong email or password")
    assert user is not None
    return user


@dataclass(frozen=True, slots=True)
class NewSession:
    cookie_value: str
    csrf_token: str
    expires_at: datetime


def start_session(ctx: Context, user: User) -> NewSession:
    now = ctx.clock.now()
    raw = security.new_token(SESSION_PREFIX)
    csrf = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=ctx.settings.session_hours)
    with ctx.transaction() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                token_hash=security.token_digest(raw),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=expires,
            )
        )
    return NewSession(cookie_value=raw, csrf_token=csrf, expires_at=expires)


def resolve_session(ctx: Context, cookie_value: str) -> tuple[User, WebSession] | None:
    if not cookie_value or not cookie_value.startswith(SESSION_PREFIX + "_"):
        return None
    now = ctx.clock.now()
    with ctx.reading() as session:
        row = session.scalar(
            select(WebSession).where(WebSession.token_hash == security.token_digest(cookie_value))
        )
        if row is None or row.expires_at <= now:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        return user, row


def end_session(ctx: Context, cookie_value: str) -> None:
    with ctx.transaction() as session:
        session.execute(
            delete(WebSession).where(WebSession.token_hash == security.token_digest(cookie_value))
        )


# ---------------------------------------------------------------- API tokens


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    secret: str


def create_token(
    ctx: Context,
    *,
    user_id: int | None = None,
    name: str = "api",
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Issue a personal API token; the secret is returned once and only its hash is kept.

    Users create tokens for themselves; admins may create them for anyone.
    """
    owner_id = user_id if user_id is not None else ctx.actor.user_id
    if owner_id is None:
        raise InvalidField("user", "a token must belong to a user")
    if owner_id != ctx.actor.user_id:
        ctx.actor.require(Role.ADMIN)
    label = (name or "").strip()
    if not label or len(label) > 120:
        raise InvalidField("name", "must be 1-120 characters")
    now = ctx.clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidField("expires_at", "must be in the future")
    secret = security.new_token(TOKEN_PREFIX)
    with ctx.transaction() as session:
        user = session.get(User, owner_id)
        if user is None or not user.is_active:
            raise InvalidField("user", f"no active user {owner_id}")
        token = ApiToken(
            user_id=owner_id,
            name=label,
            prefix=secret[:10],
            token_hash=security.token_digest(secret),
            created_at=now,
            expires_at=expires_at,
        )
        session.add(token)
        session.flush()
        ctx.audit(session, "token.create", "api_token", token.id, user_id=owner_id, name=label)
    return IssuedToken(token=token, secret=secret)


def resolve_token(ctx: Context, secret: str) -> User | None:
    """The active user owning a valid, unexpired, unrevoked token; else None."""
    if not secret.startswith(TOKEN_PREFIX + "_"):
        return None
    now = ctx.clock.now()
    with ctx.reading() as session:
        found = session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == security.token_digest(secret))
        ).first()
        if found is None:
            return None
        token, user = found
        if token.revoked_at is not None or not user.is_active:
            return None
        if token.expires_at is not None and token.expires_at <= now:
            return None
        stale = token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION
    if stale:
        _mark_token_used(ctx, token.id, now)
    return user


def _mark_token_used(ctx: Context, token_id: int, now: datetime) -> None:
    """Record when a token was last used, at most once per TOKEN_USE_RESOLUTION, so a busy
    client does not turn every read into a write."""
    with ctx.transaction() as session:
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                (ApiToken.last_used_at.is_(None))
                | (ApiToken.last_used_at <= now - TOKEN_USE_RESOLUTION),
            )
            .values(last_used_at=now)
        )


def list_tokens(ctx: Context, *, user_id: int | None = None) -> Sequence[ApiToken]:
    owner = user_id if user_id is not None else ctx.actor.user_id
    if owner != ctx.actor.user_id:
        ctx.actor.require(Role.ADMIN)
    with ctx.reading() as session:
        return session.scalars(
            select(ApiToken).where(ApiToken.user_id == owner).order_by(ApiToken.id.desc())
        ).all()


def revoke_token(ctx: Context, token_id: int) -> ApiToken:
    with ctx.transaction() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token {token_id}", field="token")
        if token.user_id != ctx.actor.user_id and not ctx.actor.role.at_least(Role.ADMIN):
            raise Forbidden("you can only revoke your own tokens")
        if token.revoked_at is None:
            token.revoked_at = ctx.clock.now()
            ctx.audit(session, "token.revoke", "api_token", token.id, user_id=token.user_id)
    return token
