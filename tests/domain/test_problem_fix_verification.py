"""Fix verification: what counts as the problem coming back, and why."""

from __future__ import annotations

from fireline.domain.fix_verification import IncidentFacts, Signature, check, signature_of


def _incident(ref: str, title: str, **kw: object) -> IncidentFacts:
    return IncidentFacts(ref=ref, title=title, **kw)  # type: ignore[arg-type]


LINKED = [
    _incident(
        "INC-1",
        "Checkout 500s: connection pool exhausted on db-3",
        service_ids=frozenset({1}),
        fingerprint="fp-pool",
        labels={"alertname": "DBPool", "host": "db-3", "team": "payments"},
    ),
    _incident(
        "INC-2",
        "Connection pool exhausted on db-9, checkout failing",
        service_ids=frozenset({1}),
        labels={"alertname": "DBPool", "host": "db-9", "team": "payments"},
    ),
]
SIG = signature_of(title="Checkout DB pool too small", service_ids=frozenset({1}), incidents=LINKED)


def test_signature_keeps_stable_labels_and_shared_words_not_hosts() -> None:
    assert SIG.labels == {"alertname": "DBPool", "team": "payments"}
    assert SIG.fingerprints == {"fp-pool"}
    assert {"connection", "pool", "exhaust", "checkout"} <= SIG.words
    assert Signature.from_dict(SIG.to_dict()) == SIG


def test_same_fingerprint_is_a_recurrence_even_on_another_service() -> None:
    verdict = check(SIG, _incident("INC-7", "whatever", fingerprint="fp-pool"))
    assert verdict is not None
    assert verdict.reasons == ("same alert fingerprint fp-pool",)


def test_same_service_and_labels_is_a_recurrence_with_evidence() -> None:
    new = _incident(
        "INC-8",
        "Database saturation",
        service_ids=frozenset({1}),
        labels={"alertname": "DBPool", "host": "db-1"},
    )
    verdict = check(SIG, new)
    assert verdict is not None
    assert verdict.reasons == ("same service", "labels alertname=DBPool")


def test_same_service_and_words_is_a_recurrence() -> None:
    new = _incident(
        "INC-9", "db-44 connection pool exhausted, checkout down", service_ids=frozenset({1})
    )
    verdict = check(SIG, new)
    assert verdict is not None
    assert verdict.reasons[0] == "same service"
    assert verdict.reasons[1].startswith("words ")


def test_same_words_on_another_service_is_not_a_recurrence() -> None:
    new = _incident("INC-10", "connection pool exhausted checkout", service_ids=frozenset({2}))
    assert check(SIG, new) is None


def test_unrelated_incident_on_the_same_service_is_not_a_recurrence() -> None:
    new = _incident("INC-11", "Slow product images", service_ids=frozenset({1}))
    assert check(SIG, new) is None


def test_other_alertname_vetoes_a_label_match() -> None:
    new = _incident(
        "INC-12",
        "Latency",
        service_ids=frozenset({1}),
        labels={"alertname": "HighLatency", "team": "payments"},
    )
    assert check(SIG, new) is None


def test_known_error_match_is_a_recurrence() -> None:
    new = _incident("INC-13", "x", matched_known_error=True)
    verdict = check(SIG, new)
    assert verdict is not None and verdict.score == 1.0


def test_malformed_stored_signature_is_read_as_empty_parts() -> None:
    sig = Signature.from_dict({"service_ids": "x", "labels": [1], "words": None})
    assert sig == Signature()
