"""`LogSegment`: one ``<base offset>.log`` file with its ``.index`` and ``.timeindex`` (Kafka's LogSegment).

`LocalLog` keeps a partition's segments and appends only to the last (active) one;
`UnifiedLog` asks `should_roll` before each append. A segment takes batches whose offsets are
already assigned and never parses records: timestamps and offsets come from batch headers.
The one exception is the timestamp search, which decodes the records of the single batch it
narrowed the search to (`offset_lookup.first_record_at_or_after`).

Deleting a segment renames its files to ``*.deleted`` and keeps the descriptors open: a
fetch may still be sending from them. `close_handlers` and `delete_files` run later, after
``file.delete.delay.ms``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from brook_broker.config.log_config import LogConfig
from brook_broker.log import offset_lookup
from brook_broker.log.clock import Clock
from brook_broker.log.index import OffsetIndex, TimeIndex, TimestampOffset
from brook_broker.log.log_file import Buffer, LogFile
from brook_broker.log.results import (
    FetchDataInfo,
    FileRecords,
    LogOffsetMetadata,
    LogOffsetPosition,
    TimestampAndOffset,
)
from brook_broker.protocol.records import (
    MAGIC_V2,
    NO_TIMESTAMP,
    RecordBatchHeader,
    crc_matches,
)

logger = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
DELETED_SUFFIX = ".deleted"
#: The log cleaner writes a segment as ``*.cleaned``, renames it ``*.swap`` to commit it, then
#: drops the suffix once the segments it replaces are gone (see `LocalLog.replace_segments`).
CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"
_INT32_MAX = 2**31 - 1


def segment_file_name(base_offset: int, suffix: str) -> str:
    """Kafka's names: the base offset zero-padded to 20 digits, then the file type."""
    return f"{base_offset:020d}{suffix}"


