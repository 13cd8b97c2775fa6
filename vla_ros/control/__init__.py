"""ROS-free core of the action-chunk executor and the temporal-ensembling controller.

- :mod:`.kinematics`: Pinocchio forward/inverse kinematics of the arm's tool-centre point (TCP).
- :mod:`.pose`, :mod:`.limits`: TCP poses (quaternion x, y, z, w) and per-joint limits.
- :mod:`.trajectory`: time-parametrised joint-space motion within velocity/acceleration limits.
- :mod:`.executor`: keyframe target -> grasp-structured plan -> :class:`.chunk.ActionChunkData`.
- :mod:`.keyframe`: keyframe-reached detection.
- :mod:`.ensembler`: time-indexed ACT temporal ensembling of overlapping chunks.
- :mod:`.safety`: command limiting, stale-input hold, e-stop, enable, workspace box.
- :mod:`.controller`: the fixed-rate controller's tick (ensembler + safety) and streamed preview.
- :mod:`.settings`: the validated parameters of ``config/control.yaml``.
- :mod:`.bench`: ``vla-ros bench controller``.
"""
