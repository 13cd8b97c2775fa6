"""Task objects built from PyBullet primitives: cubes, open bowls, flat targets and push buttons."""

from __future__ import annotations

import dataclasses

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from vla_ros.sim.settings import ObjectsConfig

OBJECT_KINDS: tuple[str, ...] = ("cube", "bowl", "target", "button")


@dataclasses.dataclass(frozen=True)
class BodyHandle:
    """A simulated object: its PyBullet body and, for a button, the index of the cap's joint."""

    body_id: int
    kind: str
    cap_joint: int = -1


def footprint_radius(kind: str, config: ObjectsConfig) -> float:
    """Radius of the circle that bounds an object's footprint on the table (for placement)."""
    half_extent = {
        "cube": 0.5 * config.cube_size,
        "bowl": 0.5 * config.bowl_inner_size + config.bowl_wall_thickness,
        "target": 0.5 * config.target_size,
        "button": 0.5 * config.button_base_size,
    }
    if kind not in half_extent:
        raise ValueError(f"unknown object kind {kind!r}; expected one of {OBJECT_KINDS}")
    return float(np.sqrt(2.0) * half_extent[kind])


def _yaw_quaternion(p: BulletClient, yaw: float) -> list[float]:
    return list(p.getQuaternionFromEuler([0.0, 0.0, yaw]))


def create_cube(
    p: BulletClient, config: ObjectsConfig, rgba: tuple[float, ...], x: float, y: float, yaw: float
) -> BodyHandle:
    """A dynamic cube resting on the table."""
    half = [0.5 * config.cube_size] * 3
    body = p.createMultiBody(
        baseMass=config.cube_mass,
        baseCollisionShapeIndex=p.createCollisionShape(p.GEOM_BOX, halfExtents=half),
        baseVisualShapeIndex=p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=list(rgba)),
        basePosition=[x, y, half[2]],
        baseOrientation=_yaw_quaternion(p, yaw),
    )
    p.changeDynamics(
        body, -1, lateralFriction=config.friction, spinningFriction=0.001, rollingFriction=0.0001
    )
    return BodyHandle(body, "cube")


def create_bowl(
    p: BulletClient, config: ObjectsConfig, rgba: tuple[float, ...], x: float, y: float, yaw: float
) -> BodyHandle:
    """A square open container: a floor plate and four walls, as one compound body."""
    t = config.bowl_wall_thickness
    inner = 0.5 * config.bowl_inner_size
    height = config.bowl_wall_height
    outer = inner + t
    boxes = [  # (half extents, centre) in the bowl frame, origin on the table under the centre
        ([outer, outer, 0.5 * t], [0.0, 0.0, 0.5 * t]),
        ([0.5 * t, outer, 0.5 * height], [inner + 0.5 * t, 0.0, 0.5 * height]),
        ([0.5 * t, outer, 0.5 * height], [-inner - 0.5 * t, 0.0, 0.5 * height]),
        ([inner, 0.5 * t, 0.5 * height], [0.0, inner + 0.5 * t, 0.5 * height]),
        ([inner, 0.5 * t, 0.5 * height], [0.0, -inner - 0.5 * t, 0.5 * height]),
    ]
    shapes = [p.GEOM_BOX] * len(boxes)
    extents = [box[0] for box in boxes]
    centres = [box[1] for box in boxes]
    collision = p.createCollisionShapeArray(shapes, halfExtents=extents, collisionFramePositions=centres)
    visual = p.createVisualShapeArray(
        shapes, halfExtents=extents, visualFramePositions=centres, rgbaColors=[list(rgba)] * len(boxes)
    )
    body = p.createMultiBody(
        baseMass=config.bowl_mass,
        baseCollisionShapeIndex=collision,
        baseVisualShapeIndex=visual,
        basePosition=[x, y, 0.0],
        baseOrientation=_yaw_quaternion(p, yaw),
        baseInertialFramePosition=[0.0, 0.0, 0.5 * t],
    )
    p.changeDynamics(body, -1, lateralFriction=config.friction)
    return BodyHandle(body, "bowl")


def create_target(
    p: BulletClient, config: ObjectsConfig, rgba: tuple[float, ...], x: float, y: float, yaw: float
) -> BodyHandle:
    """A flat coloured square on the table (visual only: objects slide over it)."""
    half = [0.5 * config.target_size, 0.5 * config.target_size, 0.0005]
    body = p.createMultiBody(
        baseMass=0.0,
        baseVisualShapeIndex=p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=list(rgba)),
        basePosition=[x, y, half[2]],
        baseOrientation=_yaw_quaternion(p, yaw),
    )
    return BodyHandle(body, "target")


def create_button(
    p: BulletClient, config: ObjectsConfig, rgba: tuple[float, ...], x: float, y: float, yaw: float
) -> BodyHandle:
    """A static dark base with a coloured cap on a sprung prismatic joint (pushed down to press)."""
    base_half = [
        0.5 * config.button_base_size,
        0.5 * config.button_base_size,
        0.5 * config.button_base_height,
    ]
    cap_radius, cap_height = config.button_cap_radius, config.button_cap_height
    body = p.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=p.createCollisionShape(p.GEOM_BOX, halfExtents=base_half),
        baseVisualShapeIndex=p.createVisualShape(
            p.GEOM_BOX, halfExtents=base_half, rgbaColor=[0.15, 0.15, 0.15, 1.0]
        ),
        basePosition=[x, y, base_half[2]],
        baseOrientation=_yaw_quaternion(p, yaw),
        linkMasses=[0.02],
        linkCollisionShapeIndices=[
            p.createCollisionShape(p.GEOM_CYLINDER, radius=cap_radius, height=cap_height)
        ],
        linkVisualShapeIndices=[
            p.createVisualShape(p.GEOM_CYLINDER, radius=cap_radius, length=cap_height, rgbaColor=list(rgba))
        ],
        # the cap's centre rests half its height above the base top; it can sink by button_travel
        linkPositions=[[0.0, 0.0, base_half[2] + 0.5 * cap_height]],
        linkOrientations=[[0.0, 0.0, 0.0, 1.0]],
        linkInertialFramePositions=[[0.0, 0.0, 0.0]],
        linkInertialFrameOrientations=[[0.0, 0.0, 0.0, 1.0]],
        linkParentIndices=[0],
        linkJointTypes=[p.JOINT_PRISMATIC],
        linkJointAxis=[[0.0, 0.0, 1.0]],
    )
    p.changeDynamics(
        body, 0, jointLowerLimit=-config.button_travel, jointUpperLimit=0.0, lateralFriction=config.friction
    )
    # the spring: a position motor holding the cap up with a limited force
    p.setJointMotorControl2(body, 0, p.POSITION_CONTROL, targetPosition=0.0, force=config.button_spring_force)
    return BodyHandle(body, "button", cap_joint=0)


BUILDERS = {"cube": create_cube, "bowl": create_bowl, "target": create_target, "button": create_button}
