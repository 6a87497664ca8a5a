"""Recurring-incident detection over the stored history: "similar past incidents" for one
incident, candidate clusters ("these 9 incidents over 30 days look like one problem") and
creating a problem from a cluster.

The rules are pure (`domain.recurrence`); this module loads incidents as `IncidentFeatures`
(title, description, service names and the services they depend on, labels, fingerprint) and
keeps a derived index so "similar" stays fast with 100,000 incidents:

    incident_signatures   the incident's signature words and the version they came from
    incident_terms        word (and @service) -> incidents (inverted index), for the shortlist
    recurrence_term_stats words -> how many incidents use them (IDF), a periodic snapshot

The worker indexes an incident on every `incident.*` event and catches up on anything missed
(`index_pending`); `refresh_statistics` renews the snapshot. The index is derived data: a
missing or stale row only makes an old incident harder to find until it is indexed again.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from fireline.domain import recurrence, recurrence_clusters
from fireline.domain.priority import Priority
from fireline.domain.recurrence_clusters import Cluster
from fireline.domain.refs import INCIDENT_PREFIX, format_ref, parse_ref
from fireline.domain.roles import Role
from fireline.domain.text_signature import TermStats
from fireline.errors import InvalidField, NotFound
from fireline.store.models import (
    Incident,
    IncidentLabel,
    IncidentService,
    Service,
    ServiceDependency,
)
from fireline.store.models.problems import Problem
from fireline.store.models.recurrence import IncidentSignature, IncidentTerm, RecurrenceTermStat
from fireline.usecases import incidents as incident_cases
from fireline.usecases import lookups, problems
from fireline.usecases.context import Context

ALL_DOCUMENTS = "*"  # the recurrence_term_stats row that holds the number of incidents
QUERY_TERMS = 10  # heaviest words of the incident used to find candidates
MAX_POSTINGS = 4_000  # index rows a query may sum up (heaviest words first)
COMMON_SHARE = 0.05  # words in more incidents than this share do not find candidates
SHORTLIST = 60  # candidates scored in full
RELATED, UNRELATED = 0.8, 0.4  # shortlist weight of a related / an unrelated service
SAME_FINGERPRINT = 20  # newest incidents with the same fingerprint added to them
MAX_TERM = 80
MAX_CLUSTERED = 20_000  # most recent incidents in the window that `candidates` clusters
INDEX_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class SimilarAnswer:
    """The incident asked about and its similar past incidents, best first."""

    incident_id: int
    ref: str
    similar: list[recurrence.Similar]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate clusters found among the incidents detected in [since, until]."""

    since: datetime
    until: datetime
    incidents_considered: int
    clusters: list[Cluster]


# ---------------------------------------------------------------- reads


def similar(
    ctx: Context, key: str | int, *, limit: int = 10, min_score: float = 0.3
) -> SimilarAnswer:
    """Past incidents most like incident `key` (`INC-42` or id), each with score and reasons.

    Raises NotFound (field `incident`) for an unknown incident, InvalidField for bad bounds.
    """
    if not 1 <= limit <= 100:
        raise InvalidField("limit", "must be between 1 and 100")
    if not 0.0 <= min_score <= 1.0:
        raise InvalidField("min_score", "must be between 0 and 1")
    with ctx.reading() as session:
        query = _load(session, [_incident_id(session, key)])[0][0]
        words = recurrence.signature_words(query)
        stats = _stats(session, words)
        shortlist = _shortlist(session, query, words, stats)
        candidates, stored = _load(session, shortlist)
        known = {w for ws in stored.values() for w in ws}
        stats = _stats(session, known | set(words), base=stats)
        found = recurrence.rank_similar(
            query,
            candidates,
            stats=recurrence.CorpusStats(stats, _label_stats([query, *candidates])),
            k=limit,
            min_score=min_score,
            words=stored,
        )
        return SimilarAnswer(incident_id=query.id, ref=query.ref, similar=found)


