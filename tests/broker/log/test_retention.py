"""Retention by time, size and log start offset; DeleteRecords; truncation for replication."""

from __future__ import annotations

import pytest
from log_testkit import T0, FakeClock, OpenLog, make_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.errors import OffsetOutOfRangeError
from brook_broker.protocol.records import iter_batches

BATCH = make_batch(5, value_size=100)
#: Three batches per segment.
SEGMENT_BYTES = 3 * len(BATCH)


def fill(log: UnifiedLog, batches: int, *, timestamp: int = T0, step_ms: int = 0, epoch: int = 0) -> None:
    for i in range(batches):
        log.append_as_leader(
            make_batch(5, value_size=100, timestamp=timestamp + i * step_ms), leader_epoch=epoch
        )
    log.update_high_watermark(log.log_end_offset)


def bases(log: UnifiedLog) -> list[int]:
    return [segment.base_offset for segment in log.local_log.segments]


def test_retention_by_time(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES, retention_ms=10_000))
    fill(log, 9, step_ms=1000)  # segments of timestamps T0..2s, 3..5s, 6..8s
    assert bases(log) == [0, 15, 30]
    assert log.delete_old_segments(T0 + 12_000) == 0
    assert log.delete_old_segments(T0 + 12_001) == 1  # the first segment's newest record is 12.001 s old
    assert bases(log) == [15, 30]
    assert log.log_start_offset == 15
    with pytest.raises(OffsetOutOfRangeError):
        log.read(10, max_bytes=1000)


def test_an_expired_active_segment_is_rolled_then_deleted(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES, retention_ms=10_000))
    fill(log, 5)
    assert log.delete_old_segments(T0 + 20_000) == 2
    assert bases(log) == [25]
    assert log.log_start_offset == log.log_end_offset == 25
    assert log.local_log.active_segment.size == 0
    assert log.read(25, max_bytes=100).records.size == 0
    log.append_as_leader(make_batch(1), leader_epoch=0)
    assert log.log_end_offset == 26


def test_retention_never_passes_the_high_watermark(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES, retention_ms=10_000))
    fill(log, 7)
    log.update_high_watermark(16)  # inside the second segment
    assert log.delete_old_segments(T0 + 20_000) == 1
    assert log.log_start_offset == 15


def test_retention_by_size(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES, retention_bytes=4 * len(BATCH)))
    fill(log, 10)  # segments of 3, 3, 3 and 1 batches
    assert log.delete_old_segments(T0) == 2  # deleting a third would go below retention.bytes
    assert bases(log) == [30, 45]
    assert log.size_in_bytes == 4 * len(BATCH)


def test_retention_needs_delete_in_cleanup_policy(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES, retention_ms=1, cleanup_policy="compact"))
    fill(log, 9)
    assert log.delete_old_segments(T0 + 10**9) == 0
    log.update_config(LogConfig(segment_bytes=SEGMENT_BYTES, retention_ms=1, cleanup_policy="compact,delete"))
    assert log.delete_old_segments(T0 + 10**9) == 3


def test_delete_records_then_segments_below_the_log_start(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES, file_delete_delay_ms=1000))
    fill(log, 9, epoch=3)
    log.update_high_watermark(40)
    with pytest.raises(OffsetOutOfRangeError):
        log.delete_records_before(41)
    assert log.delete_records_before(32) == 32
    assert log.delete_records_before(10) == 32  # never backwards
    assert log.leader_epoch_cache.entries == [(3, 32)]
    # Reads start at the batch holding the log start offset.
    data = log.read(32, max_bytes=1 << 20).records.read_bytes()
    assert next(iter_batches(data))[1].base_offset == 30
    assert log.delete_old_segments(clock()) == 2
    assert bases(log) == [30]
    assert log.log_start_offset == 32  # not moved back to the segment's base
    # Deleted segments wait for file.delete.delay.ms before their files go.
    assert len(list(log.dir.glob("*.deleted"))) == 6
    assert log.delete_pending_segments(clock() + 999) == 0
    assert log.delete_pending_segments(clock() + 1000) == 2
    assert list(log.dir.glob("*.deleted")) == []


def test_truncate_to(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES))
    fill(log, 4, epoch=1)
    fill(log, 4, epoch=2)
    assert log.leader_epoch_cache.entries == [(1, 0), (2, 20)]
    assert log.truncate_to(22)  # inside batch 20..24: it goes entirely
    assert log.log_end_offset == 20
    assert log.high_watermark == 20
    assert log.leader_epoch_cache.entries == [(1, 0)]
    assert bases(log) == [0, 15]
    assert not log.truncate_to(20)
    log.append_as_leader(make_batch(2), leader_epoch=4)
    assert log.log_end_offset == 22
    assert log.leader_epoch_cache.entries == [(1, 0), (4, 20)]


def test_truncate_below_the_first_segment_starts_over(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES, retention_ms=1000))
    fill(log, 7, step_ms=1000)
    log.delete_old_segments(T0 + 6000)
    assert log.log_start_offset == 15
    assert log.truncate_to(10)
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (10, 10, 10)
    assert log.leader_epoch_cache.entries == []


def test_truncate_fully_and_start_at(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES))
    fill(log, 7)
    log.truncate_fully_and_start_at(1000)
    assert bases(log) == [1000]
    assert (log.log_start_offset, log.log_end_offset, log.recovery_point) == (1000, 1000, 1000)
    log.append_as_leader(make_batch(3), leader_epoch=0)
    assert log.log_end_offset == 1003


def test_truncate_restores_producer_state(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=SEGMENT_BYTES))
    for seq in range(0, 40, 5):
        log.append_as_leader(
            make_batch(5, value_size=100, producer_id=7, producer_epoch=0, base_sequence=seq), leader_epoch=0
        )
    log.truncate_to(25)
    entry = log.producer_state_manager.last_entry(7)
    assert entry is not None and entry.last_seq == 24
    # The producer retries what was cut away: accepted again, at the new offsets.
    info = log.append_as_leader(
        make_batch(5, value_size=100, producer_id=7, producer_epoch=0, base_sequence=25), leader_epoch=0
    )
    assert not info.duplicate and info.first_offset == 25
