"""Known-error database: CRUD, "mark as known error" on a problem, and matching incidents.

A known error records symptoms, root cause, a workaround and the state of the permanent fix.
When an incident is declared, `match_incident_tx` (called from `incidents.declare_tx`, in the
same transaction) compares it with every active known error through `domain.known_errors`; a
match is stored as an `IncidentKnownError` row and a `known_error_matched` event on the
incident's timeline carrying the workaround, so responders see it at once. With no active
known errors this costs one `LIMIT 1` query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from fireline.domain import known_errors as matching
from fireline.domain.roles import Role
from fireline.domain.timeline import EventKind
from fireline.errors import InvalidField, NotFound
from fireline.store.models import Incident
from fireline.store.models.problems import IncidentKnownError, KnownError, Problem
from fireline.store.repos import audit, timeline
from fireline.store.repos import problems as repo
from fireline.store.repos.problems import KnownErrorPage
from fireline.usecases import lookups
from fireline.usecases.context import Context

INCIDENT_RECORD = "incident"
MAX_KEYWORDS = 50
MAX_LABELS = 50


class FixStatus(StrEnum):
    NONE = "none"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    RELEASED = "released"


@dataclass(slots=True)
class KnownErrorDraft:
    title: str
    symptoms: str = ""
    root_cause: str = ""
    workaround: str = ""
    fix_status: FixStatus = FixStatus.NONE
    services: Sequence[lookups.Ref] = ()
    labels: dict[str, str] = field(default_factory=dict)
    keywords: Sequence[str] = ()
    problem: lookups.Ref | None = None
    active: bool = True


UPDATABLE = (
    "title",
    "symptoms",
    "root_cause",
    "workaround",
    "fix_status",
    "services",
    "labels",
    "keywords",
    "problem",
    "active",
)


# ---------------------------------------------------------------- reads


def get(session: Session, key: int | str) -> KnownError:
    """A known error by id (`42` or `KE-42`); raise NotFound naming `known_error`."""
    text = str(key).strip()
    if text.upper().startswith("KE-"):
        text = text[3:]
    ident = lookups.as_id(text)
    found = None if ident is None else session.get(KnownError, ident)
    if found is None:
        raise NotFound(f"no known error {key!r}", field="known_error")
    return found


def find(ctx: Context, key: int | str) -> KnownError:
    with ctx.reading() as session:
        return get(session, key)


def search(
    ctx: Context,
    *,
    active: bool | None = None,
    service: lookups.Ref | None = None,
    text: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> KnownErrorPage:
    with ctx.reading() as session:
        service_id = lookups.service(session, service, field="service").id if service else None
        return repo.known_error_page(
            session,
            active=active,
            service_id=service_id,
            text=text.strip() if text and text.strip() else None,
            cursor=cursor,
            limit=limit,
        )


def for_incident(
    ctx: Context, incident_key: str | int
) -> list[tuple[IncidentKnownError, KnownError]]:
    """The known errors matched to an incident, best match first."""
    from fireline.usecases import incidents

    with ctx.reading() as session:
        incident = incidents.get(session, incident_key)
        return repo.matches_of_incident(session, incident.id)


# ---------------------------------------------------------------- writes


def create(ctx: Context, draft: KnownErrorDraft) -> KnownError:
    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        now = ctx.clock.now()
        known = KnownError(created_at=now, updated_at=now)
        _apply(session, known, _draft_changes(draft), creating=True)
        session.add(known)
        session.flush()
        _audit(session, ctx, known, "known_error.create")
    return known


def update(ctx: Context, key: int | str, changes: dict[str, Any]) -> KnownError:
    """Change fields of a known error (names in `UPDATABLE`)."""
    ctx.actor.require(Role.RESPONDER)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidField(sorted(unknown)[0], "cannot be changed")
    with ctx.transaction() as session:
        known = get(session, key)
        _apply(session, known, changes, creating=False)
        known.updated_at = ctx.clock.now()
        _audit(session, ctx, known, "known_error.update", {"fields": sorted(changes)})
    return known


def delete(ctx: Context, key: int | str) -> None:
    """Remove a known error and its matches (manager; prefer `active=false` to retire one)."""
    ctx.actor.require(Role.MANAGER)
    with ctx.transaction() as session:
        known = get(session, key)
        _audit(session, ctx, known, "known_error.delete")
        session.delete(known)


def upsert_for_problem_tx(session: Session, ctx: Context, problem: Problem) -> KnownError:
    """ "Mark as known error": create or refresh the problem's known error from its root cause,
    workaround and services (matching criteria already set by hand are kept)."""
    now = ctx.clock.now()
    known = repo.known_error_of_problem(session, problem.id)
    service_ids = [s.service_id for s in problem.services]
    if known is None:
        known = KnownError(
            problem_id=problem.id,
            title=problem.title[:300],
            symptoms=problem.description or "",
            root_cause=problem.root_cause or "",
            workaround=problem.workaround or "",
            fix_status=FixStatus.NONE.value,
            service_ids=service_ids,
            match_labels={},
            keywords=[],
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(known)
        session.flush()
        _audit(session, ctx, known, "known_error.create", {"problem_id": problem.id})
        return known
    known.root_cause = problem.root_cause or known.root_cause
    known.workaround = problem.workaround or known.workaround
    known.service_ids = sorted(set(known.service_ids or []) | set(service_ids))
    known.active = True
    known.updated_at = now
    _audit(session, ctx, known, "known_error.update", {"problem_id": problem.id})
    return known


def set_fix_status_for_problem_tx(session: Session, problem: Problem, status: FixStatus) -> None:
    """Keep the known error's permanent-fix status in step with its problem."""
    known = repo.known_error_of_problem(session, problem.id)
    if known is not None:
        known.fix_status = status.value


