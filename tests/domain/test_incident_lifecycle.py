"""Properties of the incident state machine: any sequence of actions keeps it consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.incident_lifecycle import (
    OPEN_STATUSES,
    Action,
    CancelReason,
    Outcome,
    Status,
    Timestamps,
    TransitionInput,
    allowed_actions,
    apply,
)
from fireline.errors import InvalidField, InvalidTransition

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

inputs = st.builds(
    TransitionInput,
    resolution_summary=st.one_of(st.none(), st.just(""), st.just("  "), st.just("Rolled back")),
    service_stable=st.booleans(),
    cancel_reason=st.one_of(st.none(), st.sampled_from(CancelReason)),
    duplicate_of_id=st.one_of(st.none(), st.just(1), st.just(2)),
)
steps = st.lists(
    st.tuples(st.sampled_from(Action), inputs, st.integers(min_value=0, max_value=3600)),
    max_size=40,
)


def _stamps(t: Timestamps) -> list[datetime | None]:
    return [t.acknowledged_at, t.mitigated_at, t.resolved_at, t.closed_at]


@given(steps)
def test_any_action_sequence_keeps_the_incident_consistent(
    sequence: list[tuple[Action, TransitionInput, int]],
) -> None:
    status, stamps, now = Status.TRIGGERED, Timestamps(), START
    for action, given_input, seconds in sequence:
        now += timedelta(seconds=seconds)
        try:
            outcome: Outcome = apply(
                status, action, current=stamps, now=now, given=given_input, incident_id=1
            )
        except InvalidTransition as exc:
            assert action not in allowed_actions(status)
            assert exc.allowed == allowed_actions(status)
            assert exc.field == "action"
            continue
        except InvalidField as exc:
            assert action in (Action.CLOSE, Action.CANCEL)
            assert exc.field in {
                "resolution_summary",
                "service_stable",
                "cancel_reason",
                "duplicate_of",
            }
            continue
        assert action in allowed_actions(status)
        assert isinstance(outcome.status, Status)
        if outcome.status is Status.CLOSED:
            assert status is Status.RESOLVED
        if action is Action.REOPEN:
            assert outcome.timestamps.resolved_at is None
            assert outcome.timestamps.closed_at is None
            assert outcome.timestamps.acknowledged_at == stamps.acknowledged_at
        if stamps.acknowledged_at is not None:
            assert outcome.timestamps.acknowledged_at == stamps.acknowledged_at
        present = [t for t in _stamps(outcome.timestamps) if t is not None]
        assert present == sorted(present), "lifecycle timestamps must be in order"
        assert all(START <= t <= now for t in present)
        if outcome.status is Status.RESOLVED:
            assert outcome.timestamps.resolved_at == now
        if outcome.status in OPEN_STATUSES:
            assert outcome.timestamps.resolved_at is None
        status, stamps = outcome.status, outcome.timestamps


@pytest.mark.parametrize("status", list(Status))
def test_refused_action_lists_exactly_the_allowed_actions(status: Status) -> None:
    refused = [a for a in Action if a not in allowed_actions(status)]
    for action in refused:
        with pytest.raises(InvalidTransition) as info:
            apply(status, action, current=Timestamps(), now=START)
        assert info.value.allowed == [a.value for a in allowed_actions(status)]
        assert info.value.status == 409


def test_closed_is_only_reachable_from_resolved() -> None:
    sources = [s for s in Status if Action.CLOSE in allowed_actions(s)]
    assert sources == [Status.RESOLVED]


def test_cancelled_incident_allows_no_action() -> None:
    assert allowed_actions(Status.CANCELLED) == []


def test_closing_needs_summary_and_stable_service() -> None:
    stamps = Timestamps(resolved_at=START)
    with pytest.raises(InvalidField) as info:
        apply(
            Status.RESOLVED,
            Action.CLOSE,
            current=stamps,
            now=START,
            given=TransitionInput(resolution_summary="  ", service_stable=True),
        )
    assert info.value.field == "resolution_summary"
    with pytest.raises(InvalidField) as info:
        apply(
            Status.RESOLVED,
            Action.CLOSE,
            current=stamps,
            now=START,
            given=TransitionInput(resolution_summary="done", service_stable=False),
        )
    assert info.value.field == "service_stable"


def test_incident_cannot_be_a_duplicate_of_itself() -> None:
    with pytest.raises(InvalidField) as info:
        apply(
            Status.TRIGGERED,
            Action.CANCEL,
            current=Timestamps(),
            now=START,
            given=TransitionInput(cancel_reason=CancelReason.DUPLICATE, duplicate_of_id=7),
            incident_id=7,
        )
    assert info.value.field == "duplicate_of"


def test_reopen_keeps_first_acknowledgement_and_clears_the_end() -> None:
    ack = START + timedelta(minutes=1)
    done = apply(
        Status.CLOSED,
        Action.REOPEN,
        now=START + timedelta(hours=1),
        current=Timestamps(acknowledged_at=ack, mitigated_at=ack, resolved_at=ack, closed_at=ack),
    )
    assert done.status is Status.TRIGGERED
    assert done.timestamps == Timestamps(acknowledged_at=ack)
