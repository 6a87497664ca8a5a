"""Trend report output: a stacked series per bucket and the costliest problems."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class TrendBucket(BaseModel):
    start: date
    total: int
    counts: dict[str, int]


class ProblemCostOut(BaseModel):
    ref: str
    title: str
    status: str
    priority: str
    incidents: int
    resolved: int
    unresolved: int
    total_seconds: int
    mean_seconds: int


class TrendOut(BaseModel):
    start: datetime
    end: datetime
    bucket: str
    by: str
    keys: list[str]
    buckets: list[TrendBucket]
    total: int
    costliest_problems: list[ProblemCostOut]
