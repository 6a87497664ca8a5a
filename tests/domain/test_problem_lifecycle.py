"""The problem state machine: order of steps, guards that name the missing input, reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.problem_lifecycle import (
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    Status,
    Timestamps,
    TransitionInput,
    allowed_actions,
    apply,
)
from fireline.errors import InvalidField, InvalidTransition

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FULL = TransitionInput(
    root_cause="Pool too small",
    workaround="Restart the pool",
    fix_description="Pool sized from load test",
    reopen_reason="INC-9 recurred",
)


def test_full_lifecycle_from_new_to_closed_and_reopen() -> None:
    status, stamps = Status.NEW, Timestamps()
    path = [
        (Action.INVESTIGATE, Status.INVESTIGATING),
        (Action.IDENTIFY_ROOT_CAUSE, Status.ROOT_CAUSE_IDENTIFIED),
        (Action.MARK_KNOWN_ERROR, Status.KNOWN_ERROR),
        (Action.RESOLVE, Status.RESOLVED),
        (Action.CLOSE, Status.CLOSED),
        (Action.REOPEN, Status.INVESTIGATING),
    ]
    for minute, (action, expected) in enumerate(path):
        now = START + timedelta(minutes=minute)
        outcome = apply(status, action, current=stamps, now=now, given=FULL)
        assert outcome.status is expected
        status, stamps = outcome.status, outcome.timestamps
        if action is Action.RESOLVE:
            assert stamps == Timestamps(resolved_at=now, closed_at=None)
        if action is Action.CLOSE:
            assert stamps.resolved_at == START + timedelta(minutes=3)
            assert stamps.closed_at == now
    assert stamps == Timestamps()


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.NEW, Action.MARK_KNOWN_ERROR),
        (Status.NEW, Action.RESOLVE),
        (Status.NEW, Action.CLOSE),
        (Status.INVESTIGATING, Action.CLOSE),
        (Status.KNOWN_ERROR, Action.IDENTIFY_ROOT_CAUSE),
        (Status.RESOLVED, Action.INVESTIGATE),
        (Status.CLOSED, Action.RESOLVE),
        (Status.INVESTIGATING, Action.REOPEN),
    ],
)
def test_out_of_order_action_is_refused_with_the_allowed_ones(
    status: Status, action: Action
) -> None:
    with pytest.raises(InvalidTransition) as caught:
        apply(status, action, current=Timestamps(), now=START, given=FULL)
    assert caught.value.field == "action"
    assert caught.value.allowed == [a.value for a in allowed_actions(status)]
    assert status.value in caught.value.message


@pytest.mark.parametrize(
    ("status", "action", "field"),
    [
        (Status.INVESTIGATING, Action.IDENTIFY_ROOT_CAUSE, "root_cause"),
        (Status.ROOT_CAUSE_IDENTIFIED, Action.MARK_KNOWN_ERROR, "workaround"),
        (Status.KNOWN_ERROR, Action.RESOLVE, "fix_description"),
        (Status.RESOLVED, Action.REOPEN, "reopen_reason"),
    ],
)
def test_guard_names_the_missing_input(status: Status, action: Action, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        apply(status, action, current=Timestamps(), now=START, given=TransitionInput())
    assert caught.value.field == field
    blank = TransitionInput(**{field: "   "})
    with pytest.raises(InvalidField):
        apply(status, action, current=Timestamps(), now=START, given=blank)


statuses = st.sampled_from(Status)
actions = st.lists(st.sampled_from(Action), max_size=25)


@given(start=statuses, steps=actions)
def test_any_sequence_of_actions_keeps_status_and_timestamps_consistent(
    start: Status, steps: list[Action]
) -> None:
    status, stamps = start, Timestamps()
    now = START
    for action in steps:
        now += timedelta(minutes=5)
        sources, target = TRANSITIONS[action]
        try:
            outcome = apply(status, action, current=stamps, now=now, given=FULL)
        except InvalidTransition as refused:
            assert status not in sources
            assert action.value not in refused.allowed
            continue
        assert status in sources
        assert outcome.status is target
        status, stamps = outcome.status, outcome.timestamps
        if status in OPEN_STATUSES:
            assert stamps.resolved_at is None and stamps.closed_at is None
        if status is Status.RESOLVED:
            assert stamps.resolved_at == now and stamps.closed_at is None
        if status is Status.CLOSED:
            assert stamps.closed_at == now
            assert stamps.resolved_at is not None and stamps.resolved_at <= now


@given(status=statuses)
def test_every_status_can_eventually_be_closed(status: Status) -> None:
    """No dead ends: from any status some sequence of allowed actions reaches closed."""
    seen = {status}
    frontier = [status]
    while frontier:
        current = frontier.pop()
        for action in allowed_actions(current):
            target = TRANSITIONS[action][1]
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert Status.CLOSED in seen