def candidates(
    ctx: Context,
    *,
    days: int = 90,
    min_size: int = 3,
    limit: int = 50,
    service: str | None = None,
) -> Candidates:
    """Clusters of incidents detected in the last `days` that look like one recurring cause.

    At most the `MAX_CLUSTERED` most recent incidents of the window are clustered; `service`
    (a name) keeps clusters that involve it. Largest clusters first, at most `limit`.
    Raises InvalidField for out-of-range bounds.
    """
    if not 1 <= days <= 3660:
        raise InvalidField("days", "must be between 1 and 3660")
    if not 2 <= min_size <= 1000:
        raise InvalidField("min_size", "must be between 2 and 1000")
    if not 1 <= limit <= 500:
        raise InvalidField("limit", "must be between 1 and 500")
    until = ctx.clock.now()
    since = until - timedelta(days=days)
    with ctx.reading() as session:
        ids = list(
            session.scalars(
                select(Incident.id)
                .where(Incident.detected_at >= since, Incident.detected_at <= until)
                .order_by(Incident.detected_at.desc(), Incident.id.desc())
                .limit(MAX_CLUSTERED)
            )
        )
        history, stored = _load(session, ids)
    found = recurrence_clusters.cluster(history, min_size=min_size, words=stored)
    if service is not None:
        wanted = service.strip().lower()
        by_id = {f.id: f for f in history}
        found = [
            c
            for c in found
            if any(wanted in (s.lower() for s in by_id[i].service_ids) for i in c.incident_ids)
        ]
    return Candidates(
        since=since, until=until, incidents_considered=len(history), clusters=found[:limit]
    )


def explain(ctx: Context, keys: Sequence[str | int]) -> Cluster:
    """Describe the given incidents as one cluster (count, span, shared evidence).

    Raises NotFound naming `incidents[i]` for an unknown one, InvalidField for fewer than 2.
    """
    with ctx.reading() as session:
        ids = _incident_ids(session, keys)
        return recurrence_clusters.describe(features_of(session, ids))


# ---------------------------------------------------------------- create a problem


def create_problem(
    ctx: Context,
    keys: Sequence[str | int],
    *,
    title: str | None = None,
    description: str | None = None,
    priority: str | None = None,
) -> Problem:
    """Open a reactive problem linking the incidents of a candidate cluster.

    The title defaults to the cluster's strongest words and service, the description to the
    reasons it was grouped; each link records those reasons. Needs the responder role.
    Raises NotFound for an unknown incident and InvalidField for fewer than 2 incidents.
    """
    ctx.actor.require(Role.RESPONDER)
    with ctx.reading() as session:
        ids = _incident_ids(session, keys)
        history = features_of(session, ids)
    group = recurrence_clusters.describe(history)
    services = Counter(s for f in history for s in f.service_ids)
    reasons = "; ".join(group.reasons)
    draft = problems.ProblemDraft(
        title=title or recurrence_clusters.headline(group),
        description=description
        if description is not None
        else "Recurring incidents grouped by Fireline's recurrence detection:\n\n"
        + "\n".join(f"- {r}" for r in group.reasons),
        origin=problems.Origin.REACTIVE,
        services=[name for name, _ in services.most_common(5)],
        incidents=list(group.refs),
        link_reason=f"recurring-incident cluster: {reasons}"[:1000],
        extra={"cluster": {"incidents": list(group.refs), "score": group.score}},
    )
    if priority is not None:
        if priority not in set(Priority):
            raise InvalidField("priority", f"must be one of {', '.join(Priority)}")
        draft.priority = Priority(priority)
    return problems.create(ctx, draft)


def _incident_id(session: Session, key: str | int) -> int:
    """The id of incident `key` (`INC-42` or id) without loading the record; NotFound if none."""
    found: int | None = None
    if isinstance(key, int) or key.isdigit():
        ident = lookups.as_id(key)
        found = (
            None
            if ident is None
            else session.scalar(select(Incident.id).where(Incident.id == ident))
        )
    else:
        number = parse_ref(key, prefix=INCIDENT_PREFIX)
        if number is not None and number <= lookups.MAX_ID:
            found = session.scalar(select(Incident.id).where(Incident.number == number))
    if found is None:
        raise NotFound(f"no incident {key!r}", field="incident")
    return found


