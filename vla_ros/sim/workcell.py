"""The simulated workcell: the robot of the robot file, a table, task objects and a fixed RGB-D camera.

The robot's base frame is the world frame. The class is what the simulator node wraps:
it takes joint position targets (as a position controller's setpoint stream), steps physics, and
reports joint states, camera images, the TCP pose, privileged object state and task success.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pybullet
import pybullet_data
from numpy.typing import ArrayLike, NDArray
from pybullet_utils.bullet_client import BulletClient

from vla_ros.data.camera import (
    RENDERER_PIXEL_SHIFT,
    CameraIntrinsics,
    linearize_depth,
    opengl_projection,
    opengl_view,
)
from vla_ros.data.geometry import pose_matrix, rpy_to_matrix
from vla_ros.robot.description import RobotDescriptionError, urdf_file
from vla_ros.robot.settings import CONTINUOUS_RANGE
from vla_ros.sim.objects import BUILDERS, BodyHandle
from vla_ros.sim.settings import SimConfig, load_sim_config
from vla_ros.sim.tasks import ObjectState, SceneSpec, get_task, sample_scene
from vla_ros.sim.urdf_frames import frame_pose

_SETTLE_STEPS = 24  # physics steps run at reset before time zero so that objects come to rest
_STEP_TOLERANCE = 1e-6


class WorkcellError(RuntimeError):
    """Invalid use of the workcell (no episode yet, wrong command size, unknown joint...)."""


@dataclasses.dataclass(frozen=True)
class JointStateSample:
    """Joint names with positions (rad, m), velocities (rad/s, m/s) and efforts (N m, N)."""

    names: tuple[str, ...]
    positions: NDArray[np.float64]
    velocities: NDArray[np.float64]
    efforts: NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class MotorLimits:
    """What the simulated motors of the controlled joints (arm and fingers) can do, from the URDF: the
    position range, the speed the position controller may use and the force it may apply. (The control
    core's command limits are :class:`vla_ros.control.limits.JointLimits`.)"""

    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    velocity: NDArray[np.float64]
    effort: NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class WorkcellSnapshot:
    """The pose of everything that moves, to show the same instant in another Workcell of the same scene.

    ``joint_positions``: the controlled robot joints; ``bodies``: each object's base position and
    quaternion (x, y, z, w), and its button cap's joint position (0 for other objects).
    """

    sim_time: float
    joint_positions: NDArray[np.float64]
    bodies: dict[str, tuple[tuple[float, ...], tuple[float, ...], float]]


@dataclasses.dataclass(frozen=True)
class CameraFrame:
    """One RGB-D image: RGB uint8 (H, W, 3) and depth float32 metres along the optical axis (NaN = none)."""

    stamp: float
    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32]


