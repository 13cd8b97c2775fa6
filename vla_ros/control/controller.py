"""The temporal-ensembling controller's core: chunks in, one safe joint command per tick out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.ensembler import TemporalEnsembler
from vla_ros.control.limits import JointLimits
from vla_ros.control.safety import SafetyCommand, SafetyFilter
from vla_ros.control.settings import ControllerSettings


@dataclass(frozen=True)
class CommandPreview:
    """Future commands (e.g. for joint_trajectory_controller): times after now (s), N x J arrays."""

    times_from_now: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray


class EnsemblingController:
    """Blends live chunks by time (:class:`TemporalEnsembler`) and limits the result (:class:`SafetyFilter`).

    The node calls :meth:`add_chunk` from its subscription, :meth:`tick` from its fixed-rate timer
    and :meth:`preview` when streaming a horizon; ``safety`` holds enable/e-stop.
    """

    def __init__(self, limits: JointLimits, settings: ControllerSettings) -> None:
        command_limits = limits.scaled(settings.safety.velocity_scale, settings.safety.acceleration_scale)
        self.settings = settings
        self.ensembler = TemporalEnsembler(limits.joint_names, settings.m)
        self.safety = SafetyFilter(
            command_limits, settings.period, settings.safety.stale_timeout, settings.safety.enabled_at_start
        )
        self.last_input_time: float | None = None

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The controlled joints, in command order."""
        return self.ensembler.joint_names

    def add_chunk(self, chunk: ActionChunkData, now: float) -> bool:
        """Accept a chunk received at ``now``; False (dropped) while the e-stop is latched.

        Raises :class:`~vla_ros.control.errors.JointNamesError` when its joints differ.
        """
        if self.safety.estopped:
            return False
        self.ensembler.add(chunk)
        self.last_input_time = now
        return True

    def trigger_estop(self, reason: str) -> None:
        """Latch the e-stop and forget every live chunk (nothing old resumes after the reset)."""
        self.safety.trigger_estop(reason)
        self.ensembler.clear()
        self.last_input_time = None

    def stop(self) -> None:
        """Forget every live chunk (an episode ended): brake within the limits and hold (IDLE)."""
        self.ensembler.clear()
        self.last_input_time = None

    def reset_estop(self) -> None:
        """Clear the e-stop; the arm holds until a new chunk arrives."""
        self.safety.reset_estop()

    def tick(self, now: float) -> SafetyCommand | None:
        """The command for the tick at ``now``; None until the safety filter is initialised."""
        action = self.ensembler.sample(now)
        return self.safety.step(
            now,
            None if action is None else action.positions,
            None if action is None else action.gripper,
            self.last_input_time,
        )

    def preview(self, now: float, count: int, step: float) -> CommandPreview:
        """``count`` future commands at ``now + k * step`` (k = 1..count), limited like real ticks.

        Continues from the current commanded state on a copy of the limiter (stepping at ``step``);
        times no chunk covers, or any hold state, brake and hold. Call it after :meth:`tick`.
        """
        limiter = self.safety.limiter.copy()
        limiter.period = step
        holding = (
            self.safety.estopped
            or self.last_input_time is None
            or now - self.last_input_time > self.safety.stale_timeout
        )
        times = step * np.arange(1, count + 1)
        actions = [] if holding else self.ensembler.horizon(now + times)
        positions, velocities = [], []
        for index in range(count):
            q, qd = limiter.step(actions[index].positions if index < len(actions) else None)
            positions.append(q)
            velocities.append(qd)
        return CommandPreview(times, np.array(positions), np.array(velocities))
