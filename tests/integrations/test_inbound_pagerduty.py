from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.alert_grouping import MAX_SUMMARY, Action, Severity
from fireline.errors import InvalidField
from fireline.integrations.inbound import InvalidEvent
from fireline.integrations.inbound.pagerduty_v2 import parse_change_event, parse_pagerduty_event

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
KEY = "a" * 32


def trigger(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "disk/db-1",
        "payload": {
            "summary": "Disk 95% on db-1",
            "source": "db-1.example.com",
            "severity": "critical",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "component": "postgres",
            "group": "prod-datapipe",
            "class": "disk",
            "custom_details": {"free_bytes": 1024, "mount": "/var"},
        },
        "images": [{"src": "https://graphs.example.com/disk.png", "alt": "disk graph"}],
        "links": [{"href": "https://wiki.example.com/disk", "text": "Runbook"}],
        "client": "Nagios",
        "client_url": "https://nagios.example.com",
    }
    body.update(changes)
    return body


def test_full_trigger_is_normalised() -> None:
    (event,) = parse_pagerduty_event(trigger(), raw_size=900)
    assert event.source == "pagerduty"
    assert event.action is Action.TRIGGER
    assert event.routing_key == KEY
    assert event.dedup_key == "disk/db-1"
    assert not event.generated_dedup_key
    assert event.summary == "Disk 95% on db-1"
    assert event.source_host == "db-1.example.com"
    assert event.severity is Severity.CRITICAL
    assert event.occurred_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert dict(event.labels) == {
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "disk",
    }
    assert event.details == {"free_bytes": 1024, "mount": "/var"}
    assert [(link.href, link.text) for link in event.links] == [
        ("https://wiki.example.com/disk", "Runbook"),
        ("https://nagios.example.com", "Nagios"),
    ]
    assert event.images[0].text == "disk graph"
    assert event.raw_size == 900


def test_routing_key_is_hidden_from_repr() -> None:
    (event,) = parse_pagerduty_event(trigger())
    assert KEY not in repr(event)


