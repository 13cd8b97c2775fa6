"""Record ROS topics into an MCAP file laid out the way rosbag2's MCAP storage writes it.

Each message is written as the serialized CDR bytes rclpy received (``raw=True``), on a channel with
message encoding ``cdr`` and a ``ros2msg`` schema: the message's .msg text followed by every type it
depends on, each after a line of 80 ``=`` and a ``MSG: pkg/Type`` line (rosbag2's
LocalMessageDefinitionSource; a type with no .msg file falls back to ``ros2idl`` the same way).
Timestamps follow rosbag2's recorder: log time = the time the middleware received the message (the
node's clock when it runs on simulated time), publish time = the publisher's source timestamp,
sequence = the publisher's sequence number. Chunks are uncompressed, as rosbag2's default.
Channel metadata carries ``offered_qos_profiles`` (rosbag2's YAML) and ``topic_type_hash``. On Humble,
whose rclpy gives callbacks no message info and knows no type hashes, log and publish time are the
receipt time on the node's clock, sequence numbers 0 and the type hash is left out.

One ``McapRecorder`` writes one file (one episode): it subscribes on creation, as each requested
topic gets a publisher, with the QoS rosbag2 would request from those publishers (so latched
messages published before the recording are recorded too), and ``close()`` finalises the file.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from mcap.writer import CompressionType, Writer
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

try:  # rclpy hands subscription callbacks the message info from Iron on; Humble's does not
    from rclpy.subscription import MessageInfo
except ImportError:
    MessageInfo = None
from rclpy.topic_endpoint_info import TopicEndpointInfo

PROFILE = "ros2"
LIBRARY = "vla_ros mcap_recording"
MESSAGE_ENCODING = "cdr"
# rosbag2's subscription queue depth (Rosbag2QoS: rmw_qos_profile_default's depth).
SUBSCRIPTION_DEPTH = 10
# Chunks of a few camera frames: fewer chunk records than 1 MiB chunks (one per image); a crash loses
# at most the chunk being written.
CHUNK_SIZE = 8 * 1024 * 1024
# Messages received but not yet written, at most (rosbag2's default max_cache_size): a writer thread
# takes them to the file, so a slow disk does not stall the subscriptions; beyond it a message is
# dropped and counted (RecordingSummary.overflowed).
CACHE_BYTES = 100 * 1024 * 1024
DEFINITION_DELIMITER = "=" * 80 + "\n"
PRIMITIVE_TYPES = frozenset(
    {
        "bool",
        "byte",
        "char",
        "float32",
        "float64",
        "string",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
    }
)
# The field types of a .msg text ("pkg/Type" in "pkg/Type[] name") and the includes of an .idl text.
MSG_FIELD_TYPE = re.compile(r"(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+")
IDL_INCLUDE = re.compile(r"(?:^|\n)#include\s+(?:\"|<)([a-zA-Z0-9_/]+)\.idl(?:\"|>)")
ROS_NAME = r"[a-zA-Z][a-zA-Z0-9_]*"
TYPE_NAME = re.compile(rf"^({ROS_NAME})/(?:({ROS_NAME})/)?({ROS_NAME})$")
MAX_DEFINITION_DEPTH = 50


class McapRecordingError(Exception):
    """A recording cannot be made as asked."""


class UnknownMessageTypeError(McapRecordingError):
    """A message type whose name, definition file or Python type support cannot be found."""


class RecordingFileError(McapRecordingError):
    """The MCAP file cannot be created, written or finalised."""


class _DefinitionFileMissingError(UnknownMessageTypeError):
    """One interface file of a definition is not installed (rosbag2 then tries the other format)."""


@dataclass(frozen=True)
class MessageDefinition:
    """A complete message definition as rosbag2 stores it: ``ros2msg`` or ``ros2idl`` text."""

    encoding: str
    text: str


def _split_type_name(type_name: str) -> tuple[str, str, str]:
    match = TYPE_NAME.match(type_name)
    if match is None:
        raise UnknownMessageTypeError(
            f"message type {type_name!r} is not of the form 'pkg/msg/Type' or 'pkg/Type'"
        )
    package, namespace, name = match.groups()
    return package, namespace or "msg", name


def _read_interface_file(type_name: str, extension: str) -> str | None:
    package, namespace, name = _split_type_name(type_name)
    try:
        share = Path(get_package_share_directory(package))
    except PackageNotFoundError as error:
        raise UnknownMessageTypeError(
            f"message type {type_name!r}: package {package!r} is not installed (AMENT_PREFIX_PATH)"
        ) from error
    path = share / namespace / f"{name}{extension}"
    return path.read_bytes().decode("utf-8") if path.is_file() else None


def _dependencies(text: str, extension: str, package: str) -> list[str]:
    if extension == ".idl":
        return sorted(set(IDL_INCLUDE.findall(text)))
    types = {found for found in MSG_FIELD_TYPE.findall(text) if found not in PRIMITIVE_TYPES}
    return sorted(found if "/" in found else f"{package}/{found}" for found in types)


def _concatenated_definition(root: str, extension: str, header: str) -> str:
    """Root text, then each dependency (depth first, sorted, once) after its delimiter."""
    seen: set[str] = set()

    def append(type_name: str, depth: int) -> str:
        if depth <= 0:
            raise UnknownMessageTypeError(f"message type {root!r}: definitions nest too deeply")
        text = _read_interface_file(type_name, extension)
        if text is None:
            raise _DefinitionFileMissingError(
                f"message type {root!r}: no {extension} definition of {type_name!r} is installed"
            )
        for dependency in _dependencies(text, extension, _split_type_name(type_name)[0]):
            if dependency not in seen:
                seen.add(dependency)
                text += f"\n{DEFINITION_DELIMITER}{header}: {dependency}\n" + append(dependency, depth - 1)
        return text

    return append(root, MAX_DEFINITION_DEPTH)


@cache
def message_definition(type_name: str) -> MessageDefinition:
    """The complete definition of ``type_name`` (e.g. ``"std_msgs/msg/Header"``) from the installed
    interface files, concatenated as rosbag2 does: from .msg files, or if one is missing, .idl files.

    Raises UnknownMessageTypeError when the name, the package or a definition file is missing.
    """
    try:
        return MessageDefinition("ros2msg", _concatenated_definition(type_name, ".msg", "MSG"))
    except _DefinitionFileMissingError as msg_missing:
        try:
            text = _concatenated_definition(type_name, ".idl", "IDL")
        except _DefinitionFileMissingError as idl_missing:
            raise UnknownMessageTypeError(f"{msg_missing}; {idl_missing}") from None
    return MessageDefinition("ros2idl", f"{DEFINITION_DELIMITER}IDL: {type_name}\n{text}")


def message_class(type_name: str) -> type:
    """The rclpy message class of ``type_name`` (``"pkg/msg/Type"``)."""
    package, namespace, name = _split_type_name(type_name)
    try:
        return getattr(importlib.import_module(f"{package}.{namespace}"), name)
    except (ImportError, AttributeError) as error:
        raise UnknownMessageTypeError(
            f"message type {type_name!r} has no Python type support ({package}.{namespace}.{name})"
        ) from error


def subscription_qos(publishers: Sequence[TopicEndpointInfo]) -> QoSProfile:
    """rosbag2's request for these publishers: reliable / transient-local only when all offer it."""
    profiles = [publisher.qos_profile for publisher in publishers]
    all_reliable = all(profile.reliability == ReliabilityPolicy.RELIABLE for profile in profiles)
    all_latched = all(profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for profile in profiles)
    return QoSProfile(
        depth=SUBSCRIPTION_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if all_reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if all_latched else DurabilityPolicy.VOLATILE,
    )


