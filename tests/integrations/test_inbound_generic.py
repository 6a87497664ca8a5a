from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.alert_grouping import Action, Severity
from fireline.errors import InvalidField
from fireline.integrations.inbound.generic import GenericMapping, parse_generic

DATADOG = {
    "body": "CPU above 90% on web-3",
    "last_updated": "1795428000000",
    "event_type": "query_alert_monitor",
    "title": "[Triggered] CPU high on web-3",
    "date": 1795428000000,
    "org": {"id": "123", "name": "Acme"},
    "id": "8271635",
    "alert": {"cycle_key": "5467281", "transition": "Triggered", "priority": "P1"},
    "hostname": "web-3",
    "tags": ["env:prod", "service:checkout", "team:web"],
    "link": "https://app.datadoghq.com/monitors/123",
}
DATADOG_MAPPING = GenericMapping.from_mapping(
    {
        "summary": "title",
        "dedup_key": "alert.cycle_key",
        "status": "alert.transition",
        "severity": "alert.priority",
        "source": "hostname",
        "labels": "tags",
        "links": "link",
        "timestamp": "date",
    }
)


def test_minimal_json_works_with_the_default_mapping() -> None:
    (event,) = parse_generic({"summary": "disk full", "severity": "critical"})
    assert event.source == "generic"
    assert event.action is Action.TRIGGER
    assert event.summary == "disk full"
    assert event.severity is Severity.CRITICAL
    assert len(event.dedup_key) == 64


def test_datadog_style_webhook_is_read_through_a_mapping() -> None:
    (event,) = parse_generic(DATADOG, DATADOG_MAPPING, raw_size=512)
    assert event.summary == "[Triggered] CPU high on web-3"
    assert event.dedup_key == "5467281"
    assert event.action is Action.TRIGGER
    assert event.severity is Severity.CRITICAL
    assert event.source_host == "web-3"
    assert dict(event.labels) == {"env": "prod", "service": "checkout", "team": "web"}
    assert event.links[0].href == "https://app.datadoghq.com/monitors/123"
    assert event.occurred_at == datetime.fromtimestamp(1795428000, UTC)
    assert event.raw_size == 512


def test_recovery_status_resolves_the_same_key() -> None:
    recovered = {**DATADOG, "alert": {**DATADOG["alert"], "transition": "Recovered"}}  # type: ignore[dict-item]
    (trigger,) = parse_generic(DATADOG, DATADOG_MAPPING)
    (resolve,) = parse_generic(recovered, DATADOG_MAPPING)
    assert resolve.action is Action.RESOLVE
    assert resolve.dedup_key == trigger.dedup_key


def test_same_alert_without_key_dedups_to_the_same_derived_key() -> None:
    body = {"title": "Queue backlog", "labels": {"queue": "mail", "size": 10_000}}
    (one,) = parse_generic(body)
    (two,) = parse_generic({**body, "labels": {"size": 10_000, "queue": "mail"}})
    assert one.dedup_key == two.dedup_key
    assert one.labels["size"] == "10000"


def test_batches_at_a_path_and_root_paths() -> None:
    body = {
        "host": "probe-1",
        "checks": [
            {"name": "http", "state": "CRITICAL", "output": "timeout"},
            {"name": "dns", "state": "OK", "output": "fine"},
        ],
    }
    mapping = GenericMapping.from_mapping(
        {
            "alerts": "checks",
            "summary": ["output"],
            "dedup_key": "name",
            "status": "state",
            "severity": "state",
            "source": "$.host",
            "status_map": {"CRITICAL": "trigger"},
            "severity_map": {"ok": "info"},
        }
    )
    http, dns = parse_generic(body, mapping)
    assert (http.action, dns.action) == (Action.TRIGGER, Action.RESOLVE)
    assert (http.severity, dns.severity) == (Severity.CRITICAL, Severity.INFO)
    assert http.source_host == dns.source_host == "probe-1"


def test_top_level_list_is_a_batch() -> None:
    events = parse_generic([{"summary": "a", "id": 1}, {"summary": "b"}])
    assert [e.summary for e in events] == ["a", "b"]


def test_indexed_paths_reach_into_lists() -> None:
    mapping = GenericMapping(summary=("events[0].text",), dedup_key=("events.0.id",))
    (event,) = parse_generic({"events": [{"text": "first", "id": 7}]}, mapping)
    assert (event.summary, event.dedup_key) == ("first", "7")


def test_epoch_seconds_and_naive_iso_times_are_utc() -> None:
    (seconds,) = parse_generic({"summary": "x", "timestamp": 1795428000})
    (naive,) = parse_generic({"summary": "x", "timestamp": "2026-11-23T08:00:00"})
    assert seconds.occurred_at == datetime.fromtimestamp(1795428000, UTC)
    assert naive.occurred_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_defaults_for_missing_fields() -> None:
    (event,) = parse_generic({})
    assert event.summary == "Untitled alert"
    assert event.severity is Severity.ERROR
    assert event.action is Action.TRIGGER


def test_overlong_dedup_key_is_hashed_not_refused() -> None:
    (event,) = parse_generic({"summary": "x", "dedup_key": "k" * 300})
    assert event.dedup_key.startswith("sha256:")
    assert len(event.dedup_key) <= 255


@pytest.mark.parametrize(
    ("body", "mapping", "field"),
    [
        ({"status": "exploded"}, None, "status"),
        ({"checks": [{"labels": [{"a": 1}]}]}, {"alerts": "checks"}, "checks[0].labels"),
        ({"timestamp": "last tuesday"}, None, "timestamp"),
        ({"checks": {}}, {"alerts": "checks"}, "checks"),
        ([1, 2], None, "body[0]"),
        ("text", None, "body"),
        ({"labels": {"k": "v" * 5000}}, None, "labels.k"),
    ],
)
def test_bad_input_names_the_field(
    body: object, mapping: dict[str, Any] | None, field: str
) -> None:
    config = GenericMapping.from_mapping(mapping) if mapping else None
    with pytest.raises(InvalidField) as caught:
        parse_generic(body, config)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"summary": "a..b"}, "mapping.summary"),
        ({"summary": 5}, "mapping.summary"),
        ({"colour": "x"}, "mapping.colour"),
        ({"severity_map": {"5": "apocalyptic"}}, "mapping.severity_map.5"),
        ({"status_map": []}, "mapping.status_map"),
        ({"default_severity": "meh"}, "mapping.default_severity"),
        ({"alerts": "items["}, "mapping.alerts"),
    ],
)
def test_bad_mapping_config_names_the_setting(raw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        GenericMapping.from_mapping(raw)
    assert caught.value.field == field


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    body=json_values,
    field=st.sampled_from(
        ["summary", "severity", "dedup_key", "status", "source", "labels", "links", "timestamp"]
    ),
)
def test_arbitrary_json_only_ever_raises_invalid_field(body: object, field: str) -> None:
    for candidate in (body, {field: body}, [{field: body}]):
        try:
            parse_generic(candidate)
            parse_generic(candidate, DATADOG_MAPPING)
        except InvalidField:
            pass
