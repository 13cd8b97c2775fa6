"""Typed errors of the control core; each carries a message that says what to fix."""

from __future__ import annotations

from vla_ros.config import ConfigError


class ControlError(Exception):
    """Base class of every error raised by :mod:`vla_ros.control`."""


class ControlConfigError(ControlError, ConfigError):
    """A control parameter is missing or out of range."""


class RobotModelError(ControlError):
    """The URDF cannot be loaded or lacks a joint or link the configuration names."""


class UnreachablePoseError(ControlError):
    """Inverse kinematics found no joint configuration within limits that reaches the pose."""

    def __init__(self, message: str, position_residual: float, orientation_residual: float) -> None:
        super().__init__(
            f"{message} (best residual: position {position_residual * 1000.0:.1f} mm, "
            f"orientation {orientation_residual:.4f} rad)"
        )
        self.position_residual = position_residual
        self.orientation_residual = orientation_residual


class WorkspaceViolationError(ControlError):
    """A Cartesian target lies outside the configured workspace box."""


class InvalidChunkError(ControlError, ValueError):
    """An action chunk is malformed (shapes, non-finite values, dt, names)."""


class JointNamesError(InvalidChunkError):
    """An action chunk names joints that differ from the controlled ones."""


class PlanningError(ControlError):
    """A joint-space motion cannot be planned (e.g. a start state beyond the limits)."""


class InvalidPoseError(ControlError, ValueError):
    """A pose has non-finite values or a quaternion that cannot be normalised."""
