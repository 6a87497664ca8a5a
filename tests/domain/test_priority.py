"""The impact x urgency priority matrix: derivation, overrides and validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.priority import (
    DEFAULT_MATRIX,
    Level,
    Priority,
    PriorityMatrix,
    resolve_priority,
)
from fireline.errors import InvalidField

matrices = st.fixed_dictionaries(
    {
        impact.value: st.fixed_dictionaries(
            {urgency.value: st.sampled_from([p.value for p in Priority]) for urgency in Level}
        )
        for impact in Level
    }
)


@given(matrices)
def test_every_cell_of_any_valid_matrix_derives_its_priority(
    raw: dict[str, dict[str, str]],
) -> None:
    matrix = PriorityMatrix.from_mapping(raw)
    assert matrix.to_mapping() == raw
    for impact in Level:
        for urgency in Level:
            decision = resolve_priority(matrix, impact=impact, urgency=urgency)
            assert decision.priority.value == raw[impact.value][urgency.value]
            assert decision.derived == decision.priority
            assert not decision.overridden


def test_default_matrix_gives_p1_for_high_high_and_p4_for_low_low() -> None:
    matrix = PriorityMatrix.default()
    assert matrix.lookup(Level.HIGH, Level.HIGH) is Priority.P1
    assert matrix.lookup(Level.LOW, Level.LOW) is Priority.P4


@given(
    st.sampled_from(Level),
    st.sampled_from(Level),
    st.sampled_from(Priority),
    st.sampled_from([None, "", "   "]),
)
def test_override_that_differs_needs_a_reason(
    impact: Level, urgency: Level, override: Priority, reason: str | None
) -> None:
    matrix = PriorityMatrix.default()
    derived = matrix.lookup(impact, urgency)
    if override == derived:
        decision = resolve_priority(
            matrix, impact=impact, urgency=urgency, override=override, override_reason=reason
        )
        assert decision.priority == derived and not decision.overridden
        return
    with pytest.raises(InvalidField) as info:
        resolve_priority(
            matrix, impact=impact, urgency=urgency, override=override, override_reason=reason
        )
    assert info.value.field == "priority_reason"


@given(st.sampled_from(Level), st.sampled_from(Level), st.sampled_from(Priority))
def test_override_with_reason_keeps_both_priorities(
    impact: Level, urgency: Level, override: Priority
) -> None:
    matrix = PriorityMatrix.default()
    decision = resolve_priority(
        matrix,
        impact=impact,
        urgency=urgency,
        override=override,
        override_reason="customer escalation",
    )
    assert decision.priority == override
    assert decision.derived == matrix.lookup(impact, urgency)
    assert decision.overridden == (override != decision.derived)


@given(matrices, st.sampled_from(Level), st.sampled_from(Level))
def test_matrix_with_a_gap_is_refused_naming_the_cell(
    raw: dict[str, dict[str, str]], impact: Level, urgency: Level
) -> None:
    del raw[impact.value][urgency.value]
    with pytest.raises(InvalidField) as info:
        PriorityMatrix.from_mapping(raw)
    assert info.value.field == f"matrix.{impact.value}.{urgency.value}"


@given(
    matrices,
    st.sampled_from(Level),
    st.sampled_from(Level),
    st.one_of(st.sampled_from(["P0", "P5", "p1", "", "high"]), st.none(), st.integers()),
)
def test_matrix_with_an_unknown_priority_is_refused_naming_the_cell(
    raw: dict[str, dict[str, str]], impact: Level, urgency: Level, bad: object
) -> None:
    raw[impact.value][urgency.value] = bad  # type: ignore[assignment]
    with pytest.raises(InvalidField) as info:
        PriorityMatrix.from_mapping(raw)
    assert info.value.field == f"matrix.{impact.value}.{urgency.value}"


def test_matrix_without_an_impact_row_is_refused_naming_the_row() -> None:
    raw = {k: dict(v) for k, v in DEFAULT_MATRIX.items() if k != "low"}
    with pytest.raises(InvalidField) as info:
        PriorityMatrix.from_mapping(raw)
    assert info.value.field == "matrix.low"


def test_matrix_with_an_unknown_impact_level_is_refused() -> None:
    raw = {**DEFAULT_MATRIX, "critical": dict(DEFAULT_MATRIX["high"])}
    with pytest.raises(InvalidField) as info:
        PriorityMatrix.from_mapping(raw)
    assert info.value.field == "matrix.critical"


def test_matrix_with_an_unknown_urgency_level_is_refused() -> None:
    raw = {k: dict(v) for k, v in DEFAULT_MATRIX.items()}
    raw["medium"]["critical"] = "P1"
    with pytest.raises(InvalidField) as info:
        PriorityMatrix.from_mapping(raw)
    assert info.value.field == "matrix.medium.critical"
