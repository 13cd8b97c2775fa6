"""Command limiting, the holds, latching e-stop and fault, enable and disable, workspace box."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.controller import EnsemblingController
from vla_ros.control.errors import WorkspaceViolationError
from vla_ros.control.safety import (
    ACTIVE,
    DISABLED,
    ESTOP,
    NO_TARGET,
    STALE,
    CommandLimiter,
    WorkspaceBox,
)
from vla_ros.tools.control_bench import enable_tracked, tick_tracked


@pytest.fixture()
def controller(kinematics, controller_settings, ready) -> EnsemblingController:
    controller = EnsemblingController(kinematics.limits, controller_settings)
    enable_tracked(controller, ready, 0.0)
    return controller


def _hold_chunk(names, positions: np.ndarray, t0: float, chunk_id: int, horizon: int = 50) -> ActionChunkData:
    return ActionChunkData(
        names, t0, 0.02, np.tile(positions, (horizon, 1)), chunk_id=chunk_id, source="test"
    )


def _assert_within_limits(positions: np.ndarray, period: float, limits) -> None:
    velocities = np.diff(positions, axis=0) / period
    accelerations = np.diff(velocities, axis=0) / period
    assert np.all(positions >= limits.lower - 1e-9) and np.all(positions <= limits.upper + 1e-9)
    assert np.all(np.abs(velocities) <= limits.velocity * (1 + 1e-9))
    assert np.all(np.abs(accelerations) <= limits.acceleration * (1 + 1e-6))


def test_random_chunks_with_jumps_never_exceed_the_limits(controller, ready):
    rng = np.random.default_rng(5)
    limits = controller.safety.limiter.limits
    period = controller.settings.period
    names = controller.joint_names
    commands = [ready]
    chunk_id = 0
    for tick in range(1, 1500):
        now = tick * period
        if tick % 13 == 0:
            # A chunk anywhere (even beyond the limits), with noisy rows and a random stamp nearby.
            centre = rng.uniform(limits.lower - 0.3, limits.upper + 0.3)
            rows = centre + rng.normal(0.0, 0.3, (50, len(names)))
            controller.add_chunk(
                ActionChunkData(names, now + rng.uniform(-0.3, 0.1), 0.02, rows, chunk_id=chunk_id), now
            )
            chunk_id += 1
        command = tick_tracked(controller, now)
        commands.append(command.positions)
    _assert_within_limits(np.array(commands), period, limits)


def test_a_command_that_respects_the_limits_passes_unchanged(kinematics, controller_settings, ready):
    limiter = CommandLimiter(kinematics.limits, controller_settings.period)
    limiter.reset(ready)
    times = controller_settings.period * np.arange(1, 300)
    # Starts at rest; peak velocity 0.6 rad/s and acceleration 1.2 rad/s^2, within every joint's limits.
    targets = ready + 0.3 * (1.0 - np.cos(2.0 * times))[:, None] * np.ones(7)
    for target in targets:
        positions, _ = limiter.step(target)
        np.testing.assert_allclose(positions, target, atol=1e-12)


def test_a_jump_is_smoothed_without_overshoot(kinematics, controller_settings, ready):
    limiter = CommandLimiter(kinematics.limits, controller_settings.period)
    limiter.reset(ready)
    target = ready + np.array([0.8, -0.5, 0.3, 0.4, -0.6, 0.5, 1.0])
    trace = [ready]
    for _ in range(400):
        trace.append(limiter.step(target)[0])
    trace = np.array(trace)
    _assert_within_limits(trace, controller_settings.period, kinematics.limits)
    np.testing.assert_allclose(trace[-1], target, atol=1e-9)
    # Never beyond the target by more than the discrete braking's last-step rounding (a dt^2 / 8).
    overshoot = np.max((trace - target) * np.sign(target - ready), axis=0)
    assert np.all(overshoot <= kinematics.limits.acceleration * controller_settings.period**2 / 4)


def test_stale_input_brakes_and_holds_never_zeros(controller, ready, controller_settings):
    period = controller_settings.period
    steps = int(2 * controller_settings.safety.stale_timeout / 0.02)  # covers past the timeout
    moving = ready + np.outer(0.02 * np.arange(steps), np.ones(7)) * 0.2
    controller.add_chunk(ActionChunkData(controller.joint_names, 0.0, 0.02, moving), 0.0)
    statuses, positions = [], []
    timeout_tick = int(np.floor(controller_settings.safety.stale_timeout / period + 1e-9))
    for tick in range(timeout_tick + 30):
        command = tick_tracked(controller, tick * period)
        statuses.append(command.status)
        positions.append(command.positions)
    assert set(statuses[: timeout_tick + 1]) == {ACTIVE}
    assert set(statuses[timeout_tick + 1 :]) == {STALE}
    positions = np.array(positions)
    _assert_within_limits(np.vstack([ready, positions]), period, controller.safety.limiter.limits)
    np.testing.assert_allclose(positions[-1], positions[-2], atol=1e-12)  # held
    # Held near where the command was when the input went stale, not at zeros.
    at_timeout = positions[timeout_tick]
    assert np.all(np.abs(positions[-1] - at_timeout) < 0.05)
    assert np.all(np.abs(positions[-1] - ready) > 0.05)


def test_no_covering_chunk_holds(controller, ready):
    controller.add_chunk(_hold_chunk(controller.joint_names, ready + 0.01, 1.0, 0), 0.9)
    assert tick_tracked(controller, 0.95).status == NO_TARGET
    assert tick_tracked(controller, 1.0).status == ACTIVE


def test_a_non_finite_target_holds(controller, ready):
    controller.add_chunk(_hold_chunk(controller.joint_names, ready, 0.0, 0), 0.0)
    command = controller.safety.step(np.full(7, np.nan), None, None, ready, 0.01)
    assert command.status == NO_TARGET and np.all(np.isfinite(command.positions))


def test_estop_latches_until_reset_and_old_chunks_do_not_resume(controller, ready):
    names = controller.joint_names
    controller.add_chunk(_hold_chunk(names, ready + 0.05, 0.0, 0, horizon=500), 0.0)
    assert tick_tracked(controller, 0.0).status == ACTIVE
    controller.trigger_estop("operator")
    controller.trigger_estop("second reason")
    assert controller.safety.estop_reason == "operator"
    assert controller.add_chunk(_hold_chunk(names, ready, 0.02, 1), 0.02) is False
    for tick in range(1, 30):
        assert tick_tracked(controller, 0.01 * tick).status == ESTOP
    held = tick_tracked(controller, 0.3).positions
    controller.reset()
    command = tick_tracked(controller, 0.31)
    assert command.status == DISABLED and not command.publish  # a reset never starts motion
    np.testing.assert_allclose(command.positions, held, atol=1e-12)
    controller.add_chunk(_hold_chunk(names, ready, 0.32, 2), 0.32)
    assert tick_tracked(controller, 0.32).status == DISABLED  # not even with new chunks
    assert controller.enable(0.33) is None
    assert tick_tracked(controller, 0.33).status == ACTIVE  # only enable does


def test_actuation_is_off_until_enabled(kinematics, controller_settings, ready):
    assert controller_settings.safety.enabled_at_start is False
    controller = EnsemblingController(kinematics.limits, controller_settings)
    assert controller.tick(0.0, 0.0) is None  # nothing known about the robot yet
    controller.observe_joint_state(controller.joint_names, ready, [], 0.0)
    controller.add_chunk(_hold_chunk(controller.joint_names, ready + 0.1, 0.0, 0), 0.0)
    command = controller.tick(0.0, 0.0)
    assert command.status == DISABLED and command.publish is False
    measured = ready + 0.02
    enable_tracked(controller, measured, 0.01)
    command = controller.tick(0.01, 0.01)
    assert command.status == ACTIVE and command.publish
    # Starts from the measured state: the first step is at most one tick of full acceleration.
    limits = controller.safety.limiter.limits
    assert np.all(
        np.abs(command.positions - measured) <= limits.acceleration * controller_settings.period**2 + 1e-12
    )


def test_preview_continues_from_the_command_within_limits(controller, ready, controller_settings):
    names = controller.joint_names
    controller.add_chunk(_hold_chunk(names, ready + 0.3, 0.0, 0), 0.0)
    command = tick_tracked(controller, 0.0)
    preview = controller.preview(0.0, 10, 0.02)
    np.testing.assert_allclose(preview.times_from_now, 0.02 * np.arange(1, 11))
    assert np.all(np.diff(preview.times_from_now) > 0)
    trace = np.vstack([command.positions, preview.positions])
    _assert_within_limits(trace[1:], 0.02, controller.safety.limiter.limits)
    assert controller.safety.limiter.positions.tolist() == command.positions.tolist()  # unchanged by preview


def test_workspace_box():
    box = WorkspaceBox(np.array([-0.5, -0.5, 0.0]), np.array([0.5, 0.5, 1.0]))
    assert box.contains([0.1, 0.2, 0.3])
    box.check([0.5, 0.5, 1.0], "target")
    with pytest.raises(WorkspaceViolationError, match="outside the workspace box"):
        box.check([0.1, 0.2, -0.1], "target")
