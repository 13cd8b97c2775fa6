"""Shared test setup: every pytest run gets a ROS domain of its own, so parallel runs do not meet."""

from __future__ import annotations

import os

# Domain ids 1..100 are safe for Fast DDS ports; the process id spreads parallel runs over them.
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
