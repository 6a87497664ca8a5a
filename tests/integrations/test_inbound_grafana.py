from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.alert_grouping import Action, Severity
from fireline.errors import InvalidField
from fireline.integrations.inbound.grafana import is_grafana_payload, parse_grafana

FIXTURES = Path(__file__).parent / "fixtures"


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "grafana" / "firing_and_resolved.json").read_text()
    )
    return data


def test_grafana_webhook_gives_one_event_per_alert_in_order() -> None:
    firing, resolved = parse_grafana(load())
    assert (firing.action, resolved.action) == (Action.TRIGGER, Action.RESOLVE)
    assert firing.source == "grafana"
    assert firing.dedup_key == "c6eadffa33fcdf37"
    assert firing.summary == "High memory usage on blue-01"
    assert firing.severity is Severity.WARNING
    assert firing.source_host == "blue-01:9100"


def test_timestamps_with_offsets_are_normalised_to_utc() -> None:
    firing, resolved = parse_grafana(load())
    assert firing.starts_at == datetime(2026, 11, 23, 7, 51, 3, 157076, tzinfo=UTC)
    assert firing.starts_at is not None and firing.starts_at.tzinfo is UTC
    assert firing.ends_at is None
    assert resolved.ends_at == datetime(2026, 11, 23, 7, 56, 3, 157076, tzinfo=UTC)


def test_grafana_internal_labels_and_annotations_are_stripped() -> None:
    firing, _ = parse_grafana(load())
    assert not any(k.startswith("__") for k in firing.labels)
    assert not any(k.startswith("__") for k in firing.annotations)
    assert firing.labels["grafana_folder"] == "Production"


def test_grafana_links_values_and_image_are_kept() -> None:
    firing, resolved = parse_grafana(load())
    assert [link.text for link in firing.links] == [
        "Source",
        "Dashboard",
        "Panel",
        "Silence",
        "Runbook",
    ]
    assert [link.text for link in resolved.links] == ["Source", "Silence", "Runbook"]
    assert firing.images[0].href.endswith("a1b2c3.png")
    assert firing.details["values"] == {"B": 91.5, "C": 1}
    assert firing.details["ruleUID"] == "edxk3mq9w5fcwa"
    assert "values" not in resolved.details


def test_without_fingerprint_the_key_is_stable_and_ignores_internal_labels() -> None:
    body = load()
    del body["alerts"][0]["fingerprint"]
    (one, _) = parse_grafana(body)
    body["alerts"][0]["labels"]["__grafana_internal__"] = "changes-every-time"
    (two, _) = parse_grafana(body)
    assert one.dedup_key == two.dedup_key


def test_group_title_is_the_summary_when_nothing_else_describes_the_alert() -> None:
    body = load()
    body["alerts"][0]["labels"] = {"team": "blue"}
    body["alerts"][0]["annotations"] = {}
    firing, _ = parse_grafana(body)
    assert firing.summary == body["title"]


def test_grafana_and_alertmanager_payloads_are_told_apart() -> None:
    assert is_grafana_payload(load())
    am = json.loads((FIXTURES / "alertmanager" / "firing.json").read_text())
    assert not is_grafana_payload(am)
    assert not is_grafana_payload([1, 2])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.__setitem__("version", "4"), "version"),
        (lambda b: b["alerts"][1].__setitem__("endsAt", "2026-11-23T09:56:03"), "alerts[1].endsAt"),
        (lambda b: b.__setitem__("orgId", "one"), "orgId"),
        (lambda b: b["alerts"][0].__setitem__("values", [1]), "alerts[0].values"),
    ],
)
def test_bad_grafana_payload_names_the_field(change: Any, field: str) -> None:
    body = load()
    change(body)
    with pytest.raises(InvalidField) as caught:
        parse_grafana(body)
    assert caught.value.field == field


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(body=json_values, key=st.sampled_from(["alerts", "orgId", "title", "version"]))
def test_arbitrary_json_only_ever_raises_invalid_field(body: object, key: str) -> None:
    for candidate in (body, {**load(), key: body}):
        try:
            parse_grafana(candidate)
        except InvalidField:
            pass
