"""`UnifiedLog`: one partition's log, ``<log.dir>/<topic>-<partition>/`` (Kafka's UnifiedLog).

The replica manager appends produce requests with `append_as_leader` and replicated data with
`append_as_follower`, serves Fetch with `read`, ListOffsets with the offset lookups,
DeleteRecords with `delete_records_before`, and moves the high watermark. `LogManager`
creates and loads logs and runs their periodic work (retention, flush, expiry).

Layers: `LocalLog` holds the segments; this class adds validation (`validator`), producer
state (idempotence), the leader-epoch cache, the high watermark, retention and loading
(`log_loader`). Everything is synchronous. A lock serialises changes, so `flush` may run in
a worker thread: it fsyncs outside the lock. Per append the Python work is constant per
batch; records are never decoded on the append or read paths.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from brook_broker.config.log_config import LogConfig
from brook_broker.log import checkpoint, log_loader, offset_lookup, producer_state, retention, validator
from brook_broker.log.clock import Clock, system_clock_ms
from brook_broker.log.leader_epoch import LeaderEpochFileCache
from brook_broker.log.local_log import LocalLog
from brook_broker.log.producer_entry import AppendOrigin, ProducerAppendInfo
from brook_broker.log.producer_state import DEFAULT_PRODUCER_ID_EXPIRATION_MS, ProducerStateManager
from brook_broker.log.results import FetchDataInfo, LogAppendInfo, LogOffsetMetadata, TimestampAndOffset
from brook_broker.log.segment import LogSegment
from brook_broker.log.validator import UnexpectedAppendOffsetError
from brook_broker.protocol.errors import KafkaStorageError, OffsetOutOfRangeError
from brook_broker.protocol.types import TopicPartition

__all__ = ["FetchDataInfo", "LogAppendInfo", "UnexpectedAppendOffsetError", "UnifiedLog"]

logger = logging.getLogger(__name__)


class UnifiedLog:
    """A partition's log: appends, reads, offsets, truncation, retention."""

    def __init__(
        self,
        *,
        local_log: LocalLog,
        topic_partition: TopicPartition,
        log_start_offset: int,
        leader_epoch_cache: LeaderEpochFileCache,
        producer_state_manager: ProducerStateManager,
        topic_id: uuid.UUID | None,
        high_watermark: int,
        time: Clock,
    ) -> None:
        self.local_log = local_log
        self.topic_partition = topic_partition
        self.leader_epoch_cache = leader_epoch_cache
        self.producer_state_manager = producer_state_manager
        self.topic_id = topic_id
        self._time = time
        # Re-entrant: retention rolls and flushes from inside locked operations.
        self._lock = threading.RLock()
        self._log_start_offset = log_start_offset
        self._high_watermark = min(max(high_watermark, log_start_offset), local_log.log_end_offset)
        self._closed = False
        #: Counts truncations, so a flush or cleaning running in another thread notices one happened.
        self._truncations = 0
        #: The lowest log end a truncation left since the log cleaner last asked (`take_truncation_offset`).
        self._truncated_to: int | None = None
        #: Offset below which rolled segments await an fsync (done by `flush_rolled_segments`).
        self._roll_flush_offset = 0
        self.last_flush_ms = time()

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        *,
        dir: Path,  # noqa: A002  (Kafka's name for a log's directory)
        topic_partition: TopicPartition,
        config: LogConfig,
        recovery_point: int = 0,
        log_start_offset: int = 0,
        clean_shutdown: bool = False,
        topic_id: uuid.UUID | None = None,
        time: Clock = system_clock_ms,
        high_watermark: int | None = None,
        producer_id_expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    ) -> UnifiedLog:
        """Open (or create) the log in ``dir``, recovering it if the broker did not stop cleanly.

        ``recovery_point``, ``log_start_offset`` and ``high_watermark`` come from the log
        directory's checkpoint files; ``topic_id`` (if given) must match ``partition.metadata``.
        """
        loaded = log_loader.load_log(
            dir,
            config=config,
            recovery_point=recovery_point,
            log_start_offset=log_start_offset,
            clean_shutdown=clean_shutdown,
            topic_id=topic_id,
            time=time,
            producer_id_expiration_ms=producer_id_expiration_ms,
        )
        return cls(
            local_log=loaded.local_log,
            topic_partition=topic_partition,
            log_start_offset=loaded.log_start_offset,
            leader_epoch_cache=loaded.leader_epoch_cache,
            producer_state_manager=loaded.producer_state_manager,
            topic_id=loaded.topic_id,
            high_watermark=loaded.log_start_offset if high_watermark is None else high_watermark,
            time=time,
        )

    # -- properties ---------------------------------------------------------------------

    @property
    def dir(self) -> Path:
        return self.local_log.dir

    @property
    def config(self) -> LogConfig:
        return self.local_log.config

    def update_config(self, config: LogConfig) -> None:
        """New topic config; segment-file settings apply to segments created from now on."""
        self.local_log.config = config

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self.local_log.log_end_offset

    @property
    def log_end_offset_metadata(self) -> LogOffsetMetadata:
        return self.local_log.log_end_offset_metadata

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @property
    def recovery_point(self) -> int:
        return self.local_log.recovery_point

    @property
    def size_in_bytes(self) -> int:
        return self.local_log.segments.size_in_bytes()

    @property
    def num_segments(self) -> int:
        return len(self.local_log.segments)

    @property
    def latest_epoch(self) -> int | None:
        return self.leader_epoch_cache.latest_epoch

    @property
    def unflushed_messages(self) -> int:
        return self.log_end_offset - self.recovery_point

    def update_high_watermark(self, offset: int) -> int:
        """Set the high watermark, clamped to [log start, log end]; returns the value set."""
        with self._lock:
            self._high_watermark = min(max(offset, self._log_start_offset), self.log_end_offset)
            return self._high_watermark

    def maybe_increment_high_watermark(self, offset: int) -> bool:
        """Move the high watermark forward only (the leader's rule); True if it moved."""
        with self._lock:
            if offset <= self._high_watermark:
                return False
            self.update_high_watermark(offset)
            return True

    def end_offset_for_epoch(self, leader_epoch: int) -> tuple[int, int]:
        """OffsetForLeaderEpoch: (epoch, end offset), or (-1, -1) if unknown."""
        return self.leader_epoch_cache.end_offset_for(leader_epoch, self.log_end_offset)

    def maybe_assign_epoch_start_offset(self, leader_epoch: int, start_offset: int) -> None:
        """Record a new leader epoch as it becomes leader (Kafka assigns it at the log end offset)."""
        with self._lock:
            self.leader_epoch_cache.assign_if_newer(leader_epoch, start_offset)

    def _check_open(self) -> None:
        if self._closed:
            raise KafkaStorageError(f"log {self.topic_partition} is closed")

    # -- appends ------------------------------------------------------------------------

    def append_as_leader(
        self, records: bytes | bytearray | memoryview, *, leader_epoch: int, now_ms: int | None = None
    ) -> LogAppendInfo:
        """Validate a produce request's records, assign offsets and append them.

        A retry of a batch an idempotent producer already wrote returns the original offsets
        with ``duplicate=True`` and writes nothing.
        """
        now = self._time() if now_ms is None else now_ms
        with self._lock:
            self._check_open()
            validated = validator.validate_and_assign_offsets(
                records,
                next_offset=self.log_end_offset,
                leader_epoch=leader_epoch,
                config=self.config,
                now_ms=now,
                topic_partition=self.topic_partition,
            )
            updates, duplicate = self.producer_state_manager.analyze(validated.headers, AppendOrigin.CLIENT)
            if duplicate is not None:
                return validator.duplicate_append_info(
                    duplicate, config=self.config, log_start_offset=self._log_start_offset
                )
            # Kafka records the epoch before writing: a crash in between leaves an entry past
            # the log end, which loading truncates, never a batch without its epoch.
            self.leader_epoch_cache.assign_if_newer(leader_epoch, validated.first_offset)
            return self._append(validated, updates, now_ms=now)

    def append_as_follower(self, records: bytes | bytearray | memoryview) -> LogAppendInfo:
        """Append batches copied from the leader, offsets and epochs as they are.

        Raises `UnexpectedAppendOffsetError` if they do not continue this log (truncate first).
        """
        with self._lock:
            self._check_open()
            # The leader validated the records; the follower checks only integrity and order.
            validated = validator.validate_follower_records(
                records, log_end_offset=self.log_end_offset, config=self.config
            )
            updates, _ = self.producer_state_manager.analyze(validated.headers, AppendOrigin.REPLICATION)
            for header in validated.headers:
                self.leader_epoch_cache.assign_if_newer(header.partition_leader_epoch, header.base_offset)
            return self._append(validated, updates, now_ms=self._time())

    def _append(
        self, validated: validator.ValidatedRecords, updates: dict[int, ProducerAppendInfo], *, now_ms: int
    ) -> LogAppendInfo:
        if self.local_log.active_segment.should_roll(
            config=self.config,
            messages_size=validated.size,
            max_timestamp_in_messages=validated.max_timestamp,
            max_offset_in_messages=validated.last_offset,
            now_ms=now_ms,
        ):
            self.roll(validated.first_offset)
        self.local_log.append(
            last_offset=validated.last_offset,
            largest_timestamp=validated.max_timestamp,
            offset_of_max_timestamp=validated.offset_of_max_timestamp,
            buffers=validated.buffers,
            size=validated.size,
        )
        manager = self.producer_state_manager
        for info in updates.values():
            manager.update(info)
        manager.update_map_end_offset(validated.last_offset + 1)
        if self.unflushed_messages >= self.config.flush_messages:
            self.flush()
        return validated.append_info(log_start_offset=self._log_start_offset)

    def roll(self, expected_next_offset: int | None = None) -> None:
        """Start a new active segment; its predecessor is fsync'd by the next `flush_rolled_segments`."""
        with self._lock:
            segment = self.local_log.roll(expected_next_offset)
            self.producer_state_manager.update_map_end_offset(segment.base_offset)
            # Unsynced: a snapshot is only an accelerator, and the roll flush fsyncs it.
            self.producer_state_manager.take_snapshot(sync=False)
            self._roll_flush_offset = max(self._roll_flush_offset, segment.base_offset)

    # -- reads --------------------------------------------------------------------------

    def read(
        self,
        fetch_offset: int,
        *,
        max_bytes: int,
        max_offset: int | None = None,
        min_one_message: bool = True,
    ) -> FetchDataInfo:
        """Whole batches from the one holding ``fetch_offset``, none at or past ``max_offset``.

        ``max_offset`` is exclusive (the high watermark for consumers; None reads to the log end).
        Raises `OffsetOutOfRangeError` outside [log start, log end]; at the log end the result is empty.
        """
        with self._lock:
            log_end = self.log_end_offset
            if fetch_offset > log_end or fetch_offset < self._log_start_offset:
                raise OffsetOutOfRangeError(
                    f"offset {fetch_offset} is out of range for {self.topic_partition}: "
                    f"[{self._log_start_offset}, {log_end}]"
                )
            bound = self.local_log.offset_metadata(log_end if max_offset is None else max_offset)
            return self.local_log.read(
                fetch_offset, max_length=max_bytes, max_offset_metadata=bound, min_one_message=min_one_message
            )

    def fetch_offset_by_timestamp(self, target_ms: int) -> TimestampAndOffset | None:
        """ListOffsets by time: the first record with timestamp >= ``target_ms`` (offset >= log start)."""
        with self._lock:
            return offset_lookup.find_offset_by_timestamp(
                self.local_log.segments, target_ms, log_start_offset=self._log_start_offset
            )

    def max_timestamp_and_offset(self) -> TimestampAndOffset | None:
        """ListOffsets MAX_TIMESTAMP (-3): the record with the largest timestamp, earliest such offset."""
        with self._lock:
            return offset_lookup.find_max_timestamp(self.local_log.segments)

    # -- truncation and deletion ----------------------------------------------------------

    def truncate_to(self, target_offset: int) -> bool:
        """Remove everything at and after ``target_offset`` (replication); True if anything went."""
        if target_offset < 0:
            raise ValueError(f"cannot truncate {self.topic_partition} to a negative offset")
        with self._lock:
            self._check_open()
            if target_offset >= self.log_end_offset:
                return False
            if self.local_log.segments.first.base_offset > target_offset:
                self.truncate_fully_and_start_at(target_offset)
                return True
            self._truncations += 1
            new_end = self.local_log.truncate_to(target_offset, now_ms=self._time())
            self._note_truncation(new_end)
            self.leader_epoch_cache.truncate_from_end(new_end)
            self._log_start_offset = min(self._log_start_offset, new_end)
            self._high_watermark = min(self._high_watermark, new_end)
            log_loader.rebuild_producer_state(
                self.producer_state_manager,
                segments=self.local_log.segments,
                log_start_offset=self._log_start_offset,
                log_end_offset=new_end,
                now_ms=self._time(),
            )
            return True

    def truncate_fully_and_start_at(self, new_offset: int) -> None:
        """Drop the whole log and continue at ``new_offset`` (a follower far behind the leader's start)."""
        with self._lock:
            self._check_open()
            self._truncations += 1
            self._note_truncation(new_offset)
            self.local_log.truncate_fully_and_start_at(new_offset, now_ms=self._time())
            self.leader_epoch_cache.clear()
            self.producer_state_manager.truncate_fully_and_start_at(new_offset)
            self._log_start_offset = new_offset
            self._high_watermark = new_offset
            self._roll_flush_offset = 0

    def _note_truncation(self, new_end: int) -> None:
        self._truncated_to = new_end if self._truncated_to is None else min(self._truncated_to, new_end)

    def take_truncation_offset(self) -> int | None:
        """The lowest log end truncations left since the last call (the cleaner lowers its checkpoint)."""
        with self._lock:
            offset, self._truncated_to = self._truncated_to, None
            return offset

    # -- compaction (the log cleaner runs in a worker thread; see `log_cleaner`) ---------

    @property
    def lock(self) -> threading.RLock:
        """The log's lock: the cleaner holds it briefly to read a consistent view of the log."""
        return self._lock

    @property
    def truncation_count(self) -> int:
        return self._truncations

    def replace_segments(
        self, new_segment: LogSegment, old_segments: Sequence[LogSegment], *, truncation_count: int
    ) -> bool:
        """Swap a cleaned segment in for the segments it was cleaned from (Kafka's replaceSegments).

        Refused (False) when the log changed under the cleaner: closed, truncated, or any old
        segment no longer in it (retention or DeleteRecords removed it). Only renames and list
        updates happen under the lock; the cleaner fsyncs the directory afterwards.
        """
        with self._lock:
            segments = self.local_log.segments
            if (
                self._closed
                or truncation_count != self._truncations
                or any(segments.get(old.base_offset) is not old for old in old_segments)
            ):
                return False
            self.local_log.replace_segments([new_segment], old_segments, now_ms=self._time())
            return True

    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: move the log start offset to ``offset`` (<= high watermark); returns it."""
        with self._lock:
            self._check_open()
            if offset > self._high_watermark:
                raise OffsetOutOfRangeError(
                    f"cannot move the log start offset of {self.topic_partition} to {offset}, "
                    f"past the high watermark {self._high_watermark}"
                )
            self.maybe_increment_log_start_offset(offset)
            return self._log_start_offset

    def maybe_increment_log_start_offset(self, offset: int) -> None:
        """Move the log start offset forward (DeleteRecords, retention); never backwards."""
        with self._lock:
            if offset <= self._log_start_offset:
                return
            self._log_start_offset = offset
            self.leader_epoch_cache.truncate_from_start(offset)
            self.producer_state_manager.on_log_start_offset_incremented(offset)

    def delete_old_segments(self, now_ms: int | None = None) -> int:
        """Apply retention (log start offset always; size and time if ``cleanup.policy`` has delete)."""
        with self._lock:
            self._check_open()
            return retention.delete_old_segments(self, self._time() if now_ms is None else now_ms)

    def delete_pending_segments(self, now_ms: int) -> int:
        """Unlink segments deleted at least ``file.delete.delay.ms`` ago; returns how many."""
        with self._lock:
            return self.local_log.delete_pending_segments(now_ms)

    def remove_expired_producers(self, now_ms: int) -> int:
        with self._lock:
            return self.producer_state_manager.remove_expired_producers(now_ms)

    # -- durability and lifecycle -------------------------------------------------------

    def flush(self, up_to_offset: int | None = None) -> None:
        """fsync data below ``up_to_offset`` (default: the log end) and advance the recovery point.

        Safe to call from a worker thread: the fsyncs run outside the log's lock.
        """
        with self._lock:
            target = self.log_end_offset if up_to_offset is None else min(up_to_offset, self.log_end_offset)
            if target <= self.recovery_point:
                return
            segments = self.local_log.unflushed_segments(target)
            snapshots = self.producer_state_manager.take_unsynced_snapshots()
            truncations = self._truncations
        for segment in segments:
            segment.flush()
        producer_state.sync_files(snapshots)
        # New segment and snapshot files become durable with their directory entry.
        checkpoint.fsync_dir(self.dir)
        with self._lock:
            # After a concurrent truncation, offsets below ``target`` may hold new, unsynced
            # data: leave the recovery point where the truncation put it.
            if truncations == self._truncations:
                self.local_log.recovery_point = max(self.recovery_point, target)
            self.last_flush_ms = self._time()

    def flush_rolled_segments(self) -> None:
        """fsync segments rolled since the last flush (Kafka schedules this right after a roll)."""
        if self._roll_flush_offset > self.recovery_point:
            self.flush(self._roll_flush_offset)

    def close(self) -> None:
        """Write a producer snapshot at the log end and close all files (no fsync; flush first)."""
        with self._lock:
            if self._closed:
                return
            self.producer_state_manager.take_snapshot()
            self.local_log.close()
            self._closed = True

    def mark_for_deletion(self, new_dir: Path) -> None:
        """Close the log to new operations and move its directory (LogManager's topic deletion).

        Descriptors stay open for fetches in flight; `delete` closes them and removes the files.
        """
        with self._lock:
            self._closed = True
            self.local_log.dir.rename(new_dir)
            self.local_log.dir = new_dir

    def delete(self) -> None:
        """Close the files and remove the whole partition directory."""
        with self._lock:
            self._closed = True
            self.local_log.delete_all()

    def __repr__(self) -> str:
        return (
            f"UnifiedLog({self.topic_partition}, start={self._log_start_offset}, hw={self._high_watermark}, "
            f"end={self.log_end_offset}, segments={self.num_segments})"
        )
