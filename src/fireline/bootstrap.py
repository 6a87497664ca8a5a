"""First run: migrate the database and make sure someone can log in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Engine

from fireline.clock import SystemClock
from fireline.config import Settings
from fireline.domain.roles import Role
from fireline.store import migrate
from fireline.store.db import make_session_factory
from fireline.usecases import identity
from fireline.usecases.context import Context


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    email: str
    password: str


def prepare(
    settings: Settings, engine: Engine, *, admin_email: str = "admin@example.com"
) -> FirstAdmin | None:
    """Migrate to head; on an empty database create an admin and return its one-time password."""
    migrate.upgrade(engine)
    ctx = Context(sessions=make_session_factory(engine), clock=SystemClock(), settings=settings)
    if identity.count_users(ctx) > 0:
        return None
    password = secrets.token_urlsafe(12)
    identity.create_user(ctx, email=admin_email, name="Admin", role=Role.ADMIN, password=password)
    return FirstAdmin(email=admin_email, password=password)
