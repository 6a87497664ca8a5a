"""Match a new incident or alert against known errors, explainably.

A `KnownError` describes what its recurrences look like: the services they hit, label matchers
(equality, e.g. `alertname=DBConnectionPoolExhausted`), key words that must appear, and symptom
text. A `Signal` is what just arrived (an incident's or an alert's services, labels and text).

Evidence, each part scored 0..1 and weighted over the parts the known error defines:

    labels    share of the label matchers that hold                              weight 0.45
              (a matcher whose key is present with another value halves the final score:
              `alertname=HighLatency` is positive evidence of a different problem)
    keywords  share of the known error's key words found in the signal's text    weight 0.35
    symptoms  share of the symptom words (or the title's, when no symptoms are written) found
              in the signal's text, volatile tokens masked (`domain.symptoms`)   weight 0.20

The weighted score is then multiplied by a service factor: 1.0 when a service is shared, 0.9
when either side names no service, 0.4 when both name services and none is shared (the same
words on another service are usually another cause). Services alone never make a match.

`match_known_errors()` returns the best matches, each with its score and the reasons a
responder reads next to the workaround ("service 3; labels alertname=DBPool; key words pool,
exhausted (2 of 2)"). Pure: no I/O, `now` not needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fireline.domain.symptoms import coverage, key_words

W_LABELS = 0.45
W_KEYWORDS = 0.35
W_SYMPTOMS = 0.20
SERVICE_SHARED = 1.0
SERVICE_UNKNOWN = 0.9
SERVICE_OTHER = 0.4
CONFLICT_FACTOR = 0.5
MIN_SCORE = 0.5


@dataclass(frozen=True, slots=True)
class KnownError:
    """A known error as the matcher sees it (`ref` such as `KE-3` is used in reasons)."""

    id: int
    ref: str
    title: str
    service_ids: frozenset[int] = frozenset()
    label_matchers: Mapping[str, str] = field(default_factory=dict, hash=False)
    keywords: tuple[str, ...] = ()
    symptoms: str = ""
    workaround: str = ""


@dataclass(frozen=True, slots=True)
class Signal:
    """A new incident or alert as seen by the matcher (`text`: title and description)."""

    text: str
    service_ids: frozenset[int] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class KnownErrorMatch:
    known_error_id: int
    ref: str
    score: float
    reasons: tuple[str, ...]
    workaround: str


def match_known_errors(
    signal: Signal,
    known_errors: Iterable[KnownError],
    *,
    limit: int = 3,
    min_score: float = MIN_SCORE,
) -> list[KnownErrorMatch]:
    """The `limit` known errors that best match `signal` with score >= `min_score`, best
    first (ties by id, oldest first)."""
    words = key_words(signal.text)
    labels = {_norm(k): _norm(v) for k, v in signal.labels.items()}
    found: list[KnownErrorMatch] = []
    for known in known_errors:
        match = score(known, signal, words=words, labels=labels)
        if match is not None and match.score >= min_score:
            found.append(match)
    found.sort(key=lambda m: (-m.score, m.known_error_id))
    return found[:limit]


def score(
    known: KnownError,
    signal: Signal,
    *,
    words: frozenset[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> KnownErrorMatch | None:
    """How well `signal` matches `known` (None when no evidence at all holds)."""
    words = key_words(signal.text) if words is None else words
    if labels is None:
        labels = {_norm(k): _norm(v) for k, v in signal.labels.items()}
    reasons: list[str] = []
    total = weight = 0.0
    evidence = False
    penalty = 1.0
    if known.label_matchers:
        held: list[str] = []
        for key, value in sorted(known.label_matchers.items()):
            got = labels.get(_norm(key))
            if got == _norm(value):
                held.append(f"{key}={value}")
            elif got is not None:
                penalty *= CONFLICT_FACTOR
                reasons.append(f"but label {key} differs")
        total += W_LABELS * len(held) / len(known.label_matchers)
        weight += W_LABELS
        if held:
            evidence = True
            reasons.insert(0, "labels " + ", ".join(held))
    if known.keywords:
        wanted = [w for k in known.keywords for w in key_words(k)] or list(known.keywords)
        share, found = coverage(wanted, words)
        total += W_KEYWORDS * share
        weight += W_KEYWORDS
        if found:
            evidence = True
            reasons.append(f"key words {', '.join(found)} ({len(found)} of {len(set(wanted))})")
    symptom_words = key_words(known.symptoms) or key_words(known.title)
    if symptom_words:
        share, found = coverage(symptom_words, words)
        total += W_SYMPTOMS * share
        weight += W_SYMPTOMS
        if found:
            evidence = True
            shown = ", ".join(found[:8])
            reasons.append(f"symptoms {shown} ({len(found)} of {len(symptom_words)})")
    if not evidence or weight == 0.0:
        return None
    factor = SERVICE_UNKNOWN
    if known.service_ids and signal.service_ids:
        shared = known.service_ids & signal.service_ids
        factor = SERVICE_SHARED if shared else SERVICE_OTHER
        if shared:
            reasons.insert(0, "same service")
        else:
            reasons.append("but on another service")
    return KnownErrorMatch(
        known_error_id=known.id,
        ref=known.ref,
        score=round(total / weight * factor * penalty, 4),
        reasons=tuple(reasons),
        workaround=known.workaround,
    )


def _norm(text: str) -> str:
    return text.strip().lower()
