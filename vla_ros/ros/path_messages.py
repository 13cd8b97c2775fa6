"""PlannedPath (the planner core's path) <-> vla_ros/msg/Path2D.

A Path2D point's ``gripper_open`` is the gripper state from that point on, and the message's
``initial_gripper_open`` the state before the first point, so every gripper event of a path (one at
the first point included) crosses the message. Coordinates travel as float32, so they come back
rounded to float32.
"""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from vla_ros.msg import Path2D, PathPoint2D
from vla_ros.planning.path import PlannedPath


def path_to_message(
    path: PlannedPath,
    header: Header,
    image_width: int,
    image_height: int,
    instruction: str = "",
    planner: str = "",
    latency_s: float = 0.0,
) -> Path2D:
    """A Path2D for ``path`` planned on a ``image_width`` x ``image_height`` image (raw answer: path.text)."""
    points = [
        PathPoint2D(x=float(x), y=float(y), gripper_open=bool(is_open))
        for (x, y), is_open in zip(path.points, path.gripper_open, strict=True)
    ]
    return Path2D(
        header=header,
        image_width=int(image_width),
        image_height=int(image_height),
        instruction=instruction,
        planner=planner,
        latency=float(latency_s),
        raw_answer=path.text,
        initial_gripper_open=bool(path.initial_gripper_open),
        points=points,
    )


def path_from_message(message: Path2D) -> PlannedPath:
    """The PlannedPath a Path2D holds; raises InvalidPathError for no points or points outside [0, 1]."""
    points = np.array([(point.x, point.y) for point in message.points], dtype=np.float64).reshape(-1, 2)
    gripper_open = np.array([point.gripper_open for point in message.points], dtype=bool)
    return PlannedPath(points, gripper_open, message.initial_gripper_open, message.raw_answer)
