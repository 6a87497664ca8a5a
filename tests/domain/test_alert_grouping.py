from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.alert_grouping import (
    MAX_GROUP_KEY,
    Action,
    AlertEvent,
    GroupingMode,
    GroupingRule,
    OpenGroup,
    Severity,
    SeverityMap,
    decide_group,
    derive_dedup_key,
    fold_groups,
    grouping_key,
    impact_urgency,
    new_dedup_key,
    normalise_severity,
    remap_severity,
)
from fireline.domain.priority import Level
from fireline.errors import InvalidField

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def event(
    dedup_key: str = "k1",
    *,
    labels: dict[str, str] | None = None,
    action: Action = Action.TRIGGER,
    severity: Severity = Severity.ERROR,
) -> AlertEvent:
    return AlertEvent(
        source="alertmanager",
        action=action,
        dedup_key=dedup_key,
        summary="disk full",
        severity=severity,
        labels=labels or {"alertname": "DiskFull", "cluster": "eu-1"},
    )


def storm(n: int) -> list[AlertEvent]:
    return [
        event(f"fp{i}", labels={"alertname": "NodeDown", "cluster": "eu-1", "instance": f"n{i}"})
        for i in range(n)
    ]


def test_derived_dedup_key_is_stable_and_ignores_label_order() -> None:
    a = derive_dedup_key("generic", {"a": "1", "b": "2"})
    assert a == derive_dedup_key("generic", {"b": "2", "a": "1"})
    assert len(a) == 64
    assert a != derive_dedup_key("grafana", {"a": "1", "b": "2"})
    assert a != derive_dedup_key("generic", {"a": "1", "b": "3"})


def test_fresh_dedup_keys_are_unique_32_hex() -> None:
    keys = {new_dedup_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys)


def test_event_refuses_blank_or_overlong_dedup_key() -> None:
    with pytest.raises(InvalidField) as caught:
        event("")
    assert caught.value.field == "dedup_key"
    with pytest.raises(InvalidField):
        event("x" * 256)


def test_event_refuses_naive_timestamps() -> None:
    with pytest.raises(InvalidField) as caught:
        replace(event(), occurred_at=datetime(2026, 1, 1))
    assert caught.value.field == "occurred_at"


def test_event_labels_are_read_only_and_event_is_hashable() -> None:
    e = event()
    with pytest.raises(TypeError):
        e.labels["x"] = "y"  # type: ignore[index]
    assert hash(e) == hash(event())
    assert e == event()


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Critical", Severity.CRITICAL),
        (" warn ", Severity.WARNING),
        ("P2", Severity.ERROR),
        ("informational", Severity.INFO),
        ("bogus", None),
        (None, None),
    ],
)
def test_common_severity_words_are_normalised(word: str | None, expected: Severity | None) -> None:
    assert normalise_severity(word) == expected


def test_dedup_mode_joins_only_the_group_of_the_same_key() -> None:
    rule = GroupingRule()
    first = decide_group(rule, event("a"), [], now=NOW)
    assert first.opens_new
    group = OpenGroup(id=1, key=first.key, opened_at=NOW)
    assert decide_group(rule, event("a"), [group], now=NOW).join == group
    assert decide_group(rule, event("b"), [group], now=NOW).opens_new


def test_refired_alert_keeps_its_group_in_dedup_mode() -> None:
    rule = GroupingRule()
    key = grouping_key(rule, event("25fd4baa08fdec7d"), now=NOW)
    group = OpenGroup(id=7, key=key, opened_at=NOW - timedelta(days=2))
    later = decide_group(rule, event("25fd4baa08fdec7d"), [group], now=NOW)
    assert later.join == group


