"""Label matchers and integration routing rules (route to a service, set severity, drop).

Matchers are an object of label name -> expected value. A value starting with `~` is a
regular expression matched against the whole label value (`{"severity": "~warning|info"}`);
`!` negates an exact value (`{"env": "!prod"}`). The pseudo-labels `summary`, `severity` and
`source` match those fields of the alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from fireline.errors import InvalidField
from fireline.ingest.signals import Signal

MAX_MATCHERS = 30


@lru_cache(maxsize=1024)
def _pattern(expr: str) -> re.Pattern[str]:
    return re.compile(expr)


def check_matchers(raw: Any, *, field: str) -> None:
    """Raise InvalidField unless `raw` is a valid matcher object."""
    if not isinstance(raw, dict) or len(raw) > MAX_MATCHERS:
        raise InvalidField(field, f"must be an object of at most {MAX_MATCHERS} label matchers")
    for name, value in raw.items():
        if not isinstance(name, str) or not name or len(name) > 200:
            raise InvalidField(field, "label names are 1-200 characters")
        if not isinstance(value, str) or len(value) > 1000:
            raise InvalidField(f"{field}.{name}", "must be a string of at most 1000 characters")
        if value.startswith("~"):
            try:
                _pattern(value[1:])
            except re.error as exc:
                raise InvalidField(f"{field}.{name}", f"bad regular expression: {exc}") from None


def _value(signal: Signal, name: str) -> str | None:
    if name in signal.labels:
        return signal.labels[name]
    if name == "summary":
        return signal.summary
    if name == "severity":
        return signal.severity
    return None


def matches(matchers: Mapping[str, str], signal: Signal) -> bool:
    """True when every matcher holds for the signal (an empty matcher set matches all)."""
    for name, expected in matchers.items():
        actual = _value(signal, name)
        if expected.startswith("~"):
            if actual is None or _pattern(expected[1:]).fullmatch(actual) is None:
                return False
        elif expected.startswith("!"):
            if actual == expected[1:]:
                return False
        elif actual != expected:
            return False
    return True


def route(rules: Sequence[Mapping[str, Any]], signal: Signal) -> bool:
    """Apply the first matching rule to `signal` in place; return False when it is dropped."""
    for rule in rules:
        if matches(rule.get("match", {}), signal):
            if rule.get("drop"):
                return False
            if "service_id" in rule:
                signal.service_id = int(rule["service_id"])
            if "severity" in rule:
                signal.severity = str(rule["severity"])
            return True
    return True
