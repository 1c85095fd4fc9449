"""Log compaction: what the cleaner keeps, when it runs, and what it never touches."""

from __future__ import annotations

import pytest
from cleaner_testkit import compact_config, config_with, cycling_batches, make_cleaner, produce
from log_testkit import (
    T0,
    TP,
    FakeClock,
    OpenLog,
    keyed_batch,
    latest_per_key,
    read_batch_headers,
    read_records,
)

from brook_broker.log.cleaner_manager import CLEANER_OFFSET_CHECKPOINT
from brook_broker.log.offset_map import BYTES_PER_ENTRY
from brook_broker.log.record_filter import DELETE_HORIZON_FLAG
from brook_broker.protocol.compression import XERIAL_MAGIC
from brook_broker.protocol.errors import ErrorCode, InvalidRecordError
from brook_broker.protocol.records import RECORD_BATCH_OVERHEAD, CompressionType


def test_keeps_the_latest_record_per_key_at_its_original_offset(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config())
    written = produce(log, cycling_batches(60, keys=7))
    log.roll()
    end, size_before = log.log_end_offset, log.size_in_bytes
    stats = make_cleaner(log, clock).clean_one()
    assert stats is not None
    assert stats.end_offset == end
    records = read_records(log)
    by_offset = {record.offset: record for record in written}
    assert len(records) == 7
    for record in records:
        original = by_offset[record.offset]
        assert (record.key, record.value, record.timestamp) == (
            original.key,
            original.value,
            original.timestamp,
        )
    assert latest_per_key(records) == latest_per_key(written)
    assert log.log_end_offset == end
    assert log.size_in_bytes < size_before / 5
    # Reads from an offset compaction removed start at the next batch that remains.
    assert read_records(log, start=1)[0].offset == records[0].offset
    # The first dirty offset is recorded in Kafka's format, next to the partition directory.
    assert (
        log.dir.parent / CLEANER_OFFSET_CHECKPOINT
    ).read_text() == f"0\n1\n{TP.topic} {TP.partition} {end}\n"


def test_the_active_segment_is_never_cleaned(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config())
    produce(log, cycling_batches(40, keys=5))
    active = log.local_log.active_segment
    active_bytes = active.log.read(0, active.size)
    active_records = [r for r in read_records(log) if r.offset >= active.base_offset]
    assert make_cleaner(log, clock).clean_one() is not None
    assert log.local_log.active_segment is active
    assert active.log.read(0, active.size) == active_bytes
    # Duplicates in the active segment remain; below it each key appears once.
    records = read_records(log)
    assert [r for r in records if r.offset >= active.base_offset] == active_records
    below = [r.key for r in records if r.offset < active.base_offset]
    assert len(below) == len(set(below))


def test_nothing_at_or_above_the_high_watermark_is_cleaned(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config())
    written = produce(log, cycling_batches(60, keys=4))
    log.roll()
    bases = [segment.base_offset for segment in log.local_log.segments]
    high_watermark = bases[3]
    log.update_high_watermark(high_watermark)
    stats = make_cleaner(log, clock).clean_one()
    assert stats is not None
    assert stats.end_offset == high_watermark
    assert [r for r in read_records(log) if r.offset >= high_watermark] == [
        r for r in written if r.offset >= high_watermark
    ]


def test_tombstones_are_removed_only_after_delete_retention_ms(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config(delete_retention_ms=10_000))
    cleaner = make_cleaner(log, clock)
    produce(log, [[(b"gone", b"a"), (b"kept", b"b")], [(b"gone", None)]])
    log.roll()
    assert cleaner.clean_one() is not None
    records = read_records(log)
    assert [(r.key, r.value) for r in records] == [(b"kept", b"b"), (b"gone", None)]
    # KIP-534: the tombstone's batch now carries its delete horizon.
    tombstone_batch = next(h for h in read_batch_headers(log) if h.base_offset == records[1].offset)
    assert tombstone_batch.attributes & DELETE_HORIZON_FLAG
    assert tombstone_batch.base_timestamp == T0 + 10_000
    assert records[1].timestamp == T0  # the record's own timestamp is unchanged

    # A cleaning before the horizon keeps it (new dirty data makes the log cleanable again).
    clock.advance(9_999)
    produce(log, [[(b"other", b"x")]])
    log.roll()
    assert cleaner.clean_one() is not None
    assert (b"gone", None) in [(r.key, r.value) for r in read_records(log)]

    clock.advance(1)
    produce(log, [[(b"other", b"y")]])
    log.roll()
    assert cleaner.clean_one() is not None
    assert [(r.key, r.value) for r in read_records(log)] == [(b"kept", b"b"), (b"other", b"y")]


