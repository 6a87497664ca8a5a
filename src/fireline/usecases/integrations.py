"""Integrations: the keys monitoring tools use to send alerts to a service.

An integration has a type (how its payloads are read), a service (where its alerts go), a
32-character key shown once (only its SHA-256 is kept, plus a short prefix for display) and
an optional `config`:

    rate_limit_per_minute  events accepted per minute (token bucket per server process;
                           0 turns the limit off; default DEFAULT_RATE_LIMIT)
    interval_minutes       heartbeat: a ping is expected at least this often
    mapping                generic: JSON paths for summary, severity, dedup_key, status, ...
    routing_rules          ordered rules, first match wins: `{"match": {label: value},
                           "service": ref, "severity": s, "drop": bool}` (matcher values as
                           in `domain.alert_rules.matchers_from_object`: `~re`, `!v`, `!~re`)
    severity_map           source severity value -> critical|error|warning|info
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.domain.alert_grouping import Severity
from fireline.domain.alert_rules import RoutingRule, matchers_from_object
from fireline.domain.roles import Role
from fireline.errors import InvalidField, NotFound
from fireline.integrations.inbound.generic import GenericMapping
from fireline.store.models import Service
from fireline.store.models.alerts import Integration
from fireline.store.repos import audit
from fireline.usecases import lookups
from fireline.usecases.context import Context
from fireline.usecases.submissions import IntegrationInfo

KEY_LENGTH = 32
PREFIX_LENGTH = 6
DEFAULT_RATE_LIMIT = 6000
MAX_CONFIG_ITEMS = 100
SEVERITIES = ("critical", "error", "warning", "info")


class IntegrationType(StrEnum):
    PAGERDUTY = "pagerduty"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    GENERIC = "generic"
    HEARTBEAT = "heartbeat"


PATHS: dict[IntegrationType, str] = {
    IntegrationType.PAGERDUTY: "/v2/enqueue",
    IntegrationType.ALERTMANAGER: "/hooks/alertmanager/{key}",
    IntegrationType.GRAFANA: "/hooks/grafana/{key}",
    IntegrationType.GENERIC: "/hooks/generic/{key}",
    IntegrationType.HEARTBEAT: "/hooks/heartbeat/{key}",
}


@dataclass(frozen=True, slots=True)
class Issued:
    """A created or rotated integration with its key (the only time the key is visible)."""

    integration: Integration
    key: str
    url: str


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return secrets.token_hex(KEY_LENGTH // 2)


def url_for(ctx: Context, integration_type: str, key: str | None) -> str:
    """The URL a tool posts to; `{key}` stays a placeholder when the key is not known."""
    path = PATHS[IntegrationType(integration_type)]
    return ctx.settings.public_base_url + path.replace("{key}", key or "{key}")


def check_config(session: Session, integration_type: IntegrationType, raw: Any) -> dict[str, Any]:
    """Validate `config` for a type; raise InvalidField naming the offending entry."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidField("config", "must be an object")
    allowed = {"rate_limit_per_minute", "routing_rules", "severity_map"}
    if integration_type is IntegrationType.HEARTBEAT:
        allowed.add("interval_minutes")
    if integration_type is IntegrationType.GENERIC:
        allowed.add("mapping")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InvalidField(
            f"config.{unknown[0]}",
            f"unknown option for a {integration_type.value} integration; "
            f"known: {', '.join(sorted(allowed))}",
        )
    config: dict[str, Any] = {}
    if "rate_limit_per_minute" in raw:
        value = raw["rate_limit_per_minute"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000_000:
            raise InvalidField("config.rate_limit_per_minute", "must be an integer 0-10000000")
        config["rate_limit_per_minute"] = value
    if integration_type is IntegrationType.HEARTBEAT:
        value = raw.get("interval_minutes", 5)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 7 * 24 * 60:
            raise InvalidField("config.interval_minutes", "must be an integer 1-10080")
        config["interval_minutes"] = value
    if "mapping" in raw:
        mapping = raw["mapping"]
        if not isinstance(mapping, dict) or len(mapping) > MAX_CONFIG_ITEMS:
            raise InvalidField("config.mapping", "must be an object of field -> JSON path")
        try:
            GenericMapping.from_mapping(mapping)
        except InvalidField as exc:
            name = exc.field or "mapping"
            raise InvalidField(f"config.{name}", exc.message.removeprefix(f"{name}: ")) from None
        config["mapping"] = dict(mapping)
    if "severity_map" in raw:
        severity_map = raw["severity_map"]
        if not isinstance(severity_map, dict) or len(severity_map) > MAX_CONFIG_ITEMS:
            raise InvalidField("config.severity_map", "must be an object of value -> severity")
        for name, value in severity_map.items():
            if value not in SEVERITIES:
                raise InvalidField(
                    f"config.severity_map.{name}", f"must be one of {', '.join(SEVERITIES)}"
                )
        config["severity_map"] = {str(k).lower(): v for k, v in severity_map.items()}
    if "routing_rules" in raw:
        config["routing_rules"] = _check_rules(session, raw["routing_rules"])
    return config


def _check_rules(session: Session, raw: Any) -> list[dict[str, Any]]:
    """Routing rules: `[{"match": {...matchers}, "service"?: ref, "severity"?: s, "drop"?: bool}]`.

    Service references are resolved to ids now, so a renamed service keeps working.
    """
    if not isinstance(raw, list) or len(raw) > MAX_CONFIG_ITEMS:
        raise InvalidField("config.routing_rules", f"must be a list of at most {MAX_CONFIG_ITEMS}")
    rules: list[dict[str, Any]] = []
    for index, rule in enumerate(raw):
        where = f"config.routing_rules[{index}]"
        if not isinstance(rule, dict):
            raise InvalidField(where, "must be an object")
        unknown = sorted(set(rule) - {"match", "service", "severity", "drop"})
        if unknown:
            raise InvalidField(
                f"{where}.{unknown[0]}", "unknown; use match, service, severity or drop"
            )
        match = rule.get("match", {})
        matchers_from_object(match, field=f"{where}.match")
        clean: dict[str, Any] = {"match": match}
        if rule.get("service") is not None:
            clean["service_id"] = lookups.service(
                session, rule["service"], field=f"{where}.service"
            ).id
        if rule.get("severity") is not None:
            if rule["severity"] not in SEVERITIES:
                raise InvalidField(f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}")
            clean["severity"] = rule["severity"]
        if rule.get("drop"):
            clean["drop"] = True
        if len(clean) == 1:
            raise InvalidField(where, "needs at least one of service, severity, drop")
        rules.append(clean)
    return rules


def info_of(
    *, id: int, type: str, service_id: int, config: dict[str, Any] | None, name: str = ""
) -> IntegrationInfo:
    """The intake's view of a stored integration, with its rules and maps parsed once."""
    config = dict(config or {})
    rules = tuple(
        RoutingRule(
            matchers=matchers_from_object(rule.get("match", {}), field="match"),
            route_to=rule.get("service_id"),
            set_severity=Severity(rule["severity"]) if rule.get("severity") else None,
            drop=bool(rule.get("drop")),
        )
        for rule in config.get("routing_rules") or ()
    )
    severity_map = {
        str(k).lower(): Severity(v) for k, v in (config.get("severity_map") or {}).items()
    }
    return IntegrationInfo(
        id=id,
        type=type,
        service_id=service_id,
        config=config,
        rules=rules,
        severity_map=severity_map,
        name=name,
    )


def _audit(session: Session, ctx: Context, action: str, integration: Integration) -> None:
    audit.record(
        session,
        at=ctx.clock.now(),
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        action=action,
        target_type="integration",
        target_id=integration.id,
        data={
            "name": integration.name,
            "type": integration.type,
            "service_id": integration.service_id,
            "key_prefix": integration.key_prefix,
        },
    )


def _name(value: str) -> str:
    name = (value or "").strip()
    if not name or len(name) > 120:
        raise InvalidField("name", "must be 1-120 characters")
    return name


def create(
    ctx: Context,
    *,
    type: str,
    service: lookups.Ref,
    name: str,
    config: dict[str, Any] | None = None,
) -> Issued:
    """Create an integration on a service and issue its key (admin)."""
    ctx.actor.require(Role.ADMIN)
    try:
        integration_type = IntegrationType(type)
    except ValueError:
        raise InvalidField(
            "type", f"must be one of {', '.join(t.value for t in IntegrationType)}"
        ) from None
    key = new_key()
    now = ctx.clock.now()
    with ctx.transaction() as session:
        found = lookups.service(session, service, field="service")
        integration = Integration(
            service_id=found.id,
            type=integration_type.value,
            name=_name(name),
            key_hash=key_digest(key),
            key_prefix=key[:PREFIX_LENGTH],
            config=check_config(session, integration_type, config),
            created_at=now,
            updated_at=now,
        )
        session.add(integration)
        session.flush()
        _audit(session, ctx, "integration.create", integration)
    return Issued(integration=integration, key=key, url=url_for(ctx, integration.type, key))


def get(session: Session, integration_id: int) -> Integration:
    found = session.get(Integration, integration_id)
    if found is None:
        raise NotFound(f"no integration {integration_id}", field="integration")
    return found


def find(ctx: Context, integration_id: int) -> Integration:
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        return get(session, integration_id)


def list_all(
    ctx: Context, *, service_id: int | None = None, include_revoked: bool = False
) -> Sequence[Integration]:
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        query = select(Integration).order_by(Integration.id)
        if service_id is not None:
            query = query.where(Integration.service_id == service_id)
        if not include_revoked:
            query = query.where(Integration.revoked_at.is_(None))
        return session.scalars(query).all()


def update(ctx: Context, integration_id: int, changes: dict[str, Any]) -> Integration:
    """Rename, move to another service or change config (admin)."""
    ctx.actor.require(Role.ADMIN)
    with ctx.transaction() as session:
        integration = get(session, integration_id)
        if integration.revoked_at is not None:
            raise InvalidField("integration", "is revoked")
        if "name" in changes:
            integration.name = _name(changes["name"])
        if "service" in changes:
            integration.service_id = lookups.service(
                session, changes["service"], field="service"
            ).id
        if "config" in changes:
            integration.config = check_config(
                session, IntegrationType(integration.type), changes["config"]
            )
        integration.updated_at = ctx.clock.now()
        _audit(session, ctx, "integration.update", integration)
    return integration


def rotate(ctx: Context, integration_id: int) -> Issued:
    """Issue a new key; the old one stops working at once (admin)."""
    ctx.actor.require(Role.ADMIN)
    key = new_key()
    with ctx.transaction() as session:
        integration = get(session, integration_id)
        if integration.revoked_at is not None:
            raise InvalidField("integration", "is revoked")
        integration.key_hash = key_digest(key)
        integration.key_prefix = key[:PREFIX_LENGTH]
        integration.rotated_at = integration.updated_at = ctx.clock.now()
        _audit(session, ctx, "integration.rotate", integration)
    return Issued(integration=integration, key=key, url=url_for(ctx, integration.type, key))


def revoke(ctx: Context, integration_id: int) -> Integration:
    """Revoke an integration: its key stops working; its alerts stay (admin)."""
    ctx.actor.require(Role.ADMIN)
    with ctx.transaction() as session:
        integration = get(session, integration_id)
        if integration.revoked_at is None:
            integration.revoked_at = integration.updated_at = ctx.clock.now()
            _audit(session, ctx, "integration.revoke", integration)
    return integration


def service_name(session: Session, service_id: int) -> str:
    found = session.get(Service, service_id)
    return found.name if found else str(service_id)