def test_trigger_without_dedup_key_gets_a_generated_one() -> None:
    body = trigger()
    del body["dedup_key"]
    (event,) = parse_pagerduty_event(body, new_key=lambda: "generated-1")
    assert event.dedup_key == "generated-1"
    assert event.generated_dedup_key
    (random_one,) = parse_pagerduty_event(body)
    (random_two,) = parse_pagerduty_event(body)
    assert random_one.dedup_key != random_two.dedup_key


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_ack_and_resolve_need_only_key_and_dedup_key(action: str) -> None:
    (event,) = parse_pagerduty_event(
        {"routing_key": KEY, "event_action": action, "dedup_key": "disk/db-1"}
    )
    assert event.action == action
    assert event.dedup_key == "disk/db-1"
    assert event.summary == ""


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_ack_and_resolve_without_dedup_key_are_invalid(action: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_pagerduty_event({"routing_key": KEY, "event_action": action})
    assert caught.value.field == "dedup_key"


def test_all_problems_are_reported_at_once() -> None:
    body = {
        "routing_key": "short",
        "event_action": "trigger",
        "dedup_key": "x" * 256,
        "payload": {"summary": "", "severity": "fatal", "timestamp": "not a time"},
        "links": [{"text": "no href"}],
    }
    with pytest.raises(InvalidEvent) as caught:
        parse_pagerduty_event(body)
    fields = [f for f, _ in caught.value.problems]
    assert fields == [
        "routing_key",
        "dedup_key",
        "payload.summary",
        "payload.source",
        "payload.severity",
        "payload.timestamp",
        "links[0].href",
    ]
    assert caught.value.errors[0] == "routing_key: length is incorrect (should be 32 characters)"
    assert caught.value.field == "routing_key"


def test_missing_routing_key_and_action_are_reported() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_pagerduty_event({"payload": {}})
    assert [f for f, _ in caught.value.problems] == ["routing_key", "event_action"]


def test_trigger_without_payload_is_invalid() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_pagerduty_event({"routing_key": KEY, "event_action": "trigger"})
    assert caught.value.field == "payload"


def test_severity_is_accepted_in_any_case() -> None:
    body = trigger()
    body["payload"]["severity"] = "Warning"
    (event,) = parse_pagerduty_event(body)
    assert event.severity is Severity.WARNING


def test_naive_timestamp_is_refused() -> None:
    body = trigger()
    body["payload"]["timestamp"] = "2015-07-17T08:42:58"
    with pytest.raises(InvalidEvent) as caught:
        parse_pagerduty_event(body)
    assert caught.value.field == "payload.timestamp"


def test_long_summary_is_cut_to_1024() -> None:
    body = trigger()
    body["payload"]["summary"] = "s" * 2000
    (event,) = parse_pagerduty_event(body)
    assert len(event.summary) == MAX_SUMMARY
    assert event.truncated == ("summary",)


def test_non_object_custom_details_are_kept() -> None:
    body = trigger()
    body["payload"]["custom_details"] = "free text from a script"
    (event,) = parse_pagerduty_event(body)
    assert event.details == {"details": "free text from a script"}


def test_insecure_images_and_script_links_are_dropped() -> None:
    body = trigger(
        images=[{"src": "http://graphs.example.com/x.png"}],
        links=[{"href": "javascript:alert(1)"}],
        client_url=None,
    )
    (event,) = parse_pagerduty_event(body)
    assert event.images == ()
    assert event.links == ()


def test_events_alertmanager_sends_through_pagerduty_configs_are_accepted() -> None:
    captured = json.loads((FIXTURES / "pagerduty_events_from_alertmanager.json").read_text())
    events = [e for body in captured for e in parse_pagerduty_event(body)]
    assert [e.action for e in events] == [Action.TRIGGER, Action.RESOLVE]
    assert events[0].dedup_key == events[1].dedup_key
    assert events[0].severity is Severity.ERROR
    assert events[0].details["num_firing"] == "1"
    assert events[0].links[0].text == "Alertmanager"


def test_change_event_is_parsed() -> None:
    change = parse_change_event(
        {
            "routing_key": KEY,
            "payload": {
                "summary": "Deployed checkout v2.3.1",
                "source": "ci.example.com",
                "timestamp": "2026-11-23T10:00:00+01:00",
                "custom_details": {"build": 42},
            },
            "links": [{"href": "https://ci.example.com/builds/42", "text": "Build"}],
        }
    )
    assert change.summary == "Deployed checkout v2.3.1"
    assert change.occurred_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert change.details == {"build": 42}
    assert change.links[0].text == "Build"


def test_change_event_problems_are_all_reported() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_change_event({"payload": {"summary": " ", "timestamp": "whenever"}})
    assert [f for f, _ in caught.value.problems] == [
        "routing_key",
        "payload.summary",
        "payload.timestamp",
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    key=st.sampled_from(
        ["routing_key", "event_action", "dedup_key", "payload", "images", "links", "client_url"]
    ),
    value=json_values,
    nested=st.sampled_from(["summary", "source", "severity", "timestamp", "custom_details"]),
)
def test_arbitrary_values_only_ever_raise_invalid_field(
    key: str, value: object, nested: str
) -> None:
    body = trigger()
    candidates: list[object] = [value, {**body, key: value}]
    candidates.append({**body, "payload": {**body["payload"], nested: value}})
    for candidate in candidates:
        for parse in (parse_pagerduty_event, parse_change_event):
            try:
                parse(candidate)
            except InvalidField as exc:
                assert exc.field


def _strict(body: object) -> list[Any]:
    """The validating (pydantic) path alone, for comparison with the fast path."""
    from fireline.integrations.inbound import pagerduty_v2 as pd

    original = pd._fast_event
    pd._fast_event = lambda body, **kw: None
    try:
        return pd.parse_pagerduty_event(body, new_key=lambda: "generated")
    finally:
        pd._fast_event = original


def _outcome(parse: Any, body: object) -> object:
    try:
        return parse(body)
    except InvalidField as exc:
        return (type(exc), exc.field, str(exc), getattr(exc, "errors", None))


def _plain(**changes: Any) -> dict[str, Any]:
    body = trigger()
    for name in ("images", "links", "client", "client_url"):
        del body[name]
    del body["payload"]["timestamp"]
    body.update(changes)
    return body


@pytest.mark.parametrize(
    "body",
    [
        _plain(),
        _plain(dedup_key=None),
        _plain(dedup_key="  "),
        _plain(dedup_key="k" * 300),
        _plain(event_action="acknowledge", payload=None),
        _plain(event_action="resolve", payload={}),
        _plain(event_action="resolve", dedup_key=None, payload=None),
        _plain(event_action="resolve", payload={"severity": "  "}),
        _plain(event_action="nudge"),
        _plain(routing_key="short"),
        _plain(routing_key=" " * 32),
        _plain(payload={"summary": "s", "source": "h", "severity": "Warning "}),
        _plain(payload={"summary": "s", "source": "h", "severity": "loud"}),
        _plain(payload={"summary": " ", "source": "h", "severity": "info"}),
        _plain(payload={"summary": "s", "source": 5, "severity": "info"}),
        _plain(payload={"summary": "s" * 2000, "source": "h" * 300, "severity": "info"}),
        _plain(payload={"summary": "s", "source": "h", "severity": "info", "group": "g" * 5000}),
        _plain(payload={"summary": "s", "source": "h", "severity": "info", "custom_details": 7}),
        _plain(payload={"summary": "s", "source": "h", "severity": "info", "class": ""}),
        _plain(links=[]),
        _plain(payload=[]),
        [],
    ],
)
def test_fast_path_gives_the_same_result_as_validation(body: object) -> None:
    got = _outcome(lambda b: parse_pagerduty_event(b, new_key=lambda: "generated"), body)
    assert got == _outcome(_strict, body)


def test_plain_trigger_takes_the_fast_path() -> None:
    from fireline.integrations.inbound import pagerduty_v2 as pd

    event = pd._fast_event(_plain(), new_key=lambda: "x", raw_size=10)
    assert event is not None
    assert event.labels == {"component": "postgres", "group": "prod-datapipe", "class": "disk"}
    assert event.details == {"free_bytes": 1024, "mount": "/var"}
