"""sensor_msgs/JointState -> the positions and velocities of named joints, checked in every message.

Columns are looked up by name in each message (publishers may order, or leave out, joints as they
like). A message without a position for every name, lacking a wanted joint, or with a non-finite value
for one is refused with the reason, so a node can warn and keep the last good state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sensor_msgs.msg import JointState


class JointStateError(ValueError):
    """A JointState message that cannot be read for the wanted joints."""


def joint_positions(message: JointState, joints: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(positions, velocities) of ``joints`` in their order; velocities are zeros when the message has
    none. Raises :class:`JointStateError` saying what is wrong."""
    names = list(message.name)
    if len(message.position) != len(names):
        raise JointStateError(f"{len(message.position)} positions for {len(names)} joint names")
    missing = [joint for joint in joints if joint not in names]
    if missing:
        raise JointStateError(f"no joint state for {missing}")
    columns = [names.index(joint) for joint in joints]
    positions = np.asarray(message.position, dtype=float)[columns]
    velocities = (
        np.asarray(message.velocity, dtype=float)[columns]
        if len(message.velocity) == len(names)
        else np.zeros(len(columns))
    )
    if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(velocities))):
        raise JointStateError(f"non-finite positions or velocities for {list(joints)}")
    return positions, velocities
