"""The ``.cleaned`` segment a group of source segments is copied into (Kafka's cleanSegments).

`cleaner.Cleaner` splits the segments of a pass into groups with `group_segments_by_size`,
makes one segment per group with `create_cleaned_segment`, appends the batches it keeps
through `PendingAppends` and, when the copy fails or the log refuses the swap, removes the
segment again with `discard`. Nothing here reads the sources or decides what to keep.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from brook_broker.config.log_config import LogConfig
from brook_broker.log.cleaner_manager import SegmentView
from brook_broker.log.log_file import Buffer
from brook_broker.log.segment import (
    CLEANED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
    segment_file_name,
)
from brook_broker.protocol.records import NO_TIMESTAMP, read_header

_INT32_MAX = 2**31 - 1
#: Bytes of a time index entry (an offset index entry takes 8).
_LARGEST_INDEX_ENTRY = 12


def group_segments_by_size(
    segments: Sequence[SegmentView], *, max_size: int, max_index_size: int, first_uncleanable_offset: int
) -> list[list[SegmentView]]:
    """Consecutive segments whose data and indexes fit one segment (Kafka's groupSegmentsBySize)."""
    groups: list[list[SegmentView]] = []
    remaining = list(segments)
    while remaining:
        group = [remaining.pop(0)]
        log_size, index_size, time_index_size = group[0].size, group[0].index_bytes, group[0].time_index_bytes
        while remaining:
            following = remaining[0]
            # Offsets of the group must stay within int32 of its base (the index's relative offsets).
            last_offset = remaining[1].base_offset - 1 if len(remaining) > 1 else first_uncleanable_offset - 1
            if (
                log_size + following.size > max_size
                or index_size + following.index_bytes > max_index_size
                or time_index_size + following.time_index_bytes > max_index_size
                or (following.size > 0 and last_offset - group[0].base_offset > _INT32_MAX)
            ):
                break
            group.append(remaining.pop(0))
            log_size += following.size
            index_size += following.index_bytes
            time_index_size += following.time_index_bytes
        groups.append(group)
    return groups


def create_cleaned_segment(
    directory: Path, group: Sequence[SegmentView], *, config: LogConfig, now_ms: int
) -> LogSegment:
    """An empty ``<base>.log.cleaned`` segment (and indexes) for ``group``, based at its first offset."""
    base = group[0].base_offset
    for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX):
        # A leftover of an aborted pass would be appended to, not replaced.
        (directory / (segment_file_name(base, suffix) + CLEANED_SUFFIX)).unlink(missing_ok=True)
    return LogSegment(
        directory,
        base_offset=base,
        config=_cleaned_segment_config(config, group),
        time=lambda: now_ms,
        file_suffix=CLEANED_SUFFIX,
    )


def discard(segment: LogSegment) -> None:
    """Close and delete a cleaned segment that will not be swapped in."""
    segment.close_handlers()
    segment.delete_files()


class PendingAppends:
    """Batches for the cleaned segment, appended about every ``index.interval.bytes``.

    `LogSegment.append` indexes the start of an append, so appending in steps of the index
    interval gives the cleaned segment an index as dense as a produced one, without a write
    per batch.
    """

    def __init__(self, segment: LogSegment) -> None:
        self._segment = segment
        self._buffers: list[Buffer] = []
        self._size = 0
        self._last_offset = -1
        self._max_timestamp = NO_TIMESTAMP
        self._offset_of_max_timestamp = -1

    def add(self, batch: bytes | memoryview) -> None:
        header = read_header(batch)
        self._buffers.append(batch)
        self._size += header.size
        self._last_offset = header.last_offset
        if header.max_timestamp > self._max_timestamp:
            self._max_timestamp, self._offset_of_max_timestamp = header.max_timestamp, header.last_offset
        if self._size >= self._segment.index_interval_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._buffers:
            return
        self._segment.append(
            largest_offset=self._last_offset,
            largest_timestamp=self._max_timestamp,
            offset_of_max_timestamp=self._offset_of_max_timestamp,
            buffers=self._buffers,
            size=self._size,
        )
        self._buffers, self._size = [], 0
        self._max_timestamp, self._offset_of_max_timestamp = NO_TIMESTAMP, -1


def _cleaned_segment_config(config: LogConfig, group: Sequence[SegmentView]) -> LogConfig:
    """The config of a cleaned segment, with indexes preallocated to what it can need.

    Kafka preallocates ``segment.index.bytes`` and trims on close; freeing that space again
    costs milliseconds per file on some filesystems, for every group cleaned. A cleaned
    segment gets at most one entry per ``index.interval.bytes`` of data plus one per source
    segment (each source ends with an append), in each index. Its data is usually smaller
    than the sources', but re-encoding can grow a batch (a delete horizon lengthens the
    timestamp deltas, another compressor may do worse), hence room for four times as much.
    """
    data_bound = 4 * sum(view.size for view in group)
    entries = data_bound // max(config.index_interval_bytes, 1) + len(group) + 2
    needed = entries * _LARGEST_INDEX_ENTRY
    return dataclasses.replace(config, segment_index_bytes=min(config.segment_index_bytes, needed))
