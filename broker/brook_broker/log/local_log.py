"""`LocalLog`: a partition's segments on disk, with roll, read, truncation and deletion (Kafka's LocalLog).

`UnifiedLog` owns one and layers validation, producer state, leader epochs, the high
watermark and retention on top. `LocalLog` knows nothing of those: it appends bytes whose
offsets are assigned, tracks the log end offset and the recovery point (everything below it
is fsync'd), and deletes segments in two steps (rename now, close and unlink after
``file.delete.delay.ms``) so in-flight fetches keep working.
"""

from __future__ import annotations

import bisect
import logging
import random
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from brook_broker.config.log_config import LogConfig
from brook_broker.log.clock import Clock
from brook_broker.log.log_file import Buffer
from brook_broker.log.results import EMPTY_RECORDS, FetchDataInfo, LogOffsetMetadata
from brook_broker.log.segment import (
    CLEANED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SWAP_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
    segment_file_name,
)
from brook_broker.protocol.errors import KafkaStorageError

logger = logging.getLogger(__name__)


class LogSegments:
    """Segments sorted by base offset, with floor/higher lookups (Kafka's LogSegments)."""

    def __init__(self) -> None:
        self._bases: list[int] = []
        self._segments: list[LogSegment] = []

    def __len__(self) -> int:
        return len(self._segments)

    def __iter__(self) -> Iterator[LogSegment]:
        # A copy: callers delete segments while iterating.
        return iter(list(self._segments))

    def add(self, segment: LogSegment) -> None:
        # Appends add at the end; bisect keeps loading (unordered) and replacement correct.
        index = bisect.bisect_left(self._bases, segment.base_offset)
        if index < len(self._bases) and self._bases[index] == segment.base_offset:
            self._segments[index] = segment
        else:
            self._bases.insert(index, segment.base_offset)
            self._segments.insert(index, segment)

    def remove(self, segment: LogSegment) -> None:
        index = bisect.bisect_left(self._bases, segment.base_offset)
        if index < len(self._bases) and self._segments[index] is segment:
            del self._bases[index]
            del self._segments[index]

    def contains(self, base_offset: int) -> bool:
        index = bisect.bisect_left(self._bases, base_offset)
        return index < len(self._bases) and self._bases[index] == base_offset

    def get(self, base_offset: int) -> LogSegment | None:
        index = bisect.bisect_left(self._bases, base_offset)
        if index < len(self._bases) and self._bases[index] == base_offset:
            return self._segments[index]
        return None

    @property
    def first(self) -> LogSegment:
        return self._segments[0]

    @property
    def last(self) -> LogSegment:
        return self._segments[-1]

    @property
    def base_offsets(self) -> list[int]:
        return list(self._bases)

    def floor_index(self, offset: int) -> int:
        """Index of the segment that would hold ``offset`` (greatest base <= offset); -1 if none."""
        return bisect.bisect_right(self._bases, offset) - 1

    def floor_segment(self, offset: int) -> LogSegment | None:
        index = self.floor_index(offset)
        return self._segments[index] if index >= 0 else None

    def higher_segment(self, offset: int) -> LogSegment | None:
        index = bisect.bisect_right(self._bases, offset)
        return self._segments[index] if index < len(self._segments) else None

    def from_offset(self, offset: int) -> list[LogSegment]:
        """The segment holding ``offset`` and every later one."""
        return self._segments[max(self.floor_index(offset), 0) :]

    def size_in_bytes(self) -> int:
        return sum(segment.size for segment in self._segments)


