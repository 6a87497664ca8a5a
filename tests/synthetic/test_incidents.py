from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from fireline.domain.text_signature import tokens
from fireline.synthetic import GeneratorConfig, generate


def test_the_same_seed_gives_the_same_history_and_another_seed_does_not() -> None:
    config = GeneratorConfig(incidents=300, seed=5)
    assert generate(config) == generate(config)
    assert generate(GeneratorConfig(incidents=300, seed=6)) != generate(config)


def test_incidents_are_numbered_in_detection_order() -> None:
    history = generate(GeneratorConfig(incidents=300))
    incidents = [i.features for i in history.incidents]
    assert [i.ref for i in incidents[:3]] == ["INC-1", "INC-2", "INC-3"]
    times = [i.detected_at for i in incidents]
    assert times == sorted(times)
    assert all(t.tzinfo is not None for t in times)


def test_causes_recur_and_a_share_of_incidents_are_one_offs() -> None:
    history = generate(GeneratorConfig(incidents=1000, singleton_share=0.12))
    counts = Counter(i.cause for i in history.incidents)
    assert counts.pop(None) == 120
    assert min(counts.values()) >= 2
    assert max(counts.values()) >= 10  # a skewed mix: some causes recur a lot


def test_one_cause_is_worded_differently_and_its_volatile_details_churn() -> None:
    history = generate(GeneratorConfig(incidents=1000, typo_rate=0.0))
    by_cause: dict[str, list[str]] = defaultdict(list)
    for item in history.incidents:
        if item.cause is not None:
            by_cause[item.cause].append(item.features.title)
    cause, titles = max(by_cause.items(), key=lambda kv: len(kv[1]))
    assert len(set(titles)) > len(titles) // 2, cause
    masked = {" ".join(tokens(t)) for t in titles}
    assert 1 < len(masked) < len(set(titles))  # several wordings, each with changing details


def test_different_causes_share_services_and_some_incidents_share_fingerprints() -> None:
    history = generate(GeneratorConfig(incidents=1000))
    causes_per_service: dict[str, set[str]] = defaultdict(set)
    fingerprints: Counter[str] = Counter()
    for item in history.incidents:
        if item.cause is not None:
            causes_per_service[item.features.service_ids[0]].add(item.cause)
        fingerprints.update(item.features.fingerprints)
    assert max(len(c) for c in causes_per_service.values()) >= 3
    assert fingerprints.most_common(1)[0][1] >= 5
    assert sum(1 for i in history.incidents if not i.features.fingerprints) > 200


def test_the_heldout_vocabulary_uses_other_words_and_labels() -> None:
    default = generate(GeneratorConfig(incidents=400))
    heldout = generate(GeneratorConfig(incidents=400, vocabulary="heldout"))

    seen_default = {w for i in default.incidents for w in tokens(i.features.title)}
    seen_heldout = {w for i in heldout.incidents for w in tokens(i.features.title)}
    assert len(seen_heldout - seen_default) > len(seen_heldout) // 2
    keys = {k for i in heldout.incidents for k in i.features.labels}
    assert "monitor" in keys and "alertname" not in keys


def test_rows_for_a_database_seeder_are_plain_json() -> None:
    history = generate(GeneratorConfig(incidents=50))
    row = history.incidents[0].as_dict()
    assert json.loads(json.dumps(row))["ref"] == "INC-1"
    assert set(row) >= {"title", "description", "service_ids", "labels", "fingerprints", "cause"}


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown vocabulary"):
        generate(GeneratorConfig(vocabulary="klingon"))
    with pytest.raises(ValueError, match="at least 2"):
        generate(GeneratorConfig(incidents=1))
