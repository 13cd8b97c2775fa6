"""Damped least-squares inverse kinematics of the Panda TCP on a private kinematic PyBullet model."""

from __future__ import annotations

import numpy as np
import pybullet
import pybullet_data
from numpy.typing import ArrayLike, NDArray
from pybullet_utils.bullet_client import BulletClient

from vla_ros.data.geometry import pose_matrix
from vla_ros.robot.urdf import resolve_urdf_path
from vla_ros.sim.settings import SimConfig

_NULLSPACE_GAIN = 0.1  # pull toward the home posture in the Jacobian's null space, per iteration
_ROTATION_WEIGHT = 0.5  # m per rad: weight of the orientation error against the position error


class IkError(RuntimeError):
    """No joint configuration reaches the requested TCP pose within tolerance."""


def rotation_error(target: NDArray[np.float64], current: NDArray[np.float64]) -> NDArray[np.float64]:
    """Axis-angle vector (base frame) that rotates ``current`` onto ``target``."""
    delta = target @ current.T
    angle = np.arccos(np.clip(0.5 * (np.trace(delta) - 1.0), -1.0, 1.0))
    axis = np.array([delta[2, 1] - delta[1, 2], delta[0, 2] - delta[2, 0], delta[1, 0] - delta[0, 1]])
    norm = np.linalg.norm(axis)
    if norm < 1e-9:
        if angle < 1e-6:
            return np.zeros(3)
        # a half turn: the axis is the eigenvector of delta with eigenvalue 1
        values, vectors = np.linalg.eig(delta)
        return angle * np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    return angle * axis / norm


class PandaIk:
    """IK for the arm joints of the configured robot, seeded by the caller (e.g. the previous solution)."""

    def __init__(self, config: SimConfig) -> None:
        self._config = config
        self._p = BulletClient(connection_mode=pybullet.DIRECT)
        self._p.setAdditionalSearchPath(pybullet_data.getDataPath())
        self._robot = self._p.loadURDF(resolve_urdf_path(config.robot.urdf_path), useFixedBase=True)
        count = self._p.getNumJoints(self._robot)
        infos = [self._p.getJointInfo(self._robot, j) for j in range(count)]
        joints = {info[1].decode(): j for j, info in enumerate(infos)}
        links = {info[12].decode(): j for j, info in enumerate(infos)}
        self._arm = [joints[name] for name in config.robot.arm_joints]
        self._movable = [j for j, info in enumerate(infos) if info[2] != pybullet.JOINT_FIXED]
        self._tcp_link = links[config.robot.tcp_parent_link]
        self._lower = np.array([infos[j][8] for j in self._arm])
        self._upper = np.array([infos[j][9] for j in self._arm])
        self._home = np.array(config.robot.home_positions)
        self._arm_columns = [self._movable.index(j) for j in self._arm]

    def forward(self, arm_positions: ArrayLike) -> NDArray[np.float64]:
        """TCP pose (4x4, base frame) for the given arm joint positions."""
        for joint, value in zip(self._arm, np.asarray(arm_positions, dtype=float), strict=True):
            self._p.resetJointState(self._robot, joint, value)
        state = self._p.getLinkState(self._robot, self._tcp_link, computeForwardKinematics=True)
        return pose_matrix(state[4], np.array(state[5])) @ self._config.robot.tcp_from_parent

    def solve(self, target: ArrayLike, seed: ArrayLike) -> NDArray[np.float64]:
        """Arm joint positions whose TCP pose is ``target`` (4x4), starting from ``seed``."""
        target = np.asarray(target, dtype=float)
        expert = self._config.expert
        q = np.clip(np.asarray(seed, dtype=float), self._lower, self._upper)
        zeros = [0.0] * len(self._movable)
        for iteration in range(expert.ik_iterations):
            current = self.forward(q)
            error = np.concatenate(
                [
                    target[:3, 3] - current[:3, 3],
                    _ROTATION_WEIGHT * rotation_error(target[:3, :3], current[:3, :3]),
                ]
            )
            if np.linalg.norm(error) < expert.ik_tolerance:
                return q
            positions = [self._p.getJointState(self._robot, j)[0] for j in self._movable]
            linear, angular = self._p.calculateJacobian(
                self._robot, self._tcp_link, list(self._config.robot.tcp_offset_xyz), positions, zeros, zeros
            )
            jacobian = np.vstack(
                [
                    np.asarray(linear)[:, self._arm_columns],
                    _ROTATION_WEIGHT * np.asarray(angular)[:, self._arm_columns],
                ]
            )
            damping = expert.ik_damping**2 * np.eye(6)
            pseudo_inverse = jacobian.T @ np.linalg.inv(jacobian @ jacobian.T + damping)
            step = pseudo_inverse @ error
            if iteration == 0:  # posture: once per solve, so that later iterations converge on the task
                step += (np.eye(len(q)) - pseudo_inverse @ jacobian) @ (_NULLSPACE_GAIN * (self._home - q))
            q = np.clip(q + step, self._lower, self._upper)
        current = self.forward(q)
        residual = np.linalg.norm(target[:3, 3] - current[:3, 3])
        if residual > 10.0 * expert.ik_tolerance:
            raise IkError(f"IK did not converge: position error {residual:.4f} m for target {target[:3, 3]}")
        return q

    def close(self) -> None:
        """Disconnect the kinematic model."""
        self._p.disconnect()
