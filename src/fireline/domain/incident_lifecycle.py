"""The incident lifecycle as a pure state machine.

    triggered -> acknowledged -> investigating -> mitigated -> resolved -> closed
                 (responders may skip forward: e.g. triggered -> resolved)
    resolved | closed  --reopen-->  triggered
    any open status    --cancel-->  cancelled   (declared in error, or duplicate of another)

`apply()` checks an action against the current status and its guards and returns what must
change; it never touches storage. A refused action raises `InvalidTransition` carrying the
actions that *are* allowed, so the API can answer 409 with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fireline.errors import InvalidField, InvalidTransition


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    INVESTIGATE = "investigate"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    CANCEL = "cancel"


class CancelReason(StrEnum):
    ERROR = "error"
    DUPLICATE = "duplicate"


OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.MITIGATED}
)

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.ACKNOWLEDGE: (frozenset({Status.TRIGGERED}), Status.ACKNOWLEDGED),
    Action.INVESTIGATE: (frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED}), Status.INVESTIGATING),
    Action.MITIGATE: (
        frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING}),
        Status.MITIGATED,
    ),
    Action.RESOLVE: (OPEN_STATUSES, Status.RESOLVED),
    Action.CLOSE: (frozenset({Status.RESOLVED}), Status.CLOSED),
    Action.REOPEN: (frozenset({Status.RESOLVED, Status.CLOSED}), Status.TRIGGERED),
    Action.CANCEL: (OPEN_STATUSES, Status.CANCELLED),
}


@dataclass(frozen=True, slots=True)
class TransitionInput:
    """What the caller supplies with an action (only some actions use each field)."""

    resolution_summary: str | None = None
    service_stable: bool = False
    cancel_reason: CancelReason | None = None
    duplicate_of_id: int | None = None


@dataclass(frozen=True, slots=True)
class Timestamps:
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
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
    incident_id: int | None = None,
) -> Outcome:
    """Apply `action` to an incident in `status` at `now`.

    Raises InvalidTransition (with the allowed actions) if the action is not permitted from
    `status`, and InvalidField naming the missing input when a guard fails: closing needs a
    resolution summary and a confirmation that service is stable; cancelling as duplicate
    needs the other incident, which may not be the incident itself.
    """
    given = given or TransitionInput()
    sources, target = TRANSITIONS[action]
    if status not in sources:
        allowed = [a.value for a in allowed_actions(status)]
        listed = ", ".join(allowed) if allowed else "none"
        raise InvalidTransition(
            f"cannot {action.value} an incident that is {status.value}; allowed: {listed}",
            allowed=allowed,
        )
    if action is Action.CLOSE:
        if not (given.resolution_summary and given.resolution_summary.strip()):
            raise InvalidField("resolution_summary", "closing requires a resolution summary")
        if not given.service_stable:
            raise InvalidField("service_stable", "closing requires confirming service is stable")
    if action is Action.CANCEL:
        if given.cancel_reason is None:
            raise InvalidField("cancel_reason", "cancelling requires a reason: error or duplicate")
        if given.cancel_reason is CancelReason.DUPLICATE:
            if given.duplicate_of_id is None:
                raise InvalidField("duplicate_of", "a duplicate must name the original incident")
            if incident_id is not None and given.duplicate_of_id == incident_id:
                raise InvalidField("duplicate_of", "an incident cannot duplicate itself")
    return Outcome(status=target, timestamps=_stamp(action, current, now))


def _stamp(action: Action, current: Timestamps, now: datetime) -> Timestamps:
    """Lifecycle timestamps after `action`: first acknowledgement is kept; reopen clears ends."""
    if action is Action.REOPEN:
        return Timestamps(acknowledged_at=current.acknowledged_at)
    acknowledged = current.acknowledged_at
    if acknowledged is None and action is not Action.CANCEL:
        acknowledged = now  # any responder action ends the time-to-acknowledge clock
    mitigated = current.mitigated_at
    if action is Action.MITIGATE or (action is Action.RESOLVE and mitigated is None):
        mitigated = now
    resolved = now if action is Action.RESOLVE else current.resolved_at
    closed = now if action is Action.CLOSE else current.closed_at
    return Timestamps(
        acknowledged_at=acknowledged, mitigated_at=mitigated, resolved_at=resolved, closed_at=closed
    )
