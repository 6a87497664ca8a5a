"""Known-error matching: labels, key words and symptoms, service-aware, with reasons."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.known_errors import KnownError, Signal, match_known_errors
from fireline.domain.symptoms import key_words

POOL = KnownError(
    id=3,
    ref="KE-3",
    title="Checkout DB connection pool exhausted",
    service_ids=frozenset({1}),
    label_matchers={"alertname": "DBPoolExhausted"},
    keywords=("connection pool",),
    symptoms="Checkout returns 500; logs show connection pool exhausted on db hosts",
    workaround="Restart the checkout pods one by one",
)
DISK = KnownError(
    id=4,
    ref="KE-4",
    title="Disk full on log volume",
    symptoms="No space left on device for /var/log",
    workaround="Run the log rotation job",
)


def test_incident_with_matching_labels_and_words_gets_the_workaround_with_reasons() -> None:
    signal = Signal(
        text="db-17: Connection pool exhausted (3121 waiting)",
        service_ids=frozenset({1}),
        labels={"alertname": "DBPoolExhausted", "instance": "db-17:5432"},
    )
    [match] = match_known_errors(signal, [POOL, DISK])
    assert match.ref == "KE-3"
    assert match.workaround == "Restart the checkout pods one by one"
    assert match.score > 0.8
    assert match.reasons[0] == "same service"
    assert "labels alertname=DBPoolExhausted" in match.reasons
    assert any(r.startswith("key words connection, pool") for r in match.reasons)


def test_same_words_on_another_service_score_lower_and_say_so() -> None:
    text = "Connection pool exhausted"
    here = match_known_errors(Signal(text=text, service_ids=frozenset({1})), [POOL], min_score=0)
    there = match_known_errors(Signal(text=text, service_ids=frozenset({2})), [POOL], min_score=0)
    assert here[0].score > there[0].score
    assert "but on another service" in there[0].reasons
    assert match_known_errors(Signal(text=text, service_ids=frozenset({2})), [POOL]) == []


def test_conflicting_label_counts_against() -> None:
    signal = Signal(
        text="connection pool exhausted",
        service_ids=frozenset({1}),
        labels={"alertname": "HighLatency"},
    )
    agreeing = Signal(text=signal.text, service_ids=signal.service_ids)
    [with_conflict] = match_known_errors(signal, [POOL], min_score=0)
    [without] = match_known_errors(agreeing, [POOL], min_score=0)
    assert with_conflict.score < without.score


def test_unrelated_incident_matches_nothing() -> None:
    signal = Signal(text="Login page slow in EU", service_ids=frozenset({1}))
    assert match_known_errors(signal, [POOL, DISK]) == []


def test_title_is_the_symptom_when_none_are_written() -> None:
    bare = KnownError(id=9, ref="KE-9", title="Certificate expired on edge proxy")
    signal = Signal(text="TLS certificate expired for edge proxy 10.1.2.3")
    [match] = match_known_errors(signal, [bare])
    assert match.ref == "KE-9"


def test_best_match_first_and_limit() -> None:
    signal = Signal(
        text="connection pool exhausted and no space left on device",
        service_ids=frozenset({1}),
        labels={"alertname": "DBPoolExhausted"},
    )
    found = match_known_errors(signal, [DISK, POOL])
    assert [m.ref for m in found] == ["KE-3", "KE-4"]
    assert len(match_known_errors(signal, [DISK, POOL], limit=1)) == 1


def test_key_words_mask_volatile_tokens_and_fold_endings() -> None:
    assert key_words("db-07 Connections FAILED after 4123ms on host-a1b2") == {
        "connection",
        "fail",
        "host",
    }


volatile = st.from_regex(r"[a-z]{2,5}-?[0-9]{1,6}", fullmatch=True) | st.integers(0, 10**9).map(str)


@given(first=volatile, second=volatile)
def test_changing_hosts_ids_and_numbers_never_changes_the_match(first: str, second: str) -> None:
    def found(token: str) -> list[tuple[str, float]]:
        signal = Signal(
            text=f"{token}: connection pool exhausted after {token} ms",
            service_ids=frozenset({1}),
            labels={"alertname": "DBPoolExhausted", "instance": token},
        )
        return [(m.ref, m.score) for m in match_known_errors(signal, [POOL, DISK])]

    assert found(first) == found(second)
    assert [ref for ref, _ in found(first)] == ["KE-3"]


@given(
    text=st.text(max_size=200), labels=st.dictionaries(st.text(max_size=10), st.text(max_size=10))
)
def test_scores_stay_between_0_and_1_and_every_match_says_why(
    text: str, labels: dict[str, str]
) -> None:
    for match in match_known_errors(Signal(text=text, labels=labels), [POOL, DISK], min_score=0):
        assert 0.0 <= match.score <= 1.0
        assert match.reasons
