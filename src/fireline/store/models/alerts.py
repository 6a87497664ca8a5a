"""Alert intake: integrations (keys on a service), alerts, per-service alert settings, silences
and maintenance windows.

An alert is open while its status is `firing` or `acknowledged`. At most one open alert exists
per (integration, dedup key): a partial unique index enforces it across processes, so a
re-sent trigger can only ever bump the open alert's `last_seen_at` and `occurrence_count`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.store.models.base import Base
from fireline.store.types import JSONType, UTCDateTime

OPEN_ALERT = text("status <> 'resolved'")
# Resolved, in a form that only the index made for it matches (migration 0012): as a plain
# `status = 'resolved'` both PostgreSQL and SQLite planners chose the status index instead.
RESOLVED_ALERT = text("(status = 'resolved') IS TRUE")


class Integration(Base):
    """A source of alerts bound to a service. Only the SHA-256 of its key is stored."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(8))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # An alert's key is in one of these two, as it is open or resolved: a new alert goes
        # into one index by its key, not two (migration 0012). dedup_key first: selective
        # whatever the planner's statistics (migration 0010).
        Index(
            "uq_alerts_open_dedup",
            "dedup_key",
            "integration_id",
            unique=True,
            sqlite_where=OPEN_ALERT,
            postgresql_where=OPEN_ALERT,
        ),
        Index(
            "ix_alerts_resolved_dedup",
            "dedup_key",
            "integration_id",
            sqlite_where=RESOLVED_ALERT,
            postgresql_where=RESOLVED_ALERT,
        ),
        Index("ix_alerts_service_id_id", "service_id", "id"),
        Index("ix_alerts_status_id", "status", "id"),
        Index("ix_alerts_incident_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    dedup_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str | None] = mapped_column(String(255))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(1024))
    severity: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    links: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    group_key: Mapped[str | None] = mapped_column(String(255))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    occurrence_count: Mapped[int] = mapped_column(Integer, default=1)
    raw: Mapped[str | None] = mapped_column(Text)
    raw_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    suppressed_reason: Mapped[str | None] = mapped_column(String(200))
    noise: Mapped[bool] = mapped_column(Boolean, default=False)
    noise_reason: Mapped[str | None] = mapped_column(String(500))


class ServiceAlertSettings(Base):
    """How a service turns alerts into incidents (grouping, auto-resolve, severity map)."""

    __tablename__ = "service_alert_settings"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRulesVersion(Base):
    """One row (id 1) whose `version` grows with every change to alert silences, maintenance
    windows and service alert settings, made by triggers on those tables (migration 0013) so
    that no writer can forget it: the intake keeps those rules between batches and reads only
    this number to know they are still current."""

    __tablename__ = "alert_rules_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class Silence(Base):
    """Alerts matching all `matchers` until `ends_at` are recorded but open no incident."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    matchers: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    reason: Mapped[str] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MaintenanceWindow(Base):
    """While a window is active, the service's alerts are recorded but open no incident."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertGroup(Base):
    """An incident opened for a grouping key on a service; new alerts with the key join it
    while the incident is open (and, in time-window mode, while the window lasts)."""

    __tablename__ = "alert_groups"
    __table_args__ = (Index("ix_alert_groups_service_key", "service_id", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String(255))
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
