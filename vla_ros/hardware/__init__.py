"""Simulated hardware interfaces: the command semantics of ros2_control controllers, without ROS.

The simulator node accepts commands exactly as real controllers do; the rules (what is rejected and
why, how a trajectory is interpolated and replaced) live here so that they are tested without a graph.
"""
