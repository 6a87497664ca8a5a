"""Pure inbound parsers: decoded JSON from a monitoring tool → `list[AlertEvent]`.

One module per source (`alertmanager`, `grafana`, `pagerduty_v2`, `generic`), each with a
`parse…()` function that does no I/O and raises only `InvalidField` (or its subclass
`InvalidEvent`, which carries every problem found) with a dotted path into the payload such as
`alerts[3].labels` or `payload.severity`.

    InvalidField (fireline.errors)   field = the first offending path
     └── InvalidEvent                problems = [(field, message), …]; errors = ["field: message"]

Limits, enforced the same way by every parser (constants live in `domain.alert_grouping`):
at most MAX_ALERTS_PER_BATCH (1000) alerts per request; at most MAX_LABELS (256) labels and
annotations per alert; label and annotation names up to MAX_LABEL_NAME (256) characters; label
values up to MAX_LABEL_VALUE (4096): longer ones are refused, since labels identify the alert.
Annotation values are cut to MAX_ANNOTATION_VALUE (16 KiB) and summaries to MAX_SUMMARY (1024);
the event's `truncated` names what was cut. Links keep only http(s) URLs up to MAX_URL and at most
MAX_LINKS per alert. The request body size (PagerDuty allows 512 KB) is the caller's to check.
This module holds the helpers the parsers share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from fireline.domain.alert_grouping import (
    MAX_ALERTS_PER_BATCH,
    MAX_ANNOTATION_VALUE,
    MAX_LABEL_NAME,
    MAX_LABEL_VALUE,
    MAX_LABELS,
    MAX_LINKS,
    MAX_SUMMARY,
    MAX_URL,
    Link,
)
from fireline.errors import InvalidField

__all__ = ["InvalidEvent"]

GO_ZERO_YEAR = 1
M = TypeVar("M", bound=BaseModel)


class InvalidEvent(InvalidField):
    """A payload with one or more problems; `errors` lists them all as `"field: message"`.

    `field` and `message` describe the first problem, so callers that only know
    `InvalidField` still get a precise answer. The PagerDuty endpoint answers
    `{"status": "invalid event", "message": "Event object is invalid", "errors": errors}`.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        if not problems:
            raise ValueError("InvalidEvent needs at least one problem")
        super().__init__(problems[0][0], problems[0][1])
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        self.errors: list[str] = [f"{f}: {m}" for f, m in problems]


def field_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """`("alerts", 3, "labels")` → `alerts[3].labels` (after `prefix`, itself a path)."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "body"


def problems_of(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """Every pydantic error as `(dotted path, message)`, in pydantic's order."""
    return [
        (field_path(err["loc"], prefix), str(err["msg"]))
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def validate_model(model: type[M], data: object, prefix: str = "") -> M:
    """`model.model_validate(data)`, raising `InvalidEvent` with every problem instead."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(problems_of(exc, prefix)) from None


def require_object(body: object, field: str = "body") -> Mapping[str, object]:
    """`body` as a JSON object, or `InvalidField(field, "must be a JSON object")`."""
    if not isinstance(body, Mapping):
        raise InvalidField(field, "must be a JSON object")
    return body


def check_batch(alerts: object, field: str = "alerts") -> None:
    """Refuse a non-list or more than MAX_ALERTS_PER_BATCH alerts before parsing any of them."""
    if not isinstance(alerts, list):
        raise InvalidField(field, "must be a list")
    if len(alerts) > MAX_ALERTS_PER_BATCH:
        raise InvalidField(
            field, f"at most {MAX_ALERTS_PER_BATCH} alerts per request (set max_alerts lower)"
        )


def check_labels(labels: Mapping[str, str], field: str) -> dict[str, str]:
    """Labels within the limits, or `InvalidField` naming the label (`alerts[0].labels.x`)."""
    if len(labels) > MAX_LABELS:
        raise InvalidField(field, f"at most {MAX_LABELS} labels per alert")
    for name, value in labels.items():
        if not name or len(name) > MAX_LABEL_NAME:
            raise InvalidField(field, f"label names must be 1 to {MAX_LABEL_NAME} characters")
        if len(value) > MAX_LABEL_VALUE:
            raise InvalidField(f"{field}.{name}", f"at most {MAX_LABEL_VALUE} characters")
    return dict(labels)


def clip_annotations(annotations: Mapping[str, str], field: str) -> tuple[dict[str, str], bool]:
    """Annotations with values cut to MAX_ANNOTATION_VALUE; (annotations, anything cut).

    Too many annotations or a bad name raise `InvalidField(field)`.
    """
    if len(annotations) > MAX_LABELS:
        raise InvalidField(field, f"at most {MAX_LABELS} annotations per alert")
    clipped: dict[str, str] = {}
    cut = False
    for name, value in annotations.items():
        if not name or len(name) > MAX_LABEL_NAME:
            raise InvalidField(field, f"names must be 1 to {MAX_LABEL_NAME} characters")
        clipped[name] = value[:MAX_ANNOTATION_VALUE]
        cut = cut or len(value) > MAX_ANNOTATION_VALUE
    return clipped, cut


def clip_summary(text: str) -> tuple[str, bool]:
    """The summary stripped and cut to MAX_SUMMARY characters; (summary, was cut)."""
    text = text.strip()
    return text[:MAX_SUMMARY], len(text) > MAX_SUMMARY


def http_link(href: object, text: object = "", *, https_only: bool = False) -> Link | None:
    """A `Link` when `href` is an absolute http(s) URL of at most MAX_URL chars, else None.

    Other schemes (`javascript:`, `file:`) are dropped so the web UI never renders them.
    """
    if not isinstance(href, str) or not href or len(href) > MAX_URL:
        return None
    return _link(href, text[:MAX_URL] if isinstance(text, str) else "", https_only)


@lru_cache(maxsize=4096)
def _link(href: str, text: str, https_only: bool) -> Link | None:
    """`http_link` for string arguments, cached (senders repeat the same URLs)."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return None
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme.lower() not in allowed or not parts.netloc:
        return None
    return Link(href=href.strip(), text=text)


def collect_links(links: Sequence[Link | None]) -> tuple[Link, ...]:
    """The non-None links, first MAX_LINKS, duplicates removed, in order."""
    seen: dict[str, Link] = {}
    for link in links:
        if link is not None and link.href not in seen:
            seen[link.href] = link
    return tuple(seen.values())[:MAX_LINKS]


def to_utc(value: datetime | None, field: str) -> datetime | None:
    """An aware datetime in UTC; Go's zero time (year 1, "not set") becomes None.

    Raises `InvalidField(field)` when the instant cannot be represented in UTC.
    """
    if value is None or value.year == GO_ZERO_YEAR:
        return None
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidField(field, "timestamp out of range") from None
