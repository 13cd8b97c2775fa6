"""The camera extrinsics core: the calibration's settings, their checks and the pose they give."""

from __future__ import annotations

import numpy as np
import pytest
import transforms3d.quaternions as quaternions

from vla_ros.config import load_parameters
from vla_ros.robot.camera_extrinsics import (
    CameraExtrinsicsError,
    base_from_camera,
    camera_extrinsics_settings,
    check_frames,
)

# A camera 0.6 m above the table, 0.3 m in front of the base, looking down: optical z = base -z.
LOOKING_DOWN_XYZW = (1.0, 0.0, 0.0, 0.0)


def parameters(**changes) -> dict:
    values = load_parameters(["robots/panda.yaml", "camera_extrinsics.yaml"], "camera_extrinsics")
    values.pop("robot")
    values.update(source="parameters", translation=[0.3, 0.0, 0.6], rotation_xyzw=list(LOOKING_DOWN_XYZW))
    values.update(changes)
    return values


def test_shipped_file_makes_the_user_choose_a_source():
    values = load_parameters(["robots/panda.yaml", "camera_extrinsics.yaml"], "camera_extrinsics")
    values.pop("robot")
    with pytest.raises(CameraExtrinsicsError, match="source must be one of \\['parameters', 'tf'\\]"):
        camera_extrinsics_settings(values)


def test_calibration_gives_the_optical_frame_pose_in_the_base_frame():
    settings = camera_extrinsics_settings(parameters(rotation_xyzw=[0.0, 0.0, 0.0, 1.0000004]))
    pose = base_from_camera("panda_link0", settings)
    np.testing.assert_allclose(pose[:3, 3], [0.3, 0.0, 0.6])
    np.testing.assert_allclose(pose[:3, :3], np.eye(3), atol=1e-9)
    down = base_from_camera("panda_link0", camera_extrinsics_settings(parameters()))
    np.testing.assert_allclose(down[:3, 2], [0.0, 0.0, -1.0], atol=1e-12)  # optical z looks down
    x, y, z, w = 0.1, -0.2, 0.3, 0.9
    norm = np.linalg.norm([x, y, z, w])
    unit = [x / norm, y / norm, z / norm, w / norm]
    tilted = base_from_camera("panda_link0", camera_extrinsics_settings(parameters(rotation_xyzw=unit)))
    np.testing.assert_allclose(tilted[:3, :3], quaternions.quat2mat([w, x, y, z] / norm), atol=1e-12)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rotation_xyzw": [0.0, 0.0, 0.0, 2.0]}, "not a unit quaternion \\(norm 2.000000\\)"),
        ({"rotation_xyzw": [0.0, 0.0, 0.0]}, "expected 4 items"),
        ({"translation": [0.0, float("nan"), 0.0]}, "must be finite"),
        ({"camera_frame": " "}, "camera_frame is empty"),
        ({"pose_topic": ""}, "pose_topic is empty"),
        ({"source": "tf"}, "publish_tf must be false with source 'tf'"),
        ({"tf_lookup_period": 0.0}, "tf_lookup_period must be > 0"),
        ({"frames": "x"}, "unknown keys \\['frames'\\]"),
    ],
)
def test_bad_calibrations_are_rejected_with_the_reason(changes, message):
    with pytest.raises(CameraExtrinsicsError, match=message):
        camera_extrinsics_settings(parameters(**changes))


def test_the_base_frame_must_be_named_and_differ_from_the_camera_frame():
    settings = camera_extrinsics_settings(parameters())
    check_frames("panda_link0", settings)
    with pytest.raises(CameraExtrinsicsError, match=r"\(robot\.base_frame\) is empty"):
        base_from_camera("", settings)
    with pytest.raises(CameraExtrinsicsError, match="camera_frame is the robot base frame"):
        check_frames(settings.camera_frame, settings)
