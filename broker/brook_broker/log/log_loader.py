"""Loading a partition directory at startup (Kafka's LogLoader), and replaying producer state.

`UnifiedLog.load` calls `load_log`: it checks ``partition.metadata``, reads the leader-epoch
checkpoint, and `load_segments`:

1. finishes a segment swap the log cleaner was interrupted in (`complete_interrupted_swaps`),
   deletes leftovers of interrupted operations (``*.deleted``, ``*.cleaned``, ``*.tmp``) and
   index files whose ``.log`` is gone;
2. opens every segment, rebuilding indexes that are missing or fail their sanity check;
3. after an unclean shutdown, recovers every segment from the one holding the recovery
   point: CRC-checks each batch, cuts the log at the first torn or corrupt one and deletes
   all later segments (their data came after a hole, so it cannot be trusted);
4. works out the log start offset, log end offset and recovery point.

`rebuild_producer_state` brings a `ProducerStateManager` from its newest usable snapshot up
to the log end offset by reading batch headers only.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from brook_broker.config.log_config import LogConfig
from brook_broker.log import checkpoint
from brook_broker.log.clock import Clock
from brook_broker.log.index import CorruptIndexError
from brook_broker.log.leader_epoch import LeaderEpochFileCache
from brook_broker.log.local_log import LocalLog, LogSegments
from brook_broker.log.log_file import read_batches
from brook_broker.log.producer_state import ProducerStateManager
from brook_broker.log.segment import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SWAP_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
    segment_file_name,
)
from brook_broker.protocol.errors import InconsistentTopicIdError, KafkaStorageError
from brook_broker.protocol.records import RecordBatchHeader

logger = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
TXN_INDEX_SUFFIX = ".txnindex"
_STRAY_SUFFIXES = (DELETED_SUFFIX, CLEANED_SUFFIX, TMP_SUFFIX)
_INDEX_SUFFIXES = (INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX)
_SEGMENT_SUFFIXES = (LOG_SUFFIX, *_INDEX_SUFFIXES)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoadedLog:
    """The parts `UnifiedLog.load` assembles."""

    local_log: LocalLog
    log_start_offset: int
    leader_epoch_cache: LeaderEpochFileCache
    producer_state_manager: ProducerStateManager
    topic_id: uuid.UUID | None


@dataclasses.dataclass(frozen=True, slots=True)
class LoadedLogOffsets:
    log_start_offset: int
    recovery_point: int
    log_end_offset: int


def _base_offset(path: Path, suffix: str) -> int | None:
    stem = path.name.removesuffix(suffix)
    return int(stem) if stem != path.name and len(stem) == 20 and stem.isdigit() else None


def _next_offset_of(path: Path, base_offset: int) -> int:
    """The offset after the last whole batch of a log file (a ``.swap`` segment's upper bound)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        next_offset = base_offset
        for _, header, _ in read_batches(fd, 0, os.fstat(fd).st_size):
            next_offset = header.next_offset
        return next_offset
    finally:
        os.close(fd)


def complete_interrupted_swaps(directory: Path) -> None:
    """Finish a cleaner swap that a crash interrupted (Kafka's LogLoader, passes one to three).

    A ``.swap`` log was fsync'd before it was renamed from ``.cleaned``, so it is complete and
    replaces every old segment whose base offset lies in [its base, its next offset): those are
    deleted (whatever their suffix) and the ``.swap`` renamed. Its indexes are deleted and
    rebuilt when the segment is opened. The cleaner keeps the last batch of every group it
    cleans, so a ``.swap`` always reaches the end of the last segment it replaces.
    """
    swaps = list(directory.glob(f"*{SWAP_SUFFIX}"))
    if not swaps:
        return
    ranges: list[tuple[int, int]] = []
    for swap in swaps:
        base = _base_offset(swap, LOG_SUFFIX + SWAP_SUFFIX)
        if base is not None:
            ranges.append((base, max(base + 1, _next_offset_of(swap, base))))
            logger.info("%s: completing the interrupted swap of cleaned segment %s", directory, swap.name)
    for path in directory.iterdir():
        name = path.name
        if name.endswith(SWAP_SUFFIX):
            continue
        stem = Path(name.removesuffix(DELETED_SUFFIX))
        bases = (_base_offset(stem, suffix) for suffix in _SEGMENT_SUFFIXES)
        base = next((base for base in bases if base is not None), None)
        if base is not None and any(low <= base < high for low, high in ranges):
            logger.info("%s: deleting %s, which a cleaned segment replaces", directory, name)
            path.unlink(missing_ok=True)
    for swap in swaps:
        if swap.name.endswith(LOG_SUFFIX + SWAP_SUFFIX):
            swap.rename(swap.with_name(swap.name.removesuffix(SWAP_SUFFIX)))
        else:
            swap.unlink(missing_ok=True)  # an index: rebuilt from the log when the segment opens
    checkpoint.fsync_dir(directory)


def remove_stray_files(directory: Path) -> list[int]:
    """Finish interrupted swaps, delete leftovers and orphaned indexes; return the ``.log`` base offsets."""
    complete_interrupted_swaps(directory)
    bases: set[int] = set()
    indexes: list[tuple[int, Path]] = []
    for path in directory.iterdir():
        name = path.name
        if name.endswith(_STRAY_SUFFIXES):
            logger.info("%s: deleting leftover file %s", directory, name)
            path.unlink(missing_ok=True)
            continue
        base = _base_offset(path, LOG_SUFFIX)
        if base is not None:
            bases.add(base)
            continue
        for suffix in _INDEX_SUFFIXES:
            base = _base_offset(path, suffix)
            if base is not None:
                indexes.append((base, path))
    for base, path in indexes:
        if base not in bases:
            logger.warning("%s: deleting index %s, which has no log file", directory, path.name)
            path.unlink(missing_ok=True)
    return sorted(bases)


def _open_segment(
    directory: Path, base_offset: int, *, config: LogConfig, time: Clock, check_indexes: bool
) -> LogSegment:
    """Open a segment, rebuilding its indexes if they are missing or implausible."""
    indexes_exist = all(
        (directory / segment_file_name(base_offset, suffix)).exists()
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX)
    )
    segment = LocalLog.open_segment(directory, base_offset=base_offset, config=config, time=time)
    if not check_indexes:
        return segment
    problem = None if indexes_exist or segment.size == 0 else "index files are missing"
    if problem is None:
        try:
            segment.sanity_check()
        except CorruptIndexError as exc:
            problem = str(exc)
    if problem is not None:
        logger.warning("%s: rebuilding indexes of segment %d: %s", directory, base_offset, problem)
        segment.recover()
    return segment


