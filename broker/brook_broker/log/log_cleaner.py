"""The log cleaner: compaction for ``cleanup.policy=compact`` (Kafka's LogCleaner).

`LogManager` owns one (``log.cleaner.enable``); the server runs it from a background task,
off the event loop::

    while True:
        stats = await asyncio.to_thread(log_manager.clean_logs)
        if stats is None:  # nothing was dirty enough
            await asyncio.sleep(log_manager.cleaner.config.backoff_ms / 1000)

`clean_one` does one pass of Kafka's CleanerThread: choose the filthiest compacted log
(`cleaner_manager`), clean it (`cleaner`), record the new first dirty offset. All the heavy
work (reading, decompressing, the offset map, writing the cleaned segment, fsync) happens in
the calling thread without the log's lock; appends only wait while a cleaned segment is
swapped in (a few renames). Retention skips a log while it is being cleaned (`is_cleaning`),
and a log that changes anyway (truncation, deletion) makes the swap refuse, so the two never
fight over a segment.

`shutdown` stops a pass in progress at its next batch and waits for it; `LogManager.shutdown`
calls it before closing the logs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping

from brook_broker.log.cleaner import Cleaner, CleanerStats, LogCleaningAbortedError, Throttler
from brook_broker.log.cleaner_manager import LogCleanerManager
from brook_broker.log.clock import Clock, system_clock_ms
from brook_broker.log.offset_map import DEFAULT_LOAD_FACTOR, OffsetMap
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.types import TopicPartition

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CleanerConfig:
    """The broker's ``log.cleaner.*`` settings the cleaner uses (Kafka's CleanerConfig)."""

    #: ``log.cleaner.enable``.
    enable_cleaner: bool = True
    #: ``log.cleaner.dedupe.buffer.size``: the offset map's memory (approximate, see `offset_map`).
    dedupe_buffer_size: int = 128 * 1024 * 1024
    #: ``log.cleaner.io.buffer.load.factor``: how full the offset map may get.
    dedupe_buffer_load_factor: float = DEFAULT_LOAD_FACTOR
    #: ``log.cleaner.io.max.bytes.per.second``.
    max_io_bytes_per_second: float = float("inf")
    #: ``log.cleaner.backoff.ms``: the server's pause after a pass that found nothing to clean.
    backoff_ms: int = 15_000


class LogCleaner:
    """Cleans compacted logs, one pass per `clean_one` call, in whatever thread calls it."""

    def __init__(
        self,
        config: CleanerConfig,
        *,
        logs: Callable[[], Mapping[TopicPartition, UnifiedLog]],
        time: Clock = system_clock_ms,
    ) -> None:
        self.config = config
        self.manager = LogCleanerManager(logs)
        self._time = time
        self._stopping = False
        # Held for a whole pass: `shutdown` waits on it.
        self._running = threading.Lock()
        self._cleaner = Cleaner(
            OffsetMap(config.dedupe_buffer_size, load_factor=config.dedupe_buffer_load_factor),
            check_done=self._check_done,
            throttler=Throttler(config.max_io_bytes_per_second),
        )

    @property
    def enabled(self) -> bool:
        return self.config.enable_cleaner and not self._stopping

    def clean_one(self, now_ms: int | None = None) -> CleanerStats | None:
        """Clean the filthiest compacted log; None if no log needed it (then back off)."""
        if not self.enabled:
            return None
        with self._running:
            if self._stopping:
                return None
            now = self._time() if now_ms is None else now_ms
            to_clean = self.manager.grab_filthiest_compacted_log(now)
            if to_clean is None:
                return None
            tp = to_clean.topic_partition
            end_offset: int | None = None
            stats: CleanerStats | None = None
            try:
                end_offset, stats = self._cleaner.clean(to_clean, now)
            except LogCleaningAbortedError as exc:
                logger.info("cleaning of %s stopped: %s", tp, exc)
            except Exception as exc:
                if self._stopping or self.manager.check_aborted(tp):
                    # E.g. the directory of a deleted log was renamed under the cleaner.
                    logger.info("cleaning of %s stopped: %s", tp, exc)
                else:
                    # Kafka's uncleanable partitions: never retried until the broker restarts.
                    logger.exception("cleaning of %s failed; it will not be cleaned again until restart", tp)
                    self.manager.mark_partition_uncleanable(tp)
            finally:
                self.manager.done_cleaning(to_clean, end_offset)
            if stats is not None:
                logger.info(
                    "cleaned %s: offsets [%d, %d), %d segment(s), %.1f MB read, %.1f MB written, "
                    "%d of %d records kept, %.2f s (%.1f MB/s)",
                    tp,
                    stats.first_dirty_offset,
                    stats.end_offset,
                    stats.segments_cleaned,
                    (stats.map_bytes_read + stats.bytes_read) / 1e6,
                    stats.bytes_written / 1e6,
                    stats.messages_written,
                    stats.messages_read,
                    stats.elapsed_seconds,
                    stats.mb_per_second,
                )
            return stats

    def is_cleaning(self, tp: TopicPartition) -> bool:
        return self.manager.is_cleaning(tp)

    def abort_cleaning(self, tp: TopicPartition) -> None:
        """Stop cleaning ``tp`` at the next batch, discarding the work (topic deletion)."""
        self.manager.abort_cleaning(tp)

    def _check_done(self, tp: TopicPartition) -> None:
        if self._stopping or self.manager.check_aborted(tp):
            raise LogCleaningAbortedError("shutting down" if self._stopping else "aborted")

    def shutdown(self) -> None:
        """Stop the pass in progress (at its next batch) and wait for it to finish."""
        self._stopping = True
        with self._running:
            pass
