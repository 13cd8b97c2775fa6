"""The ROS 2 nodes: thin shells (parameters, topics, timers) around the ROS-free cores.

Each ``<name>_node.py`` defines ``main()``; CMakeLists.txt installs one executable per module, so
``ros2 run vla_ros <name>_node`` works on a ROS install.
"""
