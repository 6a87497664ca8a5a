"""Recurring-incident detection: explainable similarity and "similar past incidents".

Evidence that two incidents share a cause, and how it is combined (`similarity`):

    text      cosine of IDF-weighted, masked word vectors (title counts twice; the incident's
              own service name is left out because service is judged separately)   x 0.70
    labels    cosine of IDF-weighted stable labels (instance/pod/host… and any value
              holding a host, IP, id or number are ignored)                         x 0.15
    alert     a shared alert fingerprint / dedup key                                + 0.35
    ------------------------------------------------------------------------------------
    base = min(1, sum) x relation:  same service 1.0 | one depends on the other and the
    dependency is named in the text (or both depend on a service both name) 0.85 | a service
    unknown 0.8 | one depends on the other, unnamed 0.6 | unrelated services 0.4

So a service alone never groups incidents (it only scales other evidence), generic words weigh
little (IDF), and the same words on unrelated services are not enough. Every `Match` carries
the reasons it scored ("same alert fingerprint 3f2a9c1e", "service checkout-api",
"shared words: connection, pool, exhausted").

`SimilarityIndex` answers `similar(incident, k)` from an inverted index built once;
`rank_similar` scores candidates a caller found itself (the use case reads them from a database
index). Clustering lives in `recurrence_clusters`. All pure and deterministic.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime

from fireline.domain.text_signature import (
    TermStats,
    WeightedTerms,
    cosine,
    normalise,
    shared_terms,
    surface_forms,
    tokens,
    unit,
)

W_TEXT = 0.70
W_LABELS = 0.15
W_FINGERPRINT = 0.35
RELATION_FACTOR = {
    "same": 1.0,
    "named dependency": 0.85,
    "unknown": 0.8,
    "depends": 0.6,
    "different": 0.4,
}
DEFAULT_THRESHOLD = 0.42
UPSTREAM_DAMPING = 0.35

VOLATILE_LABEL_KEYS: frozenset[str] = frozenset(
    """instance pod pod_name kubernetes_pod_name host hostname node nodename ip address
    container_id instance_id machine_id id uid uuid request_id trace_id span_id pid replica
    prometheus_replica timestamp startsat endsat generatorurl value fingerprint""".split()
)
"""Label keys whose values name one machine, process or event rather than a cause."""


@dataclass(frozen=True, slots=True)
class IncidentFeatures:
    """What recurrence detection looks at for one incident.

    `service_ids` are stable service keys (slugs, or ids as strings); `related_service_ids`
    the services they depend on. `fingerprints` are alert fingerprints or dedup keys.
    `detected_at` is timezone-aware UTC.
    """

    id: int
    ref: str
    title: str
    detected_at: datetime
    description: str = ""
    service_ids: tuple[str, ...] = ()
    related_service_ids: tuple[str, ...] = ()
    category: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """How alike two incidents are (0..1) and why."""

    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Similar:
    """One answer of `SimilarityIndex.similar`."""

    incident_id: int
    ref: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """Document frequencies of words and of stable labels over a history."""

    words: TermStats
    labels: TermStats


@dataclass(slots=True)
class _Prepared:
    features: IncidentFeatures
    text: WeightedTerms
    labels: WeightedTerms
    fingerprints: frozenset[str]
    services: frozenset[str]
    related: frozenset[str]
    named: frozenset[str]  # words of related services' names that the text mentions


def stable_labels(labels: Mapping[str, str]) -> list[str]:
    """`key=value` strings of the labels that can identify a cause (lowercased).

    Drops keys in `VOLATILE_LABEL_KEYS` and values that contain a host, IP, id or number.
    """
    out: list[str] = []
    for key, value in labels.items():
        k = key.strip().lower()
        if k in VOLATILE_LABEL_KEYS:
            continue
        v = value.strip().lower()
        stable = _STABLE_VALUES.get(v)
        if stable is None:
            stable = bool(v) and "<" not in normalise(v)
            if len(_STABLE_VALUES) < 100_000:
                _STABLE_VALUES[v] = stable
        if stable:
            out.append(f"{k}={v}")
    return out


_STABLE_VALUES: dict[str, bool] = {}


def corpus_stats(incidents: Iterable[IncidentFeatures]) -> CorpusStats:
    """IDF statistics of a history (words of title and description, stable labels)."""
    return _corpus(list(incidents))[0]


def _corpus(
    history: list[IncidentFeatures],
    given: Mapping[int, Sequence[str]] | None = None,
    stable: list[list[str]] | None = None,
) -> tuple[CorpusStats, list[list[str]]]:
    """IDF statistics and each incident's signature words; each incident's stable labels are
    appended to `stable` when given (so `_prepare` need not work them out again)."""
    words: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    per_incident: list[list[str]] = []
    stored = given or {}
    for incident in history:
        known = stored.get(incident.id)
        found = signature_words(incident) if known is None else list(known)
        per_incident.append(found)
        words.update(set(found))
        own = stable_labels(incident.labels) if incident.labels else []
        if stable is not None:
            stable.append(own)
        if own:
            labels.update(set(own))
    count = len(history)
    return CorpusStats(TermStats(words, count), TermStats(labels, count)), per_incident


_NO_STATS = CorpusStats(TermStats({}, 0), TermStats({}, 0))


def similarity(
    a: IncidentFeatures, b: IncidentFeatures, *, stats: CorpusStats | None = None
) -> Match:
    """Score (0..1) how likely `a` and `b` share a cause, with human reasons.

    Without `stats` every word weighs the same except the damped generic ones; pass
    `corpus_stats(history)` (or use `SimilarityIndex.compare`) for IDF weighting.
    """
    stats = stats or _NO_STATS
    pa, pb = _prepare(a, stats), _prepare(b, stats)
    score = _score(pa, pb)
    return Match(round(score, 4), tuple(_reasons(pa, pb)))


class SimilarityIndex:
    """Inverted index over a stored history for fast "similar past incidents" queries.

    Built once (IDF frozen at build time); `similar()` looks only at incidents sharing a
    fingerprint or a not-too-common word with the query, then scores the best 200 in full.
    """

    COMMON_SHARE = 0.05
    SHORTLIST = 200

    def __init__(self, incidents: Iterable[IncidentFeatures]) -> None:
        history = list(incidents)
        self.stats, words = _corpus(history)
        self._items = [_prepare(i, self.stats, w) for i, w in zip(history, words, strict=True)]
        self._words: dict[str, tuple[list[int], list[float]]] = {}
        self._fingerprints: dict[str, list[int]] = {}
        self._max_postings = max(50, int(len(self._items) * self.COMMON_SHARE))
        for position, item in enumerate(self._items):
            for word, weight in item.text.items():
                positions, weights = self._words.setdefault(word, ([], []))
                positions.append(position)
                weights.append(weight)
            for fingerprint in item.fingerprints:
                self._fingerprints.setdefault(fingerprint, []).append(position)

    def __len__(self) -> int:
        return len(self._items)

    def compare(self, a: IncidentFeatures, b: IncidentFeatures) -> Match:
        """`similarity(a, b)` weighted by this index's corpus statistics."""
        return similarity(a, b, stats=self.stats)

    def similar(
        self, incident: IncidentFeatures, *, k: int = 10, min_score: float = 0.3
    ) -> list[Similar]:
        """The `k` stored incidents most like `incident` scoring at least `min_score`, best
        first (ties: most recent first). The incident itself (same id) is never returned."""
        query = _prepare(incident, self.stats)
        partial: dict[int, float] = {}
        get = partial.get
        for word, weight in query.text.items():
            posting = self._words.get(word)
            if posting is None or len(posting[0]) > self._max_postings:
                continue  # too common to tell incidents apart; cheap to skip, weighs little
            for position, other in zip(*posting, strict=True):
                partial[position] = get(position, 0.0) + weight * other
        for fingerprint in query.fingerprints:
            for position in self._fingerprints.get(fingerprint, ()):
                partial[position] = partial.get(position, 0.0) + 1.0
        shortlist = heapq.nlargest(self.SHORTLIST, partial, key=partial.__getitem__)
        return _rank(query, [self._items[p] for p in shortlist], k=k, min_score=min_score)


