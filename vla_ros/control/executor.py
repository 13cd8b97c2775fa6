"""The action-chunk executor's core: keyframe target -> IK -> grasp-structured timed plan -> chunks.

Grasp structure (distances along the TCP z axis, i.e. the gripper's approach axis):
- closing the gripper (grasp) or opening it (release): go first to a pre-pose ``approach_distance``
  behind the target, then straight in along the axis to the target, command the gripper on arrival
  and hold ``gripper_close_time``/``gripper_open_time`` (the gripper closes only after arriving);
- after a release, retreat ``retreat_distance`` back along the axis;
- otherwise move directly to the target.
The gripper acts the same turned by its ``yaw_symmetry`` about the TCP z axis (a parallel gripper:
half a turn), so a keyframe's orientation and its turned twins are the same target. The executor
goes to the twin whose joint solution lies nearest the current joints among those it can plan (the
arm moves least, and a wrist near its limit turns back rather than into it);
:attr:`ChunkExecutor.target` is that twin.
The approach and the retreat follow the straight line: joint knots from IK on points at most
``grasp.path_step`` apart, timed as one rest-to-rest motion (:class:`~.trajectory.PathSegment`).
Re-planning keeps the current plan while the measured joints stay within ``motion.replan_tolerance``
of it (of where it was up to ``motion.tracking_lag`` ago); otherwise it starts from the latest measured
state: the waypoints up to the last one reached (planned arrival time passed and the measured TCP
within the keyframe tolerance) are dropped, and a dwell in progress keeps its remaining time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.errors import ControlError, PlanningError, UnreachablePoseError
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.pose import Pose
from vla_ros.control.safety import WorkspaceBox
from vla_ros.control.settings import ExecutorSettings
from vla_ros.control.trajectory import JointPlan, Waypoint
from vla_ros.data.geometry import pose_matrix, rpy_to_matrix

OPEN = 1.0
CLOSED = 0.0
# A measured opening within this of fully open or fully closed counts as that end; in between (an
# object held between the fingers) the last command stands, so a new episode never opens a grasp.
MEASURED_END_MARGIN = 0.1
APPROACH = "approach"
TARGET = "target"
RETREAT = "retreat"


@dataclass(frozen=True)
class _Stop:
    waypoint: Waypoint
    pose: Pose


class ChunkExecutor:
    """Plans toward the current keyframe target and cuts the plan into :class:`ActionChunkData`."""

    def __init__(
        self, kinematics: ArmKinematics, settings: ExecutorSettings, gripper_opening: float = OPEN
    ) -> None:
        self.kinematics = kinematics
        self.settings = settings
        self.limits = kinematics.limits.scaled(
            settings.motion.velocity_scale, settings.motion.acceleration_scale
        )
        self.workspace = WorkspaceBox(np.array(settings.workspace.lower), np.array(settings.workspace.upper))
        self.gripper_opening = gripper_opening
        self.target: Pose | None = None
        self.keyframe_done_time = math.inf
        """When the target has been reached and the gripper has had its time (planned)."""
        self._stops: list[_Stop] = []
        self._plan: JointPlan | None = None
        self._dwell: tuple[np.ndarray, float] | None = None
        self._next_chunk_id = 0

    @property
    def waypoints(self) -> tuple[Waypoint, ...]:
        """The stops still ahead (joint positions, gripper on arrival, dwell, label)."""
        return tuple(stop.waypoint for stop in self._stops)

    @property
    def plan(self) -> JointPlan | None:
        """The current timed plan (None before the first target)."""
        return self._plan

    def set_target(
        self,
        pose: Pose,
        gripper_open: bool,
        now: float,
        positions: np.ndarray,
        velocities: np.ndarray,
        measured_opening: float | None = None,
    ) -> ActionChunkData:
        """Plan to a new keyframe from the measured state; returns the first chunk (stamped ``now``).

        The gripper starts from the current plan's command at ``now``. Without a plan (the first
        target, or the first after :meth:`stop`: a new episode) it starts open or closed as
        ``measured_opening`` (normalised, 1 open) says when that is within ``MEASURED_END_MARGIN`` of
        either end, since the gripper may have moved meanwhile (a reset opened it); otherwise (not
        measured, or an object between the fingers) from the last opening commanded. Whether the
        keyframe opens or closes the gripper, hence the grasp structure, follows from that start.

        Of ``pose`` and its twins under the gripper's symmetry, the one whose joint solution is nearest
        ``positions`` among those that plan becomes :attr:`target`. Raises
        :class:`~vla_ros.control.errors.WorkspaceViolationError`, or ``pose``'s own error
        (:class:`~vla_ros.control.errors.UnreachablePoseError`,
        :class:`~vla_ros.control.errors.PlanningError`) when no twin plans; nothing changes then.
        """
        if self._plan is not None:
            self.gripper_opening = float(self._plan.sample(np.array([now]))[2][0])
        elif measured_opening is not None and measured_opening >= OPEN - MEASURED_END_MARGIN:
            self.gripper_opening = OPEN
        elif measured_opening is not None and measured_opening <= CLOSED + MEASURED_END_MARGIN:
            self.gripper_opening = CLOSED
        positions = np.asarray(positions, dtype=float)
        errors: dict[int, ControlError] = {}  # by twin (0: ``pose`` itself)
        solved: list[tuple[float, int, Pose, list[_Stop]]] = []
        for index, twin in enumerate(self._twins(pose)):
            try:
                stops = self._stops_to(twin, gripper_open, positions)
            except UnreachablePoseError as error:
                errors[index] = error
                continue
            target_q = next(stop.waypoint.positions for stop in stops if stop.waypoint.label == TARGET)
            solved.append((float(np.linalg.norm(target_q - positions)), index, twin, stops))
        for _, index, twin, stops in sorted(solved, key=lambda entry: entry[:2]):
            try:
                plan = self._plan_through(stops, now, positions, np.asarray(velocities, dtype=float), None)
            except PlanningError as error:
                errors[index] = error
                continue
            self.target = twin
            self._stops = stops
            self._dwell = None
            self.keyframe_done_time = math.inf
            self._set_plan(plan)
            return self.chunk(now)
        raise errors[min(errors)]

    def _twins(self, pose: Pose) -> list[Pose]:
        """``pose`` (first) and it turned by each other equivalent yaw of the gripper about its z axis."""
        matrix = pose.to_matrix()
        return [
            Pose.from_matrix(matrix @ pose_matrix(np.zeros(3), rpy_to_matrix(0.0, 0.0, yaw))) if yaw else pose
            for yaw in self.settings.robot.gripper.equivalent_yaws()
        ]

    def _stops_to(self, pose: Pose, gripper_open: bool, positions: np.ndarray) -> list[_Stop]:
        """The grasp-structured stops to ``pose`` (see the module docstring), with IK from ``positions``."""
        grasp = self.settings.grasp
        target_opening = OPEN if gripper_open else CLOSED
        changes = abs(target_opening - self.gripper_opening) > 0.5
        # (pose, gripper on arrival, dwell, label, reached along a straight line from the previous pose)
        poses: list[tuple[Pose, float, float, str, bool]] = []
        approach = changes and grasp.approach_distance > 0.0
        if approach:
            poses.append(
                (pose.offset_along_z(-grasp.approach_distance), self.gripper_opening, 0.0, APPROACH, False)
            )
        dwell = (grasp.gripper_open_time if gripper_open else grasp.gripper_close_time) if changes else 0.0
        poses.append((pose, target_opening, dwell, TARGET, approach))
        if changes and gripper_open and grasp.retreat_distance > 0.0:
            poses.append((pose.offset_along_z(-grasp.retreat_distance), OPEN, 0.0, RETREAT, True))
        for stop_pose, *_, label, _ in poses:
            self.workspace.check(stop_pose.position, f"{label} pose")
        stops = []
        previous_pose, previous_q = None, positions
        for stop_pose, opening, stop_dwell, label, straight in poses:
            path = None
            if straight and previous_pose is not None:
                path = self._line_path(previous_pose, previous_q, stop_pose)
                q = path[-1]
            else:
                q = self.kinematics.inverse(stop_pose, previous_q, self.settings.ik).positions
            stops.append(_Stop(Waypoint(q, opening, stop_dwell, label, path), stop_pose))
            previous_pose, previous_q = stop_pose, q
        return stops

    def stop(self) -> None:
        """Forget the target (an episode ended): no chunk until the next :meth:`set_target`."""
        self.target = None
        self._stops = []
        self._plan = None
        self._dwell = None
        self.keyframe_done_time = math.inf

    def _line_path(self, start: Pose, start_positions: np.ndarray, end: Pose) -> np.ndarray:
        """Joint knots (IK, each seeded from the previous) on the straight line ``start`` -> ``end``.

        Knots are at most ``grasp.path_step`` apart; the orientation is ``end``'s throughout.
        """
        delta = end.position - start.position
        count = max(1, math.ceil(float(np.linalg.norm(delta)) / self.settings.grasp.path_step))
        knots = [np.asarray(start_positions, dtype=float)]
        for index in range(1, count + 1):
            point = Pose(start.position + delta * (index / count), end.quaternion)
            knots.append(self.kinematics.inverse(point, knots[-1], self.settings.ik).positions)
        return np.array(knots)

    def update(self, now: float, positions: np.ndarray, velocities: np.ndarray) -> ActionChunkData | None:
        """The next chunk (stamped ``now``) toward the current target; None without a target.

        While the measured ``positions`` stay within ``motion.replan_tolerance`` of the current plan the
        plan is kept (consecutive chunks then agree, so ensembling them changes nothing); otherwise the
        remaining stops are re-planned from the measured state.

        During a gripper dwell the plan holds the reached stop (the arm is there, within tolerance)
        for the rest of the dwell instead of moving again.
        """
        if self.target is None:
            return None
        start, start_velocity = np.asarray(positions, dtype=float), np.asarray(velocities, dtype=float)
        if self._plan is not None and self.deviation(now, start) <= self.settings.motion.replan_tolerance:
            return self.chunk(now)
        if self._plan is not None:
            self.gripper_opening = float(self._plan.sample(np.array([now]))[2][0])
            self._drop_reached_stops(now, start)
        if self._dwell is not None and self._dwell[1] <= now:
            self._dwell = None
        self._set_plan(self._plan_through(self._stops, now, start, start_velocity, self._dwell))
        return self.chunk(now)

    def _plan_through(
        self,
        stops: list[_Stop],
        now: float,
        start: np.ndarray,
        start_velocity: np.ndarray,
        dwell: tuple[np.ndarray, float] | None,
    ) -> JointPlan:
        """The timed plan from the measured state (or, during a gripper ``dwell`` (held positions, end
        time), from the held stop after the rest of the dwell) through ``stops``."""
        hold = 0.0
        if dwell is not None:
            start, start_velocity, hold = dwell[0], np.zeros_like(start_velocity), dwell[1] - now
        if self.limits.contains(start, self.settings.robot.position_margin):
            # An arm that overshot a command at a limit lies in the band the robot's position_margin
            # keeps free inside the URDF's limit: plan from the nearest point within the limits.
            start = self.limits.clip(start)
        return JointPlan(
            now,
            start,
            start_velocity,
            self.gripper_opening,
            [stop.waypoint for stop in stops],
            self.limits,
            self.settings.motion.min_segment_duration,
            start_hold=hold,
        )

    def _set_plan(self, plan: JointPlan) -> None:
        self._plan = plan
        for label, _, dwell_end in plan.arrivals:
            if label == TARGET:
                self.keyframe_done_time = dwell_end

    def deviation(self, now: float, positions: np.ndarray) -> float:
        """Joint distance (rad, largest over joints) between ``positions`` and the current plan.

        The distance to the plan anywhere in ``[now - motion.tracking_lag, now]`` (sampled every
        ``chunk.dt``) counts: an arm that follows the plan a little late has not left it.
        """
        if self._plan is None:
            return math.inf
        lag, step = self.settings.motion.tracking_lag, self.settings.chunk.dt
        times = now - np.arange(0.0, lag + 0.5 * step, step)
        planned = self._plan.sample(times)[0]
        return float(np.min(np.max(np.abs(np.asarray(positions) - planned), axis=1)))

    def _drop_reached_stops(self, now: float, q: np.ndarray) -> None:
        """Drop the stops the arm is done with before re-planning from ``q``.

        The stops up to the last one reached (planned arrival passed, TCP within tolerance) go, earlier
        ones count as passed (e.g. the pre-grasp pose once at the target); a reached stop whose dwell is
        still running becomes the hold of the next plans. Otherwise the leading stops whose arrival has
        passed and from which a straight line leads on go too: the arm is late on that line, and the
        re-plan continues along it from the nearest knot instead of going back.
        """
        assert self._plan is not None
        tcp = self.kinematics.forward(q)
        tolerance = self.settings.keyframe_reached
        arrivals = self._plan.arrivals
        for index in reversed(range(len(self._stops))):
            stop = self._stops[index]
            _, arrival, dwell_end = arrivals[index]
            position_error, orientation_error = tcp.error_to(stop.pose)
            if (
                arrival > now
                or position_error > tolerance.position_tolerance
                or orientation_error > tolerance.orientation_tolerance
            ):
                continue
            if dwell_end > now:
                self._dwell = (stop.waypoint.positions, dwell_end)
                if stop.waypoint.label == TARGET:
                    self.keyframe_done_time = dwell_end
            self._stops = self._stops[index + 1 :]
            return
        first = 0
        while (
            first + 1 < len(self._stops)
            and arrivals[first][2] <= now
            and self._stops[first + 1].waypoint.path is not None
        ):
            first += 1
        self._stops = self._stops[first:]

    def chunk(self, t0: float) -> ActionChunkData:
        """The current plan sampled at ``t0 + i * dt``, i < H (holds the final pose after the plan)."""
        if self._plan is None:
            raise RuntimeError("no plan yet: call set_target first")
        settings = self.settings.chunk
        times = t0 + settings.dt * np.arange(settings.horizon)
        positions, velocities, gripper = self._plan.sample(times)
        chunk = ActionChunkData(
            self.kinematics.joint_names,
            t0,
            settings.dt,
            positions,
            velocities,
            gripper,
            self._next_chunk_id,
            settings.source,
        )
        self._next_chunk_id += 1
        return chunk
