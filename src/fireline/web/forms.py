"""Parse submitted HTML forms and list query strings into use-case inputs.

Forms arrive as flat strings; these functions turn them into drafts, change sets, transition
inputs and list filters, raising InvalidField (naming the form field) for values that cannot
be parsed, so the page can show the message next to the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import ImmutableMultiDict

from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain.priority import Level, Priority
from fireline.errors import InvalidField
from fireline.store.repos.incidents import IncidentFilters
from fireline.usecases import lookups
from fireline.usecases.context import Context
from fireline.usecases.incidents import IncidentDraft, Source

# Submitted forms (FormData) and query strings (QueryParams) share this read interface.
FormLike = ImmutableMultiDict[str, Any]


def text(form: FormLike, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def optional(form: FormLike, name: str) -> str | None:
    return text(form, name) or None


def many(form: FormLike, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def checked(form: FormLike, name: str) -> bool:
    return text(form, name).lower() in {"on", "true", "1", "yes"}


def values_of(
    form: FormLike, names: tuple[str, ...], multi: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Echo what was submitted, to refill a form shown again with an error."""
    echoed: dict[str, Any] = {name: text(form, name) for name in names}
    echoed.update({name: many(form, name) for name in multi})
    return echoed


def parse_labels(raw: str) -> dict[str, str]:
    """`key=value` per line (or comma separated) into a mapping; blank lines are ignored."""
    labels: dict[str, str] = {}
    for number, line in enumerate(raw.replace(",", "\n").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidField("labels", f"line {number}: use key=value")
        labels[key.strip()] = value.strip()
    return labels


def format_labels(labels: Mapping[str, str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in labels.items())


def level(form: FormLike, name: str) -> Level:
    value = text(form, name, Level.MEDIUM.value) or Level.MEDIUM.value
    try:
        return Level(value)
    except ValueError:
        raise InvalidField(name, "choose high, medium or low") from None


def priority_override(form: FormLike) -> tuple[Priority | None, str | None]:
    """The `priority` select ('auto' or P1-P4) and its `priority_reason`."""
    value = text(form, "priority", "auto")
    if value in ("", "auto"):
        return None, None
    try:
        chosen = Priority(value)
    except ValueError:
        raise InvalidField("priority", "choose automatic or P1 to P4") from None
    return chosen, optional(form, "priority_reason")


def incident_draft(form: FormLike) -> IncidentDraft:
    priority, reason = priority_override(form)
    return IncidentDraft(
        title=text(form, "title"),
        description=text(form, "description"),
        category=optional(form, "category"),
        services=many(form, "services"),
        impact=level(form, "impact"),
        urgency=level(form, "urgency"),
        priority=priority,
        priority_reason=reason,
        source=Source.MANUAL,
        commander=optional(form, "commander"),
        assignee=optional(form, "assignee"),
        team=optional(form, "team"),
        responders=many(form, "responders"),
        labels=parse_labels(text(form, "labels")),
    )


def incident_changes(form: FormLike) -> tuple[dict[str, Any], int | None]:
    """The edit form as a full change set (unchanged fields are no-ops) and its version."""
    priority, reason = priority_override(form)
    changes: dict[str, Any] = {
        "title": text(form, "title"),
        "description": text(form, "description"),
        "category": optional(form, "category"),
        "services": many(form, "services"),
        "impact": level(form, "impact").value,
        "urgency": level(form, "urgency").value,
        "priority": priority.value if priority else None,
        "priority_reason": reason,
        "commander": optional(form, "commander"),
        "assignee": optional(form, "assignee"),
        "team": optional(form, "team"),
        "responders": many(form, "responders"),
        "stakeholders": many(form, "stakeholders"),
        "labels": parse_labels(text(form, "labels")),
    }
    version = text(form, "version")
    return changes, int(version) if version.isdigit() else None


def transition_input(
    form: FormLike, action: lifecycle.Action
) -> tuple[lifecycle.TransitionInput, str | None]:
    """What the close and cancel forms add to an action, plus the duplicate's reference."""
    cancel_reason = None
    duplicate_of = None
    if action is lifecycle.Action.CANCEL:
        raw = text(form, "cancel_reason")
        if raw:
            try:
                cancel_reason = lifecycle.CancelReason(raw)
            except ValueError:
                raise InvalidField("cancel_reason", "choose error or duplicate") from None
        if cancel_reason is lifecycle.CancelReason.DUPLICATE:
            duplicate_of = optional(form, "duplicate_of")
            if duplicate_of is None:
                raise InvalidField("duplicate_of", "name the original incident, e.g. INC-12")
            duplicate_of = duplicate_of.upper() if not duplicate_of.isdigit() else duplicate_of
    given = lifecycle.TransitionInput(
        resolution_summary=optional(form, "resolution_summary"),
        service_stable=checked(form, "service_stable"),
        cancel_reason=cancel_reason,
    )
    return given, duplicate_of


# ---------------------------------------------------------------- list filters

RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
OPEN = "open"
ALL = "all"


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The incident list's filters exactly as they appear in the URL."""

    status: str = OPEN
    priority: str = ""
    service: str = ""
    team: str = ""
    category: str = ""
    label: str = ""
    q: str = ""
    range: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def from_params(cls, params: FormLike) -> ListQuery:
        fields = {name: text(params, name)[:200] for name in cls.__dataclass_fields__}
        if not fields["status"]:
            fields["status"] = OPEN
        return cls(**fields)

    def query_string(self) -> str:
        """Only the non-default filters, so shared links stay short."""
        pairs = {k: v for k, v in asdict(self).items() if v and not (k == "status" and v == OPEN)}
        return urlencode(pairs)

    @property
    def active(self) -> bool:
        return bool(self.query_string())

    def filters(self, ctx: Context, *, now: datetime) -> IncidentFilters:
        """Resolve names/ids to a repository filter; InvalidField names a bad filter."""
        if self.status == OPEN:
            statuses = [s.value for s in lifecycle.OPEN_STATUSES]
        elif self.status == ALL:
            statuses = []
        else:
            try:
                statuses = [lifecycle.Status(self.status).value]
            except ValueError:
                raise InvalidField("status", f"unknown status {self.status!r}") from None
        priorities: list[str] = []
        if self.priority:
            try:
                priorities = [Priority(self.priority.upper()).value]
            except ValueError:
                raise InvalidField("priority", "choose P1 to P4") from None
        labels: list[tuple[str, str]] = []
        if self.label:
            key, sep, value = self.label.partition("=")
            if not sep or not key.strip():
                raise InvalidField("label", "use key=value")
            labels.append((key.strip(), value.strip()))
        created_after = now - RANGES[self.range] if self.range in RANGES else None
        created_before = None
        if self.since:
            created_after = _day(self.since, "since")
        if self.until:
            created_before = _day(self.until, "until") + timedelta(days=1)
        with ctx.reading() as session:
            service_ids = (
                [lookups.service(session, self.service, field="service").id]
                if (self.service)
                else []
            )
            team_ids = [lookups.team(session, self.team, field="team").id] if self.team else []
            category_ids = (
                [lookups.category(session, self.category, field="category").id]
                if self.category
                else []
            )
        return IncidentFilters(
            statuses=statuses,
            priorities=priorities,
            service_ids=service_ids,
            team_ids=team_ids,
            category_ids=category_ids,
            labels=labels,
            created_after=created_after,
            created_before=created_before,
            text=self.q or None,
        )


def _day(value: str, name: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time(0, 0), tzinfo=UTC)
    except ValueError:
        raise InvalidField(name, "use a date such as 2026-03-02") from None
