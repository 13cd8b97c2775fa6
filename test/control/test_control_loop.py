"""The fixed-rate schedule (no drift, missed deadlines skipped and counted) and the loop statistics."""

from __future__ import annotations

import pytest

from vla_ros.control.loop import FixedRateSchedule, LoopTiming, percentiles


def test_a_late_tick_does_not_shift_the_later_deadlines():
    schedule = FixedRateSchedule(0.01, start=100.0)
    assert schedule.deadline == pytest.approx(100.01)
    schedule.advance(done=100.015)  # finished late, within a period
    assert schedule.deadline == pytest.approx(100.02) and schedule.skipped == 0


def test_a_loop_more_than_a_period_behind_skips_the_missed_deadlines():
    schedule = FixedRateSchedule(0.01, start=0.0)
    schedule.advance(done=0.0351)  # the tick due at 0.01 took until 0.0351: 0.02 and 0.03 are past
    assert schedule.deadline == pytest.approx(0.04) and schedule.skipped == 2


def test_a_new_period_applies_from_the_next_deadline():
    schedule = FixedRateSchedule(0.01, start=0.0)
    schedule.period = 0.02
    schedule.advance(done=0.011)
    assert schedule.deadline == pytest.approx(0.03)


def test_loop_timing_reports_period_error_lateness_and_cost_over_its_window():
    timing = LoopTiming(window=2)
    for k, (late, cost) in enumerate([(0.0, 0.001), (0.002, 0.001), (0.001, 0.003)]):
        deadline = 0.01 * (k + 1)
        timing.record(deadline, deadline + late, deadline + late + cost, period=0.01)
    report = timing.report(skipped_deadlines=3)
    assert report["ticks"] == 3 and report["window"] == 2 and report["skipped_deadlines"] == 3
    assert report["lateness_ms"]["max"] == pytest.approx(2.0)
    assert report["tick_cost_us"]["max"] == pytest.approx(3000.0)
    assert report["period_error_ms"]["max"] == pytest.approx(2.0)  # 12 ms, then 9 ms, against 10


def test_percentiles_of_nothing_is_empty():
    assert percentiles([]) == {}
    assert percentiles([1.0, 2.0, 3.0], 10.0)["max"] == 30.0