def _incident_ids(session: Session, keys: Sequence[str | int]) -> list[int]:
    if len(keys) < 2:
        raise InvalidField("incidents", "give at least 2 incidents")
    if len(keys) > 500:
        raise InvalidField("incidents", "give at most 500 incidents")
    ids: list[int] = []
    for index, key in enumerate(keys):
        try:
            ids.append(incident_cases.get(session, key).id)
        except NotFound as exc:
            raise NotFound(str(exc), field=f"incidents[{index}]") from exc
    unique = list(dict.fromkeys(ids))
    if len(unique) < 2:
        raise InvalidField("incidents", "give at least 2 different incidents")
    return unique


# ---------------------------------------------------------------- features


def features_of(session: Session, ids: Sequence[int]) -> list[recurrence.IncidentFeatures]:
    """Incidents `ids` as the matching rules see them, in the order given (unknown ids skipped).

    Four indexed queries whatever the number of incidents (rows, services, the services those
    depend on, labels), in chunks that stay under every database's parameter limit.
    """
    return _load(session, ids)[0]


def _load(
    session: Session, ids: Sequence[int]
) -> tuple[list[recurrence.IncidentFeatures], dict[int, list[str]]]:
    """`features_of` and the stored signature words of the incidents whose row is current."""
    rows: dict[int, tuple[int, str, str, datetime, str | None]] = {}
    words: dict[int, list[str]] = {}
    services: dict[int, list[tuple[int, str]]] = defaultdict(list)
    labels: dict[int, dict[str, str]] = defaultdict(dict)
    signature = IncidentSignature
    for chunk in _chunks(ids):
        found = session.execute(
            select(
                Incident.id,
                Incident.number,
                Incident.title,
                Incident.description,
                Incident.detected_at,
                Incident.fingerprint,
                signature.words,
            )
            .outerjoin(
                signature,
                (signature.incident_id == Incident.id) & (signature.version == Incident.version),
            )
            .where(Incident.id.in_(chunk))
        )
        for id_, number, title, description, detected_at, fingerprint, stored in found:
            rows[id_] = (number, title, description or "", detected_at, fingerprint)
            if stored is not None:
                words[id_] = stored.split()
        for incident_id, service_id, name in session.execute(
            select(IncidentService.incident_id, Service.id, Service.name)
            .join(Service, Service.id == IncidentService.service_id)
            .where(IncidentService.incident_id.in_(chunk))
        ):
            services[incident_id].append((service_id, name))
        for incident_id, k, v in session.execute(
            select(IncidentLabel.incident_id, IncidentLabel.key, IncidentLabel.value).where(
                IncidentLabel.incident_id.in_(chunk)
            )
        ):
            labels[incident_id][k] = v
    depends = _dependencies(session, {s for found in services.values() for s, _ in found})
    out: list[recurrence.IncidentFeatures] = []
    for id_ in ids:
        row = rows.get(id_)
        if row is None:
            continue
        number, title, description, detected_at, fingerprint = row
        own = services.get(id_, [])
        out.append(
            recurrence.IncidentFeatures(
                id=id_,
                ref=format_ref(INCIDENT_PREFIX, number),
                title=title,
                description=description,
                detected_at=detected_at,
                service_ids=tuple(sorted(name for _, name in own)),
                related_service_ids=tuple(sorted({d for s, _ in own for d in depends.get(s, ())})),
                labels=labels.get(id_, {}),
                fingerprints=(fingerprint,) if fingerprint else (),
            )
        )
    return out, words


