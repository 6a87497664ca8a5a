"""Reading the audit log of administrative actions (admins only)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from fireline.domain.roles import Role
from fireline.store.models import AuditEntry
from fireline.usecases.context import Context


def list_entries(
    ctx: Context,
    *,
    cursor: int | None = None,
    limit: int = 50,
    action: str | None = None,
    target_type: str | None = None,
    actor_id: int | None = None,
) -> tuple[Sequence[AuditEntry], int | None]:
    """Newest first, keyset-paginated by id; returns (entries, next cursor or None)."""
    ctx.actor.require(Role.ADMIN)
    query = select(AuditEntry)
    if cursor is not None:
        query = query.where(AuditEntry.id < cursor)
    if action:
        # "token" matches token.create and token.revoke; "token.create" only itself.
        query = query.where(
            (AuditEntry.action == action)
            | AuditEntry.action.startswith(f"{action}.", autoescape=True)
        )
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    with ctx.reading() as session:
        rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)