def test_label_mode_groups_by_the_named_labels_only() -> None:
    rule = GroupingRule(mode=GroupingMode.LABELS, labels=("alertname", "cluster"))
    a = grouping_key(
        rule, event("1", labels={"alertname": "X", "cluster": "c", "pod": "1"}), now=NOW
    )
    b = grouping_key(
        rule, event("2", labels={"alertname": "X", "cluster": "c", "pod": "2"}), now=NOW
    )
    c = grouping_key(rule, event("3", labels={"alertname": "X", "cluster": "d"}), now=NOW)
    assert a == b != c


def test_label_values_with_separators_do_not_collide() -> None:
    rule = GroupingRule(mode=GroupingMode.LABELS, labels=("a", "b"))
    one = grouping_key(rule, event(labels={"a": "x,b=y", "b": ""}), now=NOW)
    two = grouping_key(rule, event(labels={"a": "x", "b": "y"}), now=NOW)
    assert one != two


def test_very_long_grouping_values_give_a_bounded_key() -> None:
    rule = GroupingRule(mode=GroupingMode.LABELS, labels=("a",))
    key = grouping_key(rule, event(labels={"a": "v" * 4000}), now=NOW)
    assert len(key) <= MAX_GROUP_KEY
    assert key == grouping_key(rule, event(labels={"a": "v" * 4000}), now=NOW)


@pytest.mark.parametrize(
    "rule",
    [
        GroupingRule(mode=GroupingMode.SERVICE),
        GroupingRule(mode=GroupingMode.LABELS, labels=("alertname", "cluster")),
        GroupingRule(mode=GroupingMode.TIME_WINDOW, window_minutes=10),
    ],
)
def test_storm_of_500_alerts_from_one_outage_opens_one_group(rule: GroupingRule) -> None:
    decisions = fold_groups(rule, storm(500), now=NOW)
    assert len(decisions) == 500
    assert sum(d.opens_new for d in decisions) == 1
    assert len({d.key for d in decisions}) == 1


def test_storm_in_dedup_mode_opens_one_group_per_alert() -> None:
    decisions = fold_groups(GroupingRule(), storm(20), now=NOW)
    assert sum(d.opens_new for d in decisions) == 20


def test_time_window_joins_recent_group_and_opens_after_the_window() -> None:
    rule = GroupingRule(mode=GroupingMode.TIME_WINDOW, window_minutes=15)
    recent = OpenGroup(id=1, key="window:x", opened_at=NOW - timedelta(minutes=14))
    old = OpenGroup(id=2, key="window:y", opened_at=NOW - timedelta(minutes=16))
    assert decide_group(rule, event(), [old, recent], now=NOW).join == recent
    assert decide_group(rule, event(), [old], now=NOW).opens_new


def test_resolves_are_not_grouped_in_a_batch() -> None:
    events = [event("a"), event("a", action=Action.RESOLVE)]
    assert len(fold_groups(GroupingRule(), events, now=NOW)) == 1


def test_grouping_rule_validates_its_settings() -> None:
    with pytest.raises(InvalidField) as caught:
        GroupingRule(mode=GroupingMode.LABELS)
    assert caught.value.field == "grouping.labels"
    with pytest.raises(InvalidField) as caught:
        GroupingRule(mode=GroupingMode.TIME_WINDOW, window_minutes=0)
    assert caught.value.field == "grouping.window_minutes"
    with pytest.raises(InvalidField) as caught:
        GroupingRule.from_mapping({"mode": "magic"})
    assert caught.value.field == "grouping.mode"
    with pytest.raises(InvalidField):
        GroupingRule.from_mapping({"mode": "time_window", "window_minutes": True})
    rule = GroupingRule.from_mapping({"mode": "labels", "labels": ["cluster", "alertname"]})
    assert rule.labels == ("alertname", "cluster")


def test_default_severity_map_matches_the_documented_table() -> None:
    assert impact_urgency(Severity.CRITICAL) == (Level.HIGH, Level.HIGH)
    assert impact_urgency(Severity.ERROR) == (Level.HIGH, Level.MEDIUM)
    assert impact_urgency(Severity.WARNING) == (Level.MEDIUM, Level.MEDIUM)
    assert impact_urgency(Severity.INFO) == (Level.LOW, Level.LOW)


