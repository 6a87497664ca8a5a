from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.alert_grouping import Action, AlertEvent, Severity
from fireline.domain.alert_rules import (
    BucketState,
    FlapPolicy,
    MaintenanceWindow,
    Matcher,
    MatchOp,
    RoutingRule,
    Silence,
    active_maintenance,
    in_maintenance,
    is_flapping,
    is_silenced,
    matchers_from_object,
    matches_all,
    matching_silence,
    parse_matchers,
    parse_routing_rules,
    route,
    take_token,
)
from fireline.errors import InvalidField

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def event(
    labels: dict[str, str] | None = None,
    *,
    severity: Severity = Severity.ERROR,
    summary: str = "Disk full on db-1",
) -> AlertEvent:
    return AlertEvent(
        source="alertmanager",
        action=Action.TRIGGER,
        dedup_key="k",
        summary=summary,
        severity=severity,
        source_host="db-1",
        labels={"alertname": "DiskFull", "env": "prod"} if labels is None else labels,
    )


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('env="prod"', {"env": "prod"}, True),
        ("env=prod", {"env": "staging"}, False),
        ("env!=prod", {"env": "staging"}, True),
        ("env!=prod", {}, True),
        ("env=", {}, True),
        ("alertname=~Disk.*", {"alertname": "DiskFull"}, True),
        ("alertname=~Disk", {"alertname": "DiskFull"}, False),
        ("alertname!~Disk", {"alertname": "DiskFull"}, True),
        ('team=~"a|b"', {"team": "ab"}, False),
        ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
    ],
)
def test_matchers_follow_alertmanager_semantics(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    assert Matcher.parse(text).matches(labels) is expected


def test_invalid_regex_is_refused_naming_the_matcher() -> None:
    with pytest.raises(InvalidField) as caught:
        parse_matchers(["env=prod", {"name": "alertname", "op": "=~", "value": "(unclosed"}])
    assert caught.value.field == "matchers[1].value"
    assert "invalid regex" in caught.value.message


def test_malformed_matchers_are_refused() -> None:
    for bad in (["no operator"], [{"name": "x", "op": "==", "value": "y"}], [42], "env=prod"):
        with pytest.raises(InvalidField):
            parse_matchers(bad)
    with pytest.raises(InvalidField):
        Matcher("", MatchOp.EQ, "x")


def test_matchers_can_test_event_fields() -> None:
    (high,) = parse_matchers(["event.severity=~critical|error"])
    (summary,) = parse_matchers([{"name": "event.summary", "op": "=~", "value": ".*db-1"}])
    silence = Silence((high, summary), NOW - HOUR, NOW + HOUR)
    assert is_silenced(event(), [silence], now=NOW)
    assert not is_silenced(event(severity=Severity.INFO), [silence], now=NOW)


@given(
    labels=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=10),
    value=st.text(max_size=10),
    op=st.sampled_from(list(MatchOp)),
)
def test_matchers_never_raise_on_arbitrary_labels(
    labels: dict[str, str], value: str, op: MatchOp
) -> None:
    try:
        matcher = Matcher("alertname", op, value)
    except InvalidField:
        return
    assert matcher.matches(labels) in (True, False)


def test_silence_only_mutes_matching_alerts_while_active() -> None:
    (prod,) = parse_matchers(["env=prod"])
    silence = Silence((prod,), NOW, NOW + HOUR, reason="db migration", id=3)
    assert matching_silence(event(), [silence], now=NOW) == silence
    assert not is_silenced(event(), [silence], now=NOW - timedelta(seconds=1))
    assert not is_silenced(event(), [silence], now=NOW + HOUR)
    assert not is_silenced(event({"env": "dev"}), [silence], now=NOW)


def test_service_scoped_silence_applies_only_to_its_service() -> None:
    silence = Silence(parse_matchers(["env=prod"]), NOW - HOUR, NOW + HOUR, service_id=5)
    assert is_silenced(event(), [silence], now=NOW, service_id=5)
    assert not is_silenced(event(), [silence], now=NOW, service_id=6)


