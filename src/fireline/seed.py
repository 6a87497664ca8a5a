"""Realistic demo and benchmark data: teams, people, services and months of incident history.

`seed()` adds a service catalog (teams with members, services with tiers and dependencies,
two extra categories) if it is missing, then appends `incidents` incidents spread over the
past `months`: titles and descriptions from per-category templates, impact x urgency priorities
from the configured matrix, labels (env, region, cluster, alertname), participants, and
lifecycles replayed through the domain state machine, so timestamps are always in order
(detected <= created <= acknowledged <= mitigated <= resolved <= closed <= now). Old incidents
are almost all closed; the last days hold the open ones. Each incident gets its timeline
(created, then one event per status change).

Rows go in with SQLAlchemy Core executemany, one transaction per batch. Each batch reserves
its references from the `INC` counter in that transaction, so numbering continues correctly
for incidents declared afterwards, and `search_text` is built by the same function
`usecases.incidents.declare` uses. Seeded history queues no outbox events: it pages no one.

The output is deterministic for a given `seed` and clock reading (times are relative to now).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fireline.domain import incident_lifecycle as lifecycle
from fireline.domain import refs
from fireline.domain.priority import Level, Priority, PriorityMatrix, resolve_priority
from fireline.domain.roles import Role, TeamRole
from fireline.domain.timeline import EventKind
from fireline.store.models import (
    Category,
    Counter,
    Incident,
    IncidentLabel,
    IncidentParticipant,
    IncidentService,
    Service,
    ServiceDependency,
    Team,
    TeamMember,
    TimelineEvent,
    User,
)
from fireline.usecases import app_settings
from fireline.usecases.context import Context
from fireline.usecases.incidents import _search_text

DEMO_INCIDENTS = 200
BATCH = 1000
Progress = Callable[[int], None]

# (name, team, tier, depends on) in dependency order: a service only depends on earlier ones.
SERVICES: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("postgres-main", "Storage", 1, ()),
    ("redis-cache", "Storage", 2, ()),
    ("object-storage", "Storage", 2, ()),
    ("kafka", "Platform", 1, ()),
    ("k8s-prod", "Platform", 1, ()),
    ("dns", "Networking", 1, ()),
    ("load-balancer", "Networking", 1, ("dns",)),
    ("cdn", "Networking", 2, ("dns",)),
    ("vpn-gateway", "Networking", 3, ()),
    ("metrics", "Observability", 2, ("k8s-prod",)),
    ("logging", "Observability", 3, ("k8s-prod", "object-storage")),
    ("alerting", "Observability", 2, ("metrics",)),
    ("auth", "Identity", 1, ("postgres-main", "redis-cache", "k8s-prod")),
    ("sso", "Identity", 1, ("auth",)),
    ("user-profile", "Identity", 2, ("postgres-main", "auth")),
    ("permissions", "Identity", 2, ("postgres-main",)),
    ("email-sender", "Messaging", 2, ("kafka",)),
    ("sms-gateway", "Messaging", 2, ("kafka",)),
    ("push-gateway", "Messaging", 3, ("kafka",)),
    ("notifications", "Messaging", 2, ("email-sender", "sms-gateway", "push-gateway")),
    ("payments-gateway", "Payments", 1, ("postgres-main", "kafka", "load-balancer")),
    ("ledger", "Payments", 1, ("postgres-main", "kafka")),
    ("fraud-detection", "Payments", 2, ("kafka", "redis-cache")),
    ("billing", "Payments", 2, ("ledger",)),
    ("invoicing", "Payments", 3, ("billing", "email-sender")),
    ("cart", "Checkout", 1, ("redis-cache", "postgres-main")),
    ("checkout-api", "Checkout", 1, ("cart", "payments-gateway", "auth")),
    ("pricing", "Checkout", 2, ("postgres-main",)),
    ("inventory", "Checkout", 2, ("postgres-main", "kafka")),
    ("shipping", "Checkout", 3, ("inventory", "notifications")),
    ("search-index", "Search", 2, ("kafka", "object-storage")),
    ("search-api", "Search", 1, ("search-index", "auth")),
    ("recommendations", "Search", 3, ("search-index", "redis-cache")),
    ("analytics-pipeline", "Data", 3, ("kafka", "object-storage")),
    ("data-warehouse", "Data", 3, ("analytics-pipeline",)),
    ("reporting", "Data", 4, ("data-warehouse",)),
    ("mobile-bff", "Mobile", 1, ("auth", "checkout-api", "search-api")),
    ("ios-app", "Mobile", 2, ("mobile-bff",)),
    ("android-app", "Mobile", 2, ("mobile-bff",)),
    ("web-frontend", "Growth", 1, ("cdn", "auth", "checkout-api", "search-api")),
    ("marketing-site", "Growth", 4, ("cdn",)),
    ("experiments", "Growth", 3, ("redis-cache",)),
    ("support-portal", "Support", 3, ("auth", "notifications")),
    ("status-page", "Support", 2, ("cdn",)),
)
EXTRA_CATEGORIES = (
    ("third-party", "Failures of vendors and external APIs"),
    ("data", "Data pipelines and data quality"),
)
FIRST = "Ada Ben Chloe Dev Emil Fatima Gus Hana Ivan Jin Kofi Lena Mateo Nia Omar Priya Quinn"
LAST = "Ahmed Berg Costa Dubois Eriksen Fischer Garcia Huang Ito Jensen Kowalski Lopez Moreau"
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1")
ENVS = (("prod", 85), ("staging", 12), ("dev", 3))
LEVELS = (Level.HIGH, Level.MEDIUM, Level.LOW)
# Categories that only make sense for some services; the others apply to any service.
CATEGORY_SERVICES = {
    "user-reported": ("web-frontend", "mobile-bff", "ios-app", "android-app", "checkout-api",
                      "search-api", "support-portal", "marketing-site", "notifications"),
    "third-party": ("payments-gateway", "sms-gateway", "email-sender", "cdn", "dns", "shipping"),
    "data": ("analytics-pipeline", "data-warehouse", "reporting", "search-index"),
    "access": ("auth", "sso", "permissions", "user-profile", "vpn-gateway", "support-portal"),
}  # fmt: skip
RECENT = 8  # incidents always placed in the last two days, so even a demo has open ones

# (category, weight, alertname or None, title, description). Placeholders: {svc} {dep} {n}
# {region}. "firmware" appears only in the rare template: benchmarks search for it.
# fmt: off
TEMPLATES: tuple[tuple[str, float, str | None, str, str], ...] = (
    ("performance", 6, "HighLatencyP99", "High latency on {svc} (p99 {n} ms)",
     "p99 latency of {svc} stayed above {n} ms for 10 minutes. Upstream {dep} looks slow."),
    ("performance", 3, "QueueBacklogGrowing", "{svc} queue backlog growing",
     "Consumer lag of {svc} keeps growing; messages wait more than {n} seconds."),
    ("performance", 2, "CPUThrottlingHigh", "CPU saturation on {svc} nodes",
     "Pods of {svc} are throttled {n}% of the time; request latency rises with it."),
    ("performance", 2, None, "Slow database queries from {svc}",
     "Several queries from {svc} to {dep} take more than {n} ms; a missing index is suspected."),
    ("application", 8, "HighErrorRate", "Elevated 5xx error rate on {svc}",
     "{n}% of requests to {svc} fail with 5xx since the last deploy. Calls to {dep} time out."),
    ("application", 4, "PodCrashLooping", "{svc} crash-looping after deploy",
     "New pods of {svc} exit with an out-of-memory error {n} seconds after start."),
    ("application", 3, "JobFailures", "Failed background jobs in {svc}",
     "{n} jobs of {svc} failed in the last hour with a serialization error."),
    ("application", 2, None, "{svc} returns stale data",
     "Responses of {svc} are up to {n} minutes old; the cache from {dep} is not invalidated."),
    ("infrastructure", 4, "DiskWillFillIn4Hours", "Disk almost full on {svc} hosts",
     "Volume usage of {svc} reached {n}%; at this rate it fills within four hours."),
    ("infrastructure", 3, "NodeNotReady", "Kubernetes node not ready under {svc}",
     "A node running {svc} went NotReady; {n} pods are being rescheduled."),
    ("infrastructure", 2, "ReplicationLagHigh", "Replication lag on {svc}",
     "Replicas of {svc} lag {n} seconds behind the primary."),
    ("infrastructure", 2, "CertificateExpiringSoon", "TLS certificate of {svc} expires soon",
     "The certificate served by {svc} expires in {n} days and was not renewed."),
    ("infrastructure", 2, "PacketLossHigh", "Packet loss between {svc} and {dep}",
     "{n}% packet loss between {svc} and {dep} in {region}."),
    ("infrastructure", 0.05, "NodeKernelPanic", "Kernel panic on {svc} host after firmware update",
     "A host of {svc} rebooted with a kernel panic {n} minutes after a firmware update."),
    ("security", 1, "AuthBruteForce", "Suspicious login attempts against {svc}",
     "{n} failed logins per minute from a small set of addresses against {svc}."),
    ("security", 0.5, "WAFBlockSpike", "WAF blocking spike on {svc}",
     "The web application firewall blocked {n} requests to {svc} in five minutes."),
    ("security", 0.5, None, "Vulnerable base image used by {svc}",
     "A critical CVE affects the base image of {svc}; {n} running pods use it."),
    ("access", 2, "LoginFailureRateHigh", "Users cannot log in through {svc}",
     "{n}% of logins through {svc} fail; {dep} answers with errors."),
    ("access", 1, None, "Permission errors on {svc}",
     "Users get 403 from {svc} after a role change; about {n} accounts are affected."),
    ("user-reported", 3, None, "Customers report errors on {svc}",
     "Support received {n} tickets in an hour about failures on {svc}."),
    ("user-reported", 2, None, "Slow pages reported on {svc}",
     "Customers report that {svc} takes more than {n} seconds to respond."),
    ("third-party", 2, None, "Payment provider outage affects {svc}",
     "The external provider behind {svc} answers {n}% of calls with errors."),
    ("data", 1.5, "PipelineDelayed", "{svc} data is {n} hours late",
     "The nightly load of {svc} did not finish; dashboards show yesterday's numbers."),
)
# fmt: on
IMPACT_TEXT = {
    Level.HIGH: "Customers are affected in {region}.",
    Level.MEDIUM: "Some customers in {region} see degraded service.",
    Level.LOW: "No customer impact observed so far.",
}
FIXES = (
    "Rolled back the faulty deploy of {svc}.",
    "Scaled {svc} out and tuned its connection pool.",
    "Failed over {svc} to the standby and rebuilt the replica.",
    "Renewed and rotated the certificate; added an expiry alert.",
    "Restarted the stuck consumers of {svc} and raised their memory limit.",
    "Blocked the offending addresses and rate-limited the endpoint.",
    "Freed disk space and enabled log rotation on {svc} hosts.",
    "The provider fixed the issue on their side; we added a circuit breaker.",
)
# Median minutes from the previous step, by priority rank 1..4.
ACK_MIN = (3, 6, 15, 40)
MITIGATE_MIN = (25, 45, 120, 360)
RESOLVE_MIN = (15, 20, 40, 90)
CLOSE_MIN = (36 * 60, 30 * 60, 20 * 60, 12 * 60)


@dataclass(frozen=True, slots=True)
class SeedResult:
    teams: int
    users: int
    services: int
    incidents: int
    timeline_events: int
    first_number: int | None
    last_number: int | None


@dataclass(slots=True)
class _Catalog:
    teams: dict[str, int]
    members: dict[int, list[int]]  # team id -> user ids
    leads: dict[int, list[int]]
    services: list[tuple[int, str, int, int]]  # id, name, team id, tier
    depends: dict[int, list[int]]
    categories: dict[str, int]
    emails: dict[int, str]
    created: tuple[int, int, int]  # teams, users, services added now


@dataclass(slots=True)
class _Draft:
    row: dict[str, Any]
    labels: dict[str, str]
    service_ids: list[int]
    participants: list[tuple[int, str]]
    events: list[dict[str, Any]] = field(default_factory=list)
    actions: list[lifecycle.Action] = field(default_factory=list)
    duplicate: bool = False
    subject: tuple[str, int] = ("", 0)  # primary service name, acting user id


def seed(
    ctx: Context,
    *,
    incidents: int,
    seed: int = 42,
    months: int = 18,
    progress: Progress | None = None,
) -> SeedResult:
    """Add the demo catalog (if missing) and `incidents` incidents over the past `months`."""
    if incidents < 0:
        raise ValueError("incidents must be >= 0")
    rng = random.Random(seed)
    now = ctx.clock.now()
    start = now - timedelta(days=30 * months)
    with ctx.transaction() as session:
        catalog = _ensure_catalog(session, now=start - timedelta(days=30))
        matrix = app_settings.priority_matrix(session)
    times = sorted(_created_times(rng, start, now, incidents))
    names = {sid: name for sid, name, _, _ in catalog.services}
    weights = [1.0 / tier + rng.random() for _, _, _, tier in catalog.services]
    template_weights = [t[1] for t in TEMPLATES]
    first = last = None
    events = 0
    previous: _Draft | None = None
    last_row: tuple[int, int] | None = None  # (id, number) of the last incident inserted
    for offset in range(0, incidents, BATCH):
        chunk = times[offset : offset + BATCH]
        drafts: list[_Draft] = []
        for created in chunk:
            template = rng.choices(TEMPLATES, template_weights)[0]
            draft = _draft(rng, catalog, names, weights, template, matrix, created, now)
            if previous is None:
                draft.duplicate = False
            if draft.duplicate and previous is not None:
                _copy_subject(draft, previous)
            _replay(rng, draft, catalog, now)
            drafts.append(draft)
            previous = draft
        with ctx.transaction() as session:
            conn = session.connection()
            top = _reserve_numbers(conn, len(drafts))
            numbers = range(top - len(drafts) + 1, top + 1)
            first = first or numbers[0]
            last = top
            last_row, added = _insert(conn, drafts, numbers, names, catalog.emails, last_row)
        events += added
        if progress is not None:
            progress(len(drafts))
    if incidents and ctx.sessions.kw["bind"].dialect.name == "postgresql":
        _analyze(ctx)
    added_teams, added_users, added_services = catalog.created
    return SeedResult(
        teams=added_teams,
        users=added_users,
        services=added_services,
        incidents=incidents,
        timeline_events=events,
        first_number=first,
        last_number=last,
    )


# ---------------------------------------------------------------- catalog


def _ensure_catalog(session: Session, *, now: datetime) -> _Catalog:
    """Get or create teams, users, memberships, services, dependencies and categories."""
    team_names = sorted({team for _, team, _, _ in SERVICES})
    teams = {t.name: t for t in session.scalars(select(Team))}
    added = [0, 0, 0]
    for name in team_names:
        if name not in teams:
            teams[name] = Team(name=name, description=f"The {name} team", created_at=now)
            session.add(teams[name])
            added[0] += 1
    session.flush()
    users = {u.email: u for u in session.scalars(select(User))}
    firsts, lasts = FIRST.split(), LAST.split()
    members: dict[int, list[int]] = {}
    leads: dict[int, list[int]] = {}
    index = 0
    for team_name in team_names:
        team = teams[team_name]
        wanted: list[tuple[User, str]] = []
        for slot in range(6):
            # 17 first x 13 last names (coprime counts): unique pairs for the first 221 people.
            given, family = firsts[index % len(firsts)], lasts[index % len(lasts)]
            index += 1
            email = f"{given}.{family}@example.com".lower()
            user = users.get(email)
            if user is None:
                role = Role.MANAGER if slot == 0 else Role.VIEWER if slot == 5 else Role.RESPONDER
                user = User(
                    email=email,
                    name=f"{given} {family}",
                    role=role.value,
                    timezone="Europe/Berlin" if index % 3 else "America/New_York",
                    is_active=True,
                    created_at=now,
                )
                session.add(user)
                users[email] = user
                added[1] += 1
            wanted.append((user, TeamRole.LEAD.value if slot == 0 else TeamRole.MEMBER.value))
        session.flush()
        have = {m.user_id for m in team.members}
        for user, team_role in wanted:
            if user.id not in have:
                team.members.append(TeamMember(user_id=user.id, team_role=team_role))
        members[team.id] = [u.id for u, _ in wanted[:5]]
        leads[team.id] = [wanted[0][0].id]
    services = {s.name: s for s in session.scalars(select(Service))}
    for name, team_name, tier, _ in SERVICES:
        if name not in services:
            services[name] = Service(
                name=name,
                description=f"{name} (tier {tier}), owned by {team_name}",
                team_id=teams[team_name].id,
                tier=tier,
                created_at=now,
            )
            session.add(services[name])
            added[2] += 1
    session.flush()
    existing = set(
        session.execute(
            select(ServiceDependency.service_id, ServiceDependency.depends_on_id)
        ).tuples()
    )
    depends: dict[int, list[int]] = {}
    for name, _, _, deps in SERVICES:
        sid = services[name].id
        depends[sid] = [services[d].id for d in deps]
        for dep_id in depends[sid]:
            if (sid, dep_id) not in existing:
                session.add(ServiceDependency(service_id=sid, depends_on_id=dep_id))
    categories = {c.name: c.id for c in session.scalars(select(Category))}
    for name, text in EXTRA_CATEGORIES:
        if name not in categories:
            category = Category(name=name, description=text, built_in=False)
            session.add(category)
            session.flush()
            categories[name] = category.id
    session.flush()
    return _Catalog(
        teams={n: t.id for n, t in teams.items()},
        members=members,
        leads=leads,
        services=[(services[n].id, n, teams[t].id, tier) for n, t, tier, _ in SERVICES],
        depends=depends,
        categories=categories,
        emails={u.id: u.email for u in users.values()},
        created=(added[0], added[1], added[2]),
    )


# ---------------------------------------------------------------- incidents


def _created_times(rng: random.Random, start: datetime, now: datetime, n: int) -> list[datetime]:
    """`n` creation times, denser on weekdays and in working hours (rejection sampling)."""
    span = (now - start).total_seconds() - 60
    recent = min(n, RECENT)
    found = [now - timedelta(seconds=60 + rng.random() * 2 * 86400) for _ in range(recent)]
    while len(found) < n:
        at = start + timedelta(seconds=rng.random() * span)
        hour, weekend = at.hour, at.weekday() >= 5
        weight = (0.45 if weekend else 1.0) * (1.0 if 8 <= hour < 19 else 0.35)
        if rng.random() < weight:
            found.append(at)
    return found


def _later(rng: random.Random, at: datetime, median_min: float, now: datetime) -> datetime:
    """A log-normally distributed delay after `at`, squeezed to stay before `now`."""
    delay = timedelta(minutes=median_min * math.exp(rng.gauss(0, 0.9)))
    if at + delay <= now:
        return at + delay
    return at + (now - at) * rng.uniform(0.2, 0.9)


def _final_status(rng: random.Random, age: timedelta) -> lifecycle.Status:
    S = lifecycle.Status
    hours = age.total_seconds() / 3600
    options: tuple[tuple[lifecycle.Status, int], ...]
    if hours < 6:
        options = ((S.TRIGGERED, 3), (S.ACKNOWLEDGED, 3), (S.INVESTIGATING, 3), (S.MITIGATED, 1))
    elif hours < 72:
        options = ((S.ACKNOWLEDGED, 1), (S.INVESTIGATING, 2), (S.MITIGATED, 2), (S.RESOLVED, 8),
                   (S.CLOSED, 5), (S.CANCELLED, 1))  # fmt: skip
    elif hours < 24 * 14:
        options = ((S.RESOLVED, 25), (S.CLOSED, 72), (S.CANCELLED, 3))
    else:
        options = ((S.RESOLVED, 1), (S.CLOSED, 96), (S.CANCELLED, 3))
    return rng.choices([o[0] for o in options], [o[1] for o in options])[0]


def _actions(rng: random.Random, final: lifecycle.Status) -> list[lifecycle.Action]:
    """A plausible sequence of actions that ends in `final`."""
    S, A = lifecycle.Status, lifecycle.Action
    if final is S.TRIGGERED:
        return []
    if final is S.CANCELLED:
        return [A.ACKNOWLEDGE, A.CANCEL] if rng.random() < 0.5 else [A.CANCEL]
    steps = [A.ACKNOWLEDGE] if rng.random() < 0.95 else []
    if final is S.ACKNOWLEDGED:
        return [A.ACKNOWLEDGE]
    if final is S.INVESTIGATING or rng.random() < 0.5:
        steps.append(A.INVESTIGATE)
    if final is S.INVESTIGATING:
        return steps
    if final is S.MITIGATED or rng.random() < 0.8:
        steps.append(A.MITIGATE)
    if final is S.MITIGATED:
        return steps
    steps.append(A.RESOLVE)
    if final is S.CLOSED and rng.random() < 0.02:
        steps += [A.REOPEN, A.RESOLVE]  # a relapse: reopened, resolved again
    if final is S.CLOSED:
        steps.append(A.CLOSE)
    return steps


def _draft(
    rng: random.Random,
    catalog: _Catalog,
    names: dict[int, str],
    weights: Sequence[float],
    template: tuple[str, float, str | None, str, str],
    matrix: PriorityMatrix,
    created: datetime,
    now: datetime,
) -> _Draft:
    category, _, alertname, title_t, text_t = template
    allowed = CATEGORY_SERVICES.get(category)
    candidates, candidate_weights = catalog.services, weights
    if allowed is not None:
        picked = [i for i, s in enumerate(catalog.services) if s[1] in allowed]
        candidates = [catalog.services[i] for i in picked]
        candidate_weights = [weights[i] for i in picked]
    sid, svc, team_id, tier = rng.choices(candidates, candidate_weights)[0]
    deps = catalog.depends.get(sid) or [sid]
    dep_id = rng.choice(deps)
    env = rng.choices([e for e, _ in ENVS], [w for _, w in ENVS])[0]
    region = rng.choice(REGIONS)
    impact = rng.choices(LEVELS, (1, 4, 5) if env == "prod" else (0, 1, 9))[0]
    urgency = rng.choices(LEVELS, (2 if tier == 1 else 1, 5, 4))[0]
    override: Priority | None = None
    reason = None
    if rng.random() < 0.02:
        override = rng.choice(list(Priority))
        reason = "escalated by the customer success team"
    decision = resolve_priority(
        matrix, impact=impact, urgency=urgency, override=override, override_reason=reason
    )
    fill = {"svc": svc, "dep": names[dep_id], "n": rng.randint(2, 95), "region": region}
    source = "user_report" if category == "user-reported" else "manual"
    if alertname is not None and rng.random() < 0.85:
        source = "monitoring"
    elif rng.random() < 0.1:
        source = "api"
    labels = {"env": env, "region": region, "cluster": f"{env}-{region}-{rng.randint(1, 3)}"}
    if source == "monitoring" and alertname is not None:
        labels["alertname"] = alertname
    description = " ".join(
        (
            text_t.format(**fill),
            IMPACT_TEXT[impact].format(**fill),
            f"Runbook: https://runbooks.example.com/{category}/{svc}",
        )
    )
    members = catalog.members[team_id]
    assignee = rng.choice(members)
    responders = set(rng.sample(members, rng.randint(1, 3))) | {assignee}
    commander = rng.choice(catalog.leads[team_id] + members[:1])
    participants = [(u, "responder") for u in sorted(responders)]
    if decision.priority.rank <= 2:
        participants.append((rng.choice(catalog.leads[team_id]), "stakeholder"))
    detected = created - timedelta(seconds=rng.randint(0, 900 if source != "user_report" else 3600))
    final = _final_status(rng, now - created)
    actions = _actions(rng, final)
    reporter = None if source in ("monitoring", "api") else rng.choice(members)
    row: dict[str, Any] = {
        "title": title_t.format(**fill),
        "description": description,
        "status": lifecycle.Status.TRIGGERED.value,
        "category_id": catalog.categories.get(category),
        "impact": impact.value,
        "urgency": urgency.value,
        "priority": decision.priority.value,
        "priority_derived": decision.derived.value,
        "priority_override_reason": decision.override_reason,
        "source": source,
        "reporter_id": reporter,
        "commander_id": commander if decision.priority.rank <= 2 else None,
        "assignee_id": assignee if actions else None,
        "team_id": team_id,
        "resolution_summary": None,
        "cancel_reason": None,
        "duplicate_of_id": None,
        "imported": False,
        "fingerprint": f"{alertname}:{svc}:{env}:{region}" if source == "monitoring" else None,
        "search_text": "",
        "version": 1,
        "detected_at": detected,
        "created_at": created,
        "updated_at": created,
        "acknowledged_at": None,
        "mitigated_at": None,
        "resolved_at": None,
        "closed_at": None,
    }
    service_ids = [sid] + ([dep_id] if dep_id != sid and rng.random() < 0.3 else [])
    draft = _Draft(row=row, labels=labels, service_ids=service_ids, participants=participants)
    draft.actions = actions
    draft.duplicate = lifecycle.Action.CANCEL in actions and rng.random() < 0.4
    draft.subject = (svc, assignee)
    return draft


def _replay(rng: random.Random, draft: _Draft, catalog: _Catalog, now: datetime) -> None:
    """Run the draft's actions through the lifecycle state machine: timestamps and events."""
    A = lifecycle.Action
    actions = draft.actions
    svc, actor_id = draft.subject
    label = catalog.emails[actor_id]
    row = draft.row
    rank = int(row["priority"][1]) - 1
    status = lifecycle.Status.TRIGGERED
    stamps = lifecycle.Timestamps()
    at: datetime = row["created_at"]
    medians = {
        A.ACKNOWLEDGE: ACK_MIN[rank],
        A.INVESTIGATE: ACK_MIN[rank] * 2,
        A.MITIGATE: MITIGATE_MIN[rank],
        A.RESOLVE: RESOLVE_MIN[rank],
        A.CLOSE: CLOSE_MIN[rank],
        A.REOPEN: 24 * 60,
        A.CANCEL: 10,
    }
    summary = rng.choice(FIXES).format(svc=svc)
    for action in actions:
        at = _later(rng, at, medians[action], now)
        reason = (
            lifecycle.CancelReason.DUPLICATE if draft.duplicate else lifecycle.CancelReason.ERROR
        )
        given = lifecycle.TransitionInput(
            resolution_summary=summary,
            service_stable=True,
            cancel_reason=reason if action is A.CANCEL else None,
            duplicate_of_id=0 if action is A.CANCEL and draft.duplicate else None,
        )
        outcome = lifecycle.apply(status, action, current=stamps, now=at, given=given)
        data: dict[str, Any] = {
            "action": action.value,
            "from": status.value,
            "to": outcome.status.value,
        }
        if action is A.CLOSE:
            row["resolution_summary"] = summary
            data.update(resolution_summary=summary, service_stable=True)
        if action is A.REOPEN:
            row["resolution_summary"] = None
        if action is A.CANCEL:
            row["cancel_reason"] = reason.value
            data["cancel_reason"] = reason.value
        status, stamps = outcome.status, outcome.timestamps
        draft.events.append(_event(EventKind.STATUS_CHANGED, at, actor_id, label, data))
    row.update(
        status=status.value,
        acknowledged_at=stamps.acknowledged_at,
        mitigated_at=stamps.mitigated_at,
        resolved_at=stamps.resolved_at,
        closed_at=stamps.closed_at,
        updated_at=at,
        version=1 + len(actions),
    )


