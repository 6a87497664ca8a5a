"""Candidate problems: clusters of past incidents that look like one recurring cause.

`cluster()` groups a history in time order (a leader pass), comparing each incident with the
running *centroids* of existing clusters (average-link-like, so a cluster does not chain
through one odd member). Centroids are found through an inverted index of key terms, services
and fingerprints (blocking), so each incident is scored against a handful of clusters, not
all of them. A second pass merges clusters whose centroids match, best pair first, re-scoring
every pair against the clusters as they are by then.

The score of an incident against a centroid is `recurrence.similarity` with the centroid in
place of the other incident: weighted text and label cosines, the share of the cluster with
the same alert fingerprint, times the service relation. `describe()` says why a group belongs
together (count and span, shared fingerprint, services, labels and words), and `headline()`
turns that into a problem title. Pure and deterministic; 100,000 incidents in under 30 s.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from fireline.domain.recurrence import (
    DEFAULT_THRESHOLD,
    RELATION_FACTOR,
    W_FINGERPRINT,
    W_LABELS,
    W_TEXT,
    CorpusStats,
    IncidentFeatures,
    _corpus,
    _prepare,
    _Prepared,
    _relation,
)
from fireline.domain.text_signature import key_terms, surface_forms
from fireline.errors import InvalidField


@dataclass(frozen=True, slots=True)
class Cluster:
    """A candidate problem: incidents that look like one cause, with the reasons why."""

    incident_ids: tuple[int, ...]
    refs: tuple[str, ...]
    score: float
    first_seen: datetime
    last_seen: datetime
    reasons: tuple[str, ...]  # human sentences, strongest evidence first
    services: tuple[str, ...] = ()  # services of the members, most frequent first
    fingerprints: tuple[str, ...] = ()  # alert fingerprint shared by at least 2 members
    labels: tuple[str, ...] = ()  # stable labels (key=value) on at least half the members
    words: tuple[str, ...] = ()  # heaviest words on at least half the members (as written)


def cluster(
    incidents: Sequence[IncidentFeatures],
    *,
    min_size: int = 2,
    threshold: float = DEFAULT_THRESHOLD,
    stats: CorpusStats | None = None,
    words: Mapping[int, Sequence[str]] | None = None,
) -> list[Cluster]:
    """Group incidents that look like one recurring cause; largest clusters first.

    `threshold` (0..1) is the `similarity` an incident needs with a cluster's centroid to join
    it. Clusters smaller than `min_size` (>= 2) are dropped. `words` may hold stored
    `signature_words` by incident id (saves tokenising). Raises InvalidField on bad bounds.
    """
    if min_size < 2:
        raise InvalidField("min_size", "must be at least 2")
    if not 0.0 < threshold <= 1.0:
        raise InvalidField("threshold", "must be greater than 0 and at most 1")
    with _cycle_collector_paused():
        return _cluster(list(incidents), min_size, threshold, stats, words)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one clustering run.

    A run builds millions of small dicts and counters that hold no reference cycles (reference
    counting frees them); the collector would still walk the whole growing heap again and
    again: 15% of the run at 100,000 incidents. It is switched back on afterwards (if it was
    on), so cycles made meanwhile elsewhere in the process are collected then.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _cluster(
    history: list[IncidentFeatures],
    min_size: int,
    threshold: float,
    stats: CorpusStats | None,
    words: Mapping[int, Sequence[str]] | None,
) -> list[Cluster]:
    stable: list[list[str]] = []
    found, per_incident = _corpus(history, words, stable)
    stats = stats or found
    prepared = [
        _prepare(i, stats, w, s) for i, w, s in zip(history, per_incident, stable, strict=True)
    ]
    order = sorted(range(len(prepared)), key=lambda i: prepared[i].features.detected_at)
    groups = _merge(_leader_pass([prepared[i] for i in order], threshold), threshold)
    clusters = [_describe(members) for members in groups if len(members) >= min_size]
    clusters.sort(key=lambda c: (-len(c.incident_ids), c.first_seen))
    return clusters


def describe(incidents: Sequence[IncidentFeatures]) -> Cluster:
    """Describe `incidents` as one cluster: count and span, shared fingerprint, services,
    labels and words, and how tightly their texts agree (`score`, 0..1).

    Raises InvalidField (field `incidents`) when given fewer than 2.
    """
    history = list(incidents)
    if len(history) < 2:
        raise InvalidField("incidents", "give at least 2 incidents")
    stats, words = _corpus(history)
    return _describe([_prepare(i, stats, w) for i, w in zip(history, words, strict=True)])


def headline(group: Cluster) -> str:
    """A problem title for a cluster: its strongest shared words and main service."""
    words = " ".join(group.words[:4]) or "incidents"
    where = f" on {group.services[0]}" if group.services else ""
    return f"Recurring {words}{where} ({len(group.incident_ids)} incidents)"[:300]


# --- clustering internals ----------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    members: list[_Prepared]
    text: dict[str, float] = field(default_factory=dict)
    text_norm2: float = 0.0
    labels: dict[str, float] = field(default_factory=dict)
    labels_norm2: float = 0.0
    fingerprints: Counter[str] = field(default_factory=Counter)
    with_fingerprint: int = 0
    services: Counter[frozenset[str]] = field(default_factory=Counter)
    related: dict[frozenset[str], frozenset[str]] = field(default_factory=dict)
    dominant: frozenset[str] = frozenset()
    norm: float = 0.0  # Euclidean length of `text`
    named: set[str] = field(default_factory=set)  # related services' words the texts mention

    def add(self, item: _Prepared) -> None:
        self.members.append(item)
        self.text_norm2 = _accumulate(self.text, item.text, self.text_norm2)
        self.norm = self.text_norm2**0.5
        if item.named:
            self.named |= item.named
        self.labels_norm2 = _accumulate(self.labels, item.labels, self.labels_norm2)
        if item.fingerprints:
            self.with_fingerprint += 1
            self.fingerprints.update(item.fingerprints)
        self.services[item.services] += 1
        self.related[item.services] = self.related.get(item.services, frozenset()) | item.related
        if len(self.members) == 1 or self.services[item.services] > self.services[self.dominant]:
            self.dominant = item.services  # the most frequent set of services

    def absorb(self, other: _Group) -> None:
        for item in other.members:
            self.add(item)


def _accumulate(total: dict[str, float], vector: Mapping[str, float], norm2: float) -> float:
    for key, weight in vector.items():
        before = total.get(key, 0.0)
        total[key] = before + weight
        norm2 += 2.0 * before * weight + weight * weight
    return norm2


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    total = 0.0
    get = b.get
    for key, weight in a.items():  # dict order: the same float sum in every process
        other = get(key)
        if other is not None:
            total += weight * other
    return total


def _group_score(g: _Group, h: _Group) -> float:
    """Centroid-to-centroid version of `_score` (a one-member group is just the incident)."""
    text = _dot(g.text, h.text) / ((g.text_norm2 * h.text_norm2) ** 0.5 or 1.0)
    labels = 0.0
    if g.labels_norm2 and h.labels_norm2:
        labels = _dot(g.labels, h.labels) / (g.labels_norm2 * h.labels_norm2) ** 0.5
    base = W_TEXT * min(text, 1.0) + W_LABELS * min(labels, 1.0)
    if g.with_fingerprint and h.with_fingerprint:
        share = max(
            (min(g.fingerprints[f] / g.with_fingerprint, h.fingerprints[f] / h.with_fingerprint)
             for f in g.fingerprints.keys() & h.fingerprints.keys()),
            default=0.0,
        )  # fmt: skip
        base += W_FINGERPRINT * min(1.0, 2.0 * share)
    gs, hs = g.dominant, h.dominant
    kind, _ = _relation(gs, g.related[gs], g.named, hs, h.related[hs], h.named)
    factor = RELATION_FACTOR[kind]
    return min(1.0, base) * factor


def _item_score(item: _Prepared, g: _Group) -> float:
    """`_group_score` of a one-incident group against `g`, without building the group."""
    get = g.text.get
    dot = 0.0
    for key, weight in item.text.items():
        other = get(key)
        if other is not None:
            dot += weight * other
    text = dot / g.norm if g.norm else 0.0
    base = W_TEXT * (text if text < 1.0 else 1.0)
    if item.labels and g.labels_norm2:
        labels = _dot(item.labels, g.labels) / g.labels_norm2**0.5
        base += W_LABELS * min(labels, 1.0)
    if item.fingerprints and g.with_fingerprint:
        share = max(g.fingerprints.get(f, 0) for f in item.fingerprints) / g.with_fingerprint
        base += W_FINGERPRINT * min(1.0, 2.0 * share)
    gs = g.dominant
    if item.services & gs:
        factor = 1.0  # the common case, without working out the relation
    else:
        kind, _ = _relation(item.services, item.related, item.named, gs, g.related[gs], g.named)
        factor = RELATION_FACTOR[kind]
    return min(1.0, base) * factor


_KEY_TERMS = 6
_MAX_CANDIDATES_PER_TERM = 16
_CANDIDATES = 10
_CLEAR_MATCH = 0.6
_MERGE_FROM = 1


def _leader_pass(items: list[_Prepared], threshold: float) -> list[_Group]:
    """Single pass in time order: join the best-matching group's centroid, or start one.

    Each blocking key (key term, @service, #fingerprint) lists the groups that used it, most
    recently active last; an incident is scored against groups among the last few of its
    keys, so a long-running cause stays in view however many new groups share its words.
    """
    groups: list[_Group] = []
    # Each posting holds only the `limit` most recently active groups of its key, oldest
    # first: nothing further back is ever read, so a hot key (a busy service, a common word)
    # costs the same at 100,000 incidents as at 100. (A dict with pop-and-reinsert kept every
    # group and left holes that reversed iteration had to skip: quadratic on busy keys.)
    by_key: dict[str, list[int]] = {}
    limit = _MAX_CANDIDATES_PER_TERM
    for item in items:
        hits: dict[int, int] = {}
        keys = key_terms(item.text, limit=_KEY_TERMS)
        keys += [f"@{s}" for s in item.services]
        keys += [f"#{f}" for f in item.fingerprints]
        for key in keys:
            posting = by_key.get(key)
            if posting:
                weight = 1 if key[0].isalnum() else 2
                for index in reversed(posting):
                    hits[index] = hits.get(index, 0) + weight
        if len(hits) > _CANDIDATES:  # as heapq.nlargest, but sorted() runs in C
            candidates = sorted(hits, key=hits.__getitem__, reverse=True)[:_CANDIDATES]
        else:
            candidates = list(hits)
        best, best_score = -1, threshold
        for index in candidates:
            score = _item_score(item, groups[index])
            if score >= best_score:
                best, best_score = index, score
                if score >= _CLEAR_MATCH:
                    break  # candidates come most-shared-keys first; this one is clear
        if best < 0:
            best = len(groups)
            groups.append(_Group(members=[]))
        groups[best].add(item)
        for key in keys:
            posting = by_key.get(key)
            if posting is None:
                by_key[key] = [best]
                continue
            if posting[-1] == best:
                continue
            if best in posting:
                posting.remove(best)
            elif len(posting) >= limit:
                del posting[0]
            posting.append(best)  # most recently active last
    return groups


def _merge(groups: list[_Group], threshold: float) -> list[list[_Prepared]]:
    """Merge groups whose centroids match (fixes a cause split by its first few incidents).

    Candidate pairs are merged best first, and each pair is re-scored against the groups as
    they are by then, so a merge never rides on a centroid that has since moved (no chaining).
    """
    by_key: dict[str, list[int]] = {}
    keys = [_group_keys(group) for group in groups]
    by_size = sorted(range(len(groups)), key=lambda i: -len(groups[i].members))
    for index in by_size:  # postings list the largest groups first
        if len(groups[index].members) >= 2:
            for key in keys[index]:
                by_key.setdefault(key, []).append(index)
    pairs: list[tuple[float, int, int]] = []
    for index, group in enumerate(groups):
        if len(group.members) < _MERGE_FROM:
            continue
        hits: Counter[int] = Counter()
        for key in keys[index]:
            weight = 1 if key[0].isalnum() else 2
            for other in by_key.get(key, ())[:_MAX_CANDIDATES_PER_TERM]:
                hits[other] += weight
        single = group.members[0] if len(group.members) == 1 else None
        for other, _ in hits.most_common(_CANDIDATES):
            if other != index:
                if single is not None:  # most groups: the same score, without centroid maths
                    score = _item_score(single, groups[other])
                else:
                    score = _group_score(group, groups[other])
                if score >= threshold:
                    pairs.append((score, index, other))
    pairs.sort(key=lambda p: -p[0])
    owner = list(range(len(groups)))

    def find(i: int) -> int:
        while owner[i] != i:
            owner[i] = owner[owner[i]]
            i = owner[i]
        return i

    for _, a, b in pairs:
        ra, rb = find(a), find(b)
        if ra == rb or _group_score(groups[ra], groups[rb]) < threshold:
            continue
        if len(groups[ra].members) < len(groups[rb].members):
            ra, rb = rb, ra
        groups[ra].absorb(groups[rb])
        owner[rb] = ra
    return [g.members for i, g in enumerate(groups) if find(i) == i]


def _group_keys(group: _Group) -> list[str]:
    """Blocking keys of a group: key terms, main services (@name) and fingerprints (#fp)."""
    shared = [f"#{f}" for f, c in group.fingerprints.items() if c * 5 >= group.with_fingerprint]
    services = [f"@{s}" for s in group.dominant]
    return key_terms(group.text, limit=_KEY_TERMS) + shared + services


def _describe(members: list[_Prepared]) -> Cluster:
    members = sorted(members, key=lambda m: (m.features.detected_at, m.features.id))
    group = _Group(members=[])
    for item in members:
        group.add(item)
    n = len(members)
    norm = group.text_norm2**0.5 or 1.0
    cohesion = sum(_dot(m.text, group.text) / norm for m in members) / n
    first, last = members[0].features.detected_at, members[-1].features.detected_at
    reasons = [f"{n} incidents over {max(1, (last - first).days)} days"]
    fingerprint, count = max(
        group.fingerprints.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0)
    )
    fingerprints: tuple[str, ...] = ()
    if count >= 2:
        fingerprints = (fingerprint,)
        reasons.append(f"same alert fingerprint {fingerprint[:12]} on {count} of {n}")
    services: Counter[str] = Counter(s for m in members for s in m.services)
    if services:
        reasons.append(
            "service " + ", ".join(f"{s} ({c} of {n})" for s, c in services.most_common(3))
        )
    presence: Counter[str] = Counter(k for m in members for k in m.labels)
    labels = sorted(
        (k for k, c in presence.items() if c * 2 >= n), key=lambda k: (-group.labels[k], k)
    )[:3]
    if labels:
        reasons.append("shared labels: " + ", ".join(labels))
    seen: Counter[str] = Counter(w for m in members for w in m.text)
    ranked = sorted((w for w, c in seen.items() if c * 2 >= n), key=lambda w: (-group.text[w], w))
    top = ranked[:6]
    forms: dict[str, str] = {}
    for m in members:
        if all(w in forms for w in top):
            break
        for stem, form in surface_forms(f"{m.features.title} {m.features.description}").items():
            forms.setdefault(stem, form)
    words = tuple(forms.get(w, w) for w in top)
    if words:
        reasons.append("shared words: " + ", ".join(words))
    return Cluster(
        incident_ids=tuple(m.features.id for m in members),
        refs=tuple(m.features.ref for m in members),
        score=round(min(1.0, cohesion), 4),
        first_seen=first,
        last_seen=last,
        reasons=tuple(reasons),
        services=tuple(s for s, _ in services.most_common()),
        fingerprints=fingerprints,
        labels=tuple(labels),
        words=words,
    )
