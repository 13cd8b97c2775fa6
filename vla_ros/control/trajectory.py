"""Time-parametrised joint-space motion through waypoints within velocity and acceleration limits.

Each segment is a quintic polynomial per joint, all joints sharing one duration so they start and
finish together. The first segment starts from the measured position and velocity (zero
acceleration); every segment ends at rest (zero velocity and acceleration) on its waypoint. The
duration is the shortest (to 1 %) for which the sampled velocity and acceleration of every joint
stay within the limits and the positions within the position limits; the limits are checked on a
dense grid with a small margin. A waypoint may command the gripper on arrival and hold for a dwell,
and may be reached along a given joint path instead (e.g. IK knots of a straight Cartesian approach):
a C1 spline through the knots timed by a rest-to-rest quintic (:class:`PathSegment`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.control.errors import PlanningError
from vla_ros.control.limits import JointLimits

_GRID = np.linspace(0.0, 1.0, 257)
# Normalised quintic bases: rest-to-rest unit move p(s) and unit initial velocity r(s), s in [0, 1].
_P = np.array([0.0, 0.0, 0.0, 10.0, -15.0, 6.0])
_R = np.array([0.0, 1.0, 0.0, -6.0, 8.0, -3.0])
_LIMIT_MARGIN = 0.99
_DURATION_TOLERANCE = 0.01
_MAX_DOUBLINGS = 16


def _basis(coefficients: np.ndarray, s: np.ndarray, order: int) -> np.ndarray:
    """The ``order``-th derivative (w.r.t. s) of the polynomial with ``coefficients``, at ``s``."""
    poly = (
        np.polynomial.polynomial.Polynomial(coefficients).deriv(order)
        if order
        else (np.polynomial.polynomial.Polynomial(coefficients))
    )
    return poly(s)


_P_GRID = [_basis(_P, _GRID, k) for k in range(3)]
_R_GRID = [_basis(_R, _GRID, k) for k in range(3)]


@dataclass(frozen=True)
class QuinticSegment:
    """Joint motion from (start, start_velocity) to rest at ``end`` over ``duration`` seconds."""

    start: np.ndarray
    start_velocity: np.ndarray
    end: np.ndarray
    duration: float

    def evaluate(self, elapsed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities and accelerations (N x J) at ``elapsed`` seconds (clipped to [0, T])."""
        s = np.clip(np.asarray(elapsed, dtype=float) / self.duration, 0.0, 1.0)
        return _evaluate(self.start, self.start_velocity, self.end, self.duration, s)