def _duration(duration) -> dict[str, int]:
    seconds, nanoseconds = divmod(duration.nanoseconds, 1_000_000_000)
    return {"sec": seconds, "nsec": nanoseconds}


def offered_qos_profiles(publishers: Sequence[TopicEndpointInfo]) -> str:
    """The publishers' QoS as rosbag2 stores it in the ``offered_qos_profiles`` channel metadata."""
    profiles = []
    for publisher in publishers:
        qos = publisher.qos_profile
        profiles.append(
            {
                "history": qos.history.name.lower(),
                "depth": qos.depth,
                "reliability": qos.reliability.name.lower(),
                "durability": qos.durability.name.lower(),
                "deadline": _duration(qos.deadline),
                "lifespan": _duration(qos.lifespan),
                "liveliness": qos.liveliness.name.lower(),
                "liveliness_lease_duration": _duration(qos.liveliness_lease_duration),
                "avoid_ros_namespace_conventions": qos.avoid_ros_namespace_conventions,
            }
        )
    return yaml.safe_dump(profiles, sort_keys=False)


def _topic_type_hash(publishers: Sequence[TopicEndpointInfo]) -> str:
    """The publishers' type hash ("RIHS01_..."), or "" when none is known or they disagree (rosbag2)."""
    known = [p.topic_type_hash for p in publishers if getattr(p, "topic_type_hash", None) is not None]
    hashes = {str(type_hash) for type_hash in known if type_hash.version > 0}
    return hashes.pop() if len(hashes) == 1 else ""


