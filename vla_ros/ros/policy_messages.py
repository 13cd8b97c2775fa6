"""Messages the keyframe policy node publishes for RViz: the cropped cloud, the predicted gripper as
markers, and each view's heatmap over the rendered view."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from vla_ros.planning.drawing import jet_colormap
from vla_ros.ros.messages import pose_from_matrix

_FINGER_DEPTH = 0.05  # m, drawn finger length above the TCP


def cloud_message(points: np.ndarray, colors: np.ndarray, header: Header) -> PointCloud2:
    """PointCloud2 with float32 x, y, z and RViz's packed ``rgb`` (colours in [0, 1])."""
    count = len(points)
    rgb = np.clip(np.asarray(colors) * 255.0, 0, 255).astype(np.uint32)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    data = np.empty(count, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<u4")])
    data["x"], data["y"], data["z"] = (np.asarray(points, dtype=np.float32).T)[:3]
    data["rgb"] = packed
    fields = [
        PointField(name=name, offset=4 * index, datatype=PointField.FLOAT32, count=1)
        for index, name in enumerate(("x", "y", "z", "rgb"))
    ]
    return PointCloud2(
        header=header,
        height=1,
        width=count,
        fields=fields,
        is_bigendian=False,
        point_step=16,
        row_step=16 * count,
        data=data.tobytes(),
        is_dense=True,
    )


def heatmap_overlay(view_rgb: np.ndarray, heatmap: np.ndarray, scale: int) -> np.ndarray:
    """A view's rendered RGB (S, S, 3) in [0, 1] blended with its heatmap (jet, scaled to its peak),
    enlarged ``scale`` times (nearest neighbour); uint8 RGB."""
    peak = float(heatmap.max())
    colours = jet_colormap(heatmap / peak if peak > 0 else heatmap).astype(np.float32)
    blend = 0.5 * np.clip(view_rgb, 0.0, 1.0) * 255.0 + 0.5 * colours
    image = np.clip(blend, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def gripper_markers(
    pose: np.ndarray,
    gripper_open: bool,
    confidence: float,
    header: Header,
    namespace: str,
    open_width: float,
) -> MarkerArray:
    """The predicted TCP as a two-finger gripper (LINE_LIST: green open, red closed; ``open_width`` m
    apart when open), its approach axis (ARROW) and a text with the gripper state and confidence."""
    width = open_width if gripper_open else 0.01
    local = np.array(
        [
            [-width / 2, 0, 0],
            [width / 2, 0, 0],
            [-width / 2, 0, 0],
            [-width / 2, 0, -_FINGER_DEPTH],
            [width / 2, 0, 0],
            [width / 2, 0, -_FINGER_DEPTH],
            [0, 0, -_FINGER_DEPTH],
            [0, 0, -2 * _FINGER_DEPTH],
        ]
    )
    world = local @ pose[:3, :3].T + pose[:3, 3]
    colour = ColorRGBA(r=0.1, g=0.9, b=0.2, a=1.0) if gripper_open else ColorRGBA(r=0.9, g=0.1, b=0.1, a=1.0)
    lifetime = Duration(sec=0)
    fingers = Marker(header=header, ns=namespace, id=0, type=Marker.LINE_LIST, action=Marker.ADD)
    fingers.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in world]
    fingers.scale = Vector3(x=0.006, y=0.0, z=0.0)
    fingers.color = colour
    fingers.lifetime = lifetime
    fingers.pose.orientation.w = 1.0
    arrow = Marker(header=header, ns=namespace, id=1, type=Marker.ARROW, action=Marker.ADD)
    arrow.pose = pose_from_matrix(pose @ _z_to_x())
    arrow.scale = Vector3(x=0.06, y=0.008, z=0.008)
    arrow.color = ColorRGBA(r=0.2, g=0.4, b=1.0, a=0.9)
    text = Marker(header=header, ns=namespace, id=2, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
    text.pose = pose_from_matrix(pose)
    text.pose.position.z += 0.12
    text.scale.z = 0.03
    text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    text.text = f"{'open' if gripper_open else 'closed'} {confidence:.2f}"
    return MarkerArray(markers=[fingers, arrow, text])


def _z_to_x() -> np.ndarray:
    """Rotation taking an ARROW marker (along x) onto the TCP's approach axis (z)."""
    turn = np.eye(4)
    turn[:3, :3] = [[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    return turn