def rank_similar(
    incident: IncidentFeatures,
    candidates: Iterable[IncidentFeatures],
    *,
    stats: CorpusStats,
    k: int = 10,
    min_score: float = 0.3,
    words: Mapping[int, Sequence[str]] | None = None,
) -> list[Similar]:
    """The `k` candidates most like `incident` scoring at least `min_score`, best first (ties:
    most recent first), each with its reasons; `incident` itself (same id) is left out.

    For callers that find candidates themselves (e.g. from a database index); `words` may
    hold stored `signature_words` by incident id.
    """
    query = _prepare(incident, stats)
    given = words or {}
    items = [_prepare(c, stats, _maybe_list(given.get(c.id))) for c in candidates]
    return _rank(query, items, k=k, min_score=min_score)


def _maybe_list(words: Sequence[str] | None) -> list[str] | None:
    return None if words is None else list(words)


def _rank(
    query: _Prepared, items: Iterable[_Prepared], *, k: int, min_score: float
) -> list[Similar]:
    scored: list[tuple[float, _Prepared]] = []
    for item in items:
        if item.features.id == query.features.id:
            continue
        score = _score(query, item)
        if score >= min_score:
            scored.append((score, item))
    scored.sort(key=lambda s: (-s[0], -s[1].features.detected_at.timestamp()))
    return [
        Similar(
            incident_id=item.features.id,
            ref=item.features.ref,
            score=round(score, 4),
            reasons=tuple(_reasons(query, item)),
        )
        for score, item in scored[:k]
    ]


