from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.escalation import (
    EscalationLevel,
    EscalationState,
    Exhausted,
    Pending,
    Policy,
    Resolver,
    Step,
    Target,
    TargetKind,
    due_at,
    next_step,
    planned_levels,
    resolve_targets,
)
from fireline.errors import InvalidField

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4
PRIMARY, TEAM = 10, 20


def on_call(schedule_id: int, at: datetime) -> Sequence[int]:
    assert at.tzinfo is UTC
    return [BOB] if schedule_id == PRIMARY else []


def members(team_id: int) -> Sequence[int]:
    return [BOB, CAROL, DAVE] if team_id == TEAM else []


RESOLVER = Resolver(on_call=on_call, members=members)


def user(user_id: int) -> Target:
    return Target(TargetKind.USER, user_id)


POLICY = Policy(
    levels=(
        EscalationLevel((Target(TargetKind.SCHEDULE, PRIMARY),), delay_minutes=5),
        EscalationLevel((user(ALICE), Target(TargetKind.TEAM, TEAM)), delay_minutes=10),
    ),
    repeat=1,
)


def step(state: EscalationState | None, now: datetime, policy: Policy = POLICY) -> Step:
    outcome = next_step(policy, state, now=now, resolver=RESOLVER)
    assert isinstance(outcome, Step)
    return outcome


def test_start_pages_level_zero_and_schedules_the_next_step() -> None:
    first = step(None, T0)
    assert first.user_ids == (BOB,)
    assert first.state == EscalationState(level=0, round=0, started_at=T0, level_entered_at=T0)
    assert first.due_at == T0 + timedelta(minutes=5)


def test_unacknowledged_escalation_walks_levels_repeats_then_exhausts() -> None:
    now, state = T0, None
    seen: list[tuple[int, int, tuple[int, ...]]] = []
    while True:
        outcome = next_step(POLICY, state, now=now, resolver=RESOLVER)
        if isinstance(outcome, Exhausted):
            break
        assert isinstance(outcome, Step)
        seen.append((outcome.state.round, outcome.state.level, outcome.user_ids))
        state, now = outcome.state, outcome.due_at
    assert seen == [
        (0, 0, (BOB,)),
        (0, 1, (ALICE, BOB, CAROL, DAVE)),
        (1, 0, (BOB,)),
        (1, 1, (ALICE, BOB, CAROL, DAVE)),
    ]
    assert outcome == Exhausted(at=T0 + timedelta(minutes=30), rounds=2)
    assert [at for _, _, at in planned_levels(POLICY, started_at=T0)] == [
        T0 + timedelta(minutes=m) for m in (0, 5, 15, 20)
    ]


def test_early_call_is_pending_and_changes_nothing() -> None:
    first = step(None, T0)
    outcome = next_step(POLICY, first.state, now=T0 + timedelta(minutes=4), resolver=RESOLVER)
    assert outcome == Pending(due_at=T0 + timedelta(minutes=5))


def test_late_worker_enters_one_level_and_counts_the_delay_from_now() -> None:
    first = step(None, T0)
    late = T0 + timedelta(hours=2)
    second = step(first.state, late)
    assert second.state.level == 1 and second.state.level_entered_at == late
    assert second.due_at == late + timedelta(minutes=10)
    assert second.state.started_at == T0


def test_empty_schedule_is_reported_as_unresolved() -> None:
    empty = Target(TargetKind.SCHEDULE, 99)
    users, unresolved = resolve_targets([empty, user(ALICE), user(ALICE)], at=T0, resolver=RESOLVER)
    assert users == (ALICE,)
    assert unresolved == (empty,)


def test_state_beyond_a_shortened_policy_wraps_or_exhausts() -> None:
    stale = EscalationState(level=5, round=0, started_at=T0, level_entered_at=T0)
    assert due_at(POLICY, stale) == T0 + timedelta(minutes=10)
    wrapped = step(stale, T0 + timedelta(minutes=10))
    assert (wrapped.state.round, wrapped.state.level) == (1, 0)
    once = Policy(levels=POLICY.levels)
    assert isinstance(
        next_step(once, stale, now=T0 + timedelta(hours=1), resolver=RESOLVER), Exhausted
    )


def test_results_are_utc_even_for_other_zones() -> None:
    from zoneinfo import ZoneInfo

    first = step(None, T0.astimezone(ZoneInfo("Asia/Tokyo")))
    assert first.due_at.tzinfo is UTC and first.due_at == T0 + timedelta(minutes=5)
    with pytest.raises(InvalidField):
        next_step(POLICY, None, now=datetime(2026, 1, 1), resolver=RESOLVER)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Policy(levels=()), "levels"),
        (lambda: EscalationLevel((), delay_minutes=5), "levels.targets"),
        (lambda: EscalationLevel((user(1),), delay_minutes=0), "levels.delay_minutes"),
        (lambda: Policy(levels=POLICY.levels, repeat=-1), "repeat"),
    ],
)
def test_invalid_policies_are_refused(build: object, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


@given(
    delays=st.lists(st.integers(1, 120), min_size=1, max_size=5),
    repeat=st.integers(0, 3),
)
def test_an_unacknowledged_policy_pages_every_level_every_round(
    delays: list[int], repeat: int
) -> None:
    policy = Policy(
        levels=tuple(EscalationLevel((user(i),), delay_minutes=d) for i, d in enumerate(delays)),
        repeat=repeat,
    )
    now, state, steps = T0, None, 0
    while True:
        outcome = next_step(policy, state, now=now, resolver=RESOLVER)
        if isinstance(outcome, Exhausted):
            break
        assert isinstance(outcome, Step)
        assert outcome.due_at > now
        steps += 1
        state, now = outcome.state, outcome.due_at
    assert steps == len(delays) * (repeat + 1)
    assert outcome.at == T0 + timedelta(minutes=sum(delays) * (repeat + 1))
