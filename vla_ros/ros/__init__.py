"""Adapters between the ROS-free core and ROS 2.

Each module wraps one ROS package that a ROS install has but this project's PyPI environment may lack
(cv_bridge, tf2_ros, ...): it uses the real package when it is importable and a small faithful
fallback otherwise, so that nothing else in the code base needs to care.
"""
