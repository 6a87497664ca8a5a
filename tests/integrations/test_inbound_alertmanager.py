from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.alert_grouping import MAX_SUMMARY, Action, AlertEvent, Severity
from fireline.errors import InvalidField
from fireline.integrations.inbound import InvalidEvent
from fireline.integrations.inbound.alertmanager import parse_alertmanager

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def test_firing_webhook_triggers_one_event_per_alert() -> None:
    (event,) = parse_alertmanager(load("firing.json"), raw_size=1377)
    assert event.source == "alertmanager"
    assert event.action is Action.TRIGGER
    assert event.dedup_key == "25fd4baa08fdec7d"
    assert event.fingerprint == "25fd4baa08fdec7d"
    assert event.summary == "Bench alert from real Prometheus (value 1)"
    assert event.severity is Severity.CRITICAL
    assert event.labels["team"] == "payments"
    assert event.annotations["runbook_url"] == "https://runbooks.example.invalid/bench"
    assert event.starts_at == datetime(2026, 11, 23, 0, 0, 39, 648000, tzinfo=UTC)
    assert event.occurred_at == event.starts_at
    assert event.raw_size == 1377
    assert [link.text for link in event.links] == ["Source", "Runbook"]


def test_firing_alert_has_no_end_time() -> None:
    (event,) = parse_alertmanager(load("firing.json"))
    assert event.ends_at is None


def test_resolved_webhook_resolves_with_its_end_time() -> None:
    (event,) = parse_alertmanager(load("resolved.json"))
    assert event.action is Action.RESOLVE
    assert event.ends_at == datetime(2026, 11, 23, 0, 1, 30, 489000, tzinfo=UTC)
    assert event.occurred_at == event.ends_at


def test_refired_alert_keeps_dedup_key() -> None:
    (first,) = parse_alertmanager(load("firing.json"))
    (second,) = parse_alertmanager(load("resolved.json"))
    assert first.dedup_key == second.dedup_key
    assert first.starts_at != second.starts_at


def test_repeated_delivery_parses_to_the_same_events() -> None:
    assert parse_alertmanager(load("firing.json")) == parse_alertmanager(load("firing.json"))


def test_group_with_firing_and_resolved_alerts_keeps_payload_order() -> None:
    body = load("firing.json")
    resolved = load("resolved.json")["alerts"][0]
    resolved["fingerprint"] = "0000000000000001"
    body["alerts"].append(resolved)
    events = parse_alertmanager(body)
    assert [e.action for e in events] == [Action.TRIGGER, Action.RESOLVE]


def test_missing_summary_falls_back_to_alertname_and_instance() -> None:
    body = load("firing.json")
    alert = body["alerts"][0]
    alert["annotations"] = {}
    alert["labels"]["instance"] = "db-1:9100"
    (event,) = parse_alertmanager(body)
    assert event.summary == "FirelineBenchAlwaysFiring (db-1:9100)"
    assert event.source_host == "db-1:9100"


def test_missing_fingerprint_derives_a_stable_key_from_labels() -> None:
    body = load("firing.json")
    del body["alerts"][0]["fingerprint"]
    (one,) = parse_alertmanager(body)
    (two,) = parse_alertmanager(copy.deepcopy(body))
    assert one.dedup_key == two.dedup_key
    assert len(one.dedup_key) == 64
    assert one.fingerprint is None


def test_unknown_severity_label_uses_the_default() -> None:
    body = load("firing.json")
    body["alerts"][0]["labels"]["severity"] = "page-someone-maybe"
    (event,) = parse_alertmanager(body, default_severity=Severity.WARNING)
    assert event.severity is Severity.WARNING


def test_long_summary_is_cut_to_1024_and_reported() -> None:
    body = load("firing.json")
    body["alerts"][0]["annotations"]["summary"] = "x" * 5000
    (event,) = parse_alertmanager(body)
    assert len(event.summary) == MAX_SUMMARY
    assert "summary" in event.truncated


def test_unsafe_links_are_dropped() -> None:
    body = load("firing.json")
    body["alerts"][0]["generatorURL"] = "javascript:alert(1)"
    body["alerts"][0]["annotations"]["runbook_url"] = "file:///etc/passwd"
    (event,) = parse_alertmanager(body)
    assert event.links == ()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["alerts"][0].__setitem__("labels", "nope"), "alerts[0].labels"),
        (lambda b: b["alerts"][0]["labels"].__setitem__("n", 5), "alerts[0].labels.n"),
        (lambda b: b["alerts"][0].__setitem__("status", "pending"), "alerts[0].status"),
        (lambda b: b["alerts"][0].__setitem__("startsAt", "yesterday"), "alerts[0].startsAt"),
        (
            lambda b: b["alerts"][0].__setitem__("startsAt", "2026-11-23T00:00:39"),
            "alerts[0].startsAt",
        ),
        (lambda b: b.__setitem__("version", "3"), "version"),
        (lambda b: b.__setitem__("alerts", {}), "alerts"),
        (lambda b: b.pop("alerts"), "alerts"),
    ],
)
def test_bad_payload_names_the_offending_field(change: Any, field: str) -> None:
    body = load("firing.json")
    change(body)
    with pytest.raises(InvalidField) as caught:
        parse_alertmanager(body)
    assert caught.value.field == field