def _evaluate(
    start: np.ndarray,
    velocity: np.ndarray,
    end: np.ndarray,
    duration: float,
    s: np.ndarray,
    bases: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p, r = (
        bases
        if bases is not None
        else ([_basis(_P, s, k) for k in range(3)], [_basis(_R, s, k) for k in range(3)])
    )
    delta = end - start
    scaled_velocity = velocity * duration
    positions = start + np.outer(p[0], delta) + np.outer(r[0], scaled_velocity)
    velocities = (np.outer(p[1], delta) + np.outer(r[1], scaled_velocity)) / duration
    accelerations = (np.outer(p[2], delta) + np.outer(r[2], scaled_velocity)) / duration**2
    return positions, velocities, accelerations


def _feasible(
    start: np.ndarray, velocity: np.ndarray, end: np.ndarray, duration: float, limits: JointLimits
) -> bool:
    positions, velocities, accelerations = _evaluate(
        start, velocity, end, duration, _GRID, (_P_GRID, _R_GRID)
    )
    return bool(
        np.all(np.abs(velocities) <= _LIMIT_MARGIN * limits.velocity)
        and np.all(np.abs(accelerations) <= _LIMIT_MARGIN * limits.acceleration)
        and limits.contains(positions)
    )


def _shortest_duration(
    start: np.ndarray, velocity: np.ndarray, end: np.ndarray, limits: JointLimits, min_duration: float
) -> float | None:
    """Shortest feasible duration (to 1 %), or None when none is found."""
    distance = np.abs(end - start)
    rest_bound = float(
        np.max(
            np.maximum(1.875 * distance / limits.velocity, np.sqrt(5.7735 * distance / limits.acceleration))
        )
    )
    low = max(min_duration, 0.5 * rest_bound)
    if _feasible(start, velocity, end, low, limits):
        return low
    high = low
    for _ in range(_MAX_DOUBLINGS):
        low, high = high, 2.0 * high
        if _feasible(start, velocity, end, high, limits):
            break
    else:
        return None
    while high - low > _DURATION_TOLERANCE * high:
        middle = 0.5 * (low + high)
        if _feasible(start, velocity, end, middle, limits):
            high = middle
        else:
            low = middle
    return high


def plan_segment(
    start: np.ndarray, start_velocity: np.ndarray, end: np.ndarray, limits: JointLimits, min_duration: float
) -> QuinticSegment:
    """The fastest quintic segment from (start, start_velocity) to rest at ``end`` within ``limits``.

    The start velocity is clipped to the velocity limits; when no duration keeps the positions
    within limits with it (e.g. moving fast toward a limit), the segment starts from rest instead.
    """
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    velocity = np.clip(np.asarray(start_velocity, dtype=float), -limits.velocity, limits.velocity)
    if not (limits.contains(start, 1e-6) and limits.contains(end, 1e-6)):
        raise PlanningError(f"segment endpoints must be within the joint limits: start {start}, end {end}")
    start, end = limits.clip(start), limits.clip(end)
    duration = _shortest_duration(start, velocity, end, limits, min_duration)
    if duration is None:
        velocity = np.zeros_like(velocity)
        duration = _shortest_duration(start, velocity, end, limits, min_duration)
    if duration is None:
        raise PlanningError(f"no feasible duration for the move {start} -> {end}")
    return QuinticSegment(start, velocity, end, duration)


def _hermite(knots: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catmull-Rom spline through uniformly spaced ``knots`` at path parameters ``u`` in [0, 1].

    Returns q(u), dq/du and d2q/du2 (N x J). The spline passes through every knot and has a
    continuous first derivative, so motion along it has bounded acceleration.
    """
    pieces = knots.shape[0] - 1
    tangents = np.empty_like(knots)
    tangents[1:-1] = 0.5 * (knots[2:] - knots[:-2])
    tangents[0], tangents[-1] = knots[1] - knots[0], knots[-1] - knots[-2]
    scaled = np.clip(u, 0.0, 1.0) * pieces
    index = np.clip(np.floor(scaled).astype(int), 0, pieces - 1)
    t = (scaled - index)[:, None]
    q0, q1, m0, m1 = knots[index], knots[index + 1], tangents[index], tangents[index + 1]
    positions = (
        (2 * t**3 - 3 * t**2 + 1) * q0
        + (t**3 - 2 * t**2 + t) * m0
        + (-2 * t**3 + 3 * t**2) * q1
        + (t**3 - t**2) * m1
    )
    first = (
        (6 * t**2 - 6 * t) * q0
        + (3 * t**2 - 4 * t + 1) * m0
        + (-6 * t**2 + 6 * t) * q1
        + (3 * t**2 - 2 * t) * m1
    )
    second = (12 * t - 6) * q0 + (6 * t - 4) * m0 + (-12 * t + 6) * q1 + (6 * t - 2) * m1
    return positions, first * pieces, second * pieces**2


_PATH_GRID = np.linspace(0.0, 1.0, 2049)


@dataclass(frozen=True)
class PathSegment:
    """Rest-to-rest motion along a joint path through ``knots`` ((K+1) x J, K >= 1).

    The path is a Catmull-Rom spline in a parameter u in [0, 1] (knot k at u = k / K), timed by the
    rest-to-rest quintic u(t). With knots from IK on equally spaced points of a Cartesian line the TCP
    follows that line closely (the tests measure well under a millimetre for 1 cm knot spacing).
    """

    knots: np.ndarray
    duration: float

    @property
    def start(self) -> np.ndarray:
        """First knot."""
        return self.knots[0]

    @property
    def end(self) -> np.ndarray:
        """Last knot."""
        return self.knots[-1]

    def evaluate(self, elapsed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities and accelerations (N x J) at ``elapsed`` seconds (clipped to [0, T])."""
        s = np.clip(np.asarray(elapsed, dtype=float) / self.duration, 0.0, 1.0)
        return _along_path(self.knots, s, self.duration)


def _along_path(
    knots: np.ndarray, s: np.ndarray, duration: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rate, rate_change = _basis(_P, s, 1)[:, None], _basis(_P, s, 2)[:, None]
    positions, first, second = _hermite(knots, _basis(_P, s, 0))
    velocities = first * rate / duration
    accelerations = (second * rate**2 + first * rate_change) / duration**2
    return positions, velocities, accelerations


def plan_path(knots: np.ndarray, limits: JointLimits, min_duration: float) -> PathSegment:
    """The fastest rest-to-rest :class:`PathSegment` through ``knots`` within ``limits``.

    Velocity along the path scales as 1 / T and acceleration as 1 / T^2, so the duration follows
    from the path's derivatives sampled densely at T = 1.
    """
    knots = np.asarray(knots, dtype=float)
    if knots.ndim != 2 or knots.shape[0] < 2 or not all(limits.contains(k, 1e-6) for k in knots):
        raise PlanningError("a path needs at least two knots, all within the joint limits")
    knots = limits.clip(knots)
    positions, velocities, accelerations = _along_path(knots, _PATH_GRID, 1.0)
    if not limits.contains(positions):
        raise PlanningError("the spline through the path's knots leaves the joint limits")
    duration = max(
        min_duration,
        float(np.max(np.abs(velocities) / (_LIMIT_MARGIN * limits.velocity))),
        float(np.sqrt(np.max(np.abs(accelerations) / (_LIMIT_MARGIN * limits.acceleration)))),
    )
    return PathSegment(knots, duration)


@dataclass(frozen=True)
class Waypoint:
    """A joint configuration to reach at rest; on arrival the gripper is set, then held ``dwell`` s.

    ``path`` (optional, (K+1) x J knots ending at ``positions``) is followed instead of a direct move:
    from the knot nearest the start of the move on (see :class:`JointPlan`).
    """

    positions: np.ndarray
    gripper: float
    dwell: float
    label: str
    path: np.ndarray | None = None


@dataclass(frozen=True)
class _Piece:
    t_start: float
    t_end: float
    segment: QuinticSegment | PathSegment


def _remaining_path(path: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``start`` followed by the knots after the one nearest to it."""
    nearest = int(np.argmin(np.max(np.abs(path - start), axis=1)))
    return (
        np.vstack([start, path[nearest + 1 :]])
        if nearest + 1 < path.shape[0]
        else np.vstack([start, path[-1]])
    )


class JointPlan:
    """A timed joint-space motion with gripper commands; sample it at any times (s)."""

    def __init__(
        self,
        t0: float,
        start: np.ndarray,
        start_velocity: np.ndarray,
        gripper0: float,
        waypoints: list[Waypoint],
        limits: JointLimits,
        min_duration: float,
        start_hold: float = 0.0,
    ) -> None:
        """Plan from ``start`` at ``t0`` through ``waypoints``; ``start_hold`` s of holding first
        (then ``start_velocity`` must be zero).

        A waypoint with a ``path`` is reached along it from the knot nearest the current position,
        starting at rest (a start velocity is then left to the command limiter to absorb).
        """
        if start_hold > 0.0 and np.any(np.asarray(start_velocity) != 0.0):
            raise PlanningError("a plan that starts with a hold must start at rest")
        self.t0 = t0
        self._pieces: list[_Piece] = []
        self._gripper_times: list[float] = [t0]
        self._gripper_values: list[float] = [gripper0]
        self.arrivals: list[tuple[str, float, float]] = []
        """(label, arrival time, end of dwell) of each waypoint."""
        t = t0 + max(start_hold, 0.0)
        q, v = np.asarray(start, dtype=float), np.asarray(start_velocity, dtype=float)
        for waypoint in waypoints:
            if waypoint.path is None:
                segment: QuinticSegment | PathSegment = plan_segment(
                    q, v, waypoint.positions, limits, min_duration
                )
            else:
                segment = plan_path(_remaining_path(waypoint.path, q), limits, min_duration)
            self._pieces.append(_Piece(t, t + segment.duration, segment))
            t += segment.duration
            if waypoint.gripper != self._gripper_values[-1]:
                self._gripper_times.append(t)
                self._gripper_values.append(waypoint.gripper)
            self.arrivals.append((waypoint.label, t, t + waypoint.dwell))
            t += waypoint.dwell
            q, v = segment.end, np.zeros_like(v)
        self.end_time = t
        self.final_positions = q

    def sample(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions and velocities (N x J) and gripper openings (N) at ``times``.

        Before the start the plan holds its start; between segments and after the end it holds the
        last waypoint at rest.
        """
        times = np.asarray(times, dtype=float)
        positions = np.repeat(self.final_positions[None, :], times.size, axis=0)
        velocities = np.zeros_like(positions)
        for index, piece in enumerate(self._pieces):
            mask = times < piece.t_end if index == 0 else (times >= piece.t_start) & (times < piece.t_end)
            mask &= np.isfinite(times)
            if index:
                between = (times >= self._pieces[index - 1].t_end) & (times < piece.t_start)
                positions[between] = piece.segment.start
            if np.any(mask):
                q, qd, _ = piece.segment.evaluate(times[mask] - piece.t_start)
                positions[mask], velocities[mask] = q, qd
        event = np.searchsorted(np.asarray(self._gripper_times), times, side="right") - 1
        gripper = np.asarray(self._gripper_values)[np.clip(event, 0, None)]
        return positions, velocities, gripper
