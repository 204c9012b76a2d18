"""Chart geometry (reports.charts): pure, so tested without a database."""

from __future__ import annotations

import pytest

from ticketry.reports import charts


class TestNiceTicks:
    @pytest.mark.parametrize(
        ("maximum", "expected"),
        [
            (0, [0, 1]),
            (1, [0, 1]),
            (4, [0, 1, 2, 3, 4]),
            (7, [0, 2, 4, 6, 8]),
            (61, [0, 20, 40, 60, 80]),
            (100, [0, 25, 50, 75, 100]),
            (1234, [0, 500, 1000, 1500]),
        ],
    )
    def test_counts_get_round_integer_steps_covering_the_maximum(
        self, maximum: float, expected: list[float]
    ) -> None:
        assert charts.nice_ticks(maximum) == expected

    def test_fractions_are_allowed_for_durations(self) -> None:
        assert charts.nice_ticks(0.9, integers=False) == [0, 0.25, 0.5, 0.75, 1.0]

    def test_nonsense_maximum_gives_a_unit_axis(self) -> None:
        assert charts.nice_ticks(float("nan")) == [0, 1]
        assert charts.nice_ticks(-5) == [0, 1]


class TestBarChart:
    def test_bars_are_proportional_and_the_longest_stays_inside(self) -> None:
        chart = charts.bar_chart("Open by department", [("Billing", 10), ("Sales", 5), ("Empty", 0)])

        widths = [bar.width for bar in chart.bars]
        assert widths[0] == pytest.approx(2 * widths[1], abs=0.2)
        assert widths[2] == 0
        assert all(chart.left + w <= chart.right for w in widths)
        assert chart.ticks[0].position == chart.left
        assert chart.ticks[-1].position == pytest.approx(chart.right)
        assert [t.text for t in chart.ticks] == ["0", "3", "6", "9", "12"]

    def test_bars_do_not_overlap_and_fit_the_height(self) -> None:
        chart = charts.bar_chart("x", [(f"Row {i}", i) for i in range(6)])
        for above, below in zip(chart.bars, chart.bars[1:], strict=False):
            assert above.y + above.height < below.y
        assert chart.bars[-1].y + chart.bars[-1].height <= chart.bottom < chart.height

    def test_texts_describe_the_data_for_screen_readers_and_tooltips(self) -> None:
        chart = charts.bar_chart("Open by priority", [("Low", 1), ("High", 1234)])
        assert chart.description == "Open by priority: Low 1, High 1,234."
        assert [bar.tooltip for bar in chart.bars] == ["Low: 1", "High: 1,234"]

    def test_long_labels_are_shortened_on_the_axis_only(self) -> None:
        name = "A department with a very long name indeed"
        bar = charts.bar_chart("x", [(name, 1)]).bars[0]
        assert bar.label == name
        assert bar.axis_label == "A department with a v…"
        assert len(bar.axis_label) == charts.LABEL_CHARS

    def test_labels_stay_plain_text(self) -> None:
        """Escaping is the template's job; the geometry must not pre-escape or drop anything."""
        evil = "<script>alert(1)</script>"
        chart = charts.bar_chart("x", [(evil, 2)])
        assert chart.bars[0].label == evil
        assert evil in chart.description

    def test_label_room_follows_the_longest_label(self) -> None:
        short = charts.bar_chart("x", [("Low", 1)])
        long = charts.bar_chart("x", [("Waiting for response", 1)])
        assert short.left < long.left

    def test_no_data(self) -> None:
        chart = charts.bar_chart("Nothing", [])
        assert chart.empty
        assert chart.bars == []
        assert chart.description == "Nothing: no data."

    def test_hours_format(self) -> None:
        chart = charts.bar_chart(
            "Times", [("Median", 4.94), ("Mean", 20.0)], fmt=charts.hours_text, integers=False
        )
        assert [bar.text for bar in chart.bars] == ["4.9 h", "20 h"]
        assert [t.text for t in chart.ticks] == ["0 h", "5 h", "10 h", "15 h", "20 h"]


class TestLineChart:
    DAYS = [f"2026-03-{d:02d}" for d in range(1, 31)]

    def test_points_span_the_plot_and_the_path_visits_each(self) -> None:
        created = [float(d % 4) for d in range(30)]
        chart = charts.line_chart("Per day", self.DAYS, [("Created", created), ("Resolved", [1.0] * 30)])

        line = chart.lines[0]
        assert line.points[0].x == chart.left
        assert line.points[-1].x == pytest.approx(chart.right)
        assert line.path.startswith(f"M{chart.left:.1f},")
        assert line.path.count("L") == 29
        top = max(line.points, key=lambda p: p.value)
        assert chart.top <= top.y < chart.bottom
        assert min(line.points, key=lambda p: p.value).y == chart.bottom
        assert line.total == sum(created)

    def test_x_axis_keeps_first_and_last_and_few_labels(self) -> None:
        chart = charts.line_chart("Per day", self.DAYS, [("Created", [0.0] * 30)])
        texts = [t.text for t in chart.x_ticks]
        assert texts[0] == self.DAYS[0]
        assert texts[-1] == self.DAYS[-1]
        assert len(texts) <= 11
        gaps = [b.position - a.position for a, b in zip(chart.x_ticks, chart.x_ticks[1:], strict=False)]
        assert min(gaps) >= max(gaps) / 2  # the last label does not crowd its neighbour

    def test_short_axis_labels_but_full_labels_in_points(self) -> None:
        chart = charts.line_chart(
            "d", ["2026-03-01", "2026-03-02"], [("C", [1.0, 2.0])], axis_labels=["1", "2"]
        )
        assert [t.text for t in chart.x_ticks] == ["1", "2"]
        assert chart.lines[0].points[1].label == "2026-03-02"

    def test_description_sums_each_series(self) -> None:
        chart = charts.line_chart(
            "Trend", self.DAYS[:3], [("Created", [1.0, 2.0, 3.0]), ("Resolved", [0.0, 1.0, 0.0])]
        )
        assert (
            chart.description == "Trend, 2026-03-01 to 2026-03-03: Created 6 in total; Resolved 1 in total."
        )

    def test_single_day_sits_in_the_middle(self) -> None:
        chart = charts.line_chart("d", ["today"], [("C", [2.0])])
        assert chart.lines[0].points[0].x == pytest.approx((chart.left + chart.right) / 2, abs=0.1)

    def test_all_zero_is_empty_but_drawable(self) -> None:
        chart = charts.line_chart("d", self.DAYS[:5], [("C", [0.0] * 5)])
        assert chart.empty
        assert all(p.y == chart.bottom for p in chart.lines[0].points)

    def test_mismatched_series_are_refused(self) -> None:
        with pytest.raises(ValueError, match="3 values for 2 labels"):
            charts.line_chart("d", ["a", "b"], [("C", [1.0, 2.0, 3.0])])
        with pytest.raises(ValueError, match="1 axis labels for 2 labels"):
            charts.line_chart("d", ["a", "b"], [("C", [1.0, 2.0])], axis_labels=["a"])