class LogSegment:
    """A log file plus its sparse offset and time indexes, covering offsets >= ``base_offset``."""

    def __init__(
        self,
        directory: Path,
        *,
        base_offset: int,
        config: LogConfig,
        time: Clock,
        roll_jitter_ms: int = 0,
        file_suffix: str = "",
    ) -> None:
        # ``file_suffix`` (Kafka's ``fileSuffix``): the log cleaner writes ``*.cleaned`` files.
        self.base_offset = base_offset
        self.log = LogFile(directory / (segment_file_name(base_offset, LOG_SUFFIX) + file_suffix))
        self.offset_index = OffsetIndex(
            directory / (segment_file_name(base_offset, INDEX_SUFFIX) + file_suffix),
            base_offset=base_offset,
            max_index_size=config.segment_index_bytes,
        )
        self.time_index = TimeIndex(
            directory / (segment_file_name(base_offset, TIME_INDEX_SUFFIX) + file_suffix),
            base_offset=base_offset,
            max_index_size=config.segment_index_bytes,
        )
        self.index_interval_bytes = config.index_interval_bytes
        self.roll_jitter_ms = roll_jitter_ms
        self._time = time
        # Wall-clock creation time: the roll clock for batches without timestamps.
        self._created_ms = time()
        self._bytes_since_last_index_entry = 0
        # Timestamp of the first batch, the clock for time-based rolling; loaded lazily.
        self._rolling_based_timestamp: int | None = None
        # A closed segment's time index ends with its max timestamp, so this is exact on reopen.
        self._max_timestamp_and_offset = self.time_index.last_entry

    @property
    def size(self) -> int:
        return self.log.size

    @property
    def max_timestamp_so_far(self) -> int:
        return self._max_timestamp_and_offset.timestamp

    @property
    def offset_of_max_timestamp_so_far(self) -> int:
        return self._max_timestamp_and_offset.offset

    def sanity_check(self) -> None:
        """Raise `CorruptIndexError` if an index cannot belong to this log file."""
        self.offset_index.sanity_check(log_size=self.size)
        self.time_index.sanity_check()

    def append(
        self,
        *,
        largest_offset: int,
        largest_timestamp: int,
        offset_of_max_timestamp: int,
        buffers: Sequence[Buffer],
        size: int,
    ) -> None:
        """Append whole batches (offsets assigned) and index them every ``index.interval.bytes``."""
        if size == 0:
            return
        physical_position = self.log.size
        if physical_position == 0:
            self._rolling_based_timestamp = largest_timestamp
        if not self.offset_index.can_append_offset(largest_offset):
            raise ValueError(f"offset {largest_offset} overflows segment {self.base_offset}")
        self.log.append(buffers, size)
        if largest_timestamp > self._max_timestamp_and_offset.timestamp:
            self._max_timestamp_and_offset = TimestampOffset(largest_timestamp, offset_of_max_timestamp)
        # One index entry per append, pointing at the start of the append: every indexed
        # position is a batch boundary, which `read` relies on to cut whole batches.
        if self._bytes_since_last_index_entry > self.index_interval_bytes:
            self.offset_index.append(largest_offset, physical_position)
            self.time_index.maybe_append(*self._max_timestamp_and_offset)
            self._bytes_since_last_index_entry = 0
        self._bytes_since_last_index_entry += size

    def translate_offset(self, offset: int, starting_position: int = 0) -> LogOffsetPosition | None:
        """The batch holding ``offset`` (or the first one after it); None past the end."""
        mapping = self.offset_index.lookup(offset)
        return self.log.search_for_offset_with_size(offset, max(mapping.position, starting_position))

    def read(
        self,
        start_offset: int,
        *,
        max_size: int,
        max_position: int | None = None,
        min_one_message: bool = False,
    ) -> FetchDataInfo | None:
        """Whole batches from the one containing ``start_offset``, up to ``max_size`` bytes.

        ``max_position`` (a batch boundary, e.g. where the high watermark's batch starts)
        bounds the slice. With ``min_one_message`` the first batch is returned even when it is
        larger than ``max_size`` (KIP-74). Returns None when no batch holds an offset >=
        ``start_offset``, so the caller moves on to the next segment.
        """
        if max_size < 0:
            raise ValueError(f"invalid max size {max_size} for a read from segment {self.base_offset}")
        limit = self.size if max_position is None else min(max_position, self.size)
        start = self.translate_offset(start_offset)
        if start is None:
            return None
        metadata = LogOffsetMetadata(start_offset, self.base_offset, start.position)
        if start.position >= limit:
            return FetchDataInfo(metadata, FileRecords(self.log.fd, start.position, 0))
        adjusted_max_size = max(max_size, start.size) if min_one_message else max_size
        if adjusted_max_size < start.size:
            return FetchDataInfo(
                metadata, FileRecords(self.log.fd, start.position, 0), first_entry_incomplete=True
            )
        end = start.position + adjusted_max_size
        if end >= limit:
            end = limit
        else:
            # Cut at a batch boundary: the index gives one close below ``end``, then scan headers.
            boundary = max(self.offset_index.lookup_position(end).position, start.position)
            end = self.log.last_batch_end(boundary, end)
        return FetchDataInfo(metadata, FileRecords(self.log.fd, start.position, end - start.position))

    def read_next_offset(self) -> int:
        """The offset after the last batch (scans from the last index entry)."""
        next_offset = self.base_offset
        start = self.offset_index.lookup(self.offset_index.last_offset).position
        for _, header in self.log.batch_headers(start):
            next_offset = header.next_offset
        return next_offset

    def recover(self, *, on_batch: Callable[[RecordBatchHeader], None] | None = None) -> int:
        """Rebuild both indexes from the log and cut it at the first batch that is not whole and valid.

        A batch is kept when its length fits the file, its magic is 2, its CRC-32C matches and
        its offsets fit this segment and increase. ``baseOffset`` and ``partitionLeaderEpoch``
        are outside the CRC (as in Kafka), so only these range checks guard them. Returns the
        number of bytes truncated.
        """
        self.offset_index.reset()
        self.time_index.reset()
        self._max_timestamp_and_offset = TimestampOffset(NO_TIMESTAMP, self.base_offset)
        valid_bytes = 0
        last_index_entry = 0
        previous_last_offset = self.base_offset - 1
        for position, header, data in self.log.batches():
            if (
                header.magic != MAGIC_V2
                or header.base_offset <= previous_last_offset
                or header.last_offset - self.base_offset > _INT32_MAX
                or not crc_matches(data, 0, header)
            ):
                logger.warning("segment %s: invalid batch at byte %d, truncating", self.log.path, position)
                break
            if header.max_timestamp > self._max_timestamp_and_offset.timestamp:
                self._max_timestamp_and_offset = TimestampOffset(header.max_timestamp, header.last_offset)
            if valid_bytes - last_index_entry > self.index_interval_bytes:
                self.offset_index.append(header.last_offset, valid_bytes)
                self.time_index.maybe_append(*self._max_timestamp_and_offset)
                last_index_entry = valid_bytes
            valid_bytes += header.size
            previous_last_offset = header.last_offset
            if on_batch is not None:
                on_batch(header)
        truncated = self.log.truncate_to(valid_bytes)
        if truncated:
            logger.warning("segment %s: truncated %d invalid bytes during recovery", self.log.path, truncated)
        self.offset_index.trim_to_valid_size()
        # A cleanly closed segment ends its time index with its max timestamp; do the same.
        self.time_index.maybe_append(*self._max_timestamp_and_offset, skip_full_check=True)
        self.time_index.trim_to_valid_size()
        self._bytes_since_last_index_entry = valid_bytes - last_index_entry
        self._rolling_based_timestamp = None
        return truncated

    def truncate_to(self, offset: int) -> int:
        """Remove batches whose last offset is >= ``offset`` (whole batches); returns bytes removed."""
        # Translate before the index shrinks, so the search starts from a nearby entry.
        mapping = self.translate_offset(offset)
        self.offset_index.truncate_to(offset)
        self.time_index.truncate_to(offset)
        # The segment becomes the active one again: give the indexes room to grow.
        self.offset_index.resize(self.offset_index.max_index_size)
        self.time_index.resize(self.time_index.max_index_size)
        truncated = 0 if mapping is None else self.log.truncate_to(mapping.position)
        if self.size == 0:
            self._created_ms = self._time()
            self._rolling_based_timestamp = None
        self._bytes_since_last_index_entry = 0
        self._max_timestamp_and_offset = self._read_largest_timestamp()
        return truncated

    def _read_largest_timestamp(self) -> TimestampOffset:
        """The max timestamp from the time index plus a header scan of what follows its last entry."""
        last = self.time_index.last_entry
        best = last
        start = self.offset_index.lookup(last.offset).position
        for _, header in self.log.batch_headers(start):
            if header.max_timestamp > best.timestamp:
                best = TimestampOffset(header.max_timestamp, header.last_offset)
        return best

    def should_roll(
        self,
        *,
        config: LogConfig,
        messages_size: int,
        max_timestamp_in_messages: int,
        max_offset_in_messages: int,
        now_ms: int,
    ) -> bool:
        """Kafka's roll rules: full by size, old by time (with jitter), an index full, offsets overflow."""
        size = self.size
        waited = self.time_waited_for_roll(now_ms, max_timestamp_in_messages)
        segment_ms = config.segment_ms
        if config.compact and config.max_compaction_lag_ms > 0:
            # Kafka's maxSegmentMs: the cleaner never touches the active segment, so it must
            # roll for max.compaction.lag.ms to be able to force a cleaning.
            segment_ms = min(segment_ms, config.max_compaction_lag_ms)
        return (
            size > config.segment_bytes - messages_size
            or (size > 0 and waited > segment_ms - self.roll_jitter_ms)
            or self.offset_index.is_full()
            or self.time_index.is_full()
            or not self.offset_index.can_append_offset(max_offset_in_messages)
        )

    def _load_first_batch_timestamp(self) -> None:
        # Read once from the file after a reopen; appends set it for a new segment.
        if self._rolling_based_timestamp is None:
            for _, header in self.log.batch_headers(0):
                self._rolling_based_timestamp = header.max_timestamp
                break

    def time_waited_for_roll(self, now_ms: int, message_timestamp: int) -> int:
        """Record time since the first batch, or wall time since creation if batches lack timestamps."""
        self._load_first_batch_timestamp()
        first = self._rolling_based_timestamp
        if first is not None and first >= 0:
            return message_timestamp - first
        return now_ms - self._created_ms

    def first_batch_timestamp(self) -> int | None:
        self._load_first_batch_timestamp()
        first = self._rolling_based_timestamp
        return first if first is not None and first >= 0 else None

    def largest_timestamp(self) -> int:
        """The largest record timestamp, or the file's mtime if no batch has one (retention's clock)."""
        if self._max_timestamp_and_offset.timestamp >= 0:
            return self._max_timestamp_and_offset.timestamp
        return self.log.last_modified_ms()

    def find_offset_by_timestamp(self, timestamp: int, starting_offset: int) -> TimestampAndOffset | None:
        """The first record with timestamp >= ``timestamp`` and offset >= ``starting_offset``.

        The time index narrows the search to a position; headers are scanned up to the first
        batch whose max timestamp qualifies, and only that batch's records are decoded.
        """
        indexed = self.time_index.lookup(timestamp)
        # Everything before the indexed entry is older than ``timestamp``: start scanning there.
        position = self.offset_index.lookup(max(indexed.offset, starting_offset)).position
        for _, header, data in self.log.batches(position):
            if header.last_offset < starting_offset or header.max_timestamp < timestamp:
                continue
            found = offset_lookup.first_record_at_or_after(
                data, header, timestamp=timestamp, starting_offset=starting_offset
            )
            if found is not None:
                return found
        return None

    def on_become_inactive_segment(self) -> None:
        """On roll: record the final max timestamp and trim the preallocated indexes."""
        self.time_index.maybe_append(*self._max_timestamp_and_offset, skip_full_check=True)
        self.offset_index.trim_to_valid_size()
        self.time_index.trim_to_valid_size()

    def resize_indexes(self, size: int) -> None:
        self.offset_index.resize(size)
        self.time_index.resize(size)

    def flush(self) -> None:
        self.log.flush()
        self.offset_index.flush()
        self.time_index.flush()

    def close(self) -> None:
        if self._max_timestamp_and_offset.timestamp != NO_TIMESTAMP:
            self.time_index.maybe_append(*self._max_timestamp_and_offset, skip_full_check=True)
        self.offset_index.close()
        self.time_index.close()
        self.log.close()

    def close_handlers(self) -> None:
        """Close descriptors without touching the files (they are being deleted)."""
        self.offset_index.close_handler()
        self.time_index.close_handler()
        self.log.close()

    def change_file_suffixes(self, old_suffix: str, new_suffix: str) -> None:
        for item in (self.log, self.offset_index, self.time_index):
            name = item.path.name.removesuffix(old_suffix) + new_suffix
            item.rename_to(item.path.with_name(name))

    def rename_to_deleted(self) -> None:
        self.change_file_suffixes("", DELETED_SUFFIX)

    def delete_files(self) -> None:
        self.log.delete()
        self.offset_index.delete()
        self.time_index.delete()

    def __repr__(self) -> str:
        return f"LogSegment(base_offset={self.base_offset}, size={self.size})"