# ---------------------------------------------------------------- matching


def match_incident_tx(
    session: Session,
    ctx: Context,
    incident: Incident,
    *,
    extra_labels: Mapping[str, str] | None = None,
) -> list[IncidentKnownError]:
    """Match a new incident against the active known errors; record each match on the incident.

    Runs inside the declaring transaction. Already recorded matches are skipped, so calling it
    again (e.g. after an edit) only adds new ones.
    """
    if not repo.has_active_known_errors(session):
        return []
    candidates = repo.active_known_errors(session)
    found = matching.match_known_errors(
        signal_of(incident, extra_labels=extra_labels), [criteria_of(k) for k in candidates]
    )
    if not found:
        return []
    by_id = {k.id: k for k in candidates}
    existing = {m.known_error_id for m, _ in repo.matches_of_incident(session, incident.id)}
    now = ctx.clock.now()
    recorded: list[IncidentKnownError] = []
    for result in found:
        known = by_id.get(result.known_error_id)
        if known is None or known.id in existing:
            continue
        row = IncidentKnownError(
            incident_id=incident.id,
            known_error_id=known.id,
            matched_at=now,
            score=float(result.score),
            reasons=list(result.reasons),
        )
        session.add(row)
        recorded.append(row)
        problem = session.get(Problem, known.problem_id) if known.problem_id else None
        timeline.append(
            session,
            record_type=INCIDENT_RECORD,
            record_id=incident.id,
            kind=EventKind.KNOWN_ERROR_MATCHED.value,
            at=now,
            actor_id=None,
            actor_label="known-error matcher",
            body=f"Known error {ref_of(known)}: {known.title}\n\nWorkaround: {known.workaround}",
            data={
                "known_error_id": known.id,
                "known_error": ref_of(known),
                "title": known.title,
                "workaround": known.workaround,
                "fix_status": known.fix_status,
                "score": round(float(result.score), 3),
                "reasons": list(result.reasons),
                **({"problem": f"PRB-{problem.number}"} if problem else {}),
            },
        )
    session.flush()
    return recorded


def match_incident(ctx: Context, incident_key: str | int) -> list[IncidentKnownError]:
    """Re-run known-error matching for an existing incident (e.g. after new known errors)."""
    from fireline.usecases import incidents

    ctx.actor.require(Role.RESPONDER)
    with ctx.transaction() as session:
        incident = incidents.get(session, incident_key)
        return match_incident_tx(session, ctx, incident)


def match_alerted_incident(ctx: Context, incident_id: int) -> list[IncidentKnownError]:
    """Match an incident opened by an alert again, now with the alert's labels (worker).

    At declaration the alert rows do not exist yet, so label matchers such as
    `alertname=…` can only be checked once they are stored. Idempotent.
    """
    with ctx.transaction() as session:
        incident = session.get(Incident, incident_id)
        if incident is None or not repo.has_active_known_errors(session):
            return []
        labels = repo.alert_labels(session, [incident_id]).get(incident_id) or {}
        if not labels:
            return []
        return match_incident_tx(session, ctx, incident, extra_labels=labels)


