from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fireline.domain.recurrence import (
    DEFAULT_THRESHOLD,
    IncidentFeatures,
    SimilarityIndex,
    corpus_stats,
    rank_similar,
    similarity,
    stable_labels,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_next_id = iter(range(1, 10_000))


def incident(
    title: str,
    description: str = "",
    *,
    service: str = "checkout-api",
    related: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
    fingerprint: str | None = None,
    day: float = 0.0,
) -> IncidentFeatures:
    number = next(_next_id)
    return IncidentFeatures(
        id=number,
        ref=f"INC-{number}",
        title=title,
        description=description,
        detected_at=T0 + timedelta(days=day),
        service_ids=(service,) if service else (),
        related_service_ids=related,
        labels=labels or {},
        fingerprints=(fingerprint,) if fingerprint else (),
    )


POOL_A = incident(
    "Connection pool exhausted on web-42",
    "All 50 connections to checkout-db in use on pod checkout-api-7f9c8d5b4-x2k4p; "
    "requests waiting 30s. Trace 3f2a9c1e-1111-2222-3333-444455556666.",
)
POOL_B = incident(
    "Connection pool exhausted on web-7",
    "All 80 connections to checkout-db in use on pod checkout-api-5d6f7b8c9-q8z2m; "
    "requests waiting 12s. Trace 0b1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff.",
    day=9,
)
CERT = incident(
    "TLS certificate for checkout-api.example.com expired",
    "x509: certificate has expired; cert-manager renewal stuck.",
    day=3,
)
BACKGROUND = [
    incident("Disk full on /var/log", "no space left on device", service="search-api"),
    incident("Nightly job invoice-export failed", "exit code 3", service="orders-worker"),
    incident("DNS resolution failures for auth-db", "no such host", service="auth-api"),
    incident("Replication lag on users-db replica", "replica behind primary", service="users-api"),
]
STATS = corpus_stats([POOL_A, POOL_B, CERT, *BACKGROUND])


def test_incidents_that_differ_only_in_hosts_ids_and_numbers_are_similar() -> None:
    match = similarity(POOL_A, POOL_B, stats=STATS)
    assert match.score >= 0.6  # text alone scores at most 0.7
    assert "same service checkout-api" in match.reasons
    words = next(r for r in match.reasons if r.startswith("shared words: "))
    assert "pool" in words and "exhausted" in words
    assert "42" not in words and "x2k4p" not in words


def test_unrelated_incidents_on_the_same_service_are_not_similar() -> None:
    assert similarity(POOL_A, CERT, stats=STATS).score < DEFAULT_THRESHOLD


def test_the_same_words_on_unrelated_services_score_lower_than_on_one_service() -> None:
    elsewhere = incident(POOL_B.title, POOL_B.description, service="ledger-worker")
    same = similarity(POOL_A, POOL_B, stats=STATS)
    apart = similarity(POOL_A, elsewhere, stats=STATS)
    assert apart.score < same.score
    assert any(r.startswith("different services") for r in apart.reasons)


def test_a_shared_alert_fingerprint_is_strong_evidence_and_is_named() -> None:
    a = incident("[FIRING:1] KubePodCrashLooping", fingerprint="9f2b1c3d4e5f6a7b")
    b = incident(
        "checkout-api pods restarting", "back-off restarting", fingerprint="9f2b1c3d4e5f6a7b"
    )
    c = incident("checkout-api pods restarting", "back-off restarting")
    with_fp, without = similarity(a, b, stats=STATS), similarity(a, c, stats=STATS)
    assert with_fp.score > without.score + 0.2
    assert "same alert fingerprint 9f2b1c3d4e5f" in with_fp.reasons


def test_an_incident_reported_downstream_that_names_its_dependency_scores_higher() -> None:
    at_source = incident(
        "Replication lag on users-db replica above 40s",
        "replica behind primary",
        service="users-db",
    )
    text = ("Stale reads on profile pages: users-db replica lagging", "Replica 30s behind primary")
    downstream = incident(*text, service="profile-api", related=("users-db",))
    unrelated = incident(*text, service="profile-api")
    match = similarity(at_source, downstream, stats=STATS)
    assert match.score > similarity(at_source, unrelated, stats=STATS).score + 0.1
    assert "profile-api depends on users-db, named in it" in match.reasons


def test_labels_naming_one_machine_or_event_are_ignored() -> None:
    labels = {
        "alertname": "DiskFull",
        "instance": "web-42:9100",
        "pod": "x",
        "request": "3f2a9c1e-1111-2222-3333-444455556666",
        "port": "9100",
        "team": "Payments",
    }
    assert sorted(stable_labels(labels)) == ["alertname=diskfull", "team=payments"]


def test_similar_past_incidents_come_best_first_with_reasons_and_never_the_query() -> None:
    index = SimilarityIndex([POOL_A, POOL_B, CERT, *BACKGROUND])
    found = index.similar(POOL_A)
    assert [s.ref for s in found] == [POOL_B.ref]
    assert found[0].reasons and found[0].score >= 0.6
    assert len(index) == 7


def test_similar_finds_matches_through_a_fingerprint_alone() -> None:
    a = incident("[FIRING:2] PostgresPrimaryDown", fingerprint="aa11bb22cc33dd44")
    b = incident("Writes failing on checkout", fingerprint="aa11bb22cc33dd44", day=4)
    found = SimilarityIndex([a, b, *BACKGROUND]).similar(a, min_score=0.2)
    assert [s.ref for s in found] == [b.ref]
    assert "same alert fingerprint aa11bb22cc33" in found[0].reasons


def test_ranking_candidates_found_elsewhere_uses_stored_words_and_explains() -> None:
    stored = {POOL_B.id: ["connect", "pool", "exhaust", "connect", "pool", "exhaust"]}
    found = rank_similar(POOL_A, [POOL_A, POOL_B, CERT], stats=STATS, words=stored)
    assert [s.ref for s in found] == [POOL_B.ref]
    assert "shared words: connection, exhausted, pool" in found[0].reasons


def test_naming_the_same_upstream_service_is_not_enough_to_share_a_cause() -> None:
    evictions = incident(
        "Redis evictions spiking on sessions-redis",
        "maxmemory reached on sessions-redis; evicted keys",
        related=("sessions-redis",),
    )
    dns = incident(
        "checkout-api cannot resolve sessions-redis",
        "NXDOMAIN for sessions-redis from checkout-api pods",
        related=("sessions-redis",),
        day=2,
    )
    again = incident(
        "Redis evictions high on sessions-redis",
        "maxmemory reached on sessions-redis; keys evicted",
        related=("sessions-redis",),
        day=5,
    )
    stats = corpus_stats([evictions, dns, again, *BACKGROUND])
    assert similarity(evictions, dns, stats=stats).score < DEFAULT_THRESHOLD
    assert similarity(evictions, again, stats=stats).score >= 0.5