def load_segments(
    directory: Path,
    *,
    config: LogConfig,
    time: Clock,
    log_start_offset_checkpoint: int,
    recovery_point_checkpoint: int,
    clean_shutdown: bool,
    on_recovered_batch: Callable[[RecordBatchHeader], None] | None = None,
) -> tuple[LogSegments, LoadedLogOffsets]:
    segments = LogSegments()
    bases = remove_stray_files(directory)
    # Segments that recovery will rebuild anyway need no index check first.
    below = [base for base in bases if base <= recovery_point_checkpoint]
    recover_from = None if clean_shutdown or not bases else (below[-1] if below else bases[0])
    for base_offset in bases:
        will_recover = recover_from is not None and base_offset >= recover_from
        segments.add(
            _open_segment(directory, base_offset, config=config, time=time, check_indexes=not will_recover)
        )
    if not len(segments):
        segments.add(
            LocalLog.open_segment(
                directory, base_offset=log_start_offset_checkpoint, config=config, time=time
            )
        )
    if not clean_shutdown and bases:  # a brand-new log has nothing to recover
        _recover_log(segments, recovery_point=recovery_point_checkpoint, on_batch=on_recovered_batch)
    # Only the active segment grows; give its (trimmed) indexes their full size back.
    segments.last.resize_indexes(config.segment_index_bytes)
    log_end_offset = segments.last.read_next_offset()
    log_start_offset = max(log_start_offset_checkpoint, segments.first.base_offset)
    if log_start_offset > log_end_offset:
        # DeleteRecords moved the start past data that recovery has since cut away.
        logger.warning("%s: log start %d is past the log end %d", directory, log_start_offset, log_end_offset)
        for segment in segments:
            segments.remove(segment)
            segment.close_handlers()
            segment.delete_files()
        segments.add(LocalLog.open_segment(directory, base_offset=log_start_offset, config=config, time=time))
        log_end_offset = log_start_offset
    recovery_point = min(recovery_point_checkpoint, log_end_offset)
    return segments, LoadedLogOffsets(log_start_offset, recovery_point, log_end_offset)