class Workcell:
    """PyBullet workcell in DIRECT mode with the CPU renderer (one instance per process is typical)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config if config is not None else load_sim_config()
        robot = self.config.robot
        try:  # once: every reset loads this file again (a xacro file's expansion, written once)
            self._robot_urdf = urdf_file(robot.urdf_path, robot.xacro_arguments)
        except RobotDescriptionError as error:
            raise WorkcellError(str(error)) from error
        self._p = BulletClient(connection_mode=pybullet.DIRECT)
        self._p.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.intrinsics = CameraIntrinsics.from_vertical_fov(
            self.config.camera.width, self.config.camera.height, self.config.camera.vertical_fov
        )
        self._projection = opengl_projection(
            self.intrinsics, self.config.camera.near, self.config.camera.far, RENDERER_PIXEL_SHIFT
        )
        workcell = self.config.workcell
        origin = robot.workcell_origin
        self.nominal_camera_pose = origin @ frame_pose(workcell.urdf_path(), workcell.camera_optical_frame)
        camera_link_pose = origin @ frame_pose(workcell.urdf_path(), workcell.camera_link)
        self._link_from_optical = np.linalg.inv(camera_link_pose) @ self.nominal_camera_pose
        self._camera_link_pose = camera_link_pose
        self._camera_pose = self.nominal_camera_pose
        self.arm_joint_names = self.config.robot.arm_joints
        self.gripper_joint_names = self.config.robot.gripper_joints
        self.joint_names = self.arm_joint_names + self.gripper_joint_names
        self.scene: SceneSpec | None = None
        self.sim_time = 0.0
        self._bodies: dict[str, BodyHandle] = {}
        self._pressed_depth: dict[str, float] = {}
        self._load_world()

    # ----------------------------------------------------------------------------------- episodes
    def reset(self, task: str, split: str = "train", seed: int = 0) -> SceneSpec:
        """Rebuild the world for ``task`` in ``split`` with ``seed``; the same triple gives the same scene."""
        scene = sample_scene(self.config, task, split, seed)
        self._load_world()
        objects_config = self.config.objects
        for spec in scene.objects:
            rgba = self.config.colours[spec.colour]
            self._bodies[spec.name] = BUILDERS[spec.kind](
                self._p, objects_config, rgba, spec.x, spec.y, spec.yaw
            )
            self._pressed_depth[spec.name] = 0.0
        offset = scene.camera_offset
        perturbation = pose_matrix(offset[:3], rpy_to_matrix(*offset[3:]))
        self._camera_pose = self._camera_link_pose @ perturbation @ self._link_from_optical
        for _ in range(_SETTLE_STEPS):
            self._physics_step()
        self.sim_time = 0.0
        self.scene = scene
        return scene

    def _load_world(self) -> None:
        p = self._p
        p.resetSimulation()
        p.setGravity(0.0, 0.0, -self.config.physics.gravity)
        p.setPhysicsEngineParameter(
            fixedTimeStep=self.config.physics.time_step,
            numSolverIterations=self.config.physics.solver_iterations,
        )
        robot = self.config.robot
        self._workcell_id = p.loadURDF(
            str(self.config.workcell.urdf_path()),
            basePosition=(*robot.workcell_origin_xy, 0.0),
            useFixedBase=True,
        )
        # inertias come from the collision meshes: the URDF's placeholder inertias (0.1 kg m^2 on every
        # link, fingers included) make the wrist swing whenever the shoulder moves
        self._robot_id = p.loadURDF(self._robot_urdf, useFixedBase=True)
        joints = {
            p.getJointInfo(self._robot_id, j)[1].decode(): j for j in range(p.getNumJoints(self._robot_id))
        }
        links = {
            p.getJointInfo(self._robot_id, j)[12].decode(): j for j in range(p.getNumJoints(self._robot_id))
        }
        missing = [name for name in self.joint_names if name not in joints]
        missing += [
            name for name in (robot.tcp_parent_link, *robot.gripper.finger_links) if name not in links
        ]
        if missing:
            raise WorkcellError(f"{self._robot_urdf} lacks the joints or links {missing}")
        for finger in robot.gripper.finger_links:
            p.changeDynamics(
                self._robot_id,
                links[finger],
                lateralFriction=robot.gripper.finger_friction,
                frictionAnchor=True,
            )
        self._joint_ids = [joints[name] for name in self.joint_names]
        self._tcp_parent_id = links[robot.tcp_parent_link]
        self._gripper_command_index = self.joint_names.index(robot.gripper.command_joint)
        infos = [p.getJointInfo(self._robot_id, j) for j in self._joint_ids]
        # pybullet reports a continuous joint as lower > upper (no limit): one turn either way
        unlimited = np.array([info[8] > info[9] for info in infos])
        self.limits = MotorLimits(
            lower=np.where(unlimited, -CONTINUOUS_RANGE, [info[8] for info in infos]),
            upper=np.where(unlimited, CONTINUOUS_RANGE, [info[9] for info in infos]),
            velocity=np.array([info[11] for info in infos]),
            effort=np.array([info[10] for info in infos]),
        )
        table_links = {
            p.getJointInfo(self._workcell_id, j)[12].decode(): j
            for j in range(p.getNumJoints(self._workcell_id))
        }
        p.setCollisionFilterPair(
            self._workcell_id,
            self._robot_id,
            table_links[self.config.workcell.table_link],
            -1,
            enableCollision=0,
        )
        self._arm_setpoint = np.array(robot.home_positions, dtype=float)
        self._width_setpoint = self.config.gripper.open_width
        positions = np.concatenate([self._arm_setpoint, robot.gripper_positions(self._width_setpoint)])
        for joint, position in zip(self._joint_ids, positions, strict=True):
            p.resetJointState(self._robot_id, joint, position)
        self._arm_target = self._arm_setpoint.copy()
        self._width_target = self._width_setpoint
        self._bodies = {}
        self._pressed_depth = {}
        self.sim_time = 0.0

    # ----------------------------------------------------------------------------------- commands
    def set_arm_targets(self, positions: ArrayLike) -> None:
        """Command the arm joints (rad, in ``arm_joint_names`` order); clipped to the joint limits."""
        positions = np.asarray(positions, dtype=float)
        count = len(self.arm_joint_names)
        if positions.shape != (count,) or not np.all(np.isfinite(positions)):
            raise WorkcellError(f"arm targets must be {count} finite values, got {positions!r}")
        self._arm_target = np.clip(positions, self.limits.lower[:count], self.limits.upper[:count])

    def set_gripper_width(self, width: float) -> None:
        """Command the distance between the fingers (m); force-limited, so closing on an object grasps it."""
        if not np.isfinite(width):
            raise WorkcellError(f"gripper width must be finite, got {width}")
        self._width_target = float(np.clip(width, 0.0, self.config.robot.gripper.max_width))

    def step(self, duration: float) -> None:
        """Advance the simulation by ``duration`` seconds (a whole number of physics steps)."""
        dt = self.config.physics.time_step
        steps = round(duration / dt)
        if steps < 1 or abs(steps * dt - duration) > _STEP_TOLERANCE:
            raise WorkcellError(
                f"duration {duration} s is not a positive multiple of the physics step {dt} s"
            )
        for _ in range(steps):
            self._physics_step()
            self.sim_time += dt

    def _physics_step(self) -> None:
        p = self._p
        dt = self.config.physics.time_step
        arm = len(self.arm_joint_names)
        gripper = self.config.robot.gripper
        rate = self.limits.velocity[:arm]
        self._arm_setpoint += np.clip(self._arm_target - self._arm_setpoint, -rate * dt, rate * dt)
        step = gripper.max_speed * dt
        self._width_setpoint += float(np.clip(self._width_target - self._width_setpoint, -step, step))
        # The command joint is driven (force-limited, so a grasp stalls it on the object); the other
        # gripper joints mimic its measured position, as a linkage or a coupled finger would.
        command = self._joint_ids[self._gripper_command_index]
        measured = p.getJointState(self._robot_id, command)[0]
        mimic = measured * np.array(gripper.multipliers)
        mimic[self._gripper_command_index - arm] = float(gripper.position(self._width_setpoint))
        setpoint = np.concatenate([self._arm_setpoint, mimic])
        forces = self.limits.effort.copy()
        forces[arm:] = gripper.effort
        p.setJointMotorControlArray(
            self._robot_id,
            self._joint_ids,
            pybullet.POSITION_CONTROL,
            targetPositions=setpoint.tolist(),
            forces=forces.tolist(),
            positionGains=[self.config.physics.joint_position_gain] * len(self._joint_ids),
            velocityGains=[self.config.physics.joint_velocity_gain] * len(self._joint_ids),
        )
        p.stepSimulation()
        for name, body in self._bodies.items():
            if body.kind == "button":
                depth = -p.getJointState(body.body_id, body.cap_joint)[0]
                self._pressed_depth[name] = max(self._pressed_depth[name], depth)

    # ----------------------------------------------------------------------------------- state
    def joint_state(self) -> JointStateSample:
        """Measured state of the arm and finger joints."""
        states = self._p.getJointStates(self._robot_id, self._joint_ids)
        return JointStateSample(
            names=self.joint_names,
            positions=np.array([s[0] for s in states]),
            velocities=np.array([s[1] for s in states]),
            efforts=np.array([s[3] for s in states]),
        )

    def arm_targets(self) -> NDArray[np.float64]:
        """The arm joint targets currently commanded."""
        return self._arm_target.copy()

    def gripper_width(self) -> float:
        """Measured distance between the fingers (m), from the gripper's command joint."""
        joint = self._joint_ids[self._gripper_command_index]
        return float(self.config.robot.gripper.width(self._p.getJointState(self._robot_id, joint)[0]))

    def gripper_command(self) -> float:
        """The commanded finger distance (m)."""
        return self._width_target

    def tcp_pose(self) -> NDArray[np.float64]:
        """Pose of the TCP (``robot.tcp_offset_*`` in ``robot.tcp_parent_link``) in the base frame."""
        state = self._p.getLinkState(self._robot_id, self._tcp_parent_id, computeForwardKinematics=True)
        parent = pose_matrix(state[4], np.array(state[5]))
        return parent @ self.config.robot.tcp_from_parent

    def camera_link_pose(self) -> NDArray[np.float64]:
        """Pose of ``camera_link`` (x forward, z up) in the base frame, including a split's perturbation;
        the optical frame is fixed to it as in the workcell URDF."""
        return self._camera_pose @ np.linalg.inv(self._link_from_optical)

    def camera_pose(self) -> NDArray[np.float64]:
        """Pose of the camera's optical frame in the base frame (includes a split's perturbation)."""
        return self._camera_pose.copy()

    def render(self) -> CameraFrame:
        """Render the RGB-D image with the CPU renderer."""
        camera = self.config.camera
        _, _, rgba, depth_buffer, _ = self._p.getCameraImage(
            camera.width,
            camera.height,
            viewMatrix=opengl_view(self._camera_pose),
            projectionMatrix=self._projection,
            renderer=pybullet.ER_TINY_RENDERER,
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(camera.height, camera.width, 4)[:, :, :3]
        depth = linearize_depth(
            np.asarray(depth_buffer).reshape(camera.height, camera.width), camera.near, camera.far
        )
        return CameraFrame(self.sim_time, np.ascontiguousarray(rgb), depth)

    def snapshot(self) -> WorkcellSnapshot:
        """Where everything is now (cheap: no rendering, no contact queries)."""
        p = self._p
        bodies = {}
        for name, body in self._bodies.items():
            position, orientation = p.getBasePositionAndOrientation(body.body_id)
            cap = p.getJointState(body.body_id, body.cap_joint)[0] if body.kind == "button" else 0.0
            bodies[name] = (tuple(position), tuple(orientation), float(cap))
        positions = np.array([state[0] for state in p.getJointStates(self._robot_id, self._joint_ids)])
        return WorkcellSnapshot(self.sim_time, positions, bodies)

    def show_snapshot(self, snapshot: WorkcellSnapshot) -> None:
        """Put everything where ``snapshot`` says (for rendering; physics is not stepped)."""
        if set(snapshot.bodies) != set(self._bodies):
            raise WorkcellError(
                f"snapshot of another scene: objects {sorted(snapshot.bodies)}, "
                f"this one has {sorted(self._bodies)}"
            )
        p = self._p
        for joint, position in zip(self._joint_ids, snapshot.joint_positions, strict=True):
            p.resetJointState(self._robot_id, joint, float(position))
        for name, (position, orientation, cap) in snapshot.bodies.items():
            body = self._bodies[name]
            p.resetBasePositionAndOrientation(body.body_id, position, orientation)
            if body.kind == "button":
                p.resetJointState(body.body_id, body.cap_joint, cap)
        self.sim_time = snapshot.sim_time

    def object_states(self) -> dict[str, ObjectState]:
        """Privileged state of every task object by name (``object``, ``container``, ``distractor_0``...)."""
        if self.scene is None:
            raise WorkcellError("no episode: call reset() first")
        states = {}
        for spec in self.scene.objects:
            body = self._bodies[spec.name]
            if body.kind == "button":
                cap = self._p.getLinkState(body.body_id, body.cap_joint, computeForwardKinematics=True)
                position, orientation = cap[4], cap[5]
            else:
                position, orientation = self._p.getBasePositionAndOrientation(body.body_id)
            velocity = self._p.getBaseVelocity(body.body_id)[0]
            states[spec.name] = ObjectState(
                name=spec.name,
                kind=spec.kind,
                role=spec.role,
                colour=spec.colour,
                position=np.array(position),
                orientation=np.array(orientation),
                linear_speed=float(np.linalg.norm(velocity)),
                touching_robot=len(self._p.getContactPoints(self._robot_id, body.body_id)) > 0,
                pressed_depth=self._pressed_depth[spec.name],
            )
        return states

    def success(self) -> bool:
        """Whether the current episode's task is achieved now."""
        if self.scene is None:
            raise WorkcellError("no episode: call reset() first")
        return get_task(self.scene.task).success(self.object_states(), self.config)

    @property
    def physics_client(self) -> BulletClient:
        """The PyBullet client (for tools and tests that add bodies or query the engine directly)."""
        return self._p

    def close(self) -> None:
        """Disconnect from the physics server."""
        self._p.disconnect()

    def joint_index(self, names: Sequence[str]) -> list[int]:
        """Positions of the given joint names in :attr:`joint_names`; raises on unknown names."""
        unknown = [name for name in names if name not in self.joint_names]
        if unknown:
            raise WorkcellError(f"unknown joints {unknown}; the workcell has {list(self.joint_names)}")
        return [self.joint_names.index(name) for name in names]
