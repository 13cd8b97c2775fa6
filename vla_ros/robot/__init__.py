"""The robot: its URDF and ``/robot_description``, and the camera's mounting (extrinsics)."""
