"""Monotonic counters for references; the row lock makes them safe across processes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fireline.store.models import Counter


def next_value(session: Session, *, name: str) -> int:
    """Increment counter `name` (creating it at 1) and return the new value."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    base: Any = insert(Counter).values(name=name, value=1)
    stmt = base.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + 1}
    ).returning(Counter.value)
    value = session.execute(stmt).scalar_one()
    return int(value)


def peek(session: Session, *, name: str) -> int:
    found = session.get(Counter, name)
    return 0 if found is None else int(found.value)


__all__ = ["func", "next_value", "peek"]
