"""What the log returns to its callers: append results, read slices, offset lookups.

`UnifiedLog.append_as_leader` returns `LogAppendInfo` (the produce response's fields),
`UnifiedLog.read` returns `FetchDataInfo` whose `FileRecords` is a range of a segment file
that the server sends with ``os.sendfile`` (zero-copy) or reads with `FileRecords.read_bytes`.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from brook_broker.protocol.records import NO_PARTITION_LEADER_EPOCH, NO_TIMESTAMP


class FileRecords(NamedTuple):
    """A byte range of a segment file: whole record batches, ready to send as they are.

    The descriptor belongs to the segment; the caller never closes it. It stays valid for at
    least ``file.delete.delay.ms`` after the segment is deleted (the log closes deleted
    segments only after that delay), so an in-flight fetch can finish its ``sendfile``.
    """

    fd: int
    position: int
    size: int

    def read_bytes(self) -> bytes:
        """The bytes of the range (a copy); short only if the file was truncated meanwhile."""
        if self.size == 0:
            return b""
        data = os.pread(self.fd, self.size, self.position)
        if len(data) == self.size:
            return data
        # pread may return less than asked near a concurrent truncation; keep what is there.
        parts = [data]
        got = len(data)
        while got < self.size:
            more = os.pread(self.fd, self.size - got, self.position + got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)


EMPTY_RECORDS = FileRecords(-1, 0, 0)


class LogOffsetMetadata(NamedTuple):
    """An offset with its place on disk (Kafka's ``LogOffsetMetadata``), for fetch size accounting."""

    message_offset: int
    segment_base_offset: int = -1
    relative_position_in_segment: int = -1


class FetchDataInfo(NamedTuple):
    """One read: where it starts and the whole batches found (Kafka's ``FetchDataInfo``).

    ``first_entry_incomplete`` is set when the first batch did not fit ``max_bytes`` and
    ``min_one_message`` was false; the records are then empty.
    """

    fetch_offset_metadata: LogOffsetMetadata
    records: FileRecords
    first_entry_incomplete: bool = False


class TimestampAndOffset(NamedTuple):
    """A ListOffsets answer: a record's timestamp, offset and its batch's leader epoch."""

    timestamp: int
    offset: int
    leader_epoch: int = NO_PARTITION_LEADER_EPOCH


class LogOffsetPosition(NamedTuple):
    """A batch located in a segment file: an offset in it, where it starts, how long it is."""

    offset: int
    position: int
    size: int


class LogAppendInfo(NamedTuple):
    """The outcome of one append, with the fields a produce response needs.

    For a duplicate (an idempotent producer's retry of a batch already in the log) nothing
    was written and the offsets are those of the original batch. A NamedTuple rather than a
    frozen dataclass: one is built per produce, and this is several times cheaper to create.
    """

    first_offset: int
    last_offset: int
    max_timestamp: int = NO_TIMESTAMP
    offset_of_max_timestamp: int = -1
    #: The broker's time stamped into the batches, or -1 for ``CreateTime`` topics.
    log_append_time_ms: int = NO_TIMESTAMP
    log_start_offset: int = 0
    record_count: int = 0
    valid_bytes: int = 0
    duplicate: bool = False