def test_every_bad_alert_is_reported() -> None:
    body = load("firing.json")
    body["alerts"] = [dict(body["alerts"][0]) for _ in range(4)]
    body["alerts"][1]["status"] = "weird"
    body["alerts"][3]["labels"] = None
    with pytest.raises(InvalidEvent) as caught:
        parse_alertmanager(body)
    assert [f for f, _ in caught.value.problems] == ["alerts[1].status", "alerts[3].labels"]


def test_grafana_payload_sent_to_the_alertmanager_hook_is_refused_with_a_hint() -> None:
    body = load("firing.json")
    body["version"] = "1"
    with pytest.raises(InvalidField, match="Grafana"):
        parse_alertmanager(body)


def test_limits_on_batch_size_label_count_and_value_length() -> None:
    body = load("firing.json")
    alert = body["alerts"][0]
    body["alerts"] = [alert] * 1001
    with pytest.raises(InvalidField) as caught:
        parse_alertmanager(body)
    assert caught.value.field == "alerts"
    body["alerts"] = [{**alert, "labels": {f"l{i}": "v" for i in range(257)}}]
    with pytest.raises(InvalidField) as caught:
        parse_alertmanager(body)
    assert caught.value.field == "alerts[0].labels"
    body["alerts"] = [{**alert, "labels": {"alertname": "x" * 5000}}]
    with pytest.raises(InvalidField) as caught:
        parse_alertmanager(body)
    assert caught.value.field == "alerts[0].labels.alertname"


def test_thousand_alert_batch_is_accepted() -> None:
    body = load("firing.json")
    body["alerts"] = [{**body["alerts"][0], "fingerprint": f"{i:016x}"} for i in range(1000)]
    assert len({e.dedup_key for e in parse_alertmanager(body)}) == 1000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(body=json_values)
def test_arbitrary_json_only_ever_raises_invalid_field(body: object) -> None:
    try:
        parse_alertmanager(body)
    except InvalidField:
        pass


@given(
    alert=st.fixed_dictionaries(
        {
            "status": st.sampled_from(["firing", "resolved"]),
            "labels": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5),
        },
        optional={
            "annotations": json_values,
            "startsAt": st.sampled_from(
                ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+14:00"]
            )
            | st.text(max_size=30),
            "endsAt": json_values,
            "fingerprint": json_values,
            "generatorURL": st.text(max_size=30),
        },
    )
)
def test_alert_shaped_noise_only_ever_raises_invalid_field(alert: dict[str, Any]) -> None:
    try:
        events = parse_alertmanager({"version": "4", "alerts": [alert]})
    except InvalidField:
        return
    assert len(events) == 1


def _strict(body: dict[str, Any]) -> list[AlertEvent]:
    """The validating (pydantic) path alone, for comparison with the fast path."""
    from fireline.integrations.inbound import alertmanager as am

    original = am._fast_alerts
    am._fast_alerts = lambda data: None  # type: ignore[assignment]
    try:
        return am.parse_alertmanager(body)
    finally:
        am._fast_alerts = original


@pytest.mark.parametrize("name", ["firing.json", "resolved.json"])
def test_fast_path_gives_the_same_events_as_validation(name: str) -> None:
    body = json.loads((FIXTURES / name).read_text())
    assert parse_alertmanager(body) == _strict(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startsAt", "2026-11-23T00:00:39.648123456Z"),
        ("startsAt", "2026-11-23T02:00:39+02:00"),
        ("startsAt", None),
        ("endsAt", "0001-01-01T00:00:00Z"),
        ("startsAt", "20261123T000039Z"),
        ("startsAt", "2026-11-23T00:00:39"),
        ("startsAt", 1700000000),
        ("labels", {"alertname": 5}),
        ("annotations", None),
        ("fingerprint", "f" * 300),
        ("status", "pending"),
    ],
)
def test_fast_path_agrees_with_validation_on_odd_fields(field: str, value: object) -> None:
    body = json.loads((FIXTURES / "firing.json").read_text())
    body["alerts"][0][field] = value
    try:
        expected: object = _strict(body)
    except InvalidField as exc:
        expected = (type(exc), exc.field, str(exc))
    try:
        got: object = parse_alertmanager(body)
    except InvalidField as exc:
        got = (type(exc), exc.field, str(exc))
    assert got == expected
