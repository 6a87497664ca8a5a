"""Human references such as `INC-42` and `PRB-7`: format and parse."""

from __future__ import annotations

import re

INCIDENT_PREFIX = "INC"
PROBLEM_PREFIX = "PRB"

_REF = re.compile(r"^\s*([A-Za-z]{2,6})-(\d{1,12})\s*$")


def format_ref(prefix: str, number: int) -> str:
    """`format_ref("INC", 42)` -> `"INC-42"`."""
    return f"{prefix}-{number}"


def parse_ref(text: str, *, prefix: str) -> int | None:
    """Return the number of a reference with the given prefix (case-insensitive), else None."""
    match = _REF.match(text)
    if match is None or match.group(1).upper() != prefix.upper():
        return None
    return int(match.group(2))
