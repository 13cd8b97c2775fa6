"""Records demonstrations from a running graph: ``ros2 run vla_ros demonstration_recorder_node``.

Each demonstration is one MCAP file in rosbag2's layout (:class:`vla_ros.ros.mcap_recording.McapRecorder`):
``~/start`` (std_srvs/Trigger) opens ``<out_dir>/<name_prefix>_<NNNN>.mcap.partial`` and records the
configured topics; ``~/stop`` finalises it and renames it to ``.mcap``, so a finished demonstration is
never a half-written file, and a crash leaves a ``.partial`` file that is readable up to its last
complete chunk (``vla-ros dataset from-mcap`` reads it and says so). The instruction and task
parameters (changeable at run time) go into the file's ``vla_ros.demonstration`` metadata. After each
stop ``~/last_recording`` (std_msgs/String, latched) carries a JSON summary: file, bytes, messages and
messages lost per topic (before the recorder: sequence gaps; in it: a full write cache, a disk slower
than the topics). ``vla-ros record`` runs this node with a keyboard.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from vla_ros.config import ConfigError
from vla_ros.data.recording import DEMONSTRATION_METADATA, MCAP_SUFFIX
from vla_ros.ros.mcap_recording import McapRecorder, McapRecordingError
from vla_ros.ros.parameters import declare_parameters_from_config
from vla_ros.ros.qos import LATCHED
from vla_ros.ros.spin import run_node

NODE_NAME = "demonstration_recorder"
CONFIG_FILE = "demonstration_recorder.yaml"
PARTIAL_SUFFIX = ".partial"


class DemonstrationRecorderNode(Node):
    """Starts and stops one MCAP recording per demonstration on request."""

    def __init__(self, **overrides: Any) -> None:
        super().__init__(NODE_NAME, **overrides)
        self._recorder: McapRecorder | None = None  # destroy_node runs even when __init__ fails
        parameters = declare_parameters_from_config(
            self, CONFIG_FILE, runtime=("instruction", "task"), section=NODE_NAME
        )
        self.out_dir = Path(str(parameters["out_dir"])).expanduser()
        self.name_prefix = str(parameters["name_prefix"])
        self.topics = [str(topic) for topic in parameters["topics"]]
        if not self.topics or not self.name_prefix:
            raise ConfigError(f"{CONFIG_FILE}: topics and name_prefix must not be empty")
        self._lock = threading.Lock()
        self.summaries: list[dict[str, Any]] = []
        group = MutuallyExclusiveCallbackGroup()
        self.create_service(Trigger, "~/start", self._on_start, callback_group=group)
        self.create_service(Trigger, "~/stop", self._on_stop, callback_group=group)
        self._recording_pub = self.create_publisher(Bool, "~/recording", LATCHED)
        self._summary_pub = self.create_publisher(String, "~/last_recording", LATCHED)
        self._recording_pub.publish(Bool(data=False))
        self.get_logger().info(
            f"ready: ~/start and ~/stop record {len(self.topics)} topics into {self.out_dir}"
        )

    @property
    def recording(self) -> bool:
        """A demonstration is being recorded."""
        return self._recorder is not None

    def _next_path(self) -> Path:
        taken = {path.name.split(".")[0] for path in self.out_dir.glob(f"{self.name_prefix}_*{MCAP_SUFFIX}*")}
        index = 0
        while f"{self.name_prefix}_{index:04d}" in taken:
            index += 1
        return self.out_dir / f"{self.name_prefix}_{index:04d}{MCAP_SUFFIX}{PARTIAL_SUFFIX}"

    def start(self) -> str:
        """Open the next demonstration's file and record; returns its path. McapRecordingError if a
        recording is already running or the file cannot be made."""
        with self._lock:
            if self._recorder is not None:
                raise McapRecordingError(f"already recording {self._recorder.path}")
            recorder = McapRecorder(self, self._next_path(), self.topics)
            metadata = {name: str(self.get_parameter(name).value) for name in ("instruction", "task")}
            recorder.add_metadata(DEMONSTRATION_METADATA, {k: v for k, v in metadata.items() if v})
            self._recorder = recorder
        self._recording_pub.publish(Bool(data=True))
        self.get_logger().info(f"recording {recorder.path}")
        return str(recorder.path)

    def stop(self) -> dict[str, Any]:
        """Finalise the current demonstration (renamed without ``.partial``); returns its summary.
        McapRecordingError when nothing is being recorded."""
        with self._lock:
            if self._recorder is None:
                raise McapRecordingError("not recording")
            recorder, self._recorder = self._recorder, None
            result = recorder.close()
            final = result.path.with_name(result.path.name.removesuffix(PARTIAL_SUFFIX))
            result.path.replace(final)
        summary = {
            "file": str(final),
            "bytes": final.stat().st_size,
            "messages": result.message_counts,
            "dropped": result.dropped,
            "overflowed": result.overflowed,
            "missing_topics": list(result.missing_topics),
        }
        self.summaries.append(summary)
        self._recording_pub.publish(Bool(data=False))
        self._summary_pub.publish(String(data=json.dumps(summary)))
        lost = {topic: count for topic, count in result.dropped.items() if count}
        lost.update({f"{topic} (write cache full)": count for topic, count in result.overflowed.items()})
        self.get_logger().info(
            f"saved {final} ({summary['bytes'] / 1e6:.1f} MB)"
            + (f"; messages lost: {lost}" if lost else "")
            + (f"; never published: {list(result.missing_topics)}" if result.missing_topics else "")
        )
        return summary

    def _on_start(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            response.message, response.success = self.start(), True
        except McapRecordingError as error:
            response.message, response.success = str(error), False
        return response

    def _on_stop(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            response.message, response.success = json.dumps(self.stop()), True
        except McapRecordingError as error:
            response.message, response.success = str(error), False
        return response

    def destroy_node(self) -> None:
        """Finalise an open recording before the node goes (Ctrl-C keeps the demonstration)."""
        if self._recorder is not None:
            self.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run vla_ros demonstration_recorder_node``."""
    return run_node(DemonstrationRecorderNode, args, startup_errors=(ConfigError, McapRecordingError))


if __name__ == "__main__":
    sys.exit(main())