def test_custom_severity_map_is_validated_and_used() -> None:
    raw = {
        "critical": {"impact": "high", "urgency": "high"},
        "error": {"impact": "medium", "urgency": "high"},
        "warning": {"impact": "low", "urgency": "low"},
        "info": {"impact": "low", "urgency": "low"},
    }
    custom = SeverityMap.from_mapping(raw)
    assert impact_urgency(Severity.ERROR, custom) == (Level.MEDIUM, Level.HIGH)
    with pytest.raises(InvalidField) as caught:
        SeverityMap.from_mapping({**raw, "error": {"impact": "huge", "urgency": "high"}})
    assert caught.value.field == "severity_map.error.impact"
    with pytest.raises(InvalidField) as caught:
        SeverityMap.from_mapping({k: v for k, v in raw.items() if k != "info"})
    assert caught.value.field == "severity_map.info"


groups_strategy = st.lists(
    st.builds(
        OpenGroup,
        id=st.integers(1, 10_000),
        key=st.sampled_from(["service", "dedup:a", "labels:x", "window:y"]),
        opened_at=st.integers(0, 120).map(lambda m: NOW - timedelta(minutes=m)),
    ),
    max_size=8,
    unique_by=lambda g: g.id,
)
rules_strategy = st.sampled_from(
    [
        GroupingRule(),
        GroupingRule(mode=GroupingMode.SERVICE),
        GroupingRule(mode=GroupingMode.LABELS, labels=("alertname",)),
        GroupingRule(mode=GroupingMode.TIME_WINDOW, window_minutes=30),
    ]
)


@given(rule=rules_strategy, groups=groups_strategy, data=st.data())
def test_grouping_decision_does_not_depend_on_candidate_order(
    rule: GroupingRule, groups: list[OpenGroup], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(groups))
    assert decide_group(rule, event("a"), groups, now=NOW) == decide_group(
        rule, event("a"), shuffled, now=NOW
    )


@given(
    labels=st.lists(
        st.dictionaries(st.sampled_from(["alertname", "instance"]), st.text(max_size=5)),
        min_size=1,
        max_size=40,
    ),
    data=st.data(),
)
def test_service_mode_yields_one_group_in_any_order(
    labels: list[dict[str, str]], data: st.DataObject
) -> None:
    events = [event(f"k{i}", labels=lab) for i, lab in enumerate(labels)]
    shuffled = data.draw(st.permutations(events))
    rule = GroupingRule(mode=GroupingMode.SERVICE)
    first = fold_groups(rule, events, now=NOW)
    second = fold_groups(rule, shuffled, now=NOW)
    assert {d.key for d in first} == {d.key for d in second} == {"service"}
    assert sum(d.opens_new for d in first) == sum(d.opens_new for d in second) == 1


def test_alerts_without_any_grouping_label_group_by_their_dedup_key() -> None:
    rule = GroupingRule(mode=GroupingMode.LABELS, labels=("alertname",))
    first = grouping_key(rule, event("pd-1", labels={"component": "db"}), now=NOW)
    second = grouping_key(rule, event("pd-2", labels={"component": "db"}), now=NOW)
    assert first != second
    assert first == grouping_key(rule, event("pd-1", labels={"team": "x"}), now=NOW)


def test_integration_severity_words_override_the_parsed_severity() -> None:
    custom = {"p1": Severity.CRITICAL, "error": Severity.WARNING}
    labelled = event("a", labels={"alertname": "X", "severity": "P1"})
    assert remap_severity(labelled, custom).severity is Severity.CRITICAL
    plain = replace(event("b", labels={}), severity=Severity.ERROR)
    assert remap_severity(plain, custom).severity is Severity.WARNING
    unknown = event("c", labels={"severity": "whatever"})
    assert remap_severity(unknown, custom) is unknown
