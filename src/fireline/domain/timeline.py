"""Timeline event kinds and the field diff recorded for every change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]


class EventKind(StrEnum):
    CREATED = "created"
    FIELD_CHANGED = "field_changed"
    STATUS_CHANGED = "status_changed"
    PRIORITY_OVERRIDDEN = "priority_overridden"
    NOTE = "note"
    STATUS_UPDATE = "status_update"
    ROLE_CHANGED = "role_changed"
    LINKED = "linked"
    ALERT_ATTACHED = "alert_attached"
    ALERT_RESOLVED = "alert_resolved"
    NOTIFICATION = "notification"
    ESCALATION = "escalation"
    KNOWN_ERROR_MATCHED = "known_error_matched"
    IMPORTED = "imported"
    CHANGE_EVENT = "change_event"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: JsonValue
    after: JsonValue


def diff(before: Mapping[str, JsonValue], after: Mapping[str, JsonValue]) -> list[FieldChange]:
    """Field changes from `before` to `after`, over the keys of `after`, in key order.

    Lists are compared as sets when their items are scalars, so reordering a list of labels
    or responders is not a change.
    """
    changes: list[FieldChange] = []
    for field in after:
        old, new = before.get(field), after[field]
        if _same(old, new):
            continue
        changes.append(FieldChange(field=field, before=old, after=new))
    return changes


def _same(old: JsonValue, new: JsonValue) -> bool:
    if isinstance(old, list) and isinstance(new, list):
        try:
            return sorted(map(repr, old)) == sorted(map(repr, new))
        except TypeError:
            return old == new
    return old == new
