"""What every use case needs: sessions, the clock, settings and who is acting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from fireline.clock import Clock
from fireline.config import Settings
from fireline.domain.roles import Role
from fireline.errors import Conflict, Forbidden, StaleUpdate
from fireline.store.repos import audit


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action: a user, or the system/an integration (user_id None)."""

    user_id: int | None
    label: str
    role: Role

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(user_id=None, label=label, role=Role.ADMIN)

    def require(self, role: Role) -> None:
        if not self.role.at_least(role):
            raise Forbidden(f"this needs the {role.value} role; you are {self.role.value}")


@dataclass(frozen=True, slots=True)
class Context:
    sessions: sessionmaker[Session]
    clock: Clock
    settings: Settings
    actor: Actor = field(default_factory=Actor.system)

    def as_actor(self, actor: Actor) -> Context:
        return replace(self, actor=actor)

    def audit(
        self, session: Session, action: str, target_type: str, target_id: str | int, **data: Any
    ) -> None:
        """Append an admin action by this actor, now, to the audit log, in `session`."""
        audit.record(
            session,
            at=self.clock.now(),
            actor_id=self.actor.user_id,
            actor_label=self.actor.label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            data=data,
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on any error.

        Unique-constraint and optimistic-lock failures become Conflict/StaleUpdate so no
        interface ever answers 500 for them.
        """
        session = self.sessions()
        try:
            yield session
            session.commit()
        except StaleDataError as exc:
            session.rollback()
            raise StaleUpdate("the record was changed by someone else; reload and retry") from exc
        except IntegrityError as exc:
            session.rollback()
            raise Conflict(f"conflicts with existing data: {_constraint(exc)}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session.

        SQLite: a deferred transaction, so it never blocks writers and its reads share one
        snapshot. PostgreSQL: autocommit, so a read costs no BEGIN and ROLLBACK round trips.
        Under READ COMMITTED every statement takes its own snapshot inside a transaction too,
        so nothing is lost; writes belong in `transaction()`.
        """
        session = self.sessions()
        bind = session.get_bind()
        if bind.dialect.name == "sqlite":
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        else:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        try:
            yield session
        finally:
            # close() ends the transaction without expiring loaded rows (rollback() would),
            # so callers may keep using what they read.
            session.close()


def _constraint(exc: IntegrityError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.splitlines()[0][:200]