class LocalLog:
    """One partition directory's segments, log end offset and recovery point."""

    def __init__(
        self,
        directory: Path,
        *,
        config: LogConfig,
        segments: LogSegments,
        log_end_offset: int,
        recovery_point: int,
        time: Clock,
    ) -> None:
        self.dir = directory
        self.config = config
        self.segments = segments
        self.log_end_offset = log_end_offset
        self.recovery_point = recovery_point
        self._time = time
        #: Segments renamed to ``.deleted``, closed and unlinked once their deadline passes.
        self._pending_deletes: list[tuple[int, LogSegment]] = []
        # One-slot cache for `offset_metadata`: consecutive reads share a high watermark.
        self._offset_metadata_cache: LogOffsetMetadata | None = None

    @staticmethod
    def open_segment(directory: Path, *, base_offset: int, config: LogConfig, time: Clock) -> LogSegment:
        jitter = random.randrange(config.segment_jitter_ms) if config.segment_jitter_ms > 0 else 0
        return LogSegment(directory, base_offset=base_offset, config=config, time=time, roll_jitter_ms=jitter)

    @property
    def active_segment(self) -> LogSegment:
        return self.segments.last

    @property
    def log_end_offset_metadata(self) -> LogOffsetMetadata:
        active = self.active_segment
        return LogOffsetMetadata(self.log_end_offset, active.base_offset, active.size)

    def offset_metadata(self, offset: int) -> LogOffsetMetadata:
        """Where the batch holding ``offset`` starts on disk: the byte bound of a read up to ``offset``."""
        if offset >= self.log_end_offset:
            return self.log_end_offset_metadata
        cached = self._offset_metadata_cache
        if cached is not None and cached.message_offset == offset:
            return cached
        segment = self.segments.floor_segment(offset) or self.segments.first
        mapping = segment.translate_offset(offset)
        position = segment.size if mapping is None else mapping.position
        self._offset_metadata_cache = LogOffsetMetadata(offset, segment.base_offset, position)
        return self._offset_metadata_cache

    def append(
        self,
        *,
        last_offset: int,
        largest_timestamp: int,
        offset_of_max_timestamp: int,
        buffers: Sequence[Buffer],
        size: int,
    ) -> None:
        self.active_segment.append(
            largest_offset=last_offset,
            largest_timestamp=largest_timestamp,
            offset_of_max_timestamp=offset_of_max_timestamp,
            buffers=buffers,
            size=size,
        )
        self.log_end_offset = last_offset + 1

    def roll(self, expected_next_offset: int | None = None) -> LogSegment:
        """Start a new active segment at the log end offset (or ``expected_next_offset`` if larger)."""
        new_offset = max(expected_next_offset or 0, self.log_end_offset)
        active = self.active_segment
        if self.segments.contains(new_offset):
            if active.base_offset == new_offset and active.size == 0:
                # An empty active segment at the same offset: replace it rather than fail.
                logger.warning("%s: replacing empty active segment at %d", self.dir, new_offset)
                self.remove_and_delete_segments([active], now_ms=self._time())
            else:
                raise KafkaStorageError(f"{self.dir}: cannot roll to {new_offset}, a segment starts there")
        elif new_offset < active.base_offset:
            raise KafkaStorageError(
                f"{self.dir}: cannot roll to {new_offset} below segment {active.base_offset}"
            )
        else:
            # Files left at that name by an earlier crash hold nothing we need.
            for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX):
                (self.dir / segment_file_name(new_offset, suffix)).unlink(missing_ok=True)
        if len(self.segments):
            self.segments.last.on_become_inactive_segment()
        segment = self.open_segment(self.dir, base_offset=new_offset, config=self.config, time=self._time)
        self.segments.add(segment)
        return segment

    def read(
        self,
        start_offset: int,
        *,
        max_length: int,
        max_offset_metadata: LogOffsetMetadata,
        min_one_message: bool,
    ) -> FetchDataInfo:
        """Read from the segment holding ``start_offset`` on, never past ``max_offset_metadata``.

        Moves to the next segment when one has nothing at or after ``start_offset`` (its tail
        was truncated, or compaction left a gap).
        """
        empty = FetchDataInfo(LogOffsetMetadata(start_offset), EMPTY_RECORDS)
        if start_offset >= max_offset_metadata.message_offset:
            return empty
        for segment in self.segments.from_offset(start_offset):
            if segment.base_offset > max_offset_metadata.segment_base_offset:
                break
            if segment.base_offset == max_offset_metadata.segment_base_offset:
                max_position = max_offset_metadata.relative_position_in_segment
            else:
                max_position = segment.size
            info = segment.read(
                start_offset, max_size=max_length, max_position=max_position, min_one_message=min_one_message
            )
            if info is not None:
                return info
        return empty

    def truncate_to(self, offset: int, *, now_ms: int) -> int:
        """Remove everything at and after the batch holding ``offset``; returns the new log end offset."""
        self._offset_metadata_cache = None
        deletable = [segment for segment in self.segments if segment.base_offset > offset]
        self.remove_and_delete_segments(deletable, now_ms=now_ms)
        active = self.active_segment
        mapping = active.translate_offset(offset)
        active.truncate_to(offset)
        # Truncating inside a batch removes the whole batch; the log then ends at its base.
        self.log_end_offset = offset if mapping is None else min(offset, mapping.offset)
        self.recovery_point = min(self.recovery_point, self.log_end_offset)
        return self.log_end_offset

    def truncate_fully_and_start_at(self, offset: int, *, now_ms: int) -> None:
        """Delete every segment and continue with an empty one at ``offset``."""
        # Renaming the old files first frees their names, even if a segment started at ``offset``.
        self.remove_and_delete_segments(list(self.segments), now_ms=now_ms)
        self.segments.add(
            self.open_segment(self.dir, base_offset=offset, config=self.config, time=self._time)
        )
        self.log_end_offset = offset
        self.recovery_point = offset

    def remove_and_delete_segments(self, segments: Sequence[LogSegment], *, now_ms: int) -> None:
        """Take segments out of the log and rename them ``*.deleted``; unlinked later."""
        deadline = now_ms + self.config.file_delete_delay_ms
        self._offset_metadata_cache = None
        for segment in segments:
            self.segments.remove(segment)
            try:
                segment.rename_to_deleted()
            except FileNotFoundError:
                logger.warning("%s: files of %s were already gone", self.dir, segment)
            self._pending_deletes.append((deadline, segment))

    def replace_segments(
        self, new_segments: Sequence[LogSegment], old_segments: Sequence[LogSegment], *, now_ms: int
    ) -> None:
        """Swap cleaned segments (``*.cleaned`` files) in for the segments they were cleaned from.

        Kafka's ``LocalLog.replaceSegments``, in the order that makes a crash at any point
        recoverable by the loader (`log_loader.complete_interrupted_swaps`):

        1. ``*.cleaned`` -> ``*.swap``: from here on the new data is committed; a crash before
           this leaves the old segments and a ``.cleaned`` leftover that loading deletes;
        2. the old segments are renamed ``*.deleted`` (unlinked after ``file.delete.delay.ms``,
           so in-flight fetches finish); loading deletes any old file a ``.swap`` covers;
        3. ``*.swap`` -> the plain names.

        The caller holds the log's lock and fsyncs the directory afterwards.
        """
        self._offset_metadata_cache = None
        ordered = sorted(new_segments, key=lambda segment: segment.base_offset)
        for segment in reversed(ordered):
            segment.change_file_suffixes(CLEANED_SUFFIX, SWAP_SUFFIX)
        for segment in reversed(ordered):
            # Replaces the entry of an old segment with the same base offset.
            self.segments.add(segment)
        deadline = now_ms + self.config.file_delete_delay_ms
        for segment in old_segments:
            self.segments.remove(segment)  # a no-op for an entry the new segment replaced
            segment.rename_to_deleted()
            self._pending_deletes.append((deadline, segment))
        for segment in ordered:
            segment.change_file_suffixes(SWAP_SUFFIX, "")

    def delete_pending_segments(self, now_ms: int, *, force: bool = False) -> int:
        """Close and unlink deleted segments whose delay has passed; returns how many."""
        due = [item for item in self._pending_deletes if force or item[0] <= now_ms]
        self._pending_deletes = [item for item in self._pending_deletes if not (force or item[0] <= now_ms)]
        for _, segment in due:
            segment.close_handlers()
            segment.delete_files()
        return len(due)

    def unflushed_segments(self, up_to_offset: int) -> list[LogSegment]:
        """Segments holding offsets in [recovery point, ``up_to_offset``): what a flush must fsync."""
        return [
            segment
            for segment in self.segments.from_offset(self.recovery_point)
            if segment.base_offset < up_to_offset
        ]

    def close(self) -> None:
        self.delete_pending_segments(self._time(), force=True)
        for segment in self.segments:
            segment.close()

    def close_handlers(self) -> None:
        self.delete_pending_segments(self._time(), force=True)
        for segment in self.segments:
            segment.close_handlers()

    def delete_all(self) -> None:
        """Close everything and remove the partition directory."""
        self.close_handlers()
        shutil.rmtree(self.dir, ignore_errors=True)