def test_silence_needs_matchers_and_a_forward_period() -> None:
    with pytest.raises(InvalidField) as caught:
        Silence((), NOW, NOW + HOUR)
    assert caught.value.field == "matchers"
    with pytest.raises(InvalidField):
        Silence(parse_matchers(["a=b"]), NOW, NOW)
    with pytest.raises(InvalidField):
        Silence(parse_matchers(["a=b"]), datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_maintenance_window_covers_only_its_service_and_period() -> None:
    windows = [
        MaintenanceWindow(1, NOW, NOW + HOUR, id=1),
        MaintenanceWindow(1, NOW, NOW + 2 * HOUR, id=2),
        MaintenanceWindow(2, NOW - 2 * HOUR, NOW - HOUR, id=3),
    ]
    assert in_maintenance(1, windows, now=NOW)
    assert not in_maintenance(1, windows, now=NOW + 2 * HOUR)
    assert not in_maintenance(2, windows, now=NOW)
    found = active_maintenance(1, windows, now=NOW + timedelta(minutes=5))
    assert found is not None and found.id == 2


def changes_every(minutes: int, count: int) -> list[datetime]:
    return [NOW - timedelta(minutes=minutes * i) for i in range(count)]


def test_alert_changing_state_four_times_in_30_minutes_is_flapping() -> None:
    assert is_flapping(changes_every(5, 4), now=NOW)
    assert not is_flapping(changes_every(5, 3), now=NOW)
    assert not is_flapping(changes_every(15, 4), now=NOW)
    assert not is_flapping([], now=NOW)


def test_flapping_stops_only_after_a_quiet_period() -> None:
    history = changes_every(5, 4)
    later = NOW + timedelta(minutes=20)
    assert not is_flapping(history, now=later)
    assert is_flapping(history, now=later, was_flapping=True)
    assert not is_flapping(history, now=NOW + timedelta(minutes=30), was_flapping=True)


def test_flap_policy_is_configurable_and_validated() -> None:
    policy = FlapPolicy(changes=2, window=timedelta(minutes=5))
    assert is_flapping(changes_every(1, 2), now=NOW, policy=policy)
    with pytest.raises(InvalidField):
        FlapPolicy(changes=1)


def test_first_matching_routing_rule_wins() -> None:
    rules = parse_routing_rules(
        [
            {"matchers": ["env=dev"], "drop": True},
            {"matchers": ["alertname=~Disk.*"], "route_to": 20},
            {"matchers": [], "route_to": 30},
        ]
    )
    outcome = route(event(), rules, default_service_id=10)
    assert (outcome.service_id, outcome.dropped, outcome.matched) == (20, False, (1,))
    dropped = route(event({"env": "dev"}), rules, default_service_id=10)
    assert dropped.dropped and dropped.matched == (0,)
    other = route(event({"alertname": "CPU"}), rules, default_service_id=10)
    assert other.service_id == 30


def test_continue_lets_later_rules_see_the_new_severity() -> None:
    rules = parse_routing_rules(
        [
            {"matchers": ["env=prod"], "set_severity": "critical", "continue": True},
            {"matchers": ["event.severity=critical"], "route_to": 99},
        ]
    )
    outcome = route(event(), rules, default_service_id=1)
    assert outcome.event.severity is Severity.CRITICAL
    assert outcome.service_id == 99
    assert outcome.matched == (0, 1)


def test_no_matching_rule_keeps_the_integration_service() -> None:
    rules = (RoutingRule(matchers=parse_matchers(["env=dev"]), route_to=2),)
    outcome = route(event(), rules, default_service_id=1)
    assert (outcome.service_id, outcome.dropped, outcome.matched) == (1, False, ())
    assert outcome.event == event()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([{"matchers": ["env=prod"]}], "rules[0]"),
        ([{"drop": True, "route_to": 3}], "rules[0].drop"),
        ([{"route_to": "x"}], "rules[0].route_to"),
        ([{"route_to": 1}, {"set_severity": "huge"}], "rules[1].set_severity"),
        ([{"route_to": 1, "matchers": ["a=~("]}], "rules[0].matchers[0].value"),
        ([{"route_to": 1, "continue": "yes"}], "rules[0].continue"),
        ("nope", "rules"),
    ],
)
def test_bad_routing_rules_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_routing_rules(raw)
    assert caught.value.field == field


