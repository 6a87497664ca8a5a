"""Shared schema pieces."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

Ref = (
    Annotated[int, Field(ge=1, le=2**31 - 1)]
    | Annotated[str, StringConstraints(min_length=1, max_length=254)]
)
ShortText = Annotated[str, StringConstraints(max_length=300)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so typos are reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: int | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class NamedRef(Out):
    id: int
    name: str


class UserRef(Out):
    id: int
    name: str
    email: str
