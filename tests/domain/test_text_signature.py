from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.text_signature import (
    TermStats,
    cosine,
    key_terms,
    ngrams,
    normalise,
    shared_terms,
    stem,
    surface_forms,
    tokens,
)


def test_hosts_ips_pods_uuids_and_sizes_are_masked_for_display() -> None:
    text = (
        "Pool exhausted on web-42 (ip-10-0-3-7), pod checkout-api-7f9c8d5b4-x2k4p, "
        "peer 10.1.2.3:5432, request 3f2a9c1e-1111-2222-3333-444455556666 after 350ms, "
        "disk 85% full, 12GB free"
    )
    shown = normalise(text)
    for volatile in ("42", "10-0-3-7", "x2k4p", "10.1.2.3", "3f2a9c1e", "350", "85", "12gb"):
        assert volatile not in shown
    for placeholder in ("<ip>", "<pod>", "<uuid>", "<dur>", "<pct>", "<size>"):
        assert placeholder in shown
    assert shown.startswith("pool exhausted on web-<num>")


def test_two_texts_that_differ_only_in_volatile_details_have_the_same_tokens() -> None:
    a = "Connection refused to db at 10.0.0.12:5432 from web-17, request 8c1e2d3f4a5b"
    b = "Connection refused to db at 10.9.4.200:5432 from web-3, request 0a9b8c7d6e5f"
    assert tokens(a) == tokens(b)
    assert "connect" in tokens(a) and "refus" in tokens(a)


def test_camel_case_alert_names_split_into_words() -> None:
    assert tokens("DBConnectionPoolExhausted") == ["db", "connect", "pool", "exhaust"]


def test_http_status_codes_survive_but_other_numbers_do_not() -> None:
    words = tokens("502 bad gateway on 12345 requests, 7 retries")
    assert "502" in words
    assert "12345" not in words and "7" not in words


def test_technical_short_names_survive_and_numbered_hosts_lose_their_number() -> None:
    assert tokens("p99 latency on s3 via node17") == ["p99", "latency", "s3", "node"]


def test_hex_ids_and_random_ids_are_dropped() -> None:
    assert tokens("commit deadbeef1234 job 3nxy7abc9 failed") == ["commit", "job", "fail"]


def test_stemmer_joins_inflections_of_one_word() -> None:
    assert stem("exhausted") == stem("exhaustion") == "exhaust"
    assert stem("connections") == stem("connection") == "connect"
    assert stem("queries") == "query"
    assert stem("lagging") == "lag" and stem("falling") == "fall"
    assert stem("ssl") == "ssl"  # short words are left alone


def test_rare_words_outweigh_common_ones() -> None:
    stats = TermStats.from_documents(
        [["latency", "replica"], ["latency", "disk"], ["latency", "pool"], ["latency"]]
    )
    assert stats.idf("replica") > stats.idf("latency")
    vector = stats.weigh(["latency", "replica"])
    assert vector["replica"] > vector["latency"]
    assert key_terms(vector, limit=1) == ["replica"]


def test_generic_incident_words_weigh_little_even_without_a_corpus() -> None:
    stats = TermStats({}, 0)
    vector = stats.weigh(tokens("critical error: replication lag"))
    assert vector["replicat"] > 2 * vector["error"]


def test_shared_terms_explain_a_match_heaviest_first() -> None:
    stats = TermStats.from_documents([["pool"], ["latency"], ["latency"], ["latency"]])
    a = stats.weigh(["pool", "latency", "disk"])
    b = stats.weigh(["pool", "latency", "cpu"])
    assert shared_terms(a, b) == ["pool", "latency"]
    assert 0.0 < cosine(a, b) < 1.0


def test_surface_forms_give_the_users_words_back() -> None:
    assert surface_forms("Pool exhausted, connections refused")["exhaust"] == "exhausted"


def test_ngrams_join_neighbouring_words() -> None:
    assert ngrams(["a", "b", "c"]) == ["a b", "b c"]


@given(st.text(max_size=200))
def test_tokenising_never_fails_and_is_deterministic(text: str) -> None:
    assert tokens(text) == tokens(text)
    normalise(text)


@given(st.lists(st.sampled_from(["pool", "disk", "dns", "lag", "cpu"]), min_size=1))
def test_a_vector_is_fully_similar_to_itself(words: list[str]) -> None:
    vector = TermStats({}, 0).weigh(words)
    assert abs(cosine(vector, vector) - 1.0) < 1e-9
