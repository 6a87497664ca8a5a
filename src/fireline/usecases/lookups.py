"""Resolve user-supplied references (id, email, name) to rows, naming the field on failure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.domain import refs
from fireline.errors import InvalidField, NotFound
from fireline.store.models import Category, Service, Team, User

T = TypeVar("T")

Ref = int | str
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every table


def as_id(value: Ref) -> int | None:
    """The id `value` denotes, or None when no row can have it.

    Non-ASCII digits (`"²".isdigit()` is true) and numbers beyond the 32-bit id range never
    reach SQL: PostgreSQL would refuse them with an error instead of finding nothing.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif value.isascii() and value.isdigit():
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def _by_id(session: Session, model: type[T], value: Ref) -> T | None:
    ident = as_id(value)
    return None if ident is None else session.get(model, ident)


def numbered(session: Session, model: type[T], key: Ref, *, prefix: str, field: str) -> T:
    """A record with a human reference (`INC-42`, `PRB-7`) by id or by that reference;
    raise NotFound naming `field`. The model must have an integer `number` column."""
    found: T | None = None
    if isinstance(key, int) or key.isdigit():
        found = _by_id(session, model, key)
    else:
        number = refs.parse_ref(key, prefix=prefix)
        if number is not None and number <= MAX_ID:
            column = getattr(model, "number")  # noqa: B009 - any numbered model
            found = session.scalar(select(model).where(column == number))
    if found is None:
        raise NotFound(f"no {field.replace('_', ' ')} {key!r}", field=field)
    return found


def labels(raw: Mapping[str, Any], *, limit: int, what: str = "labels") -> dict[str, str]:
    """Clean user-supplied labels: at most `limit`, names 1-100 and values <= 300 characters,
    errors naming `labels.<name>`."""
    if len(raw) > limit:
        raise InvalidField("labels", f"at most {limit} {what}")
    cleaned: dict[str, str] = {}
    for key, value in raw.items():
        k = str(key).strip()
        if not k or len(k) > 100:
            raise InvalidField(f"labels.{key}", "label names are 1-100 characters")
        if len(str(value)) > 300:
            raise InvalidField(f"labels.{key}", "label values are at most 300 characters")
        cleaned[k] = str(value)
    return cleaned


def user(session: Session, value: Ref, *, field: str) -> User:
    if isinstance(value, int) or value.isdigit():
        found = _by_id(session, User, value)
    else:
        found = session.scalar(select(User).where(User.email == value.strip().lower()))
    if found is None:
        raise InvalidField(field, f"no user {value!r}")
    if not found.is_active:
        raise InvalidField(field, f"user {value!r} is deactivated")
    return found


def users(session: Session, values: Iterable[Ref], *, field: str) -> list[User]:
    seen: dict[int, User] = {}
    for index, value in enumerate(values):
        found = user(session, value, field=f"{field}[{index}]")
        seen[found.id] = found
    return list(seen.values())


def service(session: Session, value: Ref, *, field: str) -> Service:
    if isinstance(value, int) or value.isdigit():
        found = _by_id(session, Service, value)
    else:
        found = session.scalar(select(Service).where(func.lower(Service.name) == value.lower()))
    if found is None:
        raise InvalidField(field, f"no service {value!r}")
    return found


def services(session: Session, values: Sequence[Ref], *, field: str) -> list[Service]:
    seen: dict[int, Service] = {}
    for index, value in enumerate(values):
        found = service(session, value, field=f"{field}[{index}]")
        seen[found.id] = found
    return list(seen.values())


def team(session: Session, value: Ref, *, field: str) -> Team:
    if isinstance(value, int) or value.isdigit():
        found = _by_id(session, Team, value)
    else:
        found = session.scalar(select(Team).where(func.lower(Team.name) == value.lower()))
    if found is None:
        raise InvalidField(field, f"no team {value!r}")
    return found


def category(session: Session, value: Ref, *, field: str) -> Category:
    if isinstance(value, int) or value.isdigit():
        found = _by_id(session, Category, value)
    else:
        found = session.scalar(select(Category).where(Category.name == value.strip().lower()))
    if found is None:
        names = session.scalars(select(Category.name).order_by(Category.name)).all()
        raise InvalidField(field, f"no category {value!r}; known: {', '.join(names)}")
    return found
