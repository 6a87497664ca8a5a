from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from fireline.domain.recurrence import IncidentFeatures
from fireline.domain.recurrence_clusters import cluster, describe, headline
from fireline.errors import InvalidField
from fireline.synthetic import GeneratorConfig, generate

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_next_id = iter(range(1, 10_000))


def incident(
    title: str,
    description: str = "",
    *,
    service: str = "checkout-api",
    fingerprint: str | None = None,
    labels: dict[str, str] | None = None,
    day: float = 0.0,
) -> IncidentFeatures:
    number = next(_next_id)
    return IncidentFeatures(
        id=number,
        ref=f"INC-{number}",
        title=title,
        description=description,
        detected_at=T0 + timedelta(days=day),
        service_ids=(service,),
        labels=labels or {},
        fingerprints=(fingerprint,) if fingerprint else (),
    )


CERT = incident("TLS certificate for checkout-api.example.com expired", "renewal stuck", day=3)
BACKGROUND = [
    incident("Disk full on /var/log", "no space left on device", service="search-api"),
    incident("Nightly job invoice-export failed", "exit code 3", service="orders-worker"),
    incident("DNS resolution failures for auth-db", "no such host", service="auth-api"),
    incident("Replication lag on users-db replica", "replica behind primary", service="users-api"),
]


def test_clustering_groups_recurrences_and_leaves_one_offs_out() -> None:
    pools = [
        incident(
            f"Connection pool exhausted on web-{n}",
            f"All {10 + n} connections to checkout-db in use; requests waiting {n}s on pod-{n}.",
            day=n * 3,
        )
        for n in range(5)
    ]
    lags = [
        incident(
            f"Consumer lag on topic orders-events growing ({n * 1000} messages)",
            f"Consumer group orders-consumers lagging after rebalance on worker-{n}.",
            service="orders-worker",
            day=n * 4 + 1,
        )
        for n in range(4)
    ]
    found = cluster([*pools, *lags, CERT, *BACKGROUND])
    assert [set(c.refs) for c in found] == [{i.ref for i in pools}, {i.ref for i in lags}]
    biggest = found[0]
    assert biggest.reasons[0] == "5 incidents over 12 days"
    assert "service checkout-api (5 of 5)" in biggest.reasons
    assert any(r.startswith("shared words: ") and "pool" in r for r in biggest.reasons)
    assert biggest.first_seen == T0 and biggest.last_seen == T0 + timedelta(days=12)
    assert 0.5 < biggest.score <= 1.0


def test_clustering_rejects_nonsense_bounds() -> None:
    with pytest.raises(InvalidField) as raised:
        cluster([CERT, *BACKGROUND], min_size=1)
    assert raised.value.field == "min_size"
    with pytest.raises(InvalidField):
        cluster([CERT, *BACKGROUND], threshold=0.0)


def test_clustering_a_generated_history_recovers_its_causes() -> None:
    history = generate(GeneratorConfig(incidents=600, seed=3))
    label = {i.features.id: i.cause for i in history.incidents}
    found = cluster([i.features for i in history.incidents])
    true_pairs = pairs = 0
    for group in found:
        for a, b in combinations(group.incident_ids, 2):
            pairs += 1
            true_pairs += label[a] is not None and label[a] == label[b]
    causes = [i.cause for i in history.incidents if i.cause is not None]
    all_true = sum(n * (n - 1) // 2 for n in (causes.count(c) for c in set(causes)))
    assert true_pairs / pairs >= 0.85  # precision
    assert true_pairs / all_true >= 0.8  # recall


def test_a_cluster_says_which_fingerprint_labels_and_words_its_members_share() -> None:
    members = [
        incident(
            f"[FIRING:{n}] KafkaConsumerLagHigh orders-worker",
            f"Consumer group lag {n * 700} messages on topic payments.v1 after rebalance",
            service="orders-worker",
            fingerprint="77aa88bb99cc00dd",
            labels={"alertname": "KafkaConsumerLagHigh", "instance": f"kafka-{n}:9308"},
            day=n,
        )
        for n in range(3)
    ]
    group = describe(members)
    assert group.fingerprints == ("77aa88bb99cc00dd",)
    assert "same alert fingerprint 77aa88bb99cc on 3 of 3" in group.reasons
    assert group.labels == ("alertname=kafkaconsumerlaghigh",)
    assert group.services == ("orders-worker",)
    assert "consumer" in group.words and "lag" in group.words
    assert headline(group).startswith("Recurring ")
    assert headline(group).endswith(" on orders-worker (3 incidents)")


def test_describing_fewer_than_two_incidents_is_refused() -> None:
    with pytest.raises(InvalidField):
        describe([CERT])


def test_clustering_leaves_the_garbage_collector_as_it_found_it() -> None:
    """cluster() pauses the cyclic collector for speed; the process must get it back."""
    import gc

    features = [i.features for i in generate(GeneratorConfig(incidents=60, seed=3)).incidents]
    assert gc.isenabled()
    assert cluster(features)
    assert gc.isenabled()
    gc.disable()
    try:
        cluster(features)
        assert not gc.isenabled()  # an application that runs without it keeps it off
    finally:
        gc.enable()
