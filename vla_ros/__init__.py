"""vla_ros: a HAMSTER-style hierarchical vision-language-action stack for ROS 2.

The subpackages hold ROS-free cores (simulation, planning, policy, control) that import without
rclpy; ``vla_ros.ros`` holds the adapters to ROS, and ``vla_ros.nodes`` the thin node shells.
On a built workspace the generated interfaces live beside them in ``vla_ros.msg`` and
``vla_ros.action``.
"""

from pkgutil import extend_path

__version__ = "0.1.0"

# The interfaces are generated into the installed copy of this package (install/.../vla_ros). When
# the source tree comes first on sys.path (Python started in the repository root), this lets
# ``vla_ros.msg`` and ``vla_ros.action`` still resolve to the installed, generated modules.
__path__ = extend_path(__path__, __name__)
