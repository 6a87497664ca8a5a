"""Durable jobs: the outbox (deliveries) and timers (escalation steps, SLA checks, ...).

A use case inserts a job in the same transaction as the change that caused it; the worker
claims due jobs (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite) and runs them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.store.models.base import Base
from fireline.store.types import JSONType, UTCDateTime


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