def test_min_compaction_lag_keeps_recent_segments_dirty(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config(min_compaction_lag_ms=60_000))
    produce(log, cycling_batches(30, keys=3), timestamp=T0)
    log.roll()
    cleaner = make_cleaner(log, clock)
    clock.advance(30_000)
    assert cleaner.clean_one() is None
    assert len(read_records(log)) == 90
    clock.advance(31_000)
    assert cleaner.clean_one() is not None
    assert len(read_records(log)) == 3


def test_dirty_ratio_threshold_decides_when_a_log_is_cleaned(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config(min_cleanable_dirty_ratio=0.5, segment_bytes=600))
    cleaner = make_cleaner(log, clock)
    produce(log, [[(f"k{i}".encode(), b"x" * 40)] for i in range(30)])
    log.roll()
    assert cleaner.clean_one() is not None  # everything is dirty
    produce(log, [[(b"k0", b"y" * 40)]])
    log.roll()
    assert cleaner.clean_one() is None
    assert 0 < cleaner.manager.dirtiest_log_cleanable_ratio <= 0.5
    produce(log, [[(f"k{i}".encode(), b"z" * 100)] for i in range(1, 30)])
    log.roll()
    assert cleaner.clean_one() is not None
    assert cleaner.manager.dirtiest_log_cleanable_ratio > 0.5
    assert {r.value for r in read_records(log)} == {b"y" * 40, b"z" * 100}


def test_max_compaction_lag_forces_a_cleaning_below_the_ratio(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config(min_cleanable_dirty_ratio=0.99, max_compaction_lag_ms=60_000))
    cleaner = make_cleaner(log, clock)
    produce(log, cycling_batches(30, keys=30))
    log.roll()
    assert cleaner.clean_one() is not None
    produce(log, [[(b"k0", b"late")]], timestamp=clock())
    log.roll()
    clock.advance(1_000)
    assert cleaner.clean_one() is None
    clock.advance(60_000)
    assert cleaner.clean_one() is not None
    assert sum(1 for r in read_records(log) if r.key == b"k0") == 1


def test_compacted_segments_roll_by_max_compaction_lag(open_log: OpenLog, clock: FakeClock) -> None:
    # Kafka's maxSegmentMs: the active segment is never cleaned, so it must roll in time.
    log = open_log(compact_config(segment_bytes=1 << 20, max_compaction_lag_ms=60_000))
    produce(log, [[(b"k", b"1")]], timestamp=clock())
    produce(log, [[(b"k", b"2")]], timestamp=clock() + 60_001)
    assert log.num_segments == 2


@pytest.mark.parametrize("codec", list(CompressionType))
def test_compressed_batches_are_recompressed_with_their_codec(
    open_log: OpenLog, clock: FakeClock, codec: CompressionType
) -> None:
    log = open_log(compact_config(segment_bytes=4096))
    written = produce(log, cycling_batches(40, keys=10, per_batch=4), compression=codec)
    log.roll()
    assert make_cleaner(log, clock).clean_one() is not None
    records = read_records(log)  # decodes every batch and checks its CRC
    assert latest_per_key(records) == latest_per_key(written)
    assert len(records) == 10
    headers = read_batch_headers(log)
    assert all(h.compression == codec for h in headers if h.records_count > 0)
    # A batch that lost records keeps its offset range: lastOffsetDelta is the original one.
    assert any(0 < h.records_count < h.last_offset_delta + 1 for h in headers)


def test_raw_snappy_batches_keep_their_framing(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config())
    for i in range(10):
        batch = keyed_batch(
            [(b"a", b"%d" % i), (b"b%d" % i, b"x")], compression=CompressionType.SNAPPY, xerial_snappy=False
        )
        log.append_as_leader(batch, leader_epoch=0)
    log.update_high_watermark(log.log_end_offset)
    log.roll()
    assert make_cleaner(log, clock).clean_one() is not None
    segment = log.local_log.segments.first
    for position, header in segment.log.batch_headers():
        if header.records_count:
            section = segment.log.read(position + RECORD_BATCH_OVERHEAD, len(XERIAL_MAGIC))
            assert section != XERIAL_MAGIC  # librdkafka's raw snappy stays raw
    assert latest_per_key(read_records(log))[b"a"] == b"9"


