"""Problem management: problems linked to incidents, structured RCA, known errors, and
verification that a fix stopped the recurrence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fireline.store.models.base import Base
from fireline.store.types import JSONType, UTCDateTime


class Problem(Base):
    __tablename__ = "problems"
    __table_args__ = (
        Index("ix_problems_status_id", "status", "id"),
        Index("ix_problems_verification", "verification"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(30))
    priority: Mapped[str] = mapped_column(String(2))
    origin: Mapped[str] = mapped_column(String(20))  # reactive | proactive
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    root_cause: Mapped[str | None] = mapped_column(Text)
    workaround: Mapped[str | None] = mapped_column(Text)
    # five_whys, fishbone, contributing_factors: validated by domain/rca.py
    rca: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    fix_description: Mapped[str | None] = mapped_column(Text)
    fix_change_ref: Mapped[str | None] = mapped_column(String(300))
    # What a recurrence looks like (services, fingerprints, labels, key words), kept when the
    # problem is resolved so fix verification can match new incidents against it.
    signature: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    verification: Mapped[str] = mapped_column(String(20), default="none")
    watch_days: Mapped[int] = mapped_column(Integer, default=30)
    verify_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The major incident this problem was created for automatically (0007). Unique, so a
    # re-run of the creating job can never make a second problem for the same incident.
    origin_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), unique=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)

    services: Mapped[list[ProblemService]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )
    changes: Mapped[list[ProblemChange]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ProblemChange.id"
    )

    __mapper_args__ = {"version_id_col": version}


class ProblemService(Base):
    __tablename__ = "problem_services"

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problems.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ProblemChange(Base):
    """A change linked to a problem as (part of) its fix: a free-text change reference for now."""

    __tablename__ = "problem_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problems.id", ondelete="CASCADE"), index=True
    )
    change_ref: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    linked_by: Mapped[str] = mapped_column(String(200))


class ProblemIncident(Base):
    """Many-to-many link; linking is recorded on both timelines."""

    __tablename__ = "problem_incidents"

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problems.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    linked_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500), default="")


class KnownError(Base):
    """A known error: symptoms, root cause, workaround and permanent-fix status."""

    __tablename__ = "known_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_id: Mapped[int | None] = mapped_column(
        ForeignKey("problems.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    symptoms: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    workaround: Mapped[str] = mapped_column(Text, default="")
    fix_status: Mapped[str] = mapped_column(String(20), default="none")
    # Matching criteria: service ids, label equality matchers, key words.
    service_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    match_labels: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentKnownError(Base):
    """A known error matched to an incident (automatically at intake, or by hand)."""

    __tablename__ = "incident_known_errors"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    known_error_id: Mapped[int] = mapped_column(
        ForeignKey("known_errors.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[float] = mapped_column(default=0.0)
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
