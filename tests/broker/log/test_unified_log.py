"""UnifiedLog: leader and follower appends, reads bounded by the high watermark, rolling, offset lookups."""

from __future__ import annotations

import pytest
from log_testkit import T0, FakeClock, OpenLog, make_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log.unified_log import UnexpectedAppendOffsetError, UnifiedLog
from brook_broker.protocol.errors import (
    CorruptRecordError,
    InvalidProducerEpochError,
    InvalidRecordError,
    InvalidTimestampError,
    OffsetOutOfRangeError,
    OutOfOrderSequenceError,
    RecordBatchTooLargeError,
    RecordTooLargeError,
)
from brook_broker.protocol.record_reader import iter_records
from brook_broker.protocol.records import CompressionType, TimestampType, iter_batches, validate_batches


def read_all(log: UnifiedLog, offset: int = 0, **kwargs: object) -> bytes:
    kwargs.setdefault("max_bytes", 1 << 30)
    return log.read(offset, **kwargs).records.read_bytes()  # type: ignore[arg-type]


def offsets_of(data: bytes) -> list[tuple[int, int]]:
    return [(h.base_offset, h.last_offset) for _, h in iter_batches(data)]


def test_append_assigns_offsets_and_stamps_the_epoch(open_log: OpenLog) -> None:
    log = open_log()
    first = log.append_as_leader(make_batch(3, base_offset=77), leader_epoch=5)
    second = log.append_as_leader(make_batch(2) + make_batch(4), leader_epoch=5)
    assert (first.first_offset, first.last_offset, first.record_count) == (0, 2, 3)
    assert (second.first_offset, second.last_offset, second.record_count) == (3, 8, 6)
    assert log.log_end_offset == 9
    data = read_all(log)
    validate_batches(data)  # CRCs still hold: only fields outside the CRC were rewritten
    assert offsets_of(data) == [(0, 2), (3, 4), (5, 8)]
    assert {h.partition_leader_epoch for _, h in iter_batches(data)} == {5}
    assert [r.offset for r in iter_records(data)] == [0, 1, 2]
    assert log.leader_epoch_cache.entries == [(5, 0)]
    assert first.log_append_time_ms == -1 and first.max_timestamp == T0


def test_new_leader_epoch_is_recorded_at_its_first_offset(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(3), leader_epoch=1)
    log.append_as_leader(make_batch(3), leader_epoch=2)
    log.append_as_leader(make_batch(3), leader_epoch=2)
    assert log.leader_epoch_cache.entries == [(1, 0), (2, 3)]
    assert log.end_offset_for_epoch(1) == (1, 3)
    assert log.end_offset_for_epoch(2) == (2, 9)
    assert (log.dir / "leader-epoch-checkpoint").read_text() == "0\n2\n1 0\n2 3\n"


def test_read_bounds_and_errors(open_log: OpenLog) -> None:
    log = open_log()
    for _ in range(5):
        log.append_as_leader(make_batch(4), leader_epoch=0)
    assert offsets_of(read_all(log, 6)) == [(4, 7), (8, 11), (12, 15), (16, 19)]
    assert log.read(20, max_bytes=100).records.size == 0  # at the log end: empty, no error
    with pytest.raises(OffsetOutOfRangeError):
        log.read(21, max_bytes=100)
    log.update_high_watermark(12)
    assert offsets_of(read_all(log, 0, max_offset=log.high_watermark)) == [(0, 3), (4, 7), (8, 11)]
    assert read_all(log, 12, max_offset=12) == b""
    assert offsets_of(read_all(log, 0, max_offset=10)) == [(0, 3), (4, 7)]  # a batch holding the bound is out
    log.delete_records_before(8)
    with pytest.raises(OffsetOutOfRangeError):
        log.read(7, max_bytes=100)


def test_read_max_bytes_and_min_one_message(open_log: OpenLog) -> None:
    log = open_log()
    batch = make_batch(5, value_size=200)
    for _ in range(4):
        log.append_as_leader(batch, leader_epoch=0)
    assert offsets_of(read_all(log, 0, max_bytes=2 * len(batch) + 10)) == [(0, 4), (5, 9)]
    assert offsets_of(read_all(log, 7, max_bytes=1)) == [(5, 9)]  # min_one_message defaults to True
    nothing = log.read(7, max_bytes=1, min_one_message=False)
    assert nothing.records.size == 0 and nothing.first_entry_incomplete


