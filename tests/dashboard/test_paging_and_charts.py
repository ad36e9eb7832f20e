"""The building blocks: keyset cursors, the SVG chart's geometry, the database median."""

from datetime import date, timedelta

import pytest
from django.db.models import DurationField, ExpressionWrapper, F

from portal.dashboard.charts import bar_chart, nice_step
from portal.dashboard.median import Median
from portal.dashboard.paging import BadCursor, decode_cursor, encode_cursor
from portal.dashboard.queries import worklist_order
from portal.exams.models import Exam
from tests.dashboard.conftest import exam


def test_a_cursor_round_trips_the_sort_values(trio, northside):
    made = exam(northside, trio[0])
    _, keys = worklist_order("-submitted", None)
    values = decode_cursor(encode_cursor(made, keys), keys)
    assert values == [made.last_submitted_at, made.pk]


@pytest.mark.parametrize("cursor", ["", "!!", "bm90IGpzb24", "WzFd", "WyJ4IiwgMV0", "e30"])
def test_a_malformed_cursor_is_refused(cursor):
    # "not json", "[1]" (too short), '["x", 1]' (not a date), "{}" (not a list)
    _, keys = worklist_order("-submitted", None)
    with pytest.raises(BadCursor):
        decode_cursor(cursor, keys)


@pytest.mark.parametrize(
    ("maximum", "step"), [(0, 1), (1, 0.5), (3, 1), (7, 2), (10, 5), (38, 10), (170, 50)]
)
def test_gridlines_fall_on_round_numbers(maximum, step):
    assert nice_step(maximum) == step


def test_a_bar_chart_scales_bars_into_the_plot():
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]
    chart = bar_chart(
        [(d, n % 5) for n, d in enumerate(days)], title="t", description="d", integer=True
    )
    assert len(chart.bars) == 30
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.y >= 12 and tallest.y + tallest.height == chart.baseline
    assert all(b.height == 0 for b in chart.bars[::5])
    assert [label for _, label in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert [label for _, label in chart.x_labels][-1] == "Nov 30"
    assert not chart.empty
    assert bar_chart([(d, None) for d in days], title="t", description="d").empty


def test_the_median_is_computed_by_the_database(trio, northside, ago):
    for hours in (1, 2, 3, 50):
        exam(northside, trio[0], first_submitted_at=ago(hours=hours + 1), signed_at=ago(hours=1))
    took = ExpressionWrapper(F("signed_at") - F("first_submitted_at"), output_field=DurationField())
    median = Exam.objects.aggregate(m=Median(took))["m"]
    assert abs(median - timedelta(hours=2.5)) < timedelta(seconds=1)
    assert Exam.objects.none().aggregate(m=Median(took))["m"] is None
