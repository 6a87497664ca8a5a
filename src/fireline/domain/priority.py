"""Impact x urgency -> priority (ITIL style P1 to P4).

The matrix is configurable: `PriorityMatrix.from_mapping()` validates a mapping such as
`{"high": {"high": "P1", ...}, ...}` (impact first, then urgency) and refuses gaps.
A manual override needs a reason; `resolve_priority()` enforces that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from fireline.errors import InvalidField


class Level(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """1 for P1 (most urgent) to 4."""
        return int(self.value[1])


DEFAULT_MATRIX: dict[str, dict[str, str]] = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P4"},
}


@dataclass(frozen=True, slots=True)
class PriorityMatrix:
    cells: Mapping[tuple[Level, Level], Priority]

    @classmethod
    def default(cls) -> PriorityMatrix:
        return cls.from_mapping(DEFAULT_MATRIX)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Mapping[str, str]]) -> PriorityMatrix:
        """Validate `raw[impact][urgency] = "P1".."P4"`; every cell must be present."""
        cells: dict[tuple[Level, Level], Priority] = {}
        for impact in Level:
            row = raw.get(impact.value)
            if not isinstance(row, Mapping):
                raise InvalidField(f"matrix.{impact.value}", "missing impact row")
            for urgency in Level:
                value = row.get(urgency.value)
                try:
                    cells[(impact, urgency)] = Priority(str(value))
                except ValueError:
                    raise InvalidField(
                        f"matrix.{impact.value}.{urgency.value}",
                        f"must be one of P1, P2, P3, P4, not {value!r}",
                    ) from None
            unknown = set(row) - {level.value for level in Level}
            if unknown:
                raise InvalidField(
                    f"matrix.{impact.value}.{sorted(map(str, unknown))[0]}",
                    "unknown urgency level",
                )
        extra = set(raw) - {level.value for level in Level}
        if extra:
            raise InvalidField(f"matrix.{sorted(extra)[0]}", "unknown impact level")
        return cls(cells=cells)

    def lookup(self, impact: Level, urgency: Level) -> Priority:
        return self.cells[(impact, urgency)]

    def to_mapping(self) -> dict[str, dict[str, str]]:
        return {
            impact.value: {u.value: self.cells[(impact, u)].value for u in Level}
            for impact in Level
        }


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    priority: Priority
    derived: Priority
    override_reason: str | None

    @property
    def overridden(self) -> bool:
        return self.override_reason is not None


def resolve_priority(
    matrix: PriorityMatrix,
    *,
    impact: Level,
    urgency: Level,
    override: Priority | None = None,
    override_reason: str | None = None,
) -> PriorityDecision:
    """Derive the priority; an override differing from the derived value needs a reason."""
    derived = matrix.lookup(impact, urgency)
    if override is None or override == derived:
        return PriorityDecision(priority=derived, derived=derived, override_reason=None)
    if not (override_reason and override_reason.strip()):
        raise InvalidField("priority_reason", "overriding the derived priority needs a reason")
    return PriorityDecision(priority=override, derived=derived, override_reason=override_reason)