@dataclass(frozen=True)
class RecordingSummary:
    """What one recording holds: messages per requested topic (0 if none came), the type of each
    subscribed topic, the requested topics that never had a publisher, and the messages lost per
    topic (gaps in the publisher's sequence numbers; None where they cannot be known: Humble, or a
    topic with several publishers), and the messages received but not written because the write cache
    was full (the disk slower than the topics)."""

    path: Path
    message_counts: dict[str, int]
    topic_types: dict[str, str]
    missing_topics: tuple[str, ...] = ()
    dropped: dict[str, int | None] = field(default_factory=dict)
    overflowed: dict[str, int] = field(default_factory=dict)  # received, not written: the cache was full


class McapRecorder:
    """Records ``topics`` seen by ``node`` into the MCAP file ``path`` until ``close()``.

    Topics are subscribed as soon as they have a publisher (checked now, then every
    ``discovery_period_s`` seconds on a timer of ``node``); the node must be spun by an executor.
    The file is overwritten if it exists; missing parent directories are created.
    An unresolvable topic type raises UnknownMessageTypeError from that timer (out of the executor's
    spin). Messages go through a cache of at most :data:`CACHE_BYTES` to a writer thread.
    Thread-safe for multi-threaded executors. Usable as a context manager.
    """

    def __init__(self, node: Node, path: str | Path, topics: Sequence[str], discovery_period_s: float = 0.1):
        if not topics:
            raise McapRecordingError("no topics to record")
        if discovery_period_s <= 0.0:
            raise McapRecordingError(f"discovery_period_s must be positive, got {discovery_period_s}")
        self._node = node
        self._path = Path(path)
        self._pending = list(dict.fromkeys(node.resolve_topic_name(topic) for topic in topics))
        self._counts = dict.fromkeys(self._pending, 0)
        self._dropped: dict[str, int | None] = {}
        self._last_sequence: dict[str, int] = {}
        self._types: dict[str, str] = {}
        self._subscriptions = []
        self._lock = threading.Lock()  # the recorder's state; taken before _file_lock, never after
        self._file_lock = threading.Lock()  # the MCAP writer
        self._queued: deque[tuple[int, int, bytes, int, int]] = deque()
        self._queued_bytes = 0
        self._overflowed: dict[str, int] = {}
        self._ready = threading.Condition(self._lock)
        self._write_error: OSError | None = None
        self._closed = False
        self._file = self._open_file()
        # Uncompressed (rosbag2's default) and without CRCs: in Python the CRCs cost 5 ms per megabyte
        # image, more than the rest of the write (tools/recorder_bench.py measures the recorder).
        self._writer = Writer(
            self._file, compression=CompressionType.NONE, chunk_size=CHUNK_SIZE, enable_crcs=False
        )
        self._writer.start(profile=PROFILE, library=LIBRARY)
        self._schema_ids: dict[str, int] = {}
        self._timer = None
        self._writer_thread = threading.Thread(target=self._write_queued, name="mcap-writer", daemon=True)
        self._writer_thread.start()
        try:
            self._discover()
        except McapRecordingError:
            self.close()
            raise
        if self._pending:
            self._timer = node.create_timer(discovery_period_s, self._discover)

    def _open_file(self):
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            return self._path.open("wb")
        except OSError as error:
            raise RecordingFileError(f"cannot create the MCAP file {self._path}: {error}") from error

    @property
    def path(self) -> Path:
        """The file being written."""
        return self._path

    @property
    def subscribed_topics(self) -> dict[str, str]:
        """Fully qualified topic name -> message type, for the topics subscribed so far."""
        with self._lock:
            return dict(self._types)

    @property
    def message_counts(self) -> dict[str, int]:
        """Messages written so far, per requested topic (fully qualified names)."""
        with self._lock:
            return dict(self._counts)

    def _discover(self) -> None:
        with self._lock:
            if self._closed:
                return
            for topic in list(self._pending):
                publishers = self._node.get_publishers_info_by_topic(topic)
                if publishers:
                    self._pending.remove(topic)
                    self._subscribe(topic, publishers)
            if not self._pending and self._timer is not None:
                self._timer.cancel()

    def _subscribe(self, topic: str, publishers: list[TopicEndpointInfo]) -> None:
        """Add the topic's channel (and its type's schema) to the file and subscribe; lock held."""
        types = sorted({publisher.topic_type for publisher in publishers})
        if len(types) != 1:
            raise McapRecordingError(f"topic {topic!r} is published with several types: {types}")
        type_name = types[0]
        definition = message_definition(type_name)
        msg_type = message_class(type_name)
        if type_name not in self._schema_ids:
            with self._file_lock:
                self._schema_ids[type_name] = self._writer.register_schema(
                    type_name, definition.encoding, definition.text.encode("utf-8")
                )
        metadata = {
            "offered_qos_profiles": offered_qos_profiles(publishers),
            "topic_type_hash": _topic_type_hash(publishers),
        }
        with self._file_lock:
            channel_id = self._writer.register_channel(
                topic, MESSAGE_ENCODING, self._schema_ids[type_name], metadata
            )
        self._types[topic] = type_name
        self._dropped[topic] = 0 if MessageInfo is not None and len(publishers) == 1 else None

        if MessageInfo is None:

            def on_message(data: bytes) -> None:
                self._write(topic, channel_id, data, None)

        else:

            def on_message(data: bytes, info: MessageInfo) -> None:
                self._write(topic, channel_id, data, info)

        qos = subscription_qos(publishers)
        self._subscriptions.append(self._node.create_subscription(msg_type, topic, on_message, qos, raw=True))

    def _write(self, topic: str, channel_id: int, data: bytes, info: dict | None) -> None:
        clock = self._node.get_clock()
        if info is None:  # Humble: the receipt time on the node's clock
            log_time = publish_time = clock.now().nanoseconds
            sequence = 0
        else:
            log_time = clock.now().nanoseconds if clock.ros_time_is_active else info["received_timestamp"]
            publish_time = info["source_timestamp"]
            sequence = (info.get("publication_sequence_number") or 0) & 0xFFFFFFFF
        with self._lock:
            if self._closed:
                return
            if info is not None and self._dropped.get(topic) is not None:
                self._count_drops(topic, info.get("publication_sequence_number"))
            if self._queued_bytes + len(data) > CACHE_BYTES:
                self._overflowed[topic] = self._overflowed.get(topic, 0) + 1
                return
            self._queued.append((channel_id, log_time, data, publish_time, sequence))
            self._queued_bytes += len(data)
            self._counts[topic] += 1
            self._ready.notify()

    def _write_queued(self) -> None:
        """The writer thread: the cached messages to the file, until closed and drained."""
        while True:
            with self._lock:
                while not self._queued and not self._closed:
                    self._ready.wait()
                if not self._queued:
                    return
                batch, self._queued = self._queued, deque()
            written = sum(len(item[2]) for item in batch)
            try:
                with self._file_lock:
                    for channel_id, log_time, data, publish_time, sequence in batch:
                        self._writer.add_message(channel_id, log_time, data, publish_time, sequence)
            except OSError as error:
                self._write_error = error
            with self._lock:
                self._queued_bytes -= written

    def _count_drops(self, topic: str, sequence: int | None) -> None:
        """Add the gap before ``sequence`` to the topic's drops; lock held."""
        if not sequence:  # the middleware gives no sequence numbers
            self._dropped[topic] = None
            return
        last = self._last_sequence.get(topic)
        if last is not None and sequence > last + 1:
            self._dropped[topic] += sequence - last - 1
        self._last_sequence[topic] = sequence

    @property
    def dropped(self) -> dict[str, int | None]:
        """Messages lost so far per subscribed topic (None: unknown), see :class:`RecordingSummary`."""
        with self._lock:
            return dict(self._dropped)

    def add_metadata(self, name: str, metadata: dict[str, str]) -> None:
        """Write an MCAP metadata record (rosbag2 readers skip it) into the file."""
        with self._lock:
            if self._closed:
                raise McapRecordingError(f"{self._path} is closed")
            with self._file_lock:
                self._writer.add_metadata(name, {key: str(value) for key, value in metadata.items()})

    def close(self) -> RecordingSummary:
        """Stop recording, write what is cached, finalise the file (summary, index, footer) and say what
        it holds. Calling it again returns the same summary."""
        with self._lock:
            closing = not self._closed
            if closing:
                self._closed = True
                if self._timer is not None:
                    self._node.destroy_timer(self._timer)
                for subscription in self._subscriptions:
                    self._node.destroy_subscription(subscription)
                self._ready.notify()
        if closing:
            self._writer_thread.join()
            try:
                if self._write_error is not None:
                    raise self._write_error
                with self._file_lock:
                    self._writer.finish()
                    self._file.close()
            except OSError as error:
                message = f"cannot write or finalise the MCAP file {self._path}: {error}"
                raise RecordingFileError(message) from error
        with self._lock:
            return RecordingSummary(
                self._path,
                dict(self._counts),
                dict(self._types),
                tuple(self._pending),
                dict(self._dropped),
                dict(self._overflowed),
            )

    def __enter__(self) -> McapRecorder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
