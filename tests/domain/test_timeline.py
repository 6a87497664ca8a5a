"""Timeline field diffs: what counts as a change."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.timeline import FieldChange, JsonValue, diff

text = st.text(alphabet="abcxyz -", max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), text)
values = st.one_of(scalars, st.lists(text, max_size=5), st.dictionaries(text, text, max_size=3))
records = st.dictionaries(
    st.sampled_from(["title", "team", "labels", "responders", "impact"]), values
)


@given(records)
def test_a_record_compared_with_itself_has_no_changes(record: dict[str, JsonValue]) -> None:
    assert diff(record, dict(record)) == []


@given(records, records)
def test_changes_name_each_changed_field_with_before_and_after(
    before: dict[str, JsonValue], after: dict[str, JsonValue]
) -> None:
    changes = diff(before, after)
    assert [c.field for c in changes] == [k for k in after if k in {c.field for c in changes}]
    for change in changes:
        assert change.before == before.get(change.field)
        assert change.after == after[change.field]
    unchanged = set(after) - {c.field for c in changes}
    for key in unchanged:
        old, new = before.get(key), after[key]
        if isinstance(old, list) and isinstance(new, list):
            assert sorted(old) == sorted(new)
        else:
            assert old == new


@given(st.lists(text, max_size=8), st.randoms())
def test_reordering_a_list_is_not_a_change(items: list[str], rnd: object) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert diff({"responders": items}, {"responders": shuffled}) == []  # type: ignore[dict-item]


def test_only_fields_present_after_are_compared() -> None:
    assert diff({"title": "a", "team": "ops"}, {"title": "b"}) == [
        FieldChange(field="title", before="a", after="b")
    ]


def test_a_new_field_is_a_change_from_none() -> None:
    assert diff({}, {"team": "ops"}) == [FieldChange(field="team", before=None, after="ops")]
