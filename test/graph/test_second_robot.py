"""Every node of the graph starts with the xArm 6's robot file and no Panda file anywhere (a hidden Panda
default fails here), and the executor, the controller and the simulator take the six-joint arm and its
linkage gripper to keyframes sent as the policy sends them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vla_ros.config import config_dir
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.sim.expert import top_down_pose
from vla_ros.sim.settings import load_sim_config
from vla_ros.sim.tasks import sample_scene

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REACHED_TIMEOUT_S = 60.0


@pytest.fixture
def xarm_only_config(tmp_path, monkeypatch):
    """A copy of the package's config/ and urdf/ without any robot file, and the xArm's robot file beside
    them; ``VLA_ROS_CONFIG_DIR`` points every process of the test at the copy."""
    shutil.copytree(config_dir(), tmp_path / "config")
    shutil.copytree(config_dir().parent / "urdf", tmp_path / "urdf")
    robot_file = tmp_path / "cell" / "my_xarm.yaml"
    robot_file.parent.mkdir()
    shutil.move(tmp_path / "config" / "robots" / "xarm6.yaml", robot_file)
    shutil.rmtree(tmp_path / "config" / "robots")
    monkeypatch.setenv("VLA_ROS_CONFIG_DIR", str(tmp_path / "config"))
    with pytest.raises(Exception, match="unknown robot 'panda'"):
        load_sim_config()  # the default robot is gone: anything that falls back to it fails
    return robot_file


def test_the_graph_runs_the_xarm_from_its_robot_file_alone(xarm_only_config, tmp_path):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState

    from vla_ros.app.graph import resolve_arguments
    from vla_ros.app.graph_client import GraphSession
    from vla_ros.msg import KeyframeTarget
    from vla_ros.ros.messages import pose_from_matrix
    from vla_ros.ros.qos import RELIABLE

    sim = load_sim_config(robot=str(xarm_only_config))
    robot = sim.robot
    kinematics = ArmKinematics.from_settings(robot)
    values = resolve_arguments({"use_sim_time": "true", "planner": "oracle", "robot": str(xarm_only_config)})
    with GraphSession(values, tmp_path / "logs", images=False) as session:  # every node is up
        client = session.client
        states: list = []
        reached: list = []
        client.node.create_subscription(JointState, "joint_states", states.append, qos_profile_sensor_data)
        client.node.create_subscription(
            KeyframeTarget, "chunk_executor/keyframe_reached", reached.append, RELIABLE
        )
        publisher = client.node.create_publisher(KeyframeTarget, "policy/keyframe", RELIABLE)
        client.reset("press_button", "train", 0)
        button = next(o for o in sample_scene(sim, "press_button", "train", 0).objects if o.name == "button")
        target = top_down_pose(np.array([button.x, button.y, 0.15]), 0.3)
        for index, gripper_open in enumerate((True, False)):
            message = KeyframeTarget(gripper_open=gripper_open, confidence=1.0, keyframe_index=index)
            message.header.frame_id = robot.base_frame
            message.pose = pose_from_matrix(target)
            client.spin_for(lambda: publisher.get_subscription_count() > 0, 10.0)
            publisher.publish(message)  # as the policy does, outside an episode
            assert client.spin_for(
                lambda i=index: any(r.keyframe_index == i for r in reached), REACHED_TIMEOUT_S
            ), f"keyframe {index} not reached"
        last = states[-1]
        assert list(last.name) == [*robot.arm_joints, *robot.gripper_joints]
        arm = np.array(last.position[: len(robot.arm_joints)])
        tcp = kinematics.forward(arm).to_matrix()
        assert np.linalg.norm(tcp[:3, 3] - target[:3, 3]) < 0.006

        def opening() -> float:
            return float(robot.gripper.width(states[-1].position[len(robot.arm_joints)]))

        # the executor's gripper dwell may end before the fingers meet: they close at 0.1 m/s
        closed = client.spin_for(lambda: opening() < 0.005, 10.0)
        assert closed, f"closing on nothing, the fingers meet: still {opening():.4f} m apart"
