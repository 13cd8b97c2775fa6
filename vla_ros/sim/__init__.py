"""ROS-free core of the simulated workcell: the robot file's arm in PyBullet, RGB-D camera, task suite,
scripted expert, demonstration recording, keyframes and HAMSTER path labels.

The simulator node wraps :class:`vla_ros.sim.workcell.Workcell`; nothing here imports ROS.
"""
