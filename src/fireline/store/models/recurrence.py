"""Recurrence signatures: the masked words of each incident, an inverted index over them and a
snapshot of how many incidents use each word (for IDF weighting).

They exist so "similar past incidents" answers from a few indexed lookups instead of reading
and tokenising the whole history. They are derived data: `usecases.recurrence` rebuilds them
from the incidents at any time, and a row is stale when its `version` differs from the
incident's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.store.models.base import Base
from fireline.store.types import UTCDateTime


class IncidentSignature(Base):
    """The words of one incident as recurrence matching sees them (`domain.recurrence`)."""

    __tablename__ = "incident_signatures"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)  # the incident version they were taken from
    words: Mapped[str] = mapped_column(Text)  # space-separated tokens, in order, repeats kept
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentTerm(Base):
    """Inverted index: which incidents use a word (one row per distinct word and incident)."""

    __tablename__ = "incident_terms"

    term: Mapped[str] = mapped_column(String(80), primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RecurrenceTermStat(Base):
    """How many incidents used a word when the snapshot was taken; term "*" holds the total."""

    __tablename__ = "recurrence_term_stats"

    term: Mapped[str] = mapped_column(String(80), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)
