"""The simulator demonstrations' labelling rules, for demonstrations recorded from ROS topics.

``vla-ros collect`` labels keyframes and paths by config/sim.yaml's ``recording`` section; a recording
converted by ``vla-ros dataset from-mcap`` (and replayed by ``vla-ros replay``) gets the same rules, so
the two kinds of episodes mean the same thing.
"""

from __future__ import annotations

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.data.demonstration import (
    ConversionSettings,
    Demonstration,
    DemonstrationTopics,
    convert_recording,
)
from vla_ros.data.recording import Recording
from vla_ros.robot.settings import RobotSettings
from vla_ros.sim.settings import SimConfig

# The measured width counts as open above this share of the gripper's open width (a grasped object
# holds the fingers apart, so the command's threshold would read a grasp as open).
MEASURED_OPEN_SHARE = 0.9


def conversion_settings(
    robot: RobotSettings,
    sim: SimConfig,
    gripper_source: str,
    open_width: float | None,
    stride: int,
    max_gap: float,
) -> ConversionSettings:
    """The conversion's settings: the robot's joints, the simulator demonstrations' keyframe and path
    rules (config/sim.yaml ``recording``), and the gripper's threshold for ``gripper_source``."""
    if open_width is None:
        open_width = (
            sim.gripper.closed_threshold
            if gripper_source == "command"
            else MEASURED_OPEN_SHARE * sim.gripper.open_width
        )
    recording = sim.recording
    return ConversionSettings(
        robot.base_frame,
        robot.arm_joints,
        robot.gripper_joints,
        robot.gripper,
        open_width,
        recording.keyframe_velocity_threshold,
        recording.path_rdp_epsilon,
        recording.depth_scale,
        gripper_source,
        stride,
        max_gap,
    )


def demonstration_from_recording(
    recording: Recording,
    topics: DemonstrationTopics,
    robot: RobotSettings,
    sim: SimConfig,
    gripper_source: str = "auto",
    open_width: float | None = None,
    stride: int = 0,
    max_gap: float = 0.5,
    instruction: str = "",
) -> tuple[Demonstration, ConversionSettings]:
    """The demonstration in ``recording`` with the TCP by ``robot``'s kinematics, and the settings it
    was converted with. ``gripper_source`` ``auto``: the gripper command where the recording has it,
    else the measured width."""
    if gripper_source == "auto":
        gripper_source = "command" if topics.gripper_command in recording.topics else "measured"
    settings = conversion_settings(robot, sim, gripper_source, open_width, stride, max_gap)
    kinematics = ArmKinematics.from_settings(robot)

    def tcp_pose(positions):
        return kinematics.forward(positions).to_matrix()

    return convert_recording(recording, topics, settings, tcp_pose, instruction), settings
