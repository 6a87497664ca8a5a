"""Structured RCA: validation names the offending path; export keeps every part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.rca import FishboneCategory, Rca
from fireline.errors import InvalidField

GOOD = {
    "five_whys": [
        {"why": "Why did checkout fail?", "answer": "The DB pool was exhausted"},
        {"why": "Why was it exhausted?", "answer": "A deploy doubled the workers"},
    ],
    "fishbone": {"technology": ["Pool size fixed at 10"], "Process": ["No load test"]},
    "contributing_factors": [
        {"description": "Friday deploy", "category": "process"},
        {"description": "Alert threshold too high"},
    ],
    "root_cause": "The pool was sized for half the workers.",
}


def test_valid_rca_round_trips_and_normalises_categories() -> None:
    rca = Rca.from_dict(GOOD)
    assert rca.fishbone[FishboneCategory.PROCESS] == ("No load test",)
    data = rca.to_dict()
    assert data["fishbone"] == {
        "process": ["No load test"],
        "technology": ["Pool size fixed at 10"],
    }
    assert Rca.from_dict(data) == rca


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"five_whys": [{"why": "Why?", "answer": ""}]}, "five_whys[0].answer"),
        ({"five_whys": [{"why": "a", "answer": "b"}, "x"]}, "five_whys[1]"),
        ({"five_whys": [{"why": "a", "answer": "b"}] * 11}, "five_whys"),
        ({"fishbone": {"weather": ["rain"]}}, "fishbone.weather"),
        ({"fishbone": {"people": ["ok", 3]}}, "fishbone.people[1]"),
        (
            {"contributing_factors": [{"description": "x", "category": "luck"}]},
            "contributing_factors[0].category",
        ),
        ({"root_cause": "x" * 4001}, "root_cause"),
        ({"blame": "Bob"}, "blame"),
    ],
)
def test_bad_rca_names_the_path(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        Rca.from_dict(data)
    assert caught.value.field == field


def test_empty_parts_mean_not_written_yet() -> None:
    rca = Rca.from_dict({"five_whys": [], "fishbone": {"people": []}, "root_cause": "  "})
    assert rca == Rca()


def test_markdown_export_contains_every_part() -> None:
    text = Rca.from_dict(GOOD).to_markdown()
    assert "### Root cause" in text and "sized for half the workers" in text
    assert "1. **Why?** Why did checkout fail? — The DB pool was exhausted" in text
    assert "- **Technology:** Pool size fixed at 10" in text
    assert "- Friday deploy (process)" in text


texts = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() != "")


@given(
    whys=st.lists(st.tuples(texts, texts), max_size=10),
    people=st.lists(texts, max_size=5),
    statement=st.one_of(st.none(), texts),
)
def test_round_trip_property(
    whys: list[tuple[str, str]], people: list[str], statement: str | None
) -> None:
    data = {
        "five_whys": [{"why": w, "answer": a} for w, a in whys],
        "fishbone": {"people": people},
        "root_cause": statement,
    }
    rca = Rca.from_dict(data)
    assert Rca.from_dict(rca.to_dict()) == rca
    assert len(rca.five_whys) == len(whys)
