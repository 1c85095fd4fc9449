"""Cleaning one log: Kafka's ``Cleaner`` (doClean, buildOffsetMap, cleanSegments, cleanInto).

`log_cleaner.LogCleaner` hands a `LogToClean` (chosen and viewed by `cleaner_manager`) to
`Cleaner.clean`, in a worker thread. The pass:

1. builds the `OffsetMap` (key -> latest offset) from the dirty section [firstDirtyOffset,
   firstUncleanableOffset), whole batches only, until the map is full; the pass then covers
   the log up to ``endOffset`` = the last mapped offset + 1, which becomes the new first
   dirty offset in ``cleaner-offset-checkpoint``;
2. groups the segments below ``endOffset`` (the clean ones too: their records may be
   superseded now) so that each group fits one segment and its indexes
   (`cleaned_segment.group_segments_by_size`);
3. for each group, copies the records worth keeping (`record_filter.filter_batch`) into a
   ``<base>.log.cleaned`` segment (`cleaned_segment`), fsyncs it, and asks the log to swap
   it in (`UnifiedLog.replace_segments`, the only step under the log's lock).

A record is kept when it is past the map, or the latest of its key and either has a value
or is a tombstone whose batch's KIP-534 delete horizon has not passed. Keyless records are
dropped. Transactions are handled conservatively (there is no ``.txnindex`` to tell aborted
ones): records of transactional batches are never put in the map and are removed only when
a later non-transactional record of the key exists, their tombstones are never removed, and
control batches (markers) are kept. A batch that loses all its records is kept as an empty
batch when it is the last data batch of an active producer (so producer state can be rebuilt
from the log) or the last batch of its group (so a ``.swap`` left by a crash always reaches
the end of the segments it replaces; Kafka keeps the last batch of a cleaning round).

The sources are read through descriptors the cleaner opens itself, under the log's lock,
after checking the segment is still in the log: retention or a truncation may rename and
close the log's own descriptors meanwhile, and the swap is refused in that case.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable

from brook_broker.log import checkpoint
from brook_broker.log.cleaned_segment import (
    PendingAppends,
    create_cleaned_segment,
    discard,
    group_segments_by_size,
)
from brook_broker.log.cleaner_manager import LastRecord, LogToClean, SegmentView
from brook_broker.log.log_file import read_batches
from brook_broker.log.offset_map import OffsetMap
from brook_broker.log.record_filter import FilteredBatch, KeepRecord, delete_horizon_ms, filter_batch
from brook_broker.log.segment import LogSegment
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol import record_reader
from brook_broker.protocol.errors import CorruptRecordError
from brook_broker.protocol.records import RecordBatchHeader, crc_matches
from brook_broker.protocol.types import TopicPartition

logger = logging.getLogger(__name__)


class LogCleaningAbortedError(Exception):
    """The cleaning of a log stopped: shutdown, an abort request, or the log changed under it."""


@dataclasses.dataclass(slots=True)
class CleanerStats:
    """What one cleaning pass did (Kafka's CleanerStats)."""

    topic_partition: TopicPartition
    first_dirty_offset: int = 0
    end_offset: int = 0
    map_bytes_read: int = 0
    map_messages_read: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    messages_read: int = 0
    messages_written: int = 0
    invalid_messages: int = 0
    segments_cleaned: int = 0
    buffer_utilization: float = 0.0
    map_seconds: float = 0.0
    elapsed_seconds: float = 0.0

    @property
    def mb_per_second(self) -> float:
        """Log bytes processed (offset map pass and copy pass) per second of the whole clean."""
        if self.elapsed_seconds <= 0:
            return 0.0
        return (self.map_bytes_read + self.bytes_read) / self.elapsed_seconds / 1e6


class Throttler:
    """``log.cleaner.io.max.bytes.per.second``: sleep when the cleaner reads and writes too fast."""

    def __init__(self, bytes_per_second: float, *, check_interval_s: float = 0.3) -> None:
        self.bytes_per_second = bytes_per_second
        self._check_interval_s = check_interval_s
        self._period_start = time.monotonic()
        self._observed = 0

    def maybe_throttle(self, observed: int) -> None:
        if self.bytes_per_second == float("inf"):
            return
        self._observed += observed
        elapsed = time.monotonic() - self._period_start
        if elapsed < self._check_interval_s:
            return
        wanted = self._observed / self.bytes_per_second
        if wanted > elapsed:
            time.sleep(wanted - elapsed)  # the cleaner runs in its own thread
        self._period_start = time.monotonic()
        self._observed = 0


def open_source(log: UnifiedLog, view: SegmentView) -> int:
    """A read-only descriptor of a segment to clean; aborts if the log no longer has it."""
    with log.lock:
        if log.local_log.segments.get(view.base_offset) is not view.segment:
            raise LogCleaningAbortedError(f"segment {view.base_offset} of {log.topic_partition} is gone")
        return os.open(view.segment.log.path, os.O_RDONLY)


def is_last_batch_of_producer(header: RecordBatchHeader, last_records: dict[int, LastRecord]) -> bool:
    """Whether the batch holds an active producer's last sequence (or epoch, for a marker)."""
    last = last_records.get(header.producer_id) if header.has_producer_id else None
    if last is None:
        return False
    if last.last_data_offset >= 0:
        return header.last_offset == last.last_data_offset
    return header.is_control and header.producer_epoch == last.producer_epoch


class Cleaner:
    """Cleans one log at a time with one offset map (one per cleaner thread in Kafka)."""

    def __init__(
        self,
        offset_map: OffsetMap,
        *,
        check_done: Callable[[TopicPartition], None],
        throttler: Throttler | None = None,
    ) -> None:
        self.offset_map = offset_map
        self._check_done = check_done
        self._throttler = throttler or Throttler(float("inf"))

    def clean(self, to_clean: LogToClean, now_ms: int) -> tuple[int, CleanerStats]:
        """Clean the log up to the end of what the offset map could hold; returns (endOffset, stats)."""
        started = time.monotonic()
        stats = CleanerStats(to_clean.topic_partition, first_dirty_offset=to_clean.first_dirty_offset)
        self.build_offset_map(to_clean, stats)
        end_offset = self.offset_map.latest_offset + 1
        stats.map_seconds = time.monotonic() - started
        groups = group_segments_by_size(
            [view for view in to_clean.segments if view.base_offset < end_offset],
            max_size=to_clean.config.segment_bytes,
            max_index_size=to_clean.config.segment_index_bytes,
            first_uncleanable_offset=to_clean.first_uncleanable_offset,
        )
        for group in groups:
            self.clean_segments(to_clean, group, now_ms=now_ms, stats=stats)
        stats.end_offset = end_offset
        stats.buffer_utilization = self.offset_map.utilization
        stats.elapsed_seconds = time.monotonic() - started
        return end_offset, stats

    def _between_batches(self, tp: TopicPartition, size: int) -> None:
        self._check_done(tp)
        self._throttler.maybe_throttle(size)
        # Releasing the GIL between batches lets the event loop's thread take it now rather
        # than after the 5 ms switch interval. sched_yield releases it for about a
        # microsecond; time.sleep(0) would cost a timer slack (~50-100 us) per batch.
        os.sched_yield()

    # -- the offset map -----------------------------------------------------------------

    def build_offset_map(self, to_clean: LogToClean, stats: CleanerStats) -> None:
        """Map every key of [firstDirtyOffset, firstUncleanableOffset) to its latest offset."""
        offset_map = self.offset_map
        offset_map.clear()
        start, end = to_clean.first_dirty_offset, to_clean.first_uncleanable_offset
        segments = to_clean.segments
        for index, view in enumerate(segments):
            following = segments[index + 1].base_offset if index + 1 < len(segments) else end
            if following <= start or view.base_offset >= end:
                continue
            if not self._map_segment(to_clean, view, stats):
                return  # full: the pass stops at the last whole batch mapped
            # Kafka fast-forwards over offset gaps to the end of the segment.
            offset_map.update_latest_offset(min(following, end) - 1)

    def _map_segment(self, to_clean: LogToClean, view: SegmentView, stats: CleanerStats) -> bool:
        """Map one segment's dirty batches; False if the map filled up before its end."""
        offset_map = self.offset_map
        tp = to_clean.topic_partition
        start, end = to_clean.first_dirty_offset, to_clean.first_uncleanable_offset
        fd = open_source(to_clean.log, view)
        try:
            for _, header, data in read_batches(fd, 0, view.size):
                if header.last_offset < start:
                    continue
                if header.next_offset > end:
                    break
                self._between_batches(tp, header.size)
                _verify(header, data)
                if not (header.is_control or header.is_transactional) and header.records_count > 0:
                    # Whole batches only; an empty map takes any batch, so a pass always progresses.
                    if len(offset_map) and not offset_map.has_room_for(header.records_count):
                        return False
                    base = header.base_offset
                    for span in record_reader.scan_records(data)[1]:
                        if span.key is not None and base + span.offset_delta >= start:
                            offset_map.put(span.key, base + span.offset_delta)
                    stats.map_messages_read += header.records_count
                offset_map.update_latest_offset(header.last_offset)
                stats.map_bytes_read += header.size
        finally:
            os.close(fd)
        return True

    # -- copying --------------------------------------------------------------------------

    def clean_segments(
        self, to_clean: LogToClean, group: list[SegmentView], *, now_ms: int, stats: CleanerStats
    ) -> None:
        """Clean a group of segments into one ``.cleaned`` segment and swap it in."""
        directory = to_clean.directory
        cleaned = create_cleaned_segment(directory, group, config=to_clean.config, now_ms=now_ms)
        try:
            mtime_ns = 0
            for index, view in enumerate(group):
                last_of_group = index == len(group) - 1
                mtime_ns = self._clean_into(
                    to_clean, view, cleaned, now_ms=now_ms, stats=stats, keep_last_batch=last_of_group
                )
            cleaned.on_become_inactive_segment()
            cleaned.flush()
            # Retention by time falls back to the file's mtime: keep the newest source's.
            os.utime(cleaned.log.path, ns=(mtime_ns, mtime_ns))
        except BaseException:
            discard(cleaned)
            raise
        # An error inside the swap leaves its files to the loader, which completes the swap.
        old_segments = [view.segment for view in group]
        if not to_clean.log.replace_segments(
            cleaned, old_segments, truncation_count=to_clean.truncation_count
        ):
            discard(cleaned)
            raise LogCleaningAbortedError(f"{to_clean.topic_partition} changed while it was cleaned")
        # The renames of the swap become durable (outside the lock: appends do not wait for it).
        checkpoint.fsync_dir(directory)
        stats.segments_cleaned += len(group)

    def _clean_into(
        self,
        to_clean: LogToClean,
        view: SegmentView,
        cleaned: LogSegment,
        *,
        now_ms: int,
        stats: CleanerStats,
        keep_last_batch: bool,
    ) -> int:
        """Copy what one source segment keeps into ``cleaned``; returns the source's mtime (ns)."""
        tp = to_clean.topic_partition
        last_records = dict(to_clean.last_records_of_active_producers)
        new_horizon = now_ms + to_clean.config.delete_retention_ms
        output = PendingAppends(cleaned)
        fd = open_source(to_clean.log, view)
        try:
            mtime_ns = os.fstat(fd).st_mtime_ns
            for position, header, data in read_batches(fd, 0, view.size):
                self._between_batches(tp, header.size)
                _verify(header, data)
                is_last = position + header.size >= view.size
                last_of_producer = is_last_batch_of_producer(header, last_records)
                retain_empty = last_of_producer or (keep_last_batch and is_last)
                if header.is_control or header.base_offset > self.offset_map.latest_offset:
                    # Markers stay; batches past the map (the cleanable range) are not this
                    # pass's to change, not even to give their tombstones a delete horizon.
                    result = FilteredBatch(data, header.records_count, header.records_count)
                else:
                    result = filter_batch(
                        data,
                        header,
                        keep=self._record_filter(header, now_ms=now_ms, stats=stats),
                        retain_empty=retain_empty,
                        new_delete_horizon_ms=new_horizon,
                    )
                stats.bytes_read += header.size
                stats.messages_read += result.records_read
                stats.messages_written += result.records_kept
                if result.data is not None:
                    output.add(result.data)
                    stats.bytes_written += len(result.data)
            output.flush()
        finally:
            os.close(fd)
        return mtime_ns

    def _record_filter(self, header: RecordBatchHeader, *, now_ms: int, stats: CleanerStats) -> KeepRecord:
        """Kafka's shouldRetainRecord, for the records of one batch."""
        offset_map = self.offset_map
        latest_offset = offset_map.latest_offset
        horizon = delete_horizon_ms(header)
        tombstones_expired = horizon is not None and now_ms >= horizon
        transactional = header.is_transactional

        def keep(offset: int, key: bytes | None, has_value: bool) -> bool:
            if offset > latest_offset:
                return True
            if key is None:
                stats.invalid_messages += 1
                return False
            if offset < offset_map.get(key):
                return False  # superseded
            # Tombstones of a transaction stay: it may have been aborted (no .txnindex yet).
            return has_value or transactional or not tombstones_expired

        return keep


def _verify(header: RecordBatchHeader, data: memoryview) -> None:
    # Cheap (C) and it keeps a damaged batch from being copied into a segment as if it were good.
    if not crc_matches(data, 0, header):
        raise CorruptRecordError(f"batch at offset {header.base_offset} fails its CRC-32C check")
