"""Quintic time parametrisation: limits respected on dense samples, boundary states, gripper timing."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.errors import PlanningError
from vla_ros.control.trajectory import JointPlan, Waypoint, plan_path, plan_segment


@pytest.fixture(scope="module")
def limits(kinematics, executor_settings):
    motion = executor_settings.motion
    return kinematics.limits.scaled(motion.velocity_scale, motion.acceleration_scale)


def _finite_differences(positions: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    velocities = np.diff(positions, axis=0) / step
    return velocities, np.diff(velocities, axis=0) / step


def test_segments_respect_limits_and_boundary_states(limits):
    rng = np.random.default_rng(3)
    for _ in range(25):
        start = rng.uniform(limits.lower, limits.upper)
        end = rng.uniform(limits.lower, limits.upper)
        start_velocity = rng.uniform(-1.0, 1.0, start.size) * limits.velocity
        segment = plan_segment(start, start_velocity, end, limits, min_duration=0.1)
        times = np.linspace(0.0, segment.duration, 2001)
        step = times[1]
        positions, velocities, accelerations = segment.evaluate(times)
        assert np.all(np.abs(velocities) <= limits.velocity + 1e-9)
        assert np.all(np.abs(accelerations) <= limits.acceleration + 1e-9)
        assert limits.contains(positions)
        # The analytic derivatives agree with the samples.
        sampled_velocity, sampled_acceleration = _finite_differences(positions, step)
        assert np.all(np.abs(sampled_velocity) <= limits.velocity * 1.001)
        assert np.all(np.abs(sampled_acceleration) <= limits.acceleration * 1.01)
        np.testing.assert_allclose(positions[0], start)
        np.testing.assert_allclose(velocities[0], segment.start_velocity)
        np.testing.assert_allclose(positions[-1], end, atol=1e-12)
        np.testing.assert_allclose(velocities[-1], 0.0, atol=1e-9)
        np.testing.assert_allclose(accelerations[-1], 0.0, atol=1e-9)


def test_duration_is_near_the_fastest_within_limits(limits):
    start = np.zeros(7) + 0.5 * (limits.lower + limits.upper)
    end = start.copy()
    end[1] += 0.5
    segment = plan_segment(start, np.zeros(7), end, limits, min_duration=0.01)
    # Rest-to-rest quintic: peak velocity 1.875 d / T, peak acceleration 5.7735 d / T^2.
    fastest = max(1.875 * 0.5 / limits.velocity[1], np.sqrt(5.7735 * 0.5 / limits.acceleration[1]))
    assert fastest <= segment.duration <= 1.03 * fastest


def test_all_joints_start_and_finish_together(limits):
    start = 0.5 * (limits.lower + limits.upper)
    end = start + np.array([-0.3, -0.2, -0.1, 0.1, 0.2, 0.3, 0.4])
    segment = plan_segment(start, np.zeros(7), end, limits, min_duration=0.1)
    positions, _, _ = segment.evaluate(np.array([0.5 * segment.duration]))
    progress = (positions[0] - start) / (end - start)
    np.testing.assert_allclose(progress, 0.5, atol=1e-9)


def test_fast_start_toward_a_limit_falls_back_to_a_rest_start(limits):
    start = limits.upper - 0.01
    velocity = limits.velocity.copy()
    segment = plan_segment(start, velocity, start, limits, min_duration=0.1)
    positions, _, _ = segment.evaluate(np.linspace(0.0, segment.duration, 200))
    assert limits.contains(positions)


def test_endpoints_outside_the_limits_are_refused(limits):
    with pytest.raises(PlanningError, match="within the joint limits"):
        plan_segment(limits.upper + 0.5, np.zeros(7), limits.upper - 0.1, limits, min_duration=0.1)


def test_gripper_changes_on_arrival_and_the_plan_dwells(limits):
    start = 0.5 * (limits.lower + limits.upper)
    first = start + 0.2
    second = first - 0.1
    plan = JointPlan(
        10.0,
        start,
        np.zeros(7),
        1.0,
        [Waypoint(first, 1.0, 0.0, "approach"), Waypoint(second, 0.0, 0.8, "target")],
        limits,
        0.1,
    )
    (_, first_arrival, _), (_, arrival, dwell_end) = plan.arrivals
    assert dwell_end == pytest.approx(arrival + 0.8)
    assert plan.end_time == pytest.approx(dwell_end)
    times = np.array([first_arrival, arrival - 1e-6, arrival, arrival + 0.4, dwell_end + 1.0])
    positions, velocities, gripper = plan.sample(times)
    np.testing.assert_allclose(gripper, [1.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(positions[0], first, atol=1e-9)
    np.testing.assert_allclose(positions[2:], np.tile(second, (3, 1)), atol=1e-9)
    np.testing.assert_allclose(velocities[2:], 0.0, atol=1e-9)
    before, _, before_gripper = plan.sample(np.array([0.0]))
    np.testing.assert_allclose(before[0], start)
    assert before_gripper[0] == 1.0


def test_a_plan_starting_with_a_hold_must_start_at_rest(limits):
    start = 0.5 * (limits.lower + limits.upper)
    with pytest.raises(PlanningError, match="at rest"):
        JointPlan(0.0, start, np.ones(7), 1.0, [], limits, 0.1, start_hold=0.5)
    plan = JointPlan(
        0.0, start, np.zeros(7), 1.0, [Waypoint(start + 0.1, 1.0, 0.0, "target")], limits, 0.1, 0.5
    )
    positions, _, _ = plan.sample(np.array([0.49]))
    np.testing.assert_allclose(positions[0], start)
    assert plan.arrivals[0][1] > 0.5


def _curved_knots(limits, count: int = 11) -> np.ndarray:
    centre = 0.5 * (limits.lower + limits.upper)
    u = np.linspace(0.0, 1.0, count)[:, None]
    return centre + 0.4 * u * np.linspace(-1.0, 1.0, 7) + 0.1 * np.sin(np.pi * u)


def test_path_segments_pass_the_knots_within_limits_and_end_at_rest(limits):
    knots = _curved_knots(limits)
    segment = plan_path(knots, limits, min_duration=0.1)
    times = np.linspace(0.0, segment.duration, 4001)
    positions, velocities, accelerations = segment.evaluate(times)
    assert np.all(np.abs(velocities) <= limits.velocity + 1e-9)
    assert np.all(np.abs(accelerations) <= limits.acceleration + 1e-9)
    sampled_velocity, sampled_acceleration = _finite_differences(positions, times[1])
    assert np.all(np.abs(sampled_acceleration) <= limits.acceleration * 1.01)
    np.testing.assert_allclose(positions[[0, -1]], knots[[0, -1]], atol=1e-12)
    np.testing.assert_allclose(velocities[[0, -1]], 0.0, atol=1e-9)
    # Every knot is visited: the path comes within the sampling distance of each.
    distance = np.min(np.max(np.abs(positions[:, None, :] - knots[None]), axis=2), axis=0)
    assert np.all(distance < np.max(np.abs(sampled_velocity)) * times[1])


def test_a_path_is_resumed_from_the_knot_nearest_the_start(limits):
    knots = _curved_knots(limits)
    middle = knots[5] + 0.002
    waypoint = Waypoint(knots[-1], 1.0, 0.0, "target", path=knots)
    plan = JointPlan(0.0, middle, np.zeros(7), 1.0, [waypoint], limits, 0.1)
    full = JointPlan(0.0, knots[0], np.zeros(7), 1.0, [waypoint], limits, 0.1)
    assert plan.arrivals[0][1] < full.arrivals[0][1]
    positions, _, _ = plan.sample(np.linspace(0.0, plan.end_time, 200))
    np.testing.assert_allclose(positions[0], middle)
    np.testing.assert_allclose(positions[-1], knots[-1], atol=1e-12)
    # It goes forward along the path, never back toward the first knots.
    assert np.min(np.max(np.abs(positions[:, None, :] - knots[None, :4]), axis=2)) > 0.01


def test_bad_paths_are_refused(limits):
    with pytest.raises(PlanningError, match="two knots"):
        plan_path(_curved_knots(limits)[:1], limits, 0.1)
    knots = _curved_knots(limits)
    knots[3] = limits.upper + 0.2
    with pytest.raises(PlanningError, match="within the joint limits"):
        plan_path(knots, limits, 0.1)
