"""Personal notification rules: how and when a paged user is contacted.

Each user owns `ContactMethod`s (an e-mail address, a signed webhook, a Slack or Teams incoming
webhook) and `NotificationRule`s ("e-mail me at once, post to Slack after 5 minutes, only for
high urgency"). When the user is paged, `plan_deliveries()` turns the rules into
`PlannedDelivery`s (method, due_at) that the caller writes to the outbox; acknowledging cancels
the ones not yet sent. Addresses are validated here so a bad one is refused when it is saved,
not when someone is paged at 3 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from fireline.errors import InvalidField

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z"
)


class ContactKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"


class Urgency(StrEnum):
    HIGH = "high"
    LOW = "low"


def validate_email(address: str, *, field: str = "address") -> str:
    """Return `address` stripped if it looks like `local@domain.tld`, else raise `InvalidField`.

    Deliberately a syntax check only (no quoted local parts, no IP literals); whether the mailbox
    exists is learned from a test message.
    """
    value = address.strip()
    local = value.rsplit("@", 1)[0]
    if len(value) > 254 or len(local) > 64 or ".." in local or not _EMAIL.match(value):
        raise InvalidField(field, "must be an e-mail address such as name@example.com")
    if local.startswith(".") or local.endswith("."):
        raise InvalidField(field, "must be an e-mail address such as name@example.com")
    return value


def validate_url(address: str, *, field: str = "address") -> str:
    """Return `address` stripped if it is an absolute http(s) URL with a host, else raise.

    Raises `InvalidField(field)`. Credentials in the URL and whitespace are refused. Whether the
    host is allowed (SSRF rules) is decided by the sender, which knows the network policy.
    """
    value = address.strip()
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise InvalidField(field, "must be an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise InvalidField(field, "must be an http(s) URL")
    if parts.username is not None or any(c.isspace() for c in value) or len(value) > 2000:
        raise InvalidField(field, "must be an http(s) URL without credentials or spaces")
    return value


@dataclass(frozen=True, slots=True)
class ContactMethod:
    """Where to reach a user; `address` is an e-mail for EMAIL, an http(s) URL otherwise.

    Raises `InvalidField("address")` for a malformed address. Disabled methods are never planned.
    """

    id: int
    user_id: int
    kind: ContactKind
    address: str
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.kind is ContactKind.EMAIL:
            address = validate_email(self.address)
        else:
            address = validate_url(self.address)
        object.__setattr__(self, "address", address)


@dataclass(frozen=True, slots=True)
class NotificationRule:
    """Use contact method `contact_method_id` `delay_minutes` (>= 0) after being paged.

    `urgency=None` applies to every page; otherwise only to pages of that urgency.
    """

    contact_method_id: int
    delay_minutes: int = 0
    urgency: Urgency | None = None

    def __post_init__(self) -> None:
        if self.delay_minutes < 0:
            raise InvalidField("delay_minutes", "must be 0 or more")


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """Send to `method` at `due_at` (UTC)."""

    method: ContactMethod
    due_at: datetime


def plan_deliveries(
    rules: Sequence[NotificationRule],
    methods: Sequence[ContactMethod],
    paged_at: datetime,
    urgency: Urgency,
) -> list[PlannedDelivery]:
    """Return the deliveries for one page, sorted by `due_at`, then method id.

    Rules for the other urgency and disabled methods are skipped; the same method at the same
    time is planned once. No matching rule means an empty plan (the caller may fall back to a
    default). Raises `InvalidField("paged_at")` if naive and `InvalidField("contact_method_id")`
    if a rule names a method not in `methods`.
    """
    if paged_at.tzinfo is None or paged_at.utcoffset() is None:
        raise InvalidField("paged_at", "must be timezone-aware")
    paged_at = paged_at.astimezone(UTC)
    by_id = {method.id: method for method in methods}
    planned: dict[tuple[int, datetime], PlannedDelivery] = {}
    for rule in rules:
        method = by_id.get(rule.contact_method_id)
        if method is None:
            raise InvalidField(
                "contact_method_id", f"unknown contact method {rule.contact_method_id}"
            )
        if not method.enabled or (rule.urgency is not None and rule.urgency != urgency):
            continue
        due = paged_at + timedelta(minutes=rule.delay_minutes)
        planned.setdefault((method.id, due), PlannedDelivery(method=method, due_at=due))
    return sorted(planned.values(), key=lambda d: (d.due_at, d.method.id))
