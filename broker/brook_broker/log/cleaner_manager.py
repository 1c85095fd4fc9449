"""Which log to clean next, how far, and where cleaning stopped (Kafka's LogCleanerManager).

`log_cleaner.LogCleaner` asks `grab_filthiest_compacted_log` for the compacted log with the
highest dirty ratio, cleans it in a worker thread and reports back with `done_cleaning`.
`LogManager` (on the event loop) asks `is_cleaning` before retention, and `abort_cleaning`
when it deletes a log. A `threading.Lock` serialises the cleaner thread's changes (and its
checkpoint writes); the event loop's calls take no lock. A log's own lock is held only
while reading a consistent view of that log.

Per log directory, ``cleaner-offset-checkpoint`` (Kafka's format, `checkpoint`) records
each partition's *first dirty offset*: everything below it has been cleaned. The cleanable
range of a log is [firstDirtyOffset, firstUncleanableOffset), where the latter is the lowest of

- the active segment's base offset (the active segment is never cleaned),
- the high watermark, and the first offset of an open transaction (Kafka's last stable offset),
- the base offset of the first dirty segment with a record newer than ``min.compaction.lag.ms``.

A log is chosen when its dirty ratio (bytes of the cleanable segments over bytes of the
clean and cleanable ones) exceeds ``min.cleanable.dirty.ratio``, or when some dirty segment's
first batch is older than ``max.compaction.lag.ms``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from brook_broker.config.log_config import LogConfig
from brook_broker.log import checkpoint
from brook_broker.log.segment import LogSegment
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.errors import KafkaStorageError
from brook_broker.protocol.types import TopicPartition

logger = logging.getLogger(__name__)

CLEANER_OFFSET_CHECKPOINT = "cleaner-offset-checkpoint"


class LastRecord(NamedTuple):
    """An active producer's last data batch (its last offset, -1 if none) and epoch (Kafka's LastRecord)."""

    last_data_offset: int
    producer_epoch: int


class SegmentView(NamedTuple):
    """A non-active segment as it was when the log was chosen (sizes are stable from then on)."""

    segment: LogSegment
    base_offset: int
    size: int
    index_bytes: int
    time_index_bytes: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogToClean:
    """A chosen log and a view of it taken under its lock (Kafka's LogToClean)."""

    topic_partition: TopicPartition
    log: UnifiedLog
    config: LogConfig
    directory: Path
    first_dirty_offset: int
    first_uncleanable_offset: int
    need_compaction_now: bool
    #: Every segment below ``first_uncleanable_offset``, oldest first.
    segments: tuple[SegmentView, ...]
    clean_bytes: int
    cleanable_bytes: int
    #: `UnifiedLog.truncation_count` at the time: a swap is refused if it changed.
    truncation_count: int
    last_records_of_active_producers: Mapping[int, LastRecord]

    @property
    def total_bytes(self) -> int:
        return self.clean_bytes + self.cleanable_bytes

    @property
    def cleanable_ratio(self) -> float:
        return self.cleanable_bytes / self.total_bytes if self.total_bytes else 0.0


def first_uncleanable_offset(log: UnifiedLog, first_dirty_offset: int, now_ms: int) -> int:
    """The end of the cleanable range (see the module docstring); call with the log's lock held."""
    config = log.config
    producers = log.producer_state_manager.producers.values()
    open_transactions = [
        p.current_txn_first_offset for p in producers if p.current_txn_first_offset is not None
    ]
    active = log.local_log.active_segment
    candidates = [log.high_watermark, active.base_offset, *open_transactions]
    if config.min_compaction_lag_ms > 0:
        horizon = now_ms - config.min_compaction_lag_ms
        for segment in log.local_log.segments.from_offset(first_dirty_offset):
            if segment is active:
                break
            if segment.largest_timestamp() > horizon:
                candidates.append(segment.base_offset)
                break
    return max(first_dirty_offset, min(candidates))


def max_compaction_delay(log: UnifiedLog, first_dirty_offset: int, now_ms: int) -> int:
    """How long past ``max.compaction.lag.ms`` the oldest dirty segment is (0: not overdue)."""
    active = log.local_log.active_segment
    timestamps = [
        timestamp
        for segment in log.local_log.segments.from_offset(first_dirty_offset)
        if segment is not active and (timestamp := segment.first_batch_timestamp() or 0) > 0
    ]
    clean_until = now_ms - max(log.config.max_compaction_lag_ms, 0)
    earliest = min(timestamps, default=None)
    return clean_until - earliest if earliest is not None and earliest < clean_until else 0


class LogCleanerManager:
    """The cleaner checkpoints of every log directory, and which logs are being cleaned."""

    def __init__(self, logs: Callable[[], Mapping[TopicPartition, UnifiedLog]]) -> None:
        self._logs = logs
        self._lock = threading.Lock()
        #: First dirty offset per partition, per log directory (loaded on first use).
        self._checkpoints: dict[Path, dict[TopicPartition, int]] = {}
        self._in_progress: set[TopicPartition] = set()
        self._aborted: set[TopicPartition] = set()
        #: Partitions whose cleaning failed unexpectedly; skipped until the broker restarts.
        self.uncleanable: set[TopicPartition] = set()
        #: The highest dirty ratio at the last `grab_filthiest_compacted_log` (Kafka's max-dirty-percent).
        self.dirtiest_log_cleanable_ratio = 0.0

    # -- checkpoints --------------------------------------------------------------------

    def _checkpoint_for(self, log_dir: Path) -> dict[TopicPartition, int]:
        offsets = self._checkpoints.get(log_dir)
        if offsets is None:
            try:
                offsets = checkpoint.read_offset_checkpoint(log_dir / CLEANER_OFFSET_CHECKPOINT)
            except KafkaStorageError as exc:
                # Without it every compacted log counts as dirty from its start: slower, never wrong.
                logger.warning("%s: ignoring unreadable %s: %s", log_dir, CLEANER_OFFSET_CHECKPOINT, exc)
                offsets = {}
            self._checkpoints[log_dir] = offsets
        return offsets

    def _write_checkpoint(self, log_dir: Path) -> None:
        logs = self._logs()
        offsets = self._checkpoint_for(log_dir)
        # Entries of deleted partitions go, as in Kafka's updateCheckpoints.
        for tp in [tp for tp in offsets if tp not in logs]:
            del offsets[tp]
        try:
            checkpoint.write_offset_checkpoint(log_dir / CLEANER_OFFSET_CHECKPOINT, offsets)
        except OSError as exc:
            # Not fatal: the next pass writes it again; until then more of the log counts as dirty.
            logger.warning("%s: cannot write %s: %s", log_dir, CLEANER_OFFSET_CHECKPOINT, exc)

    def checkpointed_offset(self, log: UnifiedLog) -> int | None:
        """The first dirty offset recorded for ``log``; None if it was never cleaned."""
        with self._lock:
            return self._checkpoint_for(log.dir.parent).get(log.topic_partition)

    def _update_checkpoint(self, log_dir: Path, tp: TopicPartition, offset: int) -> None:
        self._checkpoint_for(log_dir)[tp] = offset
        self._write_checkpoint(log_dir)

    def _apply_truncations(self, logs: Mapping[TopicPartition, UnifiedLog]) -> None:
        """Kafka's maybeTruncateCheckpoint: data a truncation replaced is dirty again."""
        for tp, log in logs.items():
            truncated_to = log.take_truncation_offset()
            if truncated_to is None:
                continue
            offsets = self._checkpoint_for(log.dir.parent)
            if offsets.get(tp, 0) > truncated_to:
                self._update_checkpoint(log.dir.parent, tp, truncated_to)

    # -- choosing a log -----------------------------------------------------------------

    def grab_filthiest_compacted_log(self, now_ms: int) -> LogToClean | None:
        """The compacted log most worth cleaning, marked in progress; None if none qualifies."""
        with self._lock:
            logs = dict(self._logs())
            self._apply_truncations(logs)
            candidates: list[LogToClean] = []
            for tp, log in logs.items():
                if not log.config.compact or tp in self._in_progress or tp in self.uncleanable:
                    continue
                to_clean = self._log_to_clean(tp, log, now_ms)
                if to_clean is not None and to_clean.total_bytes > 0:
                    candidates.append(to_clean)
            self.dirtiest_log_cleanable_ratio = max((c.cleanable_ratio for c in candidates), default=0.0)
            cleanable = [
                c
                for c in candidates
                if (c.need_compaction_now and c.cleanable_bytes > 0)
                or c.cleanable_ratio > c.config.min_cleanable_dirty_ratio
            ]
            if not cleanable:
                return None
            filthiest = max(cleanable, key=lambda c: c.cleanable_ratio)
            self._in_progress.add(filthiest.topic_partition)
            return filthiest

    def _log_to_clean(self, tp: TopicPartition, log: UnifiedLog, now_ms: int) -> LogToClean | None:
        log_dir = log.dir.parent
        offsets = self._checkpoint_for(log_dir)
        with log.lock:
            start, end = log.log_start_offset, log.log_end_offset
            checkpointed = offsets.get(tp, start)
            # Kafka resets an impossible checkpoint (below the start after retention, past the
            # end after a truncation the cleaner missed) to the log start: clean everything.
            first_dirty = checkpointed if start <= checkpointed <= end else start
            first_uncleanable = first_uncleanable_offset(log, first_dirty, now_ms)
            views: list[SegmentView] = []
            clean_bytes = cleanable_bytes = 0
            segments = list(log.local_log.segments)
            for index, segment in enumerate(segments):
                if segment.base_offset >= first_uncleanable:
                    break
                following = segments[index + 1].base_offset if index + 1 < len(segments) else end
                # Kafka's byte counts: a segment holding the first dirty offset counts as both,
                # one holding the first uncleanable offset as neither (it is cleaned, though).
                if segment.base_offset < first_dirty:
                    clean_bytes += segment.size
                if first_dirty < following <= first_uncleanable:
                    cleanable_bytes += segment.size
                views.append(
                    SegmentView(
                        segment,
                        segment.base_offset,
                        segment.size,
                        segment.offset_index.size_in_bytes,
                        segment.time_index.size_in_bytes,
                    )
                )
            last_records = {
                pid: LastRecord(entry.last_data_offset, entry.producer_epoch)
                for pid, entry in log.producer_state_manager.producers.items()
            }
            to_clean = LogToClean(
                topic_partition=tp,
                log=log,
                config=log.config,
                directory=log.dir,
                first_dirty_offset=first_dirty,
                first_uncleanable_offset=first_uncleanable,
                need_compaction_now=max_compaction_delay(log, first_dirty, now_ms) > 0,
                segments=tuple(views),
                clean_bytes=clean_bytes,
                cleanable_bytes=cleanable_bytes,
                truncation_count=log.truncation_count,
                last_records_of_active_producers=last_records,
            )
        if first_dirty != checkpointed:
            self._update_checkpoint(log_dir, tp, first_dirty)
        return to_clean

    # -- progress -----------------------------------------------------------------------

    # The next three run on the event loop (or per batch): no lock, so they never wait for a
    # checkpoint write. A single set operation is atomic under the GIL.

    def is_cleaning(self, tp: TopicPartition) -> bool:
        return tp in self._in_progress

    def check_aborted(self, tp: TopicPartition) -> bool:
        return tp in self._aborted

    def abort_cleaning(self, tp: TopicPartition) -> None:
        """Ask a cleaning in progress to stop at its next check (it discards its work)."""
        if tp in self._in_progress:
            self._aborted.add(tp)  # cleared by `done_cleaning`

    def done_cleaning(self, to_clean: LogToClean, end_offset: int | None) -> None:
        """Record the new first dirty offset (None: the cleaning was aborted) and release the log."""
        tp = to_clean.topic_partition
        with self._lock:
            if end_offset is not None and tp not in self._aborted:
                self._update_checkpoint(to_clean.directory.parent, tp, end_offset)
            self._in_progress.discard(tp)
            self._aborted.discard(tp)

    def mark_partition_uncleanable(self, tp: TopicPartition) -> None:
        with self._lock:
            self.uncleanable.add(tp)
