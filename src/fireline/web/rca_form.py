"""The RCA editor form: flat HTML fields to and from the structured RCA of a problem.

One form edits the whole analysis together, without JavaScript:

- 5 whys: rows `why_N` / `answer_N`; a row with both boxes blank is skipped, so the page
  offers a few blank rows for new steps.
- fishbone: one textarea per category (`fishbone_<category>`), one cause per line.
- contributing factors: rows `factor_N` with an optional `factor_category_N`.
- root cause: the statement (`root_cause`).

Validation stays in `domain.rca`; its errors name paths such as `five_whys[1].answer`, which
`field_id()` turns into the id of the box to point at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fireline.domain import rca as rca_rules
from fireline.web.forms import FormLike, text

BLANK_ROWS = 2
MIN_WHYS = 5


@dataclass(frozen=True, slots=True)
class WhyRow:
    why: str
    answer: str


@dataclass(frozen=True, slots=True)
class FactorRow:
    description: str
    category: str


@dataclass(frozen=True, slots=True)
class RcaFields:
    """What the editor shows: rows (with blanks to add more) and one text per category."""

    whys: list[WhyRow]
    fishbone: dict[str, str]
    factors: list[FactorRow]
    root_cause: str


CATEGORIES = [c.value for c in rca_rules.FishboneCategory]


def _count(form: FormLike, prefix: str, limit: int) -> int:
    numbers = [
        int(match.group(1))
        for key in form
        if (match := re.fullmatch(rf"{prefix}_(\d{{1,3}})", key)) is not None
    ]
    return min(max(numbers, default=-1) + 1, limit)


def parse(form: FormLike) -> dict[str, Any]:
    """The submitted editor as the dict `problem_rca.set_rca` validates (blank rows dropped).

    At most 2 × the domain limits are read, so an oversized post fails validation by name
    instead of being silently truncated, and never builds an unbounded structure.
    """
    whys = []
    for n in range(_count(form, "why", 2 * rca_rules.MAX_WHYS)):
        why, answer = text(form, f"why_{n}"), text(form, f"answer_{n}")
        if why or answer:
            whys.append({"why": why, "answer": answer})
    fishbone = {
        c: [line.strip() for line in text(form, f"fishbone_{c}").splitlines() if line.strip()]
        for c in CATEGORIES
    }
    factors = []
    for n in range(_count(form, "factor", 2 * rca_rules.MAX_ITEMS)):
        description = text(form, f"factor_{n}")
        if description:
            factors.append(
                {"description": description, "category": text(form, f"factor_category_{n}") or None}
            )
    return {
        "five_whys": whys,
        "fishbone": {c: causes for c, causes in fishbone.items() if causes},
        "contributing_factors": factors,
        "root_cause": text(form, "root_cause"),
    }


def fields(raw: Mapping[str, Any], *, fallback_root_cause: str | None = None) -> RcaFields:
    """Editor values for a stored (or just submitted) RCA, with blank rows appended."""
    whys = [
        WhyRow(why=str(w.get("why") or ""), answer=str(w.get("answer") or ""))
        for w in raw.get("five_whys") or []
        if isinstance(w, Mapping)
    ]
    target = max(MIN_WHYS, len(whys) + BLANK_ROWS) if len(whys) < rca_rules.MAX_WHYS else len(whys)
    whys += [WhyRow(why="", answer="")] * (min(target, rca_rules.MAX_WHYS) - len(whys))
    bones = raw.get("fishbone") or {}
    fishbone = {
        c: "\n".join(str(x) for x in bones.get(c) or []) if isinstance(bones, Mapping) else ""
        for c in CATEGORIES
    }
    factors = [
        FactorRow(
            description=str(f.get("description") or ""), category=str(f.get("category") or "")
        )
        for f in raw.get("contributing_factors") or []
        if isinstance(f, Mapping)
    ]
    factors += [FactorRow(description="", category="")] * BLANK_ROWS
    statement = raw.get("root_cause") or fallback_root_cause or ""
    return RcaFields(whys=whys, fishbone=fishbone, factors=factors, root_cause=str(statement))


def field_id(path: str | None) -> str | None:
    """The editor box a validation path points at: `five_whys[1].answer` -> `rca-answer-1`."""
    if not path:
        return None
    if match := re.fullmatch(r"five_whys\[(\d+)\]\.(why|answer)", path):
        return f"rca-{match.group(2)}-{match.group(1)}"
    if match := re.fullmatch(r"fishbone\.(\w+)(\[\d+\])?", path):
        return f"rca-fishbone-{match.group(1)}"
    if match := re.fullmatch(r"contributing_factors\[(\d+)\]\.(description|category)", path):
        suffix = "" if match.group(2) == "description" else "-category"
        return f"rca-factor-{match.group(1)}{suffix}"
    if path == "root_cause":
        return "rca-root-cause"
    return None
