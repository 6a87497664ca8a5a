"""Application settings kept in the database (changed at run time by admins, audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fireline.domain.priority import PriorityMatrix
from fireline.domain.roles import Role
from fireline.store.models import AppSetting
from fireline.usecases.context import Context

PRIORITY_MATRIX = "priority_matrix"


def priority_matrix(session: Session) -> PriorityMatrix:
    row = session.get(AppSetting, PRIORITY_MATRIX)
    if row is None:
        return PriorityMatrix.default()
    return PriorityMatrix.from_mapping(row.value)


def get_priority_matrix(ctx: Context) -> PriorityMatrix:
    with ctx.reading() as session:
        return priority_matrix(session)


def set_priority_matrix(ctx: Context, raw: dict[str, Any]) -> PriorityMatrix:
    """Replace the impact x urgency matrix (admin); applies to priorities derived from now on."""
    ctx.actor.require(Role.ADMIN)
    matrix = PriorityMatrix.from_mapping(raw)
    now = ctx.clock.now()
    with ctx.transaction() as session:
        before = priority_matrix(session).to_mapping()
        row = session.get(AppSetting, PRIORITY_MATRIX)
        if row is None:
            session.add(AppSetting(key=PRIORITY_MATRIX, value=matrix.to_mapping(), updated_at=now))
        else:
            row.value = matrix.to_mapping()
            row.updated_at = now
        ctx.audit(
            session,
            "settings.priority_matrix",
            "setting",
            PRIORITY_MATRIX,
            before=before,
            after=matrix.to_mapping(),
        )
    return matrix
