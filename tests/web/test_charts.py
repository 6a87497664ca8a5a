"""SVG chart geometry: scales, stacking order, labels and colour classes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fireline.domain.trends import OTHER, BucketSize, stack_days
from fireline.web import charts

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def test_nice_ceiling_rounds_up_to_1_2_5() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 1, 2, 3, 7, 11, 20, 21, 480)] == [
        1, 1, 2, 5, 10, 20, 20, 50, 500,
    ]  # fmt: skip


def test_stacked_bars_stack_bottom_up_with_labels_and_classes() -> None:
    rows = [
        (date(2026, 3, 2), "db", 3),
        (date(2026, 3, 2), "No service", 1),
        (date(2026, 3, 3), "api", 4),
    ]
    series = stack_days(
        rows,
        start=MONDAY,
        end=MONDAY + timedelta(days=2),
        size=BucketSize.DAY,
        unassigned="No service",
    )
    chart = charts.stacked_bars(series)

    assert [t.text for t in chart.y_ticks] == ["0", "5"]  # peak 4, scale to 5
    first_day = [r for r in chart.rects if r.label.startswith("Mar 2")]
    db, unknown = first_day
    assert db.label == "Mar 2: db, 3 incidents" and unknown.label == "Mar 2: No service, 1 incident"
    assert db.y + db.height == chart.plot_bottom  # the first key sits on the axis
    assert abs(unknown.y + unknown.height - db.y) < 0.01  # the next one on top of it
    assert (db.css, unknown.css) == ("series-1", "series-none")  # api is series-0
    assert [(i.name, i.total) for i in chart.legend] == [("api", 4), ("db", 3), ("No service", 1)]
    assert [t.text for t in chart.x_ticks] == ["Mar 2", "Mar 3"]


def test_other_is_grey_and_weeks_are_labelled_week_commencing() -> None:
    rows = [(date(2026, 3, 2 + n), f"svc-{n}", 1) for n in range(4)]
    series = stack_days(
        rows, start=MONDAY, end=MONDAY + timedelta(days=7), size=BucketSize.WEEK, top=2
    )
    chart = charts.stacked_bars(series)
    assert series.keys[-1] == OTHER and chart.legend[-1].css == "series-8"
    assert chart.x_ticks[0].text == "w/c Mar 2"
    assert charts.shares([0, 5, 10]) == [0.0, 50.0, 100.0] and charts.shares([0]) == [0.0]
