"""ActionChunkData (the control core's chunk) <-> vla_ros/msg/ActionChunk.

The message's stamp is the time of the chunk's first action (t0) in the ROS clock, ``dt`` its step, and
its arrays the row-major (step-major) layout that :meth:`ActionChunkData.from_flat` reads; empty
``velocities`` / ``gripper`` mean "not given". A malformed message raises
:class:`~vla_ros.control.errors.InvalidChunkError` saying what is wrong.
"""

from __future__ import annotations

from std_msgs.msg import Header

from vla_ros.control.chunk import ActionChunkData
from vla_ros.msg import ActionChunk
from vla_ros.ros.messages import duration_from_seconds, seconds_from_stamp, stamp_from_seconds


def chunk_to_message(chunk: ActionChunkData, frame_id: str = "") -> ActionChunk:
    """The ActionChunk message of ``chunk`` (stamp = t0)."""
    return ActionChunk(
        header=Header(stamp=stamp_from_seconds(chunk.t0), frame_id=frame_id),
        chunk_id=int(chunk.chunk_id),
        source=chunk.source,
        joint_names=list(chunk.joint_names),
        dt=duration_from_seconds(chunk.dt),
        horizon=chunk.horizon,
        positions=chunk.positions.reshape(-1).tolist(),
        velocities=[] if chunk.velocities is None else chunk.velocities.reshape(-1).tolist(),
        gripper=[] if chunk.gripper is None else chunk.gripper.tolist(),
    )


def chunk_from_message(message: ActionChunk) -> ActionChunkData:
    """The validated ActionChunkData of ``message``; raises InvalidChunkError when it is malformed."""
    return ActionChunkData.from_flat(
        joint_names=list(message.joint_names),
        t0=seconds_from_stamp(message.header.stamp),
        dt=seconds_from_stamp(message.dt),
        positions=message.positions,
        velocities=message.velocities,
        gripper=message.gripper,
        chunk_id=int(message.chunk_id),
        source=message.source,
        horizon=int(message.horizon),
    )
