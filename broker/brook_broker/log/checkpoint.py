"""Kafka's small text files next to the data, read and written in Kafka's formats.

- per log directory (written by `LogManager`): ``recovery-point-offset-checkpoint``,
  ``log-start-offset-checkpoint``, ``replication-offset-checkpoint`` (``0\\n<count>\\n<topic>
  <partition> <offset>\\n``), ``meta.properties`` and the ``.kafka_cleanshutdown`` marker;
- per partition: ``leader-epoch-checkpoint`` (``0\\n<count>\\n<epoch> <offset>\\n``, written by
  `LeaderEpochFileCache`) and ``partition.metadata`` (written by `UnifiedLog`).

Every write goes to ``<name>.tmp``, is fsync'd, renamed over the old file and the directory
fsync'd, as Kafka's ``CheckpointFile`` does: a crash leaves the old or the new content,
never a torn file. A malformed file raises `KafkaStorageError`; callers decide whether
that is fatal or means "start from scratch".
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

from brook_broker.protocol.errors import KafkaStorageError
from brook_broker.protocol.types import TopicPartition, uuid_from_base64, uuid_to_base64

CHECKPOINT_VERSION = 0
RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
REPLICATION_OFFSET_CHECKPOINT = "replication-offset-checkpoint"
LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
PARTITION_METADATA = "partition.metadata"
META_PROPERTIES = "meta.properties"
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see either the old or the new file."""
    # Kafka's name for the temporary file; the loader deletes ``*.tmp`` left by a crash.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    # rename(2) is atomic: readers and a crash see the old file or the new one.
    os.replace(tmp, path)
    if sync:
        fsync_dir(path.parent)


def _read_entries(path: Path, *, fields: int) -> list[list[str]] | None:
    """The entry lines of a version-0 checkpoint file, split into ``fields`` words; None if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    lines = text.splitlines()
    try:
        if int(lines[0]) != CHECKPOINT_VERSION:
            raise KafkaStorageError(f"unrecognised version {lines[0]!r} in checkpoint file {path}")
        count = int(lines[1])
    except (IndexError, ValueError) as exc:
        raise KafkaStorageError(f"malformed header in checkpoint file {path}") from exc
    # A count that disagrees with the lines means a torn or hand-edited file: refuse it
    # rather than recover from a wrong offset.
    entries = [line.split() for line in lines[2:] if line.strip()]
    if len(entries) != count or any(len(words) != fields for words in entries):
        raise KafkaStorageError(f"expected {count} entries of {fields} fields in checkpoint file {path}")
    return entries


def _render(entries: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in [str(CHECKPOINT_VERSION), str(len(entries)), *entries]).encode()


def read_offset_checkpoint(path: Path) -> dict[TopicPartition, int]:
    """``topic partition offset`` lines; an absent file reads as empty (a fresh log directory)."""
    entries = _read_entries(path, fields=3)
    if entries is None:
        return {}
    try:
        return {TopicPartition(topic, int(partition)): int(offset) for topic, partition, offset in entries}
    except ValueError as exc:
        raise KafkaStorageError(f"malformed entry in checkpoint file {path}") from exc


def write_offset_checkpoint(path: Path, offsets: Mapping[TopicPartition, int]) -> None:
    # Topic names cannot contain spaces, so a space-separated line is unambiguous (as in Kafka).
    lines = [f"{tp.topic} {tp.partition} {offset}" for tp, offset in offsets.items()]
    write_atomically(path, _render(lines))


def read_leader_epoch_checkpoint(path: Path) -> list[tuple[int, int]]:
    """``epoch start_offset`` lines in file order; absent file: no epochs known."""
    entries = _read_entries(path, fields=2)
    if entries is None:
        return []
    try:
        return [(int(epoch), int(offset)) for epoch, offset in entries]
    except ValueError as exc:
        raise KafkaStorageError(f"malformed entry in checkpoint file {path}") from exc


def write_leader_epoch_checkpoint(path: Path, entries: Iterable[tuple[int, int]]) -> None:
    write_atomically(path, _render([f"{epoch} {offset}" for epoch, offset in entries]))


def read_partition_metadata(path: Path) -> uuid.UUID | None:
    """The topic id recorded in ``partition.metadata`` (``version: 0`` / ``topic_id: <base64>``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    # Kafka's PartitionMetadataFile: "key: value" lines, version first.
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    if fields.get("version") != "0" or "topic_id" not in fields:
        raise KafkaStorageError(f"malformed partition metadata file {path}")
    try:
        return uuid_from_base64(fields["topic_id"].strip())
    except ValueError as exc:
        raise KafkaStorageError(f"malformed topic id in {path}") from exc


def write_partition_metadata(path: Path, topic_id: uuid.UUID) -> None:
    write_atomically(path, f"version: 0\ntopic_id: {uuid_to_base64(topic_id)}\n".encode())


def read_properties(path: Path) -> dict[str, str] | None:
    """A Java ``.properties`` file as Kafka writes ``meta.properties`` (no escapes, ``#`` comments)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        result[key.strip()] = value.strip()
    return result


def write_properties(path: Path, properties: Mapping[str, str]) -> None:
    # Java's Properties.store writes a comment header; Kafka's reader ignores it.
    body = "#\n" + "".join(f"{key}={value}\n" for key, value in sorted(properties.items()))
    write_atomically(path, body.encode())


def write_clean_shutdown_marker(log_dir: Path, *, broker_epoch: int = -1) -> None:
    """Kafka 3.7+ writes a small JSON document into ``.kafka_cleanshutdown``; its presence is what counts."""
    body = json.dumps({"version": 0, "brokerEpoch": broker_epoch}, separators=(",", ":"))
    write_atomically(log_dir / CLEAN_SHUTDOWN_FILE, body.encode())


def has_clean_shutdown_marker(log_dir: Path) -> bool:
    return (log_dir / CLEAN_SHUTDOWN_FILE).exists()


def remove_clean_shutdown_marker(log_dir: Path) -> None:
    """Called once the directory is loaded, so that a crash from here on is detected next start."""
    with contextlib.suppress(FileNotFoundError):
        (log_dir / CLEAN_SHUTDOWN_FILE).unlink()
        fsync_dir(log_dir)
