"""Structured root-cause analysis (RCA) of a problem: 5 whys, fishbone, factors, statement.

    Rca
     ├── five_whys             ordered (why, answer) pairs, up to 10 (5 is a guide, not a rule)
     ├── fishbone              category -> causes (people, process, technology, environment,
     │                         suppliers, measurement, materials)
     ├── contributing_factors  what made it worse or likelier, optionally with a category
     └── root_cause            the one-paragraph statement the analysis concluded with

`Rca.from_dict()` validates input from the API (every part optional; empty parts and a blank
statement mean "not written yet") and raises `InvalidField` whose field is the path of the
offending value (`five_whys[2].answer`, `fishbone.people[0]`), so a form can put the
message next to the right box. `to_dict()` is its inverse; `to_markdown()` exports for a
post-incident review document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from fireline.errors import InvalidField

MAX_WHYS = 10
MAX_TEXT = 2000
MAX_STATEMENT = 4000
MAX_ITEMS = 30


class FishboneCategory(StrEnum):
    PEOPLE = "people"
    PROCESS = "process"
    TECHNOLOGY = "technology"
    ENVIRONMENT = "environment"
    SUPPLIERS = "suppliers"
    MEASUREMENT = "measurement"
    MATERIALS = "materials"


@dataclass(frozen=True, slots=True)
class Why:
    """One step of the 5-whys chain: the question asked and the answer found."""

    why: str
    answer: str


@dataclass(frozen=True, slots=True)
class ContributingFactor:
    description: str
    category: FishboneCategory | None = None


@dataclass(frozen=True, slots=True)
class Rca:
    """A validated RCA; build it with `from_dict` to get field-path errors."""

    five_whys: tuple[Why, ...] = ()
    fishbone: Mapping[FishboneCategory, tuple[str, ...]] = field(default_factory=dict, hash=False)
    contributing_factors: tuple[ContributingFactor, ...] = ()
    root_cause: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Rca:
        """Validate and build an RCA from JSON-like data; every key is optional.

        Raises InvalidField naming the path of the first bad value: unknown keys, more than
        10 whys, blank or over-long texts, unknown fishbone categories, wrong types.
        """
        unknown = set(data) - {"five_whys", "fishbone", "contributing_factors", "root_cause"}
        if unknown:
            raise InvalidField(sorted(unknown)[0], "unknown RCA field")
        whys = _list(data.get("five_whys") or [], "five_whys", MAX_WHYS)
        five = tuple(
            Why(
                why=_text(_obj(w, f"five_whys[{i}]").get("why"), f"five_whys[{i}].why"),
                answer=_text(_obj(w, f"five_whys[{i}]").get("answer"), f"five_whys[{i}].answer"),
            )
            for i, w in enumerate(whys)
        )
        bones: dict[FishboneCategory, tuple[str, ...]] = {}
        for key, causes in _obj(data.get("fishbone") or {}, "fishbone").items():
            bone = _category(key, f"fishbone.{key}")
            items = _list(causes, f"fishbone.{key}", MAX_ITEMS)
            if items:
                bones[bone] = tuple(_text(c, f"fishbone.{key}[{i}]") for i, c in enumerate(items))
        factors = []
        for i, raw in enumerate(
            _list(data.get("contributing_factors") or [], "contributing_factors", MAX_ITEMS)
        ):
            path = f"contributing_factors[{i}]"
            item = _obj(raw, path)
            tag = item.get("category")
            factors.append(
                ContributingFactor(
                    description=_text(item.get("description"), f"{path}.description"),
                    category=None if tag in (None, "") else _category(tag, f"{path}.category"),
                )
            )
        statement = data.get("root_cause")
        blank = statement is None or (isinstance(statement, str) and not statement.strip())
        root = None if blank else _text(statement, "root_cause", MAX_STATEMENT)
        return cls(five, bones, tuple(factors), root)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form; `Rca.from_dict(rca.to_dict()) == rca` (no chain: no key)."""
        whys = [{"why": w.why, "answer": w.answer} for w in self.five_whys]
        return ({"five_whys": whys} if whys else {}) | {
            "fishbone": {
                c.value: list(self.fishbone[c]) for c in FishboneCategory if c in self.fishbone
            },
            "contributing_factors": [
                {"description": f.description, "category": f.category and f.category.value}
                for f in self.contributing_factors
            ],
            "root_cause": self.root_cause,
        }  # fmt: skip

    def to_markdown(self, *, title: str = "Root-cause analysis") -> str:
        """A Markdown section for a review document (user text is flattened to one line)."""
        lines = [f"## {_line(title)}", ""]
        if self.root_cause:
            lines += ["### Root cause", "", _line(self.root_cause), ""]
        if self.five_whys:
            lines += ["### 5 whys", ""]
            for n, w in enumerate(self.five_whys, start=1):
                lines.append(f"{n}. **Why?** {_line(w.why)} — {_line(w.answer)}")
            lines.append("")
        if self.fishbone:
            lines += ["### Fishbone", ""]
            for category in FishboneCategory:
                for cause in self.fishbone.get(category, ()):
                    lines.append(f"- **{category.value.capitalize()}:** {_line(cause)}")
            lines.append("")
        if self.contributing_factors:
            lines += ["### Contributing factors", ""]
            for f in self.contributing_factors:
                tag = f" ({f.category.value})" if f.category else ""
                lines.append(f"- {_line(f.description)}{tag}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _line(text: str) -> str:
    return " ".join(text.split())


def _text(value: object, path: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise InvalidField(path, "must be text")
    text = value.strip()
    if not text:
        raise InvalidField(path, "must not be blank")
    if len(text) > limit:
        raise InvalidField(path, f"must be at most {limit} characters")
    return text


def _obj(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidField(path, "must be an object")
    return value


def _list(value: object, path: str, limit: int) -> list[object]:
    if not isinstance(value, list | tuple):
        raise InvalidField(path, "must be a list")
    if len(value) > limit:
        raise InvalidField(path, f"must have at most {limit} entries")
    return list(value)


def _category(value: object, path: str) -> FishboneCategory:
    try:
        return FishboneCategory(str(value).strip().lower())
    except ValueError:
        known = ", ".join(c.value for c in FishboneCategory)
        raise InvalidField(path, f"unknown category; use one of: {known}") from None
