"""A labelled, seeded generator of incident histories with known root causes.

    GeneratorConfig --generate()--> SyntheticHistory
                                     ├── services   (name, dependencies)
                                     └── incidents  (IncidentFeatures + cause id or None)

A *cause* is an archetype (connection-pool exhaustion, disk full, consumer lag…) pinned to one
service and one component (a dependency, a path, a topic, a provider). Each cause recurs a
skewed number of times within a window of days; a share of incidents are one-off singletons
(label None). Every incident is rendered with realistic noise: template and synonym choice,
host names, pods, IPs, ids, numbers and durations, typos, alert-style titles, filler sentences,
fingerprints present only for alert-driven incidents (and two severities give two fingerprints),
generic service-level alerts shared by different causes, and incidents reported on a *dependent*
service instead of the one at fault. Archetypes deliberately share vocabulary (latency, pool,
connection, timeout, restart). The same seed always yields the same history.

Two vocabularies exist: "default" (Kubernetes/Prometheus wording) and "heldout" (other domain,
Nagios/Zabbix/Datadog and human wording, other label keys), to check a matcher on wording it
was not tuned on. `as_dict()` gives JSON-friendly rows for a database seeder.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fireline.domain.recurrence import IncidentFeatures
from fireline.synthetic.vocabulary import PACKS, Archetype, Pack


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Knobs of the generated mix; `services=None` scales the catalogue with `incidents`."""

    incidents: int = 2000
    seed: int = 7
    vocabulary: str = "default"
    services: int | None = None
    causes_per_service: tuple[int, int] = (2, 5)
    singleton_share: float = 0.12
    alert_driven_share: float = 0.6
    generic_alert_share: float = 0.08
    dependent_report_share: float = 0.12
    typo_rate: float = 0.02
    days: int = 180
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SyntheticService:
    name: str
    dependencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelledIncident:
    """One generated incident and the id of the root cause it came from (None: one-off)."""

    features: IncidentFeatures
    cause: str | None

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-friendly fields (ISO-8601 UTC time) for seeding a database."""
        f = self.features
        return {
            "id": f.id,
            "ref": f.ref,
            "title": f.title,
            "description": f.description,
            "service_ids": list(f.service_ids),
            "related_service_ids": list(f.related_service_ids),
            "category": f.category,
            "labels": dict(f.labels),
            "fingerprints": list(f.fingerprints),
            "detected_at": f.detected_at.isoformat(),
            "cause": self.cause,
        }


@dataclass(frozen=True, slots=True)
class SyntheticHistory:
    services: tuple[SyntheticService, ...]
    incidents: tuple[LabelledIncident, ...]


@dataclass(frozen=True, slots=True)
class _Cause:
    id: str
    archetype: Archetype
    service: str
    component: str
    dependency: str
    alert_driven: bool
    start_day: float
    length_days: float


def generate(config: GeneratorConfig | None = None) -> SyntheticHistory:
    """Generate `config.incidents` labelled incidents, ordered by detection time.

    Raises ValueError for an unknown vocabulary or fewer than 2 incidents.
    """
    config = config or GeneratorConfig()
    if config.vocabulary not in PACKS:
        raise ValueError(f"unknown vocabulary {config.vocabulary!r}; known: {sorted(PACKS)}")
    if config.incidents < 2:
        raise ValueError("incidents must be at least 2")
    pack = PACKS[config.vocabulary]
    rng = random.Random(f"{config.seed}:{config.vocabulary}")
    wanted = config.services or max(20, round(math.sqrt(config.incidents) * 0.8))
    services = _services(pack, wanted, rng)
    deps = {s.name: s.dependencies for s in services}
    dependents: dict[str, list[str]] = {}
    for s in services:
        for d in s.dependencies:
            dependents.setdefault(d, []).append(s.name)
    causes, used = _causes(pack, services, config, rng)

    singles = round(config.incidents * config.singleton_share)
    recurring = config.incidents - singles
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(causes))]
    rng.shuffle(weights)
    counts = [2] * len(causes) if recurring >= 2 * len(causes) else [0] * len(causes)
    for index in rng.choices(range(len(causes)), weights=weights, k=recurring - sum(counts)):
        counts[index] += 1

    drafts: list[tuple[datetime, IncidentFeatures, str | None]] = []
    for cause, count in zip(causes, counts, strict=True):
        for _ in range(count):
            day = cause.start_day + rng.random() * cause.length_days
            at = config.start + timedelta(days=day, seconds=rng.randrange(86400))
            features = _render(pack, cause, at, deps, dependents, config, rng)
            drafts.append((at, features, cause.id))
    for _ in range(singles):
        cause = _one_off(pack, services, used, config, rng)
        at = config.start + timedelta(days=rng.random() * config.days)
        drafts.append((at, _render(pack, cause, at, deps, dependents, config, rng), None))
    drafts.sort(key=lambda d: d[0])
    incidents = tuple(
        LabelledIncident(_renumber(features, number), cause)
        for number, (_, features, cause) in enumerate(drafts, start=1)
    )
    return SyntheticHistory(services=tuple(services), incidents=incidents)


def _services(pack: Pack, wanted: int, rng: random.Random) -> list[SyntheticService]:
    names: list[str] = []
    domains = list(pack.domains)
    rng.shuffle(domains)
    for kind in pack.kinds:
        for domain in domains:
            names.append(f"{domain}-{kind}")
    names = names[:wanted]
    stores = [f"{d}-{s}" for d in domains for s in pack.stores][: max(4, wanted // 4)]
    services: list[SyntheticService] = [SyntheticService(s, ()) for s in stores]
    for index, name in enumerate(names):
        own = [stores[index % len(stores)]]
        others = rng.sample(names[:index], k=min(index, rng.randint(0, 2)))
        services.append(SyntheticService(name, tuple(own + others)))
    return services


def _causes(
    pack: Pack, services: list[SyntheticService], config: GeneratorConfig, rng: random.Random
) -> tuple[list[_Cause], set[tuple[str, str]]]:
    low, high = config.causes_per_service
    causes: list[_Cause] = []
    used: set[tuple[str, str]] = set()
    for service in services:
        fitting = [a for a in pack.archetypes if service.dependencies or not a.needs_dependency]
        for archetype in rng.sample(fitting, k=min(len(fitting), rng.randint(low, high))):
            used.add((service.name, archetype.key))
            causes.append(_make_cause(archetype, service, config, rng, f"{service.name}/"))
    return causes, used


def _make_cause(
    archetype: Archetype,
    service: SyntheticService,
    config: GeneratorConfig,
    rng: random.Random,
    prefix: str,
) -> _Cause:
    dependency = service.name
    if service.dependencies:  # mostly the service's own data store
        dependency = service.dependencies[0 if rng.random() < 0.7 else -1]
    component = _fill_fixed(rng.choice(archetype.components), service.name, dependency)
    start = rng.random() * config.days * 0.8
    return _Cause(
        id=prefix + archetype.key,
        archetype=archetype,
        service=service.name,
        component=component,
        dependency=dependency,
        alert_driven=rng.random() < config.alert_driven_share,
        start_day=start,
        length_days=rng.uniform(7.0, config.days - start),
    )


def _one_off(
    pack: Pack,
    services: list[SyntheticService],
    used: set[tuple[str, str]],
    config: GeneratorConfig,
    rng: random.Random,
) -> _Cause:
    for _ in range(50):
        service = rng.choice(services)
        archetype = rng.choice(pack.archetypes)
        if (service.name, archetype.key) not in used and (
            service.dependencies or not archetype.needs_dependency
        ):
            break
    return _make_cause(archetype, service, config, rng, "one-off:")


def _render(
    pack: Pack,
    cause: _Cause,
    at: datetime,
    deps: dict[str, tuple[str, ...]],
    dependents: dict[str, list[str]],
    config: GeneratorConfig,
    rng: random.Random,
) -> IncidentFeatures:
    arch = cause.archetype
    service = named = cause.service
    if dependents.get(service) and rng.random() < config.dependent_report_share:
        service = rng.choice(dependents[service])  # noticed downstream, not at the source
        named = cause.service if rng.random() < 0.7 else service  # usually names the culprit
    fill = _Filler(rng, cause, service, pack.label_style, named)
    title = fill(rng.choice(arch.titles))
    description = fill(rng.choice(arch.descriptions))
    if rng.random() < 0.5:
        description += " " + fill(rng.choice(pack.fillers))
    labels: dict[str, str] = {}
    fingerprints: tuple[str, ...] = ()
    has_alert = rng.random() < (0.85 if cause.alert_driven else 0.1)
    if has_alert:
        alertname = arch.alertname
        if rng.random() < config.generic_alert_share:
            alertname = "HighErrorRate"
            title = fill(rng.choice(pack.generic_titles))
        severity = rng.choice(("warning", "critical"))
        labels = fill.labels(alertname, severity)
        key = f"{alertname}|{service}|{severity}"
        fingerprints = (hashlib.sha1(key.encode()).hexdigest()[:16],)  # noqa: S324
        if rng.random() < 0.3:
            title = fill(rng.choice(pack.alert_titles)).replace("{alertname}", alertname)
    elif rng.random() < 0.5:
        labels = {"team": fill.team}
    if config.typo_rate:
        title = _typos(title, config.typo_rate, rng)
        description = _typos(description, config.typo_rate, rng)
    return IncidentFeatures(
        id=0,
        ref="",
        title=title,
        description=description,
        detected_at=at,
        service_ids=(service,),
        related_service_ids=deps.get(service, ()),
        category=arch.category if rng.random() < 0.7 else None,
        labels=labels,
        fingerprints=fingerprints,
    )


class _Filler:
    """Fills one incident's template slots; volatile slots change every time."""

    _SLOT = re.compile(r"<(\w+)>|\{([^{}]*\|[^{}]*)\}")

    def __init__(
        self, rng: random.Random, cause: _Cause, service: str, style: str, named: str
    ) -> None:
        self.rng = rng
        self.style = style
        self.named = named
        self.cause = cause
        self.service = service
        self.team = cause.service.split("-")[0]

    def __call__(self, template: str) -> str:
        return self._SLOT.sub(self._slot, template)

    def labels(self, alertname: str, severity: str) -> dict[str, str]:
        r = self.rng
        if self.style == "datadog":
            return {
                "monitor": alertname,
                "priority": "P1" if severity == "critical" else "P3",
                "service": self.service,
                "env": "production",
                "host": self._host(),
                "container_id": f"{r.getrandbits(64):016x}",
            }
        return {
            "alertname": alertname,
            "severity": severity,
            "service": self.service,
            "namespace": self.team,
            "team": self.team,
            "env": "prod",
            "instance": f"{self._host()}:{r.choice((8080, 9100, 9187))}",
            "pod": self._pod(),
        }

    def _slot(self, match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return self(self.rng.choice(match.group(2).split("|")))
        r, name = self.rng, match.group(1)
        fixed = {"svc": self.named, "dep": self.cause.dependency, "comp": self.cause.component}
        if name in fixed:
            return fixed[name]
        volatile: dict[str, Callable[[], str]] = {
            "host": self._host,
            "pod": self._pod,
            "ip": lambda: f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}",
            "uuid": lambda: str(_uuid(r)),
            "hex": lambda: f"{r.getrandbits(48):012x}",
            "num": lambda: str(r.choice((r.randrange(2, 60), r.randrange(60, 5000)))),
            "pct": lambda: f"{r.randrange(70, 100)}%",
            "dur": lambda: r.choice(
                (
                    f"{r.randrange(2, 60)}s",
                    f"{r.randrange(50, 900)}ms",
                    f"{r.randrange(2, 90)} minutes",
                )
            ),
            "size": lambda: f"{r.randrange(1, 512)}{r.choice(('MB', 'GB', 'Mi', 'Gi'))}",
            "ver": lambda: f"v{r.randrange(1, 4)}.{r.randrange(0, 60)}.{r.randrange(0, 20)}",
        }
        return volatile[name]() if name in volatile else match.group(0)

    def _host(self) -> str:
        r = self.rng
        role = self.service.split("-")[0]
        return r.choice(
            (
                f"{role}-{r.randrange(1, 99)}",
                f"ip-10-{r.randrange(256)}-{r.randrange(256)}-{r.randrange(1, 255)}",
                f"{role}-prod-{r.randrange(1, 40):02d}",
                f"node{r.randrange(1, 300)}.eu-west-1.compute.internal",
            )
        )

    def _pod(self) -> str:
        r = self.rng
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        hash_part = "".join(r.choice(alphabet) for _ in range(r.choice((9, 10))))
        suffix = "".join(r.choice(alphabet) for _ in range(5))
        return f"{self.service}-{hash_part}-{suffix}"


def _uuid(rng: random.Random) -> str:
    raw = f"{rng.getrandbits(128):032x}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _fill_fixed(template: str, service: str, dependency: str) -> str:
    return template.replace("<svc>", service).replace("<dep>", dependency)


def _typos(text: str, rate: float, rng: random.Random) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) >= 5 and word.isalpha() and rng.random() < rate:
            j = rng.randrange(1, len(word) - 2)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def _renumber(features: IncidentFeatures, number: int) -> IncidentFeatures:
    return IncidentFeatures(
        id=number,
        ref=f"INC-{number}",
        title=features.title,
        description=features.description,
        detected_at=features.detected_at,
        service_ids=features.service_ids,
        related_service_ids=features.related_service_ids,
        category=features.category,
        labels=features.labels,
        fingerprints=features.fingerprints,
    )
