"""The problem lifecycle as a pure state machine.

A *problem* is the unknown cause behind one or more incidents (ITIL problem management).

    new -> investigating -> root cause identified -> known error -> resolved -> closed
           (steps may be skipped: e.g. investigating -> resolved, new -> root cause identified)
    resolved | closed  --reopen-->  investigating   (the fix did not hold: a matching incident)

Guards: identifying the root cause needs a root-cause statement; marking a known error needs a
workaround; resolving needs a description of the fix (or a linked change); reopening needs a
reason. `apply()`
never touches storage: it returns the new status and lifecycle timestamps, or raises
`InvalidTransition` listing the allowed actions (HTTP 409) or `InvalidField` naming the
missing input (HTTP 422).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fireline.errors import InvalidField, InvalidTransition


class Status(StrEnum):
    NEW = "new"
    INVESTIGATING = "investigating"
    ROOT_CAUSE_IDENTIFIED = "root_cause_identified"
    KNOWN_ERROR = "known_error"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Action(StrEnum):
    INVESTIGATE = "investigate"
    IDENTIFY_ROOT_CAUSE = "identify_root_cause"
    MARK_KNOWN_ERROR = "mark_known_error"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.NEW, Status.INVESTIGATING, Status.ROOT_CAUSE_IDENTIFIED, Status.KNOWN_ERROR}
)

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.INVESTIGATE: (frozenset({Status.NEW}), Status.INVESTIGATING),
    Action.IDENTIFY_ROOT_CAUSE: (
        frozenset({Status.NEW, Status.INVESTIGATING}),
        Status.ROOT_CAUSE_IDENTIFIED,
    ),
    Action.MARK_KNOWN_ERROR: (
        frozenset({Status.INVESTIGATING, Status.ROOT_CAUSE_IDENTIFIED}),
        Status.KNOWN_ERROR,
    ),
    Action.RESOLVE: (OPEN_STATUSES - {Status.NEW}, Status.RESOLVED),
    Action.CLOSE: (frozenset({Status.RESOLVED}), Status.CLOSED),
    Action.REOPEN: (frozenset({Status.RESOLVED, Status.CLOSED}), Status.INVESTIGATING),
}


@dataclass(frozen=True, slots=True)
class TransitionInput:
    """What the caller supplies with an action (only some actions use each field).

    `root_cause` is the statement, or the one already on record when marking a known error.
    """

    root_cause: str | None = None
    workaround: str | None = None
    fix_description: str | None = None
    reopen_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Timestamps:
    """When the problem was last resolved and closed (None while it is open)."""

    resolved_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a permitted action: the new status and the lifecycle timestamps."""

    status: Status
    timestamps: Timestamps


def allowed_actions(status: Status) -> list[Action]:
    """Actions permitted from `status`, in lifecycle order."""
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def apply(
    status: Status,
    action: Action,
    *,
    current: Timestamps,
    now: datetime,
    given: TransitionInput | None = None,
) -> Outcome:
    """Apply `action` to a problem in `status` at `now` (timezone-aware UTC).

    Raises InvalidTransition (with the allowed actions) if the action is not permitted from
    `status`; InvalidField naming the missing input when a guard fails: `root_cause` for
    identify_root_cause, `workaround` for mark_known_error, `fix_description` for resolve,
    `reopen_reason` for reopen. The guards exist so that a problem's record always says what
    was found and done at each step, which is what later readers of a known error need.
    """
    given = given or TransitionInput()
    sources, target = TRANSITIONS[action]
    if status not in sources:
        allowed = [a.value for a in allowed_actions(status)]
        listed = ", ".join(allowed) if allowed else "none"
        raise InvalidTransition(
            f"cannot {action.value} a problem that is {status.value}; allowed: {listed}",
            allowed=allowed,
        )
    required = _REQUIRED.get(action)
    if required is not None:
        field, message = required
        value = getattr(given, field)
        if not (value and value.strip()):
            raise InvalidField(field, message)
    return Outcome(status=target, timestamps=_stamp(action, current, now))


_REQUIRED: dict[Action, tuple[str, str]] = {
    Action.IDENTIFY_ROOT_CAUSE: ("root_cause", "identifying the root cause requires a statement"),
    Action.MARK_KNOWN_ERROR: ("workaround", "a known error requires a documented workaround"),
    Action.RESOLVE: ("fix_description", "resolving requires a description of the fix"),
    Action.REOPEN: ("reopen_reason", "reopening requires a reason, e.g. the recurring incident"),
}


def _stamp(action: Action, current: Timestamps, now: datetime) -> Timestamps:
    """Timestamps after `action`: resolve and close stamp `now`; reopen clears both."""
    if action is Action.REOPEN:
        return Timestamps()
    if action is Action.RESOLVE:
        return Timestamps(resolved_at=now, closed_at=None)
    if action is Action.CLOSE:
        return Timestamps(resolved_at=current.resolved_at or now, closed_at=now)
    return current
