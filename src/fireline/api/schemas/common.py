"""Shared schema pieces."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

T = TypeVar("T")

Ref = (
    Annotated[int, Field(ge=1, le=2**31 - 1)]
    | Annotated[str, StringConstraints(min_length=1, max_length=254)]
)
ShortText = Annotated[str, StringConstraints(max_length=300)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so typos are reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL cannot store NUL in text; refuse it here so the field is named (422)."""
        if _has_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


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