def test_read_of_the_last_batch_from_its_middle(open_log: OpenLog) -> None:
    """Tansu's bug: a consumer positioned inside the last batch must get that batch, not nothing."""
    log = open_log()
    log.append_as_leader(make_batch(10), leader_epoch=0)
    log.update_high_watermark(log.log_end_offset)
    assert offsets_of(read_all(log, 9, max_offset=log.high_watermark)) == [(0, 9)]


def test_high_watermark_is_clamped(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(5), leader_epoch=0)
    assert log.update_high_watermark(100) == 5
    assert log.update_high_watermark(-4) == 0
    assert log.maybe_increment_high_watermark(3)
    assert not log.maybe_increment_high_watermark(2)
    assert log.high_watermark == 3


def test_validation_errors(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(LogConfig(max_message_bytes=500, message_timestamp_after_max_ms=1000))
    with pytest.raises(RecordTooLargeError):
        log.append_as_leader(make_batch(5, value_size=200), leader_epoch=0)
    with pytest.raises(InvalidRecordError):
        log.append_as_leader(make_batch(1, is_control=True), leader_epoch=0)
    with pytest.raises(InvalidTimestampError):
        log.append_as_leader(make_batch(1, timestamp=clock() + 1001), leader_epoch=0)
    corrupt = bytearray(make_batch(1))
    corrupt[-1] ^= 1
    with pytest.raises(CorruptRecordError):
        log.append_as_leader(bytes(corrupt), leader_epoch=0)
    with pytest.raises(InvalidRecordError):  # an idempotent batch needs a sequence
        log.append_as_leader(make_batch(1, producer_id=1, producer_epoch=0), leader_epoch=0)
    assert log.log_end_offset == 0 and log.size_in_bytes == 0


def test_timestamp_before_limit(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(LogConfig(message_timestamp_before_max_ms=60_000))
    log.append_as_leader(make_batch(1, timestamp=clock() - 60_000), leader_epoch=0)
    with pytest.raises(InvalidTimestampError):
        log.append_as_leader(make_batch(1, timestamp=clock() - 60_001), leader_epoch=0)


def test_record_set_larger_than_a_segment(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=1000))
    with pytest.raises(RecordBatchTooLargeError):
        log.append_as_leader(make_batch(5, value_size=300), leader_epoch=0)


def test_log_append_time(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(LogConfig(message_timestamp_type="LogAppendTime"))
    info = log.append_as_leader(
        make_batch(3, timestamp=T0 - 10**9, compression=CompressionType.GZIP), leader_epoch=0
    )
    assert info.log_append_time_ms == clock() == info.max_timestamp
    data = read_all(log)
    header = validate_batches(data)[0][1]  # the CRC was recomputed
    assert header.timestamp_type is TimestampType.LOG_APPEND_TIME and header.max_timestamp == clock()
    assert {r.timestamp for r in iter_records(data)} == {clock()}


def test_roll_by_size(open_log: OpenLog) -> None:
    batch = make_batch(5, value_size=100)
    log = open_log(LogConfig(segment_bytes=3 * len(batch)))
    for _ in range(10):
        log.append_as_leader(batch, leader_epoch=0)
    assert log.num_segments == 4
    assert [s.base_offset for s in log.local_log.segments] == [0, 15, 30, 45]
    assert len(read_all(log)) == 3 * len(batch)  # a read stops at its segment's end (as in Kafka)
    assert offsets_of(read_all(log, 15)) == [(15, 19), (20, 24), (25, 29)]
    # The rolled segment's indexes were trimmed, the producer snapshot taken.
    first = log.local_log.segments.first
    assert first.offset_index.length == first.offset_index.size_in_bytes
    assert (log.dir / "00000000000000000015.snapshot").exists()


def test_roll_by_time(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(LogConfig(segment_ms=1000))
    log.append_as_leader(make_batch(1, timestamp=clock()), leader_epoch=0)
    log.append_as_leader(make_batch(1, timestamp=clock() + 1000), leader_epoch=0)
    assert log.num_segments == 1
    log.append_as_leader(make_batch(1, timestamp=clock() + 1001), leader_epoch=0)
    assert log.num_segments == 2


def test_roll_by_full_index(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_index_bytes=32, index_interval_bytes=1))
    for _ in range(12):
        log.append_as_leader(make_batch(1, value_size=50), leader_epoch=0)
    assert log.num_segments > 2
    # The second append writes the first index entries and fills the two-slot time index.
    assert offsets_of(read_all(log)) == [(0, 0), (1, 1)]
    total = b"".join(read_all(log, s.base_offset) for s in log.local_log.segments)
    assert [o for o, _ in offsets_of(total)] == list(range(12))


def test_follower_append(open_log: OpenLog) -> None:
    leader = open_log()
    leader.append_as_leader(make_batch(3), leader_epoch=1)
    leader.append_as_leader(make_batch(2), leader_epoch=2)
    data = read_all(leader)
    leader.close()
    follower = open_log(dir=leader.dir.with_name("copy-0"))
    info = follower.append_as_follower(data)
    assert (info.first_offset, info.last_offset) == (0, 4)
    assert read_all(follower) == data
    assert follower.leader_epoch_cache.entries == [(1, 0), (2, 3)]
    with pytest.raises(UnexpectedAppendOffsetError):
        follower.append_as_follower(data)  # offsets below the log end: replication must truncate first


def test_follower_append_rejects_out_of_order_offsets(open_log: OpenLog) -> None:
    log = open_log()
    with pytest.raises(UnexpectedAppendOffsetError):
        log.append_as_follower(make_batch(3, base_offset=10) + make_batch(3, base_offset=11))


def test_idempotent_duplicate_returns_the_original_offsets(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(2), leader_epoch=0)
    batch = make_batch(3, producer_id=9, producer_epoch=0, base_sequence=0)
    first = log.append_as_leader(batch, leader_epoch=0)
    size = log.size_in_bytes
    again = log.append_as_leader(batch, leader_epoch=0)
    assert again.duplicate and (again.first_offset, again.last_offset) == (
        first.first_offset,
        first.last_offset,
    ) == (
        2,
        4,
    )
    assert log.size_in_bytes == size and log.log_end_offset == 5
    with pytest.raises(OutOfOrderSequenceError):
        log.append_as_leader(make_batch(1, producer_id=9, producer_epoch=0, base_sequence=5), leader_epoch=0)
    with pytest.raises(InvalidProducerEpochError):
        log.append_as_leader(
            make_batch(1, producer_id=9, producer_epoch=-1 + 0, base_sequence=3), leader_epoch=0
        )
    assert log.append_as_leader(
        make_batch(1, producer_id=9, producer_epoch=0, base_sequence=3), leader_epoch=0
    )
    assert log.log_end_offset == 6


def test_fetch_offset_by_timestamp(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=800))
    for i in range(12):
        stamps = [T0 + 1000 * i + j for j in range(4)]
        codec = CompressionType.LZ4 if i % 3 == 0 else CompressionType.NONE
        log.append_as_leader(make_batch(4, timestamps=stamps, compression=codec), leader_epoch=i // 4)
    assert log.num_segments > 1
    found = log.fetch_offset_by_timestamp(T0 + 5002)
    assert found is not None and (found.offset, found.timestamp, found.leader_epoch) == (22, T0 + 5002, 1)
    found = log.fetch_offset_by_timestamp(T0 + 5004)  # between batches: the next batch's first record
    assert found is not None and found.offset == 24
    assert log.fetch_offset_by_timestamp(T0 + 11_004) is None
    log.update_high_watermark(log.log_end_offset)
    log.delete_records_before(30)
    found = log.fetch_offset_by_timestamp(T0)
    assert found is not None and found.offset == 30


def test_max_timestamp_and_offset(open_log: OpenLog) -> None:
    log = open_log(LogConfig(segment_bytes=800))
    assert log.max_timestamp_and_offset() is None
    for i in range(10):
        stamps = [T0 + 50, T0 + 10 * i, T0 + 90, T0 + 10 * i] if i in (3, 6) else [T0 + i] * 4
        log.append_as_leader(make_batch(4, timestamps=stamps), leader_epoch=7)
    found = log.max_timestamp_and_offset()
    # Batches 3 and 6 both reach T0 + 90; the earliest record with it is offset 14.
    assert found is not None and (found.timestamp, found.offset, found.leader_epoch) == (T0 + 90, 14, 7)


def test_operations_on_a_closed_log_fail(open_log: OpenLog) -> None:
    log = open_log()
    log.close()
    log.close()  # idempotent
    with pytest.raises(Exception, match="closed"):
        log.append_as_leader(make_batch(1), leader_epoch=0)