def _recover_log(
    segments: LogSegments, *, recovery_point: int, on_batch: Callable[[RecordBatchHeader], None] | None
) -> None:
    unflushed = segments.from_offset(recovery_point)
    for index, segment in enumerate(unflushed):
        logger.info("recovering segment %s", segment.log.path)
        truncated = segment.recover(on_batch=on_batch)
        if truncated > 0:
            # Everything after a torn write is unflushed data past a hole: drop it.
            for later in unflushed[index + 1 :]:
                logger.warning("deleting segment %s, which follows a corrupt one", later.log.path)
                segments.remove(later)
                later.close_handlers()
                later.delete_files()
            return


def rebuild_producer_state(
    manager: ProducerStateManager,
    *,
    segments: LogSegments,
    log_start_offset: int,
    log_end_offset: int,
    now_ms: int,
) -> None:
    """Reload the newest snapshot <= the log end and replay batch headers after it."""
    manager.truncate_and_reload(
        log_start_offset=log_start_offset, log_end_offset=log_end_offset, now_ms=now_ms
    )
    start = max(manager.map_end_offset, log_start_offset)
    if log_end_offset > start:
        manager.update_map_end_offset(start)
        for segment in segments.from_offset(start):
            position = segment.offset_index.lookup(start).position
            for _, header in segment.log.batch_headers(position):
                if header.last_offset >= start and header.base_offset < log_end_offset:
                    manager.apply_batch(header)
    manager.update_map_end_offset(log_end_offset)
    manager.take_snapshot()


def load_log(
    directory: Path,
    *,
    config: LogConfig,
    recovery_point: int,
    log_start_offset: int,
    clean_shutdown: bool,
    topic_id: uuid.UUID | None,
    time: Clock,
    producer_id_expiration_ms: int,
) -> LoadedLog:
    """Everything a `UnifiedLog` needs from its directory, consistent with the log end offset."""
    directory.mkdir(parents=True, exist_ok=True)
    topic_id = reconcile_topic_id(directory / checkpoint.PARTITION_METADATA, topic_id)
    epoch_path = directory / checkpoint.LEADER_EPOCH_CHECKPOINT
    try:
        epoch_cache = LeaderEpochFileCache.load(epoch_path)
        rebuild_epochs = False
    except KafkaStorageError as exc:
        logger.warning(
            "%s: unreadable leader epoch checkpoint, rebuilding it from the log: %s", directory, exc
        )
        epoch_cache, rebuild_epochs = LeaderEpochFileCache(epoch_path), True

    def on_recovered_batch(header: RecordBatchHeader) -> None:
        # The checkpoint is written before the data, but a lost checkpoint write must not lose epochs.
        epoch_cache.assign_if_newer(header.partition_leader_epoch, header.base_offset)

    segments, offsets = load_segments(
        directory,
        config=config,
        time=time,
        log_start_offset_checkpoint=log_start_offset,
        recovery_point_checkpoint=recovery_point,
        clean_shutdown=clean_shutdown,
        on_recovered_batch=on_recovered_batch,
    )
    if rebuild_epochs:
        for segment in segments:
            for _, header in segment.log.batch_headers():
                on_recovered_batch(header)
    # Entries past the log end (written before a crash lost the data) or below its start go.
    epoch_cache.truncate_from_end(offsets.log_end_offset)
    epoch_cache.truncate_from_start(offsets.log_start_offset)
    producers = ProducerStateManager(
        directory, producer_id_expiration_ms=producer_id_expiration_ms, time=time
    )
    producers.remove_stray_snapshots(segments.base_offsets)
    rebuild_producer_state(
        producers,
        segments=segments,
        log_start_offset=offsets.log_start_offset,
        log_end_offset=offsets.log_end_offset,
        now_ms=time(),
    )
    local_log = LocalLog(
        directory,
        config=config,
        segments=segments,
        log_end_offset=offsets.log_end_offset,
        recovery_point=offsets.recovery_point,
        time=time,
    )
    return LoadedLog(
        local_log=local_log,
        log_start_offset=offsets.log_start_offset,
        leader_epoch_cache=epoch_cache,
        producer_state_manager=producers,
        topic_id=topic_id,
    )


def reconcile_topic_id(path: Path, topic_id: uuid.UUID | None) -> uuid.UUID | None:
    """Check ``partition.metadata`` against the expected topic id; write it if it is missing."""
    stored = checkpoint.read_partition_metadata(path)
    if topic_id is None:
        return stored
    if stored is not None and stored != topic_id:
        raise InconsistentTopicIdError(f"{path.parent} belongs to topic id {stored}, not {topic_id}")
    if stored is None:
        checkpoint.write_partition_metadata(path, topic_id)
    return topic_id
