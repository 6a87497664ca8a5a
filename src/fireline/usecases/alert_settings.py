"""Per-service alert settings: grouping, auto-resolve, severity -> impact/urgency, flapping.

grouping.mode     dedup_key    one incident per alert dedup key
                  labels       one incident per value of `grouping.labels` (default
                               alertname); alerts lacking them group by dedup key
                  time_window  alerts within `grouping.window_minutes` of the incident's
                               first alert join it
                  service      everything on the service joins one open incident
auto_resolve      resolve the incident when all its alerts resolve (else a timeline note)
severity_map      alert severity -> {impact, urgency}
flap              an alert that opens `max_opens` times within `window_minutes` is held
                  back (recorded, marked flapping, no incident)
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.orm import Session

from fireline.domain.priority import Level
from fireline.domain.roles import Role
from fireline.errors import InvalidField
from fireline.store.models.alerts import ServiceAlertSettings
from fireline.store.repos import audit
from fireline.usecases import lookups
from fireline.usecases.context import Context

MODES = ("dedup_key", "labels", "time_window", "service")
SEVERITIES = ("critical", "error", "warning", "info")

DEFAULTS: dict[str, Any] = {
    "grouping": {"mode": "labels", "labels": ["alertname"], "window_minutes": 60},
    "auto_resolve": False,
    "severity_map": {
        "critical": {"impact": "high", "urgency": "high"},
        "error": {"impact": "high", "urgency": "medium"},
        "warning": {"impact": "medium", "urgency": "medium"},
        "info": {"impact": "low", "urgency": "low"},
    },
    "flap": {"window_minutes": 60, "max_opens": 4},
}


def merged(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The effective settings: stored values over the defaults."""
    result = copy.deepcopy(DEFAULTS)
    for key, value in (stored or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key].update(value)
        else:
            result[key] = value
    return result


def _int(raw: Any, field: str, low: int, high: int) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise InvalidField(field, f"must be an integer {low}-{high}")
    return raw


def check(raw: Any) -> dict[str, Any]:
    """Validate a full settings object (missing parts take defaults); name the bad field."""
    if not isinstance(raw, dict):
        raise InvalidField("body", "must be an object")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise InvalidField(unknown[0], f"unknown setting; known: {', '.join(DEFAULTS)}")
    result = merged(None)
    grouping = raw.get("grouping", {})
    if not isinstance(grouping, dict):
        raise InvalidField("grouping", "must be an object")
    bad = sorted(set(grouping) - {"mode", "labels", "window_minutes"})
    if bad:
        raise InvalidField(f"grouping.{bad[0]}", "unknown; use mode, labels, window_minutes")
    mode = grouping.get("mode", result["grouping"]["mode"])
    if mode not in MODES:
        raise InvalidField("grouping.mode", f"must be one of {', '.join(MODES)}")
    labels = grouping.get("labels", result["grouping"]["labels"])
    if (
        not isinstance(labels, list)
        or not 1 <= len(labels) <= 20
        or not all(isinstance(x, str) and 0 < len(x) <= 200 for x in labels)
    ):
        raise InvalidField("grouping.labels", "must be a list of 1-20 label names")
    window = _int(
        grouping.get("window_minutes", result["grouping"]["window_minutes"]),
        "grouping.window_minutes",
        1,
        7 * 24 * 60,
    )
    result["grouping"] = {"mode": mode, "labels": labels, "window_minutes": window}
    auto = raw.get("auto_resolve", False)
    if not isinstance(auto, bool):
        raise InvalidField("auto_resolve", "must be true or false")
    result["auto_resolve"] = auto
    severity_map = raw.get("severity_map", {})
    if not isinstance(severity_map, dict):
        raise InvalidField("severity_map", "must be an object")
    for severity, levels in severity_map.items():
        if severity not in SEVERITIES:
            raise InvalidField(f"severity_map.{severity}", f"use {', '.join(SEVERITIES)}")
        if not isinstance(levels, dict) or set(levels) - {"impact", "urgency"}:
            raise InvalidField(f"severity_map.{severity}", "must be {impact, urgency}")
        for part in ("impact", "urgency"):
            value = levels.get(part, result["severity_map"][severity][part])
            try:
                Level(value)
            except ValueError:
                raise InvalidField(
                    f"severity_map.{severity}.{part}", "must be high, medium or low"
                ) from None
            result["severity_map"][severity][part] = value
    flap = raw.get("flap", {})
    if not isinstance(flap, dict) or set(flap) - {"window_minutes", "max_opens"}:
        raise InvalidField("flap", "must be {window_minutes, max_opens}")
    result["flap"] = {
        "window_minutes": _int(
            flap.get("window_minutes", result["flap"]["window_minutes"]),
            "flap.window_minutes",
            1,
            24 * 60,
        ),
        "max_opens": _int(
            flap.get("max_opens", result["flap"]["max_opens"]), "flap.max_opens", 2, 1000
        ),
    }
    return result


def get(ctx: Context, service: lookups.Ref) -> tuple[int, dict[str, Any]]:
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        found = lookups.service(session, service, field="service")
        row = session.get(ServiceAlertSettings, found.id)
        return found.id, merged(row.settings if row else None)


def put(ctx: Context, service: lookups.Ref, raw: Any) -> tuple[int, dict[str, Any]]:
    """Replace a service's alert settings (manager)."""
    ctx.actor.require(Role.MANAGER)
    clean = check(raw)
    with ctx.transaction() as session:
        found = lookups.service(session, service, field="service")
        store(session, found.id, clean, ctx=ctx)
    return found.id, clean


def store(session: Session, service_id: int, clean: dict[str, Any], *, ctx: Context) -> None:
    row = session.get(ServiceAlertSettings, service_id)
    now = ctx.clock.now()
    if row is None:
        session.add(ServiceAlertSettings(service_id=service_id, settings=clean, updated_at=now))
    else:
        row.settings = clean
        row.updated_at = now
    audit.record(
        session,
        at=now,
        actor_id=ctx.actor.user_id,
        actor_label=ctx.actor.label,
        action="service.alert_settings",
        target_type="service",
        target_id=service_id,
        data=clean,
    )
