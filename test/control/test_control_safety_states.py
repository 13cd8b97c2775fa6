"""The controller's safety state machine: reset never moves, enable from a checked measured state,
re-anchoring on every resume, disable and fault brake, the watchdogs (joint states, clock, deadman)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.controller import EnsemblingController
from vla_ros.control.safety import (
    ACTIVE,
    CLOCK_STALLED,
    DEADMAN,
    DISABLED,
    DISABLING,
    ERROR,
    ESTOP,
    FAULT,
    IDLE,
    OK,
    STALE_JOINT_STATES,
    WARN,
    severity,
)
from vla_ros.control.settings import ControllerSettings
from vla_ros.tools.control_bench import enable_tracked, tick_tracked

PERIOD = 0.01


def _controller(kinematics, settings: ControllerSettings, ready, **safety) -> EnsemblingController:
    settings = dataclasses.replace(settings, safety=dataclasses.replace(settings.safety, **safety))
    controller = EnsemblingController(kinematics.limits, settings)
    enable_tracked(controller, ready, 0.0)
    return controller


@pytest.fixture()
def controller(kinematics, controller_settings, ready) -> EnsemblingController:
    return _controller(kinematics, controller_settings, ready)


def _ramp(
    controller: EnsemblingController, start: np.ndarray, t0: float, speed: float = 1.0
) -> ActionChunkData:
    """A chunk that moves every joint at ``speed`` rad/s for 2 s from ``start`` at ``t0``."""
    rows = start + speed * np.outer(0.02 * np.arange(100), np.ones(len(start)))
    return ActionChunkData(controller.joint_names, t0, 0.02, rows)


def _run_until(controller, start: float, stop: float, feed=None) -> list:
    commands = []
    for now in np.arange(start, stop, PERIOD):
        if feed is not None:
            feed(now)
        commands.append(tick_tracked(controller, float(now)))
    return commands


def _assert_within_limits(commands, limits) -> None:
    positions = np.array([c.positions for c in commands])
    velocities = np.diff(positions, axis=0) / PERIOD
    assert np.all(np.abs(velocities) <= limits.velocity * (1 + 1e-9))
    assert np.all(np.abs(np.diff(velocities, axis=0)) / PERIOD <= limits.acceleration * (1 + 1e-6))


def _moving(controller, ready) -> list:
    """Run a ramp until the command moves at full speed; the commands so far."""
    controller.add_chunk(_ramp(controller, ready, 0.0), 0.0)
    commands = _run_until(controller, 0.0, 0.5, feed=lambda now: controller.chunks_watchdog.feed(now))
    assert commands[-1].status == ACTIVE and np.max(np.abs(commands[-1].velocities)) > 0.3
    return commands


@pytest.mark.parametrize(("latch", "state"), [("trigger_estop", ESTOP), ("trigger_fault", FAULT)])
def test_a_latch_at_speed_brakes_within_limits_and_its_reset_never_moves(controller, ready, latch, state):
    commands = _moving(controller, ready)
    getattr(controller, latch)("operator")
    commands += _run_until(controller, 0.5, 1.5)
    assert commands[-1].status == state and not np.any(commands[-1].velocities)
    _assert_within_limits(commands, controller.safety.limiter.limits)
    held = commands[-1].positions
    assert controller.add_chunk(_ramp(controller, held, 1.5), 1.5) is False  # dropped while latched
    controller.reset()
    controller.add_chunk(_ramp(controller, held, 1.5), 1.5)  # a new stream: still nothing moves
    after = _run_until(controller, 1.5, 2.0, feed=lambda now: controller.chunks_watchdog.feed(now))
    assert {c.status for c in after} == {DISABLED} and not any(c.publish for c in after)
    np.testing.assert_array_equal(after[-1].positions, held)
    assert controller.enable(2.0) is None and tick_tracked(controller, 2.0).status == ACTIVE  # only enable


def test_enable_is_refused_unless_the_measured_state_is_recent_finite_within_limits_and_at_rest(
    kinematics, controller_settings, ready
):
    controller = EnsemblingController(kinematics.limits, controller_settings)
    assert "no recent joint state" in controller.enable(0.0)
    names = controller.joint_names
    controller.observe_joint_state(names, ready, [], 0.0)
    assert "no recent joint state" in controller.enable(5.0)  # measured, but long ago
    controller.observe_joint_state(names, ready, np.full(7, 0.2), 5.0)
    assert "the arm is moving" in controller.enable(5.0)
    outside = ready.copy()
    outside[3] = controller.limits.upper[3] + 0.1
    controller.observe_joint_state(names, outside, [], 5.1)
    assert "outside the command limits" in controller.enable(5.1)
    controller.observe_joint_state(names, ready, [], 5.2)
    controller.trigger_estop("test")
    assert "e-stop latched" in controller.enable(5.2)
    controller.reset()
    assert controller.enable(5.2) is None and controller.safety.enabled


def test_enable_after_a_hand_moved_arm_starts_from_the_measured_state(controller, ready):
    commands = _moving(controller, ready)
    controller.trigger_estop("operator")
    commands += _run_until(controller, 0.5, 1.5)
    moved = commands[-1].positions + np.array([0.3, -0.2, 0.25, 0.2, -0.3, 0.2, 0.4])  # by hand
    controller.reset()
    controller.observe_joint_state(controller.joint_names, moved, [], 1.5)
    assert controller.enable(1.5) is None
    controller.add_chunk(_ramp(controller, moved, 1.5, speed=0.0), 1.5)
    first = tick_tracked(controller, 1.5)
    limits = controller.safety.limiter.limits
    assert first.status == ACTIVE
    assert np.all(np.abs(first.positions - moved) <= limits.velocity * PERIOD + 1e-12)


def test_every_resume_from_a_hold_at_rest_starts_from_the_measured_state(controller, ready):
    controller.add_chunk(_ramp(controller, ready, 0.0, speed=0.0), 0.0)
    _run_until(controller, 0.0, 0.2, feed=lambda now: controller.chunks_watchdog.feed(now))
    controller.stop()  # the episode ended: IDLE, at rest
    assert tick_tracked(controller, 0.2).status == IDLE
    moved = ready + 0.2  # something moved the arm while it was held
    controller.observe_joint_state(controller.joint_names, moved, [], 0.21)
    controller.add_chunk(_ramp(controller, moved, 0.21, speed=0.0), 0.21)
    resumed = controller.tick(0.21, 0.21)
    assert resumed.status == ACTIVE
    np.testing.assert_allclose(resumed.positions, moved, atol=1e-12)  # no jump back


def test_disable_during_motion_brakes_within_limits_then_goes_quiet(controller, ready):
    commands = _moving(controller, ready)
    controller.safety.disable()
    braking = _run_until(controller, 0.5, 1.5, feed=lambda now: controller.chunks_watchdog.feed(now))
    assert braking[0].status == DISABLING and braking[0].publish
    assert braking[-1].status == DISABLED and not braking[-1].publish
    published = [c for c in braking if c.publish]
    assert not np.any(published[-1].velocities)  # the last command published is at rest
    _assert_within_limits(commands + published, controller.safety.limiter.limits)


def test_severity_of_the_states():
    assert severity(FAULT) == severity(ESTOP) == ERROR and severity(DEADMAN) == WARN
    assert severity(ACTIVE) == severity(DISABLED) == OK


def test_stale_joint_states_brake_and_hold_until_they_come_back(controller, ready):
    commands = _moving(controller, ready)
    timeout = controller.measured.timeout
    held = []
    for now in np.arange(0.5, 0.5 + timeout + 0.5, PERIOD):  # no joint state from 0.5 s on
        controller.chunks_watchdog.feed(now)
        held.append(controller.tick(float(now), float(now)))
    assert held[-1].status == STALE_JOINT_STATES and not np.any(held[-1].velocities)
    _assert_within_limits(commands + held, controller.safety.limiter.limits)
    back = _run_until(controller, 1.5, 1.6, feed=lambda now: controller.chunks_watchdog.feed(now))
    assert back[-1].status == ACTIVE


def test_a_stalled_clock_brakes_and_holds(controller, ready):
    _moving(controller, ready)
    statuses = []
    for steady in np.arange(0.5, 1.5, PERIOD):  # ROS time stays at 0.5 s
        controller.observe_joint_state(
            controller.joint_names, controller.safety.limiter.positions, [], float(steady)
        )
        controller.chunks_watchdog.feed(steady)
        statuses.append(controller.tick(0.5, float(steady)).status)
    assert statuses[-1] == CLOCK_STALLED and not np.any(controller.safety.limiter.velocities)


def test_the_deadman_holds_without_a_recent_true_heartbeat(kinematics, controller_settings, ready):
    controller = _controller(kinematics, controller_settings, ready, heartbeat_timeout=0.2)
    controller.add_chunk(_ramp(controller, ready, 0.0), 0.0)
    assert tick_tracked(controller, 0.0).status == DEADMAN  # none yet

    def feed(now: float) -> None:
        controller.chunks_watchdog.feed(now)
        controller.heartbeat(True, now)

    assert _run_until(controller, 0.0, 0.3, feed)[-1].status == ACTIVE
    controller.heartbeat(False, 0.3)  # the enabling switch released: at once
    assert tick_tracked(controller, 0.3).status == DEADMAN
    _run_until(controller, 0.31, 0.4, feed)
    lost = _run_until(controller, 0.4, 1.5, lambda now: controller.chunks_watchdog.feed(now))
    assert lost[0].status == ACTIVE and lost[-1].status == DEADMAN
    assert not np.any(lost[-1].velocities)


def test_settings_change_at_run_time(controller, controller_settings):
    slower = dataclasses.replace(
        controller_settings, safety=dataclasses.replace(controller_settings.safety, velocity_scale=0.1)
    )
    controller.apply(slower)
    expected = controller.limits.velocity * 0.1
    np.testing.assert_allclose(controller.safety.limiter.limits.velocity, expected)


def test_the_limits_hold_in_ros_time_under_a_slow_simulated_clock(controller, ready):
    """At half real time (and a clock that advances in physics steps), a jump is smoothed within the
    limits in the commands' own (ROS) time, not twice as fast."""
    controller.add_chunk(_ramp(controller, ready + 0.5, 0.0, speed=0.0), 0.0)
    stamps, commands = [], []
    for tick in range(1, 400):
        steady = tick * PERIOD
        now = np.floor(0.5 * steady / (1 / 120)) * (1 / 120)  # 120 Hz physics steps, RTF 0.5
        controller.chunks_watchdog.feed(steady)
        controller.observe_joint_state(
            controller.joint_names, controller.safety.limiter.positions, [], steady
        )
        command = controller.tick(float(now), steady)
        if command.publish:
            stamps.append(now)
            commands.append(command.positions)
    speeds = np.abs(np.diff(commands, axis=0)) / np.diff(stamps)[:, None]
    limits = controller.safety.limiter.limits
    assert np.all(speeds <= limits.velocity * (1 + 1e-9))
    assert np.max(speeds / limits.velocity) > 0.9  # it did move at the limit
