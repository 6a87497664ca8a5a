from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.notification_rules import (
    ContactKind,
    ContactMethod,
    NotificationRule,
    Urgency,
    plan_deliveries,
    validate_email,
    validate_url,
)
from fireline.errors import InvalidField

PAGED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
EMAIL = ContactMethod(1, 7, ContactKind.EMAIL, " oncall@example.com ")
SLACK = ContactMethod(2, 7, ContactKind.SLACK, "https://hooks.slack.com/services/T/B/x")
HOOK = ContactMethod(3, 7, ContactKind.WEBHOOK, "http://127.0.0.1:8080/hook")
OFF = ContactMethod(4, 7, ContactKind.TEAMS, "https://example.com/teams", enabled=False)
METHODS = [EMAIL, SLACK, HOOK, OFF]


def test_rules_become_deliveries_sorted_by_due_time() -> None:
    rules = [
        NotificationRule(2, delay_minutes=5),
        NotificationRule(1),
        NotificationRule(3, delay_minutes=5),
    ]
    plan = plan_deliveries(rules, METHODS, PAGED, Urgency.HIGH)
    assert [(d.method.id, d.due_at) for d in plan] == [
        (1, PAGED),
        (2, PAGED + timedelta(minutes=5)),
        (3, PAGED + timedelta(minutes=5)),
    ]
    assert EMAIL.address == "oncall@example.com"


def test_urgency_filters_rules_and_disabled_methods_are_skipped() -> None:
    rules = [
        NotificationRule(1, urgency=Urgency.HIGH),
        NotificationRule(2, urgency=Urgency.LOW, delay_minutes=1),
        NotificationRule(3),
        NotificationRule(4),
    ]
    low = plan_deliveries(rules, METHODS, PAGED, Urgency.LOW)
    assert [d.method.id for d in low] == [3, 2]
    high = plan_deliveries(rules, METHODS, PAGED, Urgency.HIGH)
    assert [d.method.id for d in high] == [1, 3]


def test_duplicate_rules_plan_one_delivery_and_times_are_utc() -> None:
    paged = PAGED.astimezone(ZoneInfo("America/New_York"))
    plan = plan_deliveries([NotificationRule(1), NotificationRule(1)], METHODS, paged, Urgency.LOW)
    assert len(plan) == 1 and plan[0].due_at.tzinfo is UTC


def test_no_rules_means_an_empty_plan() -> None:
    assert plan_deliveries([], METHODS, PAGED, Urgency.HIGH) == []


def test_unknown_method_and_naive_time_are_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        plan_deliveries([NotificationRule(99)], METHODS, PAGED, Urgency.HIGH)
    assert caught.value.field == "contact_method_id"
    with pytest.raises(InvalidField):
        plan_deliveries([], METHODS, datetime(2026, 1, 1), Urgency.HIGH)
    with pytest.raises(InvalidField):
        NotificationRule(1, delay_minutes=-1)


@pytest.mark.parametrize(
    "address",
    ["a@b.co", "first.last+tag@sub.example.org", "o'brien@example.ie"],
)
def test_valid_emails(address: str) -> None:
    assert validate_email(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a b@example.com",
        "a@exa mple.com",
        "a..b@example.com",
        ".a@example.com",
        "a@-example.com",
        "a@example.com\nBcc: x@y.z",
        "x" * 65 + "@example.com",
    ],
)
def test_invalid_emails(address: str) -> None:
    with pytest.raises(InvalidField) as caught:
        ContactMethod(1, 1, ContactKind.EMAIL, address)
    assert caught.value.field == "address"


@pytest.mark.parametrize(
    "address",
    [
        "ftp://example.com/x",
        "javascript:alert(1)",
        "https://",
        "example.com/hook",
        "https://user:pw@example.com/",
        "https://exa mple.com/",
        "http://example.com:99999/",
    ],
)
def test_invalid_urls(address: str) -> None:
    for kind in (ContactKind.WEBHOOK, ContactKind.SLACK, ContactKind.TEAMS):
        with pytest.raises(InvalidField):
            ContactMethod(1, 1, kind, address)


def test_valid_url_is_kept() -> None:
    assert validate_url("https://example.com:8443/a?b=c") == "https://example.com:8443/a?b=c"


@given(delays=st.lists(st.integers(0, 1440), max_size=8), urgency=st.sampled_from(list(Urgency)))
def test_plan_is_sorted_and_never_before_the_page(delays: list[int], urgency: Urgency) -> None:
    rules = [NotificationRule(1 + i % 3, delay_minutes=d) for i, d in enumerate(delays)]
    plan = plan_deliveries(rules, METHODS, PAGED, urgency)
    assert plan == sorted(plan, key=lambda d: (d.due_at, d.method.id))
    assert all(d.due_at >= PAGED for d in plan)
    assert len({(d.method.id, d.due_at) for d in plan}) == len(plan)