def test_token_bucket_allows_a_burst_then_throttles_with_retry_after() -> None:
    state: BucketState | None = None
    for _ in range(5):
        allowed, state, retry = take_token(state, now=NOW, rate=1.0, burst=5)
        assert allowed and retry == 0
    decision = take_token(state, now=NOW, rate=1.0, burst=5)
    assert not decision.allowed
    assert decision.retry_after_seconds == pytest.approx(1.0)
    refilled = take_token(decision.state, now=NOW + timedelta(seconds=1), rate=1.0, burst=5)
    assert refilled.allowed


def test_token_bucket_never_exceeds_burst_and_ignores_clock_going_back() -> None:
    full = take_token(None, now=NOW, rate=10, burst=3)
    later = take_token(full.state, now=NOW + timedelta(hours=5), rate=10, burst=3)
    assert later.state.tokens == pytest.approx(2.0)
    back = take_token(later.state, now=NOW, rate=10, burst=3)
    assert back.state.tokens == pytest.approx(1.0)
    assert back.state.updated_at == NOW + timedelta(hours=5)


def test_token_bucket_refuses_nonsense_settings() -> None:
    with pytest.raises(InvalidField):
        take_token(None, now=NOW, rate=0, burst=1)
    with pytest.raises(InvalidField):
        take_token(None, now=NOW, rate=1, burst=2, cost=3)


@given(
    steps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=50),
    rate=st.floats(min_value=0.1, max_value=10),
    burst=st.integers(1, 20),
)
def test_token_bucket_admits_no_more_than_burst_plus_refill(
    steps: list[float], rate: float, burst: int
) -> None:
    state: BucketState | None = None
    now = NOW
    allowed = 0
    for step in steps:
        now += timedelta(seconds=step)
        decision = take_token(state, now=now, rate=rate, burst=burst)
        state = decision.state
        allowed += decision.allowed
        assert 0 <= state.tokens <= burst
        assert decision.allowed or decision.retry_after_seconds > 0
    elapsed = (now - NOW).total_seconds()
    assert allowed <= burst + elapsed * rate + 1e-6


@pytest.mark.parametrize(
    ("shorthand", "labels", "expected"),
    [
        ({"env": "prod"}, {"env": "prod"}, True),
        ({"env": "!prod"}, {"env": "prod"}, False),
        ({"env": "~stag.*"}, {"env": "staging"}, True),
        ({"env": "!~stag.*"}, {"env": "staging"}, False),
        ({"env": "!~stag.*"}, {"env": "prod"}, True),
    ],
)
def test_stored_matcher_shorthand_reads_as_alertmanager_matchers(
    shorthand: dict[str, str], labels: dict[str, str], expected: bool
) -> None:
    silence = Silence(
        matchers=matchers_from_object(shorthand), starts_at=NOW - HOUR, ends_at=NOW + HOUR
    )
    assert is_silenced(event(labels), [silence], now=NOW) is expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"env": "~("}, "matchers.env"),
        ({"env": 3}, "matchers.env"),
        (["env=prod"], "matchers"),
    ],
)
def test_bad_matcher_shorthand_names_the_entry(raw: object, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        matchers_from_object(raw)
    assert caught.value.field == field


def test_bare_severity_and_summary_match_event_fields_when_no_label_has_the_name() -> None:
    (info,) = matchers_from_object({"severity": "info"})
    assert matches_all([info], event({}, severity=Severity.INFO))
    assert not matches_all([info], event({"severity": "critical"}, severity=Severity.INFO))
    (summary,) = matchers_from_object({"summary": "~Disk.*"})
    assert matches_all([summary], event({}))