def _dependencies(session: Session, service_ids: set[int]) -> dict[int, list[str]]:
    """Names of the services each of `service_ids` depends on."""
    depends: dict[int, list[str]] = defaultdict(list)
    if service_ids:
        for service_id, name in session.execute(
            select(ServiceDependency.service_id, Service.name)
            .join(Service, Service.id == ServiceDependency.depends_on_id)
            .where(ServiceDependency.service_id.in_(service_ids))
        ):
            depends[service_id].append(name)
    return depends


def _chunks(ids: Sequence[int], size: int = 5_000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# ---------------------------------------------------------------- candidate shortlist


def _stats(session: Session, words: Iterable[str], *, base: TermStats | None = None) -> TermStats:
    """IDF statistics for `words` (added to `base`) from the snapshot, in one query; live
    counts from the index while no snapshot exists yet (a fresh installation)."""
    wanted = {w for w in words if w and len(w) <= MAX_TERM}
    df: dict[str, int] = dict(base.df) if base is not None else {}
    missing = sorted(wanted - df.keys())
    if base is None:
        missing.append(ALL_DOCUMENTS)
    snapshot = base is None or ALL_DOCUMENTS in df
    found: dict[str, int] = {}
    query = select(RecurrenceTermStat.term, RecurrenceTermStat.documents).where(
        RecurrenceTermStat.term.in_(bindparam("terms", expanding=True))
    )
    if snapshot:
        for start in range(0, len(missing), 2_000):
            found.update(session.execute(query, {"terms": missing[start : start + 2_000]}).all())
        snapshot = base is not None or ALL_DOCUMENTS in found
    if not snapshot:  # count live; TermStats treats words never seen as rare
        query = (
            select(IncidentTerm.term, func.count())
            .where(IncidentTerm.term.in_(bindparam("terms", expanding=True)))
            .group_by(IncidentTerm.term)
        )
        for start in range(0, len(missing), 2_000):
            found.update(session.execute(query, {"terms": missing[start : start + 2_000]}).all())
        found.pop(ALL_DOCUMENTS, None)
        if base is None:
            total = session.scalar(select(func.count()).select_from(IncidentSignature))
            found["#documents"] = total or 0
    df.update(found)
    documents = (
        base.documents if base is not None else df.get(ALL_DOCUMENTS, df.get("#documents", 0))
    )
    return TermStats(df, documents)


def _label_stats(history: Sequence[recurrence.IncidentFeatures]) -> TermStats:
    return TermStats.from_documents(recurrence.stable_labels(f.labels) for f in history)


def _shortlist(
    session: Session,
    query: recurrence.IncidentFeatures,
    words: Sequence[str],
    stats: TermStats,
) -> list[int]:
    """Incidents sharing rare words (weighted by IDF) or the fingerprint with `query`."""
    common = max(50, int(stats.documents * COMMON_SHARE))
    vector = stats.weigh(words)
    usable = [w for w in vector if len(w) <= MAX_TERM and stats.df.get(w, 0) <= common]
    terms: list[str] = []
    postings = 0
    for word in heapq.nlargest(QUERY_TERMS, usable, key=lambda w: (vector[w], w)):
        postings += stats.df.get(word, 0)
        if terms and postings > MAX_POSTINGS:
            break
        terms.append(word)
    weight = {t: vector[t] * stats.idf(t) for t in terms}
    partial: dict[int, float] = defaultdict(float)
    if weight:
        # The database sums the shared words' weights per incident and scales the sum by how
        # the services relate (as the full score does), so the shortlist keeps the same
        # words on the same service ahead of the same words elsewhere.
        relation = {f"@{s}": RELATED for s in query.related_service_ids}
        relation.update({f"@{s}": 1.0 for s in query.service_ids})
        relation = {k: v for k, v in relation.items() if len(k) <= MAX_TERM}
        score: ColumnElement[Any] = func.sum(case(weight, value=IncidentTerm.term, else_=0.0))
        if relation:
            near = func.max(case(relation, value=IncidentTerm.term, else_=0.0))
            score = score * (UNRELATED + (1.0 - UNRELATED) * near)
        for incident_id, total in session.execute(
            select(IncidentTerm.incident_id, score)
            .where(IncidentTerm.term.in_([*weight, *relation]))
            .group_by(IncidentTerm.incident_id)
            .order_by(score.desc(), IncidentTerm.incident_id.desc())
            .limit(SHORTLIST + 1)
        ):
            partial[incident_id] = float(total)
    boost = sum(weight.values()) or 1.0  # a shared fingerprint counts like sharing every word
    for fingerprint in query.fingerprints:
        for incident_id in session.scalars(
            select(Incident.id)
            .where(Incident.fingerprint == fingerprint)
            .order_by(Incident.id.desc())
            .limit(SAME_FINGERPRINT)
        ):
            partial[incident_id] += boost
    partial.pop(query.id, None)
    return heapq.nlargest(SHORTLIST, partial, key=lambda i: (partial[i], i))


# ---------------------------------------------------------------- index maintenance


def index(ctx: Context, incident_id: int) -> bool:
    """(Re)index one incident if its signature is missing or stale; True when written."""
    with ctx.transaction() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            return False
        signature = session.get(IncidentSignature, incident_id)
        if signature is not None and signature.version == incident.version:
            return False
        index_tx(session, [incident_id], now=ctx.clock.now())
        return True


def index_pending(ctx: Context, *, limit: int = INDEX_BATCH) -> int:
    """Index up to `limit` incidents whose signature is missing or stale; return how many."""
    with ctx.transaction() as session:
        pending = list(
            session.scalars(
                select(Incident.id)
                .outerjoin(IncidentSignature, IncidentSignature.incident_id == Incident.id)
                .where(
                    (IncidentSignature.incident_id.is_(None))
                    | (IncidentSignature.version != Incident.version)
                )
                .order_by(Incident.id)
                .limit(limit)
            )
        )
        if pending:
            index_tx(session, pending, now=ctx.clock.now())
        return len(pending)


def index_tx(session: Session, ids: Sequence[int], *, now: datetime) -> None:
    """Write the signatures and term rows of incidents `ids` in the caller's transaction."""
    versions = {
        id_: version
        for id_, version in session.execute(
            select(Incident.id, Incident.version).where(Incident.id.in_(ids))
        )
    }
    history = features_of(session, ids)
    session.execute(delete(IncidentTerm).where(IncidentTerm.incident_id.in_(ids)))
    session.execute(delete(IncidentSignature).where(IncidentSignature.incident_id.in_(ids)))
    signatures: list[dict[str, object]] = []
    terms: list[dict[str, object]] = []
    for features in history:
        words = [w for w in recurrence.signature_words(features) if len(w) <= MAX_TERM]
        signatures.append(
            {
                "incident_id": features.id,
                "version": versions[features.id],
                "words": " ".join(words),
                "indexed_at": now,
            }
        )
        terms.extend({"term": w, "incident_id": features.id} for w in set(words))
        terms.extend(
            {"term": f"@{s}", "incident_id": features.id}
            for s in features.service_ids
            if len(s) < MAX_TERM
        )
    if signatures:
        session.execute(insert(IncidentSignature), signatures)
    for start in range(0, len(terms), 20_000):
        session.execute(insert(IncidentTerm), terms[start : start + 20_000])


def refresh_statistics(ctx: Context) -> int:
    """Replace the word-frequency snapshot with current counts; return the incident count.

    Counts are read first and written in one short transaction, so SQLite writers are not
    held up while the index is scanned.
    """
    with ctx.reading() as session:
        counts = [
            {"term": term, "documents": count}
            for term, count in session.execute(
                select(IncidentTerm.term, func.count()).group_by(IncidentTerm.term)
            )
        ]
        documents = session.scalar(select(func.count()).select_from(IncidentSignature)) or 0
    counts.append({"term": ALL_DOCUMENTS, "documents": documents})
    with ctx.transaction() as session:
        session.execute(delete(RecurrenceTermStat))
        for start in range(0, len(counts), 20_000):
            session.execute(insert(RecurrenceTermStat), counts[start : start + 20_000])
    return documents