def test_keyless_records_are_rejected_on_compacted_topics(open_log: OpenLog) -> None:
    log = open_log(compact_config())
    for codec in (CompressionType.NONE, CompressionType.ZSTD):
        with pytest.raises(InvalidRecordError) as error:
            log.append_as_leader(keyed_batch([(b"k", b"v"), (None, b"v")], compression=codec), leader_epoch=0)
        assert error.value.error_code == ErrorCode.invalid_record
    assert log.log_end_offset == 0
    log.append_as_leader(keyed_batch([(b"k", None)]), leader_epoch=0)  # a keyed tombstone is fine
    config_with(log, cleanup_policy="delete")
    log.append_as_leader(keyed_batch([(None, b"v")]), leader_epoch=0)
    assert log.log_end_offset == 2


def test_delete_policy_topics_are_never_compacted(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config(cleanup_policy="delete"))
    produce(log, cycling_batches(30, keys=2))
    log.roll()
    assert make_cleaner(log, clock).clean_one() is None
    assert len(read_records(log)) == 90


def test_a_full_offset_map_cleans_in_several_passes(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config())
    written = produce(log, cycling_batches(40, keys=40, per_batch=2))
    written += produce(log, cycling_batches(40, keys=40, per_batch=2, tag="w"))
    log.roll()
    # Room for 10 keys: each pass cleans up to the last batch it could map.
    cleaner = make_cleaner(log, clock, dedupe_buffer_size=BYTES_PER_ENTRY * 12, dedupe_buffer_load_factor=0.9)
    ends = []
    while (stats := cleaner.clean_one()) is not None:
        ends.append(stats.end_offset)
        assert stats.buffer_utilization <= 1.0
    assert len(ends) > 2
    assert ends == sorted(ends)
    assert ends[-1] == log.log_end_offset
    records = read_records(log)
    assert latest_per_key(records) == latest_per_key(written)
    assert len(records) == 40


def test_a_partly_cleaned_batch_keeps_every_header_field(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config())
    batch = keyed_batch(
        [(b"a", b"1"), (b"b", b"1"), (b"c", b"1")], producer_id=9, producer_epoch=2, base_sequence=40
    )
    log.append_as_leader(batch, leader_epoch=5)
    log.append_as_leader(keyed_batch([(b"b", b"2")]), leader_epoch=5)
    log.update_high_watermark(log.log_end_offset)
    original = read_batch_headers(log)[0]
    log.roll()
    assert make_cleaner(log, clock).clean_one() is not None
    cleaned = read_batch_headers(log)[0]
    assert cleaned.records_count == 2
    unchanged = (
        "base_offset",
        "partition_leader_epoch",
        "attributes",
        "last_offset_delta",
        "base_timestamp",
        "producer_id",
        "producer_epoch",
        "base_sequence",
    )
    assert [getattr(cleaned, f) for f in unchanged] == [getattr(original, f) for f in unchanged]
    assert cleaned.max_timestamp == T0 + 2  # the kept records' newest timestamp
    assert [(r.offset, r.key) for r in read_records(log)] == [(0, b"a"), (2, b"c"), (3, b"b")]


def test_batches_past_the_cleanable_range_are_copied_untouched(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config(segment_bytes=1 << 20))
    produce(log, [[(b"a", b"1")], [(b"a", b"2")]])
    log.roll()
    produce(log, [[(b"a", None)], [(b"b", None)]])
    log.roll()
    log.update_high_watermark(3)  # b's tombstone is not committed yet
    before = read_batch_headers(log)
    assert make_cleaner(log, clock).clean_one() is not None
    after = read_batch_headers(log)
    assert [h.base_offset for h in after] == [2, 3]
    assert after[0].attributes & DELETE_HORIZON_FLAG  # a's tombstone was cleaned
    # Nothing changes at or above the high watermark, not even a delete horizon.
    assert after[1] == before[3]
