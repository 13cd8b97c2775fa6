"""Forward and inverse kinematics of the arm's tool-centre point (TCP) with Pinocchio.

The URDF comes from a file or from the XML string a ROS system publishes as ``robot_description``.
The model is reduced to the configured arm joints (others, e.g. fingers, locked at their lower limit)
and gets an extra frame, ``tcp``, at the configured offset from ``tcp_parent_link``. Poses are TCP
poses expressed in ``base_frame``.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from vla_ros.control.errors import RobotModelError, UnreachablePoseError
from vla_ros.control.limits import JointLimits
from vla_ros.control.pose import Pose
from vla_ros.control.settings import IKSettings
from vla_ros.robot.description import RobotDescriptionError, robot_urdf
from vla_ros.robot.settings import CONTINUOUS_RANGE, RobotSettings
from vla_ros.robot.urdf import resolve_urdf_path

TCP_FRAME = "tcp"
ROTATION_WEIGHT = 0.5  # m per rad: the orientation error against the position error in :meth:`track`
POSTURE_GAIN = 0.1  # the pull toward the posture, per :meth:`track`, in the Jacobian's null space


@dataclass(frozen=True)
class IKSolution:
    """A joint configuration reaching a pose, with its residuals and effort."""

    positions: np.ndarray
    position_residual: float
    orientation_residual: float
    iterations: int
    attempts: int
    seconds: float


def bound_continuous_joints(xml: str, joints: tuple[str, ...]) -> str:
    """The URDF with each continuous joint of ``joints`` made revolute within +-:data:`CONTINUOUS_RANGE`
    (its velocity and effort limits kept): the position limits, IK restarts and the controller's
    clamps then treat it as every other joint, and a plan never winds it up without bound."""
    root = ElementTree.fromstring(xml)
    changed = False
    for joint in root.iter("joint"):
        if joint.get("name") in joints and joint.get("type") == "continuous":
            joint.set("type", "revolute")
            limit = joint.find("limit")
            if limit is None:
                raise ValueError(f"continuous joint {joint.get('name')!r} has no <limit velocity=...>")
            limit.set("lower", str(-CONTINUOUS_RANGE))
            limit.set("upper", str(CONTINUOUS_RANGE))
            changed = True
    return ElementTree.tostring(root, encoding="unicode") if changed else xml


class ArmKinematics:
    """FK/IK of one serial arm; methods take and return numpy arrays in the order of ``joint_names``."""

    def __init__(self, full_model: pin.Model, robot: RobotSettings) -> None:
        missing = [name for name in robot.arm_joints if not full_model.existJointName(name)]
        if missing:
            raise RobotModelError(f"URDF has no joint(s) {missing}; it has {list(full_model.names)[1:]}")
        locked = [
            jid for jid in range(1, full_model.njoints) if full_model.names[jid] not in robot.arm_joints
        ]
        reference = pin.neutral(full_model)
        finite_lower = np.where(
            np.isfinite(full_model.lowerPositionLimit), full_model.lowerPositionLimit, 0.0
        )
        reference = np.maximum(reference, finite_lower)
        model = pin.buildReducedModel(full_model, locked, reference)
        order = [model.getJointId(name) for name in robot.arm_joints]
        if order != list(range(1, model.njoints)) or model.nq != len(robot.arm_joints):
            raise RobotModelError(
                f"arm joints must be one-degree-of-freedom joints listed from base to tip, got "
                f"{robot.arm_joints}; model order {list(model.names)[1:]}"
            )
        for name in (robot.base_frame, robot.tcp_parent_link):
            if not model.existFrame(name):
                raise RobotModelError(f"URDF has no link/frame '{name}'")
        parent = model.frames[model.getFrameId(robot.tcp_parent_link)]
        offset = pin.SE3(pin.rpy.rpyToMatrix(np.array(robot.tcp_offset_rpy)), np.array(robot.tcp_offset_xyz))
        model.addFrame(
            pin.Frame(
                TCP_FRAME,
                parent.parentJoint,
                model.getFrameId(robot.tcp_parent_link),
                parent.placement * offset,
                pin.FrameType.OP_FRAME,
            )
        )
        base = model.frames[model.getFrameId(robot.base_frame)]
        if base.parentJoint != 0:
            raise RobotModelError(
                f"base frame '{robot.base_frame}' moves with joint {model.names[base.parentJoint]}"
            )
        self._model = model
        self._data = model.createData()
        self._tcp_id = model.getFrameId(TCP_FRAME)
        self._base_inverse = base.placement.inverse()
        self.joint_names: tuple[str, ...] = robot.arm_joints
        self.base_frame = robot.base_frame
        margin = robot.position_margin
        self._urdf_lower = model.lowerPositionLimit.copy()
        self._urdf_upper = model.upperPositionLimit.copy()
        self.limits = JointLimits(
            robot.arm_joints,
            model.lowerPositionLimit + margin,
            model.upperPositionLimit - margin,
            model.velocityLimit,
            np.array(robot.acceleration_limits),
        )

    @classmethod
    def from_urdf_string(
        cls, xml: str, robot: RobotSettings, source: str = "the URDF string"
    ) -> ArmKinematics:
        """Load from a URDF XML string (a ROS ``robot_description``). Continuous arm joints (a UR's
        wrist) become revolute joints of one turn either way (:func:`bound_continuous_joints`)."""
        try:
            return cls(pin.buildModelFromXML(bound_continuous_joints(xml, robot.arm_joints)), robot)
        except (RuntimeError, ValueError, ElementTree.ParseError) as error:
            raise RobotModelError(f"cannot parse {source}: {error}") from error

    @classmethod
    def from_settings(cls, robot: RobotSettings, robot_description: str | None = None) -> ArmKinematics:
        """Load from ``robot_description`` when given, else from ``robot.urdf_path`` (a URDF file, or a
        xacro file expanded with ``robot.xacro_arguments``)."""
        if robot_description:
            return cls.from_urdf_string(robot_description, robot)
        try:
            xml = robot_urdf(robot.urdf_path, robot.xacro_arguments)
        except RobotDescriptionError as error:
            raise RobotModelError(str(error)) from error
        return cls.from_urdf_string(xml, robot, resolve_urdf_path(robot.urdf_path))

    @property
    def dof(self) -> int:
        """Number of arm joints J."""
        return self._model.nq

    def _check(self, positions: np.ndarray) -> np.ndarray:
        q = np.asarray(positions, dtype=float).reshape(-1)
        if q.shape != (self.dof,) or not np.all(np.isfinite(q)):
            raise ValueError(f"expected {self.dof} finite joint positions, got {positions!r}")
        return q

    def _tcp_se3(self, q: np.ndarray) -> pin.SE3:
        pin.forwardKinematics(self._model, self._data, q)
        return self._base_inverse * pin.updateFramePlacement(self._model, self._data, self._tcp_id)

    def forward(self, positions: np.ndarray) -> Pose:
        """TCP pose in the base frame for arm joint positions."""
        return Pose.from_se3(self._tcp_se3(self._check(positions)))

    def tcp_velocity(self, positions: np.ndarray, velocities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear (m/s) and angular (rad/s) velocity of the TCP, both expressed in the base frame."""
        q, qd = self._check(positions), self._check(velocities)
        jacobian = pin.computeFrameJacobian(
            self._model, self._data, q, self._tcp_id, pin.ReferenceFrame.LOCAL_WORLD_ALIGNED
        )
        twist = jacobian @ qd
        rotation = self._base_inverse.rotation
        return rotation @ twist[:3], rotation @ twist[3:]

    def inverse(self, target: Pose, seed: np.ndarray, settings: IKSettings) -> IKSolution:
        """Damped-least-squares IK for the full 6-D TCP pose, within the joint limits.

        Starts from ``seed`` (the measured state), then from ``settings.restarts`` random
        configurations; returns the first solution within the convergence tolerances, else the best
        one if it is within the accept tolerances. Raises :class:`UnreachablePoseError` otherwise.
        """
        start = time.perf_counter()
        goal = target.to_se3()
        rng = np.random.default_rng(settings.random_seed)
        seeds = [self.limits.clip(self._check(seed))]
        seeds += [rng.uniform(self.limits.lower, self.limits.upper) for _ in range(settings.restarts)]
        best: tuple[float, np.ndarray, float, float] | None = None
        iterations = attempts = 0
        for q_seed in seeds:
            q, position_residual, orientation_residual, used = self._solve(goal, q_seed, settings)
            iterations += used
            attempts += 1
            converged = (
                position_residual <= settings.position_tolerance
                and orientation_residual <= settings.orientation_tolerance
            )
            score = position_residual / settings.accept_position_tolerance + (
                orientation_residual / settings.accept_orientation_tolerance
            )
            if best is None or score < best[0]:
                best = (score, q, position_residual, orientation_residual)
            if converged:
                break
        assert best is not None
        _, q, position_residual, orientation_residual = best
        if (
            position_residual > settings.accept_position_tolerance
            or orientation_residual > settings.accept_orientation_tolerance
        ):
            raise UnreachablePoseError(
                f"pose {np.round(target.position, 4).tolist()} / quaternion "
                f"{np.round(target.quaternion, 4).tolist()} is not reachable within the joint limits "
                f"after {attempts} IK attempt(s)",
                position_residual,
                orientation_residual,
            )
        return IKSolution(
            q, position_residual, orientation_residual, iterations, attempts, time.perf_counter() - start
        )

    def track(
        self,
        target: np.ndarray,
        seed: np.ndarray,
        posture: np.ndarray,
        iterations: int,
        damping: float,
        tolerance: float,
    ) -> np.ndarray:
        """Differential IK toward a TCP pose ``target`` (4x4, base frame) near the one of ``seed``: for
        trajectories of small steps (a scripted demonstration), where :meth:`inverse` would be too slow
        and could jump between solutions.

        Damped least squares on the position error and the orientation error (weighted
        :data:`ROTATION_WEIGHT` m per rad), within the URDF's position limits, until the weighted error
        is below ``tolerance``; the first step also pulls toward ``posture`` in the Jacobian's null space
        (:data:`POSTURE_GAIN`), so that a long trajectory keeps a natural posture. Raises
        :class:`UnreachablePoseError` when the position error stays above ten times ``tolerance``.
        """
        target = np.asarray(target, dtype=float)
        q = np.clip(self._check(seed), self._urdf_lower, self._urdf_upper)
        posture = self._check(posture)
        weights = np.diag([1.0, 1.0, 1.0, ROTATION_WEIGHT, ROTATION_WEIGHT, ROTATION_WEIGHT])
        rotation = self._base_inverse.rotation  # world axes -> base axes
        for iteration in range(iterations):
            current = self._tcp_se3(q)
            error = weights @ np.concatenate(
                [target[:3, 3] - current.translation, pin.log3(target[:3, :3] @ current.rotation.T)]
            )
            if np.linalg.norm(error) < tolerance:
                return q
            jacobian = pin.computeFrameJacobian(
                self._model, self._data, q, self._tcp_id, pin.ReferenceFrame.LOCAL_WORLD_ALIGNED
            )
            jacobian = weights @ np.vstack([rotation @ jacobian[:3], rotation @ jacobian[3:]])
            pseudo_inverse = jacobian.T @ np.linalg.inv(jacobian @ jacobian.T + damping**2 * np.eye(6))
            step = pseudo_inverse @ error
            if iteration == 0:
                step += (np.eye(len(q)) - pseudo_inverse @ jacobian) @ (POSTURE_GAIN * (posture - q))
            q = np.clip(q + step, self._urdf_lower, self._urdf_upper)
        current = self._tcp_se3(q)
        residual = float(np.linalg.norm(target[:3, 3] - current.translation))
        if residual > 10.0 * tolerance:
            raise UnreachablePoseError(
                f"differential IK did not converge on the TCP position {np.round(target[:3, 3], 4).tolist()}",
                residual,
                float(np.linalg.norm(pin.log3(target[:3, :3] @ current.rotation.T))),
            )
        return q

    def _solve(
        self, goal: pin.SE3, q: np.ndarray, settings: IKSettings
    ) -> tuple[np.ndarray, float, float, int]:
        """One DLS run from ``q``; returns (q, position residual, orientation residual, iterations)."""
        model, data = self._model, self._data
        damping = settings.damping * np.eye(6)
        position_residual = orientation_residual = np.inf
        for iteration in range(1, settings.max_iterations + 1):
            current = self._tcp_se3(q)
            error_se3 = current.actInv(goal)
            error = pin.log6(error_se3).vector
            position_residual = float(np.linalg.norm(goal.translation - current.translation))
            orientation_residual = float(np.linalg.norm(error[3:]))
            if (
                position_residual <= settings.position_tolerance
                and orientation_residual <= settings.orientation_tolerance
            ):
                return q, position_residual, orientation_residual, iteration
            jacobian = pin.computeFrameJacobian(model, data, q, self._tcp_id, pin.ReferenceFrame.LOCAL)
            jacobian = pin.Jlog6(error_se3) @ jacobian
            step = settings.step_size * jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + damping, error)
            largest = float(np.max(np.abs(step)))
            if largest > settings.max_step:
                step *= settings.max_step / largest
            q = self.limits.clip(q + step)
        return q, position_residual, orientation_residual, settings.max_iterations
