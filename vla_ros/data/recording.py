"""Reading a recording of ROS topics without ROS: an MCAP file as rosbag2 (or ``vla-ros record``)
writes it, or a rosbag2 directory holding one or more such files.

Messages are decoded from their CDR bytes with the ``ros2msg`` schema stored in the file (the mcap
ROS 2 decoder), so no message package is needed. A file cut short (a recorder that crashed before it
wrote its footer) is read up to its last complete record, and :attr:`Recording.complete` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcap.exceptions import McapError
from mcap.reader import SeekingReader
from mcap.records import Channel, Metadata, Schema
from mcap.records import Message as McapMessage
from mcap.stream_reader import StreamReader
from mcap_ros2.decoder import DecoderFactory

MCAP_SUFFIX = ".mcap"
# The MCAP metadata record ``vla-ros record`` writes into every demonstration (instruction, task).
DEMONSTRATION_METADATA = "vla_ros.demonstration"


class RecordingError(ValueError):
    """A recording is missing, unreadable or lacks what is asked of it."""


@dataclass(frozen=True)
class Message:
    """One decoded message: its topic, the recorder's receipt time (ns) and the message."""

    topic: str
    log_time_ns: int
    message: Any


def recording_files(path: Path) -> list[Path]:
    """The MCAP files of a recording: ``path`` itself, or the ``.mcap`` files of a rosbag2 directory.

    A rosbag2 ``.db3`` (sqlite3) recording is refused with how to convert it.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix == ".db3":
            raise RecordingError(
                f"{path} is a rosbag2 sqlite3 recording: convert it to MCAP first with "
                f"'ros2 bag convert -i {path.parent} -o out.yaml' (storage_id: mcap in out.yaml)"
            )
        return [path]
    if path.is_dir():
        files = sorted(path.glob(f"*{MCAP_SUFFIX}")) + sorted(path.glob(f"*{MCAP_SUFFIX}.partial"))
        if files:
            return files
        if any(path.glob("*.db3")):
            return recording_files(next(path.glob("*.db3")))
        raise RecordingError(f"{path} holds no {MCAP_SUFFIX} file")
    raise RecordingError(f"recording not found: {path}")


class Recording:
    """The topics, types and metadata of a recording, and its messages decoded on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.files = recording_files(self.path)
        self.topics: dict[str, str] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self._cut_short: set[Path] = set()
        for file in self.files:
            self._read_summary(file)

    @property
    def complete(self) -> bool:
        """Every file has its footer (False: a recorder stopped before it finished a file)."""
        return not self._cut_short

    def _read_summary(self, file: Path) -> None:
        with file.open("rb") as stream:
            try:
                reader = SeekingReader(stream)
                summary = reader.get_summary()
                if summary is None:
                    raise McapError("no summary section")
                schemas = summary.schemas
                for channel in summary.channels.values():
                    self.topics[channel.topic] = schemas[channel.schema_id].name
                self.metadata.update({m.name: dict(m.metadata) for m in reader.iter_metadata()})
                return
            except (McapError, EOFError, ValueError, OSError):
                self._cut_short.add(file)
        topics, metadata = _stream_summary(file)  # no footer: what was written, record by record
        self.topics.update(topics)
        self.metadata.update(metadata)

    def require(self, topics: Iterable[str]) -> None:
        """Raise a :class:`RecordingError` naming every topic of ``topics`` the recording lacks."""
        missing = [topic for topic in topics if topic not in self.topics]
        if missing:
            raise RecordingError(
                f"{self.path} lacks the topic(s) {', '.join(missing)}; it has: "
                f"{', '.join(sorted(self.topics)) or 'none'}"
            )

    def messages(self, topics: Iterable[str]) -> Iterator[Message]:
        """The decoded messages of ``topics``, file by file, in receipt order within each file."""
        wanted = sorted(set(topics))
        for file in self.files:
            if file not in self._cut_short:
                with file.open("rb") as stream:
                    reader = SeekingReader(stream, decoder_factories=[DecoderFactory()])
                    try:
                        for _, channel, message, decoded in reader.iter_decoded_messages(topics=wanted):
                            yield Message(channel.topic, message.log_time, decoded)
                    except (McapError, EOFError) as error:
                        raise RecordingError(f"{file}: unreadable: {error}") from error
            else:
                yield from (m for m in _stream_messages(file) if m.topic in wanted)


def _stream_records(file: Path) -> Iterator[Any]:
    """The records of a file read front to back (chunks expanded), up to the first incomplete one."""
    with file.open("rb") as stream:
        records = StreamReader(stream).records
        while True:
            try:
                yield next(records)
            except (StopIteration, McapError, EOFError):
                return


def _stream_summary(file: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Topic -> type and the metadata records of a file without a footer."""
    schemas: dict[int, str] = {}
    topics: dict[str, str] = {}
    metadata: dict[str, dict[str, str]] = {}
    for record in _stream_records(file):
        if isinstance(record, Schema):
            schemas[record.id] = record.name
        elif isinstance(record, Channel):
            topics[record.topic] = schemas.get(record.schema_id, "")
        elif isinstance(record, Metadata):
            metadata[record.name] = dict(record.metadata)
    return topics, metadata


def _stream_messages(file: Path) -> Iterator[Message]:
    """The decoded messages of a file without a footer, in the order they were written."""
    factory = DecoderFactory()
    schemas: dict[int, Schema] = {}
    channels: dict[int, tuple[Channel, Any]] = {}
    for record in _stream_records(file):
        if isinstance(record, Schema):
            schemas[record.id] = record
        elif isinstance(record, Channel):
            decoder = factory.decoder_for(record.message_encoding, schemas.get(record.schema_id))
            channels[record.id] = (record, decoder)
        elif isinstance(record, McapMessage) and record.channel_id in channels:
            channel, decoder = channels[record.channel_id]
            if decoder is not None:
                yield Message(channel.topic, record.log_time, decoder(record.data))
