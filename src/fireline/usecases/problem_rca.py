"""Root-cause analysis editing for problems: the structured RCA (5 whys, fishbone, contributing
factors, root-cause statement) is replaced whole and recorded on the timeline as a summary.

The shape and its validation live in `domain.rca`; the statement, when given, also becomes the
problem's `root_cause` (which satisfies the guard of "identify root cause").
"""

from __future__ import annotations

from typing import Any

from fireline.domain import rca as rca_rules
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind, JsonValue
from fireline.store.models.problems import Problem
from fireline.usecases import problems
from fireline.usecases.context import Context


def set_rca(
    ctx: Context, key: str | int, raw: dict[str, Any], *, expected_version: int | None = None
) -> Problem:
    """Replace the structured root-cause analysis (5 whys, fishbone, contributing factors,
    root-cause statement), validated by `domain.rca` (errors name paths such as
    `five_whys[2].answer`); the change is recorded on the timeline."""
    ctx.actor.require(Role.RESPONDER)
    stored = rca_rules.Rca.from_dict(raw).to_dict()
    with ctx.transaction() as session:
        problem = problems.get(session, key)
        problems.check_version(problem, expected_version)
        before = dict(problem.rca or {})
        if before == stored:
            return problem
        problem.rca = stored
        statement = stored.get("root_cause") or None
        if statement:
            problem.root_cause = str(statement)
        problem.updated_at = ctx.clock.now()
        changed = sorted(k for k in set(before) | set(stored) if before.get(k) != stored.get(k))
        problems.event(
            session,
            ctx,
            problem,
            EventKind.FIELD_CHANGED,
            data={
                "field": "rca",
                "parts": changed,
                "before": _rca_summary(before),
                "after": _rca_summary(stored),
            },
        )
        session.flush()
    return problem


def _rca_summary(rca: dict[str, Any]) -> dict[str, JsonValue]:
    fishbone = rca.get("fishbone") or {}
    causes = fishbone.values() if isinstance(fishbone, dict) else fishbone
    return {
        "whys": len(rca.get("five_whys") or []),
        "fishbone_causes": sum(len(c) if isinstance(c, list | dict) else 1 for c in causes),
        "contributing_factors": len(rca.get("contributing_factors") or []),
        "root_cause": rca.get("root_cause"),
    }
