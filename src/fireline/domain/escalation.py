"""Escalation policies and a pure stepper that says who to page next and when.

A `Policy` is an ordered list of `EscalationLevel`s. Entering a level notifies its targets
(users, the people on call in a schedule, the members of a team); if nobody acknowledges within
the level's `delay_minutes`, the next level is entered. After the last level the whole policy runs
again, `repeat` more times, and then it is exhausted:

    level 0 ──delay──> level 1 ──delay──> … last ──delay──> (round + 1: level 0 …) … Exhausted

`next_step(policy, state, now=…, resolver=…)` performs one move and returns a `Step` (notify these
users now, call again at `due_at`), `Pending` (called too early) or `Exhausted`. The caller stores
`Step.state` and schedules a timer for `Step.due_at`; acknowledging simply stops calling. Targets
are turned into users through a `Resolver` of callbacks, so this module stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeAlias

from fireline.errors import InvalidField

UserId: TypeAlias = int


class TargetKind(StrEnum):
    USER = "user"
    SCHEDULE = "schedule"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class Target:
    """Something to page: a user, whoever is on call in a schedule, or a team's members."""

    kind: TargetKind
    id: int


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """Targets paged together; `delay_minutes` (>= 1) pass before the next level is entered."""

    targets: tuple[Target, ...]
    delay_minutes: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        if not self.targets:
            raise InvalidField("levels.targets", "a level needs at least one target")
        if self.delay_minutes < 1:
            raise InvalidField("levels.delay_minutes", "must be at least 1 minute")


@dataclass(frozen=True, slots=True)
class Policy:
    """Ordered levels; `repeat` is how many extra rounds follow the first (0 = run once).

    Raises `InvalidField("levels")` without levels and `InvalidField("repeat")` below 0.
    """

    levels: tuple[EscalationLevel, ...]
    repeat: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels:
            raise InvalidField("levels", "a policy needs at least one level")
        if self.repeat < 0:
            raise InvalidField("repeat", "must be 0 or more")

    @property
    def rounds(self) -> int:
        """Total number of passes through the levels (`repeat + 1`)."""
        return self.repeat + 1


@dataclass(frozen=True, slots=True)
class EscalationState:
    """Where a running escalation stands: the level last entered, in which round (from 0).

    `started_at` is when the escalation began and `level_entered_at` when `level` was entered;
    both are aware UTC instants.
    """

    level: int
    round: int
    started_at: datetime
    level_entered_at: datetime


@dataclass(frozen=True, slots=True)
class Resolver:
    """Callbacks that expand targets into user ids (the caller does the lookups).

    `on_call(schedule_id, at)` returns who is on call in that schedule at UTC `at`;
    `members(team_id)` returns the team's members.
    """

    on_call: Callable[[int, datetime], Sequence[UserId]]
    members: Callable[[int], Sequence[UserId]]


@dataclass(frozen=True, slots=True)
class Step:
    """Notify `user_ids` now; call `next_step` again at `due_at` unless acknowledged.

    `targets` are the level's targets; `unresolved` lists those that yielded nobody (an empty
    schedule or team), worth a timeline note. `user_ids` are de-duplicated, in target order.
    """

    state: EscalationState
    targets: tuple[Target, ...]
    user_ids: tuple[UserId, ...]
    unresolved: tuple[Target, ...]
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Pending:
    """Nothing to do yet: the current level's delay runs until `due_at`."""

    due_at: datetime


@dataclass(frozen=True, slots=True)
class Exhausted:
    """Every round of every level has been paged without acknowledgement, as of `at`."""

    at: datetime
    rounds: int


Outcome: TypeAlias = Step | Pending | Exhausted


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidField(field, "must be timezone-aware")
    return value.astimezone(UTC)


def resolve_targets(
    targets: Sequence[Target], *, at: datetime, resolver: Resolver
) -> tuple[tuple[UserId, ...], tuple[Target, ...]]:
    """Expand targets into (de-duplicated user ids in order, targets that yielded nobody)."""
    users: dict[UserId, None] = {}
    unresolved: list[Target] = []
    for target in targets:
        if target.kind is TargetKind.USER:
            found: Sequence[UserId] = (target.id,)
        elif target.kind is TargetKind.SCHEDULE:
            found = resolver.on_call(target.id, at)
        else:
            found = resolver.members(target.id)
        if not found:
            unresolved.append(target)
        users.update(dict.fromkeys(found))
    return tuple(users), tuple(unresolved)


def due_at(policy: Policy, state: EscalationState) -> datetime:
    """Return when the level in `state` times out (UTC).

    A level index beyond the policy (levels were removed while escalating) uses the last level.
    """
    level = policy.levels[min(state.level, len(policy.levels) - 1)]
    return state.level_entered_at + timedelta(minutes=level.delay_minutes)


def _enter(
    policy: Policy,
    *,
    level: int,
    round_: int,
    started_at: datetime,
    now: datetime,
    resolver: Resolver,
) -> Step:
    state = EscalationState(level=level, round=round_, started_at=started_at, level_entered_at=now)
    targets = policy.levels[level].targets
    users, unresolved = resolve_targets(targets, at=now, resolver=resolver)
    return Step(
        state=state,
        targets=targets,
        user_ids=users,
        unresolved=unresolved,
        due_at=due_at(policy, state),
    )


def next_step(
    policy: Policy, state: EscalationState | None, *, now: datetime, resolver: Resolver
) -> Outcome:
    """Advance an escalation by at most one level.

    With `state=None` the escalation starts at level 0, round 0. Before the current level's
    `due_at` it returns `Pending`; afterwards it enters the next level, wraps to level 0 of the
    next round while `repeat` allows, or returns `Exhausted`. A late call does not skip levels:
    the new level is entered at `now` and its delay counts from there. `now` must be aware
    (else `InvalidField("now")`); all returned instants are UTC.
    """
    now = _utc(now, "now")
    if state is None:
        return _enter(policy, level=0, round_=0, started_at=now, now=now, resolver=resolver)
    due = due_at(policy, state)
    if now < due:
        return Pending(due_at=due)
    level, round_ = state.level + 1, state.round
    if level >= len(policy.levels):
        level, round_ = 0, round_ + 1
    if round_ >= policy.rounds:
        return Exhausted(at=due, rounds=policy.rounds)
    return _enter(
        policy, level=level, round_=round_, started_at=state.started_at, now=now, resolver=resolver
    )


def planned_levels(policy: Policy, *, started_at: datetime) -> list[tuple[int, int, datetime]]:
    """Return `(round, level, entered_at)` for every level if nobody ever acknowledges.

    Assumes each step runs on time; shows "escalates to level 2 at 10:15" ahead of time.
    """
    at = _utc(started_at, "started_at")
    plan: list[tuple[int, int, datetime]] = []
    for round_ in range(policy.rounds):
        for index, level in enumerate(policy.levels):
            plan.append((round_, index, at))
            at += timedelta(minutes=level.delay_minutes)
    return plan