def _copy_subject(draft: _Draft, original: _Draft) -> None:
    """A duplicate is about the same thing as the incident declared just before it."""
    for key in ("title", "description", "category_id", "team_id", "fingerprint"):
        draft.row[key] = original.row[key]
    draft.service_ids = list(original.service_ids)


def _event(
    kind: EventKind, at: datetime, actor_id: int | None, label: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "record_type": "incident",
        "kind": kind.value,
        "at": at,
        "actor_id": actor_id,
        "actor_label": label,
        "visibility": "internal",
        "body": None,
        "data": data,
    }


# ---------------------------------------------------------------- writing


def _reserve_numbers(conn: Connection, count: int) -> int:
    """Advance the `INC` counter by `count` (row-locked until commit); return the new top."""
    stmt: Any = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(Counter)
    stmt = stmt.values(name=refs.INCIDENT_PREFIX, value=count).on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + count}
    )
    return int(conn.execute(stmt.returning(Counter.value)).scalar_one())


def _insert(
    conn: Connection,
    drafts: Sequence[_Draft],
    numbers: Sequence[int],
    names: dict[int, str],
    emails: dict[int, str],
    previous: tuple[int, int] | None,
) -> tuple[tuple[int, int] | None, int]:
    """Insert one batch; return (id, number) of its last incident and the events added."""
    if not drafts:
        return previous, 0
    rows = []
    for draft, number in zip(drafts, numbers, strict=True):
        row = draft.row
        row["number"] = number
        probe = Incident(number=number, title=row["title"], description=row["description"])
        row["search_text"] = _search_text(probe, draft.labels)
        rows.append(row)
    conn.execute(insert(Incident), rows)  # plain executemany: no per-row RETURNING on SQLite
    found = conn.execute(
        select(Incident.number, Incident.id).where(Incident.number.between(numbers[0], numbers[-1]))
    )
    by_number = dict(found.tuples().all())
    ids = [by_number[n] for n in numbers]
    services: list[dict[str, Any]] = []
    participants: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    for index, (draft, incident_id) in enumerate(zip(drafts, ids, strict=True)):
        row = draft.row
        services += [{"incident_id": incident_id, "service_id": s} for s in draft.service_ids]
        participants += [
            {"incident_id": incident_id, "user_id": u, "role": r} for u, r in draft.participants
        ]
        labels += [
            {"incident_id": incident_id, "key": k, "value": v} for k, v in draft.labels.items()
        ]
        reporter = row["reporter_id"]
        who = emails[reporter] if reporter is not None else "system"
        created = {
            "ref": _ref_of(row["number"]),
            "title": row["title"],
            "priority": row["priority"],
            "source": row["source"],
            "services": [names[s] for s in draft.service_ids],
        }
        timeline = [_event(EventKind.CREATED, row["created_at"], reporter, who, created)]
        if row["priority_override_reason"]:
            overridden = {
                "derived": row["priority_derived"],
                "priority": row["priority"],
                "reason": row["priority_override_reason"],
            }
            at = row["created_at"]
            timeline.append(_event(EventKind.PRIORITY_OVERRIDDEN, at, reporter, who, overridden))
        original = (ids[index - 1], numbers[index - 1]) if index else previous
        for event in [*timeline, *draft.events]:
            event = {**event, "record_id": incident_id}
            if event["data"].get("cancel_reason") == "duplicate" and original is not None:
                event["data"] = {**event["data"], "duplicate_of": _ref_of(original[1])}
            events.append(event)
        if row["cancel_reason"] == "duplicate" and original is not None:
            duplicates.append({"b_id": incident_id, "b_dup": original[0]})
    conn.execute(insert(IncidentService), services)
    conn.execute(insert(IncidentParticipant), participants)
    conn.execute(insert(IncidentLabel), labels)
    conn.execute(insert(TimelineEvent), events)
    if duplicates:
        conn.execute(
            update(Incident)
            .where(Incident.id == bindparam("b_id"))
            .values(duplicate_of_id=bindparam("b_dup")),
            duplicates,
        )
    return (ids[-1], numbers[-1]), len(events)


def _ref_of(number: int) -> str:
    return refs.format_ref(refs.INCIDENT_PREFIX, number)


def _analyze(ctx: Context) -> None:
    """Refresh planner statistics after a bulk load (autovacuum would, a minute later)."""
    engine = ctx.sessions.kw["bind"]
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "ANALYZE incidents, incident_services, incident_participants, incident_labels, "
            "timeline_events"
        )