def signal_of(
    incident: Incident, *, extra_labels: Mapping[str, str] | None = None
) -> matching.Signal:
    """The incident as the known-error matcher sees it (its own labels win over alerts')."""
    return matching.Signal(
        text=f"{incident.title}\n{incident.description or ''}",
        service_ids=frozenset(s.service_id for s in incident.services),
        labels={**(extra_labels or {}), **{lb.key: lb.value for lb in incident.labels}},
    )


def criteria_of(known: KnownError) -> matching.KnownError:
    """A stored known error as the pure matcher sees it."""
    return matching.KnownError(
        id=known.id,
        ref=ref_of(known),
        title=known.title,
        service_ids=frozenset(known.service_ids or []),
        label_matchers=dict(known.match_labels or {}),
        keywords=tuple(known.keywords or []),
        symptoms=known.symptoms,
        workaround=known.workaround,
    )


def ref_of(known: KnownError) -> str:
    return f"KE-{known.id}"


# ---------------------------------------------------------------- helpers


def _draft_changes(draft: KnownErrorDraft) -> dict[str, Any]:
    return {
        "title": draft.title,
        "symptoms": draft.symptoms,
        "root_cause": draft.root_cause,
        "workaround": draft.workaround,
        "fix_status": draft.fix_status,
        "services": list(draft.services),
        "labels": dict(draft.labels),
        "keywords": list(draft.keywords),
        "problem": draft.problem,
        "active": draft.active,
    }


def _text(value: Any, name: str, *, limit: int = 20_000, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidField(name, "must not be empty")
    if len(text) > limit:
        raise InvalidField(name, f"must be at most {limit:,} characters")
    return text


def _apply(session: Session, known: KnownError, changes: dict[str, Any], *, creating: bool) -> None:
    from fireline.usecases import problems

    if "title" in changes or creating:
        known.title = _text(changes.get("title"), "title", limit=300, required=True)
    for name in ("symptoms", "root_cause", "workaround"):
        if name in changes or creating:
            setattr(known, name, _text(changes.get(name), name))
    if "fix_status" in changes or creating:
        try:
            known.fix_status = FixStatus(changes.get("fix_status") or FixStatus.NONE).value
        except ValueError:
            allowed = ", ".join(s.value for s in FixStatus)
            raise InvalidField("fix_status", f"must be one of {allowed}") from None
    if "services" in changes or creating:
        found = lookups.services(session, changes.get("services") or [], field="services")
        known.service_ids = sorted(s.id for s in found)
    if "labels" in changes or creating:
        known.match_labels = _labels(changes.get("labels") or {})
    if "keywords" in changes or creating:
        known.keywords = _keywords(changes.get("keywords") or [])
    if "problem" in changes or creating:
        value = changes.get("problem")
        if value is None:
            known.problem_id = None
        else:
            try:
                known.problem_id = problems.get(session, value).id
            except NotFound:
                raise InvalidField("problem", f"no problem {value!r}") from None
    if "active" in changes or creating:
        active = changes.get("active", True)
        if not isinstance(active, bool):
            raise InvalidField("active", "must be true or false")
        known.active = active


def _labels(raw: dict[str, Any]) -> dict[str, str]:
    return lookups.labels(raw, limit=MAX_LABELS, what="label matchers")


def _keywords(raw: Sequence[Any]) -> list[str]:
    if len(raw) > MAX_KEYWORDS:
        raise InvalidField("keywords", f"at most {MAX_KEYWORDS} keywords")
    words: list[str] = []
    for index, value in enumerate(raw):
        word = str(value).strip().lower()
        if not word or len(word) > 100:
            raise InvalidField(f"keywords[{index}]", "keywords are 1-100 characters")
        if word not in words:
            words.append(word)
    return words


def _audit(
    session: Session,
    ctx: Context,
    known: KnownError,
    action: str,
    data: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        at=ctx.clock.now(),
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        action=action,
        target_type="known_error",
        target_id=known.id,
        data={"title": known.title, **(data or {})},
    )
