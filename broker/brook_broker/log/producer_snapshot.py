"""Producer-state snapshot files, ``<20-digit offset>.snapshot``, in Kafka's format (version 1).

`ProducerStateManager` writes one when a segment rolls and when the log closes, and on load
reads the newest one and replays batch headers after it. Layout (big-endian, Kafka's
``PID_SNAPSHOT_MAP_SCHEMA``)::

    version int16 (1) | crc uint32 (CRC-32C of everything after it) | entries: int32 count, then
    producer_id int64 | epoch int16 | last_sequence int32 | last_offset int64 | offset_delta int32
    | timestamp int64 | coordinator_epoch int32 | current_txn_first_offset int64 (-1: none)

Kafka writes one entry per producer: only its newest batch, so after a restart it can
recognise a retry of that batch alone. Brook writes one entry per *retained* batch (up to
five, oldest first) under the same producer id. Kafka's reader keeps the last entry per
producer id (the newest batch), so the files stay readable by Kafka; Brook's reader folds
them back into the five-batch window, so duplicates are still recognised after a restart.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import crc32c

from brook_broker.log import checkpoint

SNAPSHOT_SUFFIX = ".snapshot"
PRODUCER_SNAPSHOT_VERSION = 1
_HEAD = struct.Struct(">hIi")
_VERSION_AND_CRC = struct.Struct(">hI")
_ENTRY = struct.Struct(">qhiqiqiq")
#: The CRC covers the bytes after ``version`` and ``crc``.
_ENTRIES_START = _VERSION_AND_CRC.size


class CorruptSnapshotError(Exception):
    """A snapshot that fails its CRC or schema; the loader deletes it and uses an older one."""


class SnapshotEntry(NamedTuple):
    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_offset: int
    offset_delta: int
    timestamp: int
    coordinator_epoch: int
    current_txn_first_offset: int


def snapshot_file_name(offset: int) -> str:
    return f"{offset:020d}{SNAPSHOT_SUFFIX}"


def snapshot_offset(path: Path) -> int | None:
    """The offset a snapshot file is named after, or None if it is not a snapshot file."""
    stem = path.name.removesuffix(SNAPSHOT_SUFFIX)
    if stem == path.name or not stem.isdigit():
        return None
    return int(stem)


def list_snapshot_offsets(log_dir: Path) -> list[int]:
    offsets = (snapshot_offset(path) for path in log_dir.glob(f"*{SNAPSHOT_SUFFIX}"))
    return sorted(offset for offset in offsets if offset is not None)


def encode_snapshot(entries: Iterable[SnapshotEntry]) -> bytes:
    # Kafka's ArrayOf: an int32 count, then the entries; all of it is under the CRC.
    rows = [_ENTRY.pack(*entry) for entry in entries]
    body = struct.pack(">i", len(rows)) + b"".join(rows)
    return _VERSION_AND_CRC.pack(PRODUCER_SNAPSHOT_VERSION, crc32c.crc32c(body)) + body


def decode_snapshot(data: bytes) -> list[SnapshotEntry]:
    if len(data) < _HEAD.size:
        raise CorruptSnapshotError("snapshot is shorter than its header")
    version, crc, count = _HEAD.unpack_from(data, 0)
    if version != PRODUCER_SNAPSHOT_VERSION:
        raise CorruptSnapshotError(f"snapshot has unknown version {version}")
    if crc32c.crc32c(memoryview(data)[_ENTRIES_START:]) != crc:
        raise CorruptSnapshotError("snapshot fails its CRC-32C check")
    if count < 0 or len(data) != _HEAD.size + count * _ENTRY.size:
        raise CorruptSnapshotError(f"snapshot declares {count} entries but has {len(data)} bytes")
    return [SnapshotEntry._make(fields) for fields in _ENTRY.iter_unpack(memoryview(data)[_HEAD.size :])]


def write_snapshot(path: Path, entries: Iterable[SnapshotEntry], *, sync: bool) -> None:
    checkpoint.write_atomically(path, encode_snapshot(entries), sync=sync)


def read_snapshot(path: Path) -> list[SnapshotEntry]:
    return decode_snapshot(path.read_bytes())
