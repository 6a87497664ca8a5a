"""Fix verification: does a new incident show that a resolved problem came back?

When a problem is resolved its *signature* is kept: what its incidents had in common.

    Signature
     ├── service_ids   the problem's services and those of its linked incidents
     ├── fingerprints  the alert fingerprints / dedup keys of its incidents
     ├── labels        labels every linked incident carried with the same value, minus volatile
     │                 ones (host, instance, pod, ...)
     └── words         key words (`domain.symptoms`) of the problem title and shared by at least
                       half of the incident titles

A new incident detected inside the watch period *recurs* the problem when (first rule wins):

    1. it matched a known error of this problem                       (score 1.0)
    2. its fingerprint is one of the signature's                      (score 1.0)
    3. it is on one of the signature's services (or the signature names none) and
       a. at least half the signature labels hold, at least one, no conflict on `alertname`
       b. or at least 60 % of the signature words (at least 2) appear in its title/description

Every verdict carries the reasons, which go on the problem's timeline as the evidence of the
reopen. The rule is deliberately simple and stricter than "similar incidents": reopening a
problem is loud, so a false positive costs more than a miss. Pure, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fireline.domain.symptoms import coverage, key_words

VOLATILE_LABELS: frozenset[str] = frozenset(
    {
        "host",
        "hostname",
        "instance",
        "pod",
        "pod_name",
        "node",
        "container",
        "container_id",
        "ip",
        "address",
        "id",
        "request_id",
        "trace_id",
        "job_id",
        "timestamp",
    }
)
LABEL_SHARE = 0.5
WORD_SHARE = 0.6
MIN_WORDS = 2
MAX_WORDS = 30


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """An incident as fix verification sees it."""

    ref: str
    title: str
    description: str = ""
    service_ids: frozenset[int] = frozenset()
    fingerprint: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    matched_known_error: bool = False


@dataclass(frozen=True, slots=True)
class Signature:
    service_ids: frozenset[int] = frozenset()
    fingerprints: frozenset[str] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    words: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, object]:
        """JSON form stored on the problem (sorted, so equal signatures serialise equally)."""
        return {
            "service_ids": sorted(self.service_ids),
            "fingerprints": sorted(self.fingerprints),
            "labels": dict(sorted(self.labels.items())),
            "words": sorted(self.words),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Signature:
        """Inverse of `to_dict`; unknown or malformed parts are ignored (an old record)."""
        services = data.get("service_ids")
        prints = data.get("fingerprints")
        labels = data.get("labels")
        words = data.get("words")
        return cls(
            service_ids=frozenset(
                s for s in (services if isinstance(services, list) else []) if isinstance(s, int)
            ),
            fingerprints=frozenset(
                str(p) for p in (prints if isinstance(prints, list) else []) if p
            ),
            labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
            words=frozenset(str(w) for w in (words if isinstance(words, list) else [])),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """A recurrence: how sure (0..1) and why."""

    score: float
    reasons: tuple[str, ...]


def signature_of(
    *, title: str, service_ids: frozenset[int], incidents: Sequence[IncidentFacts]
) -> Signature:
    """The signature of a problem titled `title` on `service_ids` with these incidents."""
    services = set(service_ids)
    for incident in incidents:
        services |= incident.service_ids
    prints = frozenset(i.fingerprint for i in incidents if i.fingerprint)
    labels: dict[str, str] = {}
    if incidents:
        first = incidents[0].labels
        for key, value in first.items():
            if key.strip().lower() in VOLATILE_LABELS:
                continue
            if all(i.labels.get(key) == value for i in incidents[1:]):
                labels[key] = value
    counts: Counter[str] = Counter()
    for incident in incidents:
        counts.update(key_words(incident.title))
    needed = max(1, (len(incidents) + 1) // 2)
    shared = {w for w, n in counts.items() if n >= needed}
    words = sorted(key_words(title) | shared)[:MAX_WORDS]
    return Signature(
        service_ids=frozenset(services),
        fingerprints=prints,
        labels=labels,
        words=frozenset(words),
    )


def check(signature: Signature, incident: IncidentFacts) -> Verdict | None:
    """A `Verdict` if `incident` is a recurrence of the problem with `signature`, else None."""
    if incident.matched_known_error:
        return Verdict(1.0, ("matched a known error of this problem",))
    if incident.fingerprint and incident.fingerprint in signature.fingerprints:
        return Verdict(1.0, (f"same alert fingerprint {incident.fingerprint}",))
    reasons: list[str] = []
    if signature.service_ids:
        if not signature.service_ids & incident.service_ids:
            return None
        reasons.append("same service")
    if signature.labels:
        held = [f"{k}={v}" for k, v in sorted(signature.labels.items()) if _holds(incident, k, v)]
        alert = signature.labels.get("alertname")
        clash = alert is not None and incident.labels.get("alertname") not in (None, alert)
        share = len(held) / len(signature.labels)
        if held and share >= LABEL_SHARE and not clash:
            return Verdict(round(share, 3), (*reasons, "labels " + ", ".join(held)))
    words = key_words(f"{incident.title}\n{incident.description}")
    share, found = coverage(signature.words, words)
    if len(found) >= MIN_WORDS and share >= WORD_SHARE:
        shown = ", ".join(found[:10])
        summary = f"words {shown} ({len(found)} of {len(signature.words)})"
        return Verdict(round(share, 3), (*reasons, summary))
    return None


def watch_until(resolved_at: datetime, days: int) -> datetime:
    """End of the watch period: `days` whole days after `resolved_at` (UTC, tz-aware)."""
    return resolved_at + timedelta(days=days)


def _holds(incident: IncidentFacts, key: str, value: str) -> bool:
    got = incident.labels.get(key)
    return got is not None and got.strip().lower() == value.strip().lower()
