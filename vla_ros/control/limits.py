"""Per-joint position, velocity and acceleration limits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.control.errors import ControlConfigError


@dataclass(frozen=True)
class JointLimits:
    """Limits of J joints: positions (rad or m), velocities (/s) and accelerations (/s^2)."""

    joint_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray

    def __post_init__(self) -> None:
        size = len(self.joint_names)
        for name in ("lower", "upper", "velocity", "acceleration"):
            value = np.asarray(getattr(self, name), dtype=float).reshape(-1)
            if value.shape != (size,) or not np.all(np.isfinite(value)):
                raise ControlConfigError(f"joint limits '{name}' must be {size} finite values, got {value}")
            object.__setattr__(self, name, value)
        if np.any(self.lower >= self.upper):
            raise ControlConfigError(f"joint lower limits {self.lower} must be below upper {self.upper}")
        if np.any(self.velocity <= 0.0) or np.any(self.acceleration <= 0.0):
            raise ControlConfigError("joint velocity and acceleration limits must be positive")

    def scaled(self, velocity_scale: float, acceleration_scale: float) -> JointLimits:
        """The same position limits with velocity and acceleration limits multiplied by the scales."""
        return JointLimits(
            self.joint_names,
            self.lower,
            self.upper,
            self.velocity * velocity_scale,
            self.acceleration * acceleration_scale,
        )

    def clip(self, positions: np.ndarray) -> np.ndarray:
        """Clip positions into [lower, upper]."""
        return np.clip(positions, self.lower, self.upper)

    def contains(self, positions: np.ndarray, tolerance: float = 1e-9) -> bool:
        """True when every position lies within the limits (plus ``tolerance``)."""
        return bool(
            np.all(positions >= self.lower - tolerance) and np.all(positions <= self.upper + tolerance)
        )