# --- preparation and pairwise evidence -------------------------------------------------------


def signature_words(incident: IncidentFeatures) -> list[str]:
    """The words compared for `incident`: title (twice) then description tokens, without the
    words of its own service names (service is judged separately). Store them to skip
    tokenising again (`cluster(words=...)`, `rank_similar(words=...)`)."""
    title = tokens(incident.title)
    words = title + title + tokens(incident.description)
    own: set[str] = set()
    for service in incident.service_ids:
        own.update(_service_words(service))
    return [w for w in words if w not in own] if own else words


def _prepare(
    incident: IncidentFeatures,
    stats: CorpusStats,
    words: list[str] | None = None,
    labels: list[str] | None = None,
) -> _Prepared:
    """Vectors of one incident. Words naming a service it depends on weigh less in the text
    vector (`UPSTREAM_DAMPING`): they say *where* the fault is, which the service relation
    judges, not *what* it is (evictions and DNS failures on one cache must not match by the
    cache's name). They are kept in `named` for the relation."""
    found = signature_words(incident) if words is None else words
    related = frozenset(incident.related_service_ids)
    named: frozenset[str] = frozenset()
    if related:
        upstream: set[str] = set()
        for service in related:
            upstream.update(_service_words(service))
        named = frozenset(upstream.intersection(found))
    text = stats.words.weigh(found)
    if named:
        text = unit({w: v * UPSTREAM_DAMPING if w in named else v for w, v in text.items()})
    return _Prepared(
        features=incident,
        text=text,
        labels=stats.labels.weigh(stable_labels(incident.labels) if labels is None else labels),
        fingerprints=frozenset(incident.fingerprints),
        services=frozenset(incident.service_ids),
        related=related,
        named=named,
    )


_SERVICE_WORDS: dict[str, frozenset[str]] = {}


def _service_words(service: str) -> frozenset[str]:
    found = _SERVICE_WORDS.get(service)
    if found is None:
        found = frozenset(tokens(service))
        if len(_SERVICE_WORDS) < 100_000:
            _SERVICE_WORDS[service] = found
    return found


def _relation(
    a_services: frozenset[str],
    a_related: frozenset[str],
    a_named: Set[str],
    b_services: frozenset[str],
    b_related: frozenset[str],
    b_named: Set[str],
) -> tuple[str, str]:
    """(kind, explanation) of how two sets of services relate; kind keys `RELATION_FACTOR`.

    A dependency counts fully ("named dependency") only when the incident on the dependent
    service names the service it depends on, as responders do when the fault is upstream.
    """
    if not a_services or not b_services:
        return "unknown", ""
    same = a_services & b_services
    if same:
        return "same", f"same service {', '.join(sorted(same))}"
    kind, why = "different", ""
    pairs = (
        (a_services, a_related, a_named, b_services),
        (b_services, b_related, b_named, a_services),
    )
    for services, related, mentioned, others in pairs:
        for dependency in sorted(others & related):
            named = _service_words(dependency)
            if named and named <= mentioned:
                return "named dependency", f"{min(services)} depends on {dependency}, named in it"
            kind, why = "depends", f"{min(services)} depends on {dependency}"
    if kind == "different":
        for dependency in sorted(a_related & b_related):
            named = _service_words(dependency)
            if named and named <= a_named and named <= b_named:
                return "named dependency", f"both depend on {dependency}, named in both"
    return kind, why


def _score(a: _Prepared, b: _Prepared) -> float:
    text = cosine(a.text, b.text)
    labels = cosine(a.labels, b.labels) if a.labels and b.labels else 0.0
    base = W_TEXT * text + W_LABELS * labels
    if a.fingerprints & b.fingerprints:
        base += W_FINGERPRINT
    kind, _ = _relation(a.services, a.related, a.named, b.services, b.related, b.named)
    return min(1.0, base) * RELATION_FACTOR[kind]


def _reasons(a: _Prepared, b: _Prepared) -> list[str]:
    reasons: list[str] = []
    fingerprints = sorted(a.fingerprints & b.fingerprints)
    if fingerprints:
        reasons.append(f"same alert fingerprint {fingerprints[0][:12]}")
    kind, why = _relation(a.services, a.related, a.named, b.services, b.related, b.named)
    if why:
        reasons.append(why)
    elif kind == "different":
        reasons.append(f"different services ({min(a.services)} / {min(b.services)})")
    labels = shared_terms(a.labels, b.labels, limit=3)
    if labels:
        reasons.append("shared labels: " + ", ".join(labels))
    words = shared_terms(a.text, b.text, limit=6)
    if words:
        forms = surface_forms(f"{b.features.title} {b.features.description}")
        reasons.append("shared words: " + ", ".join(forms.get(w, w) for w in words))
    return reasons
