"""LogSegment: appends, reads of whole batches, recovery of torn and corrupt tails, truncation, rolling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from log_testkit import T0, FakeClock, make_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log.segment import LogSegment
from brook_broker.protocol.records import CompressionType, iter_batches, read_header

CONFIG = LogConfig(index_interval_bytes=100, segment_index_bytes=4096)


def new_segment(
    directory: Path, clock: FakeClock, base_offset: int = 0, config: LogConfig = CONFIG
) -> LogSegment:
    return LogSegment(directory, base_offset=base_offset, config=config, time=clock)


def append(segment: LogSegment, batch: bytes) -> None:
    header = read_header(batch)
    segment.append(
        largest_offset=header.last_offset,
        largest_timestamp=header.max_timestamp,
        offset_of_max_timestamp=header.last_offset,
        buffers=[batch],
        size=len(batch),
    )


def fill(segment: LogSegment, *, batches: int, per_batch: int = 5, start: int = 0) -> list[bytes]:
    """Append ``batches`` batches of ``per_batch`` records with offsets from ``start``; return them."""
    written = []
    for i in range(batches):
        batch = make_batch(per_batch, base_offset=start + i * per_batch, timestamp=T0 + i, tag=i)
        append(segment, batch)
        written.append(batch)
    return written


def test_file_names_are_kafkas(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock, base_offset=1234)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "00000000000000001234.index",
        "00000000000000001234.log",
        "00000000000000001234.timeindex",
    ]
    segment.close()


def test_append_then_read_everything(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=10)
    info = segment.read(0, max_size=1 << 20)
    assert info is not None
    assert info.records.read_bytes() == b"".join(written)
    assert info.fetch_offset_metadata.relative_position_in_segment == 0
    assert segment.offset_index.entries > 0  # an entry every index.interval.bytes
    segment.close()


def test_read_from_the_middle_of_a_batch_returns_that_batch(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=20)
    for target in range(100):  # every offset, including the last batch's inner offsets
        info = segment.read(target, max_size=1 << 20)
        assert info is not None
        first = read_header(info.records.read_bytes())
        assert first.base_offset <= target <= first.last_offset
        assert info.records.read_bytes() == b"".join(written[target // 5 :])
    assert segment.read(100, max_size=1 << 20) is None
    segment.close()


def test_read_cuts_at_batch_boundaries(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=20)
    size = len(written[0])
    for max_size in (size, size + 1, 3 * size - 1, 3 * size, 7 * size + 5):
        info = segment.read(10, max_size=max_size)
        assert info is not None
        data = info.records.read_bytes()
        whole = max_size // size
        assert data == b"".join(written[2 : 2 + whole])
        assert [h.base_offset for _, h in iter_batches(data)] == [10 + 5 * i for i in range(whole)]
    segment.close()


def test_min_one_message(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=3)
    small = segment.read(0, max_size=10)
    assert small is not None and small.records.size == 0 and small.first_entry_incomplete
    forced = segment.read(0, max_size=10, min_one_message=True)
    assert forced is not None and forced.records.read_bytes() == written[0]
    segment.close()


def test_max_position_bounds_the_read(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=5)
    boundary = len(written[0]) * 2
    info = segment.read(0, max_size=1 << 20, max_position=boundary)
    assert info is not None and info.records.read_bytes() == b"".join(written[:2])
    at_bound = segment.read(10, max_size=1 << 20, max_position=boundary)
    assert at_bound is not None and at_bound.records.size == 0
    segment.close()


def test_translate_offset(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock, base_offset=100)
    written = fill(segment, batches=4, start=100)
    found = segment.translate_offset(112)
    assert found is not None
    assert (found.offset, found.position, found.size) == (110, 2 * len(written[0]), len(written[2]))
    assert segment.translate_offset(120) is None
    assert segment.read_next_offset() == 120
    segment.close()


def reopen(directory: Path, clock: FakeClock, base_offset: int = 0) -> LogSegment:
    return new_segment(directory, clock, base_offset)


def test_recover_truncates_a_torn_write_and_rebuilds_indexes(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=10)
    good = sum(len(b) for b in written[:9])
    segment.close()
    log_path = tmp_path / "00000000000000000000.log"
    os.truncate(log_path, good + len(written[9]) // 2)  # the last batch is half written
    segment = reopen(tmp_path, clock)
    assert segment.recover() == len(written[9]) // 2
    assert segment.size == good
    assert segment.read_next_offset() == 45
    # The rebuilt index points at batch starts, so every read still finds its batch.
    assert segment.offset_index.entries > 0
    for slot in range(segment.offset_index.entries):
        entry = segment.offset_index.entry(slot)
        assert segment.log.read(entry.position, len(written[0])) in written
    for target in range(45):
        info = segment.read(target, max_size=1 << 20)
        assert info is not None and info.records.read_bytes() == b"".join(written[target // 5 : 9])
    assert segment.time_index.last_entry.timestamp == T0 + 8
    segment.close()
    assert log_path.stat().st_size == good


@pytest.mark.parametrize("where", ["crc", "body", "magic", "length"])
def test_recover_stops_at_a_corrupt_batch(tmp_path: Path, clock: FakeClock, where: str) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=6)
    segment.close()
    log_path = tmp_path / "00000000000000000000.log"
    start = sum(len(b) for b in written[:3])
    data = bytearray(log_path.read_bytes())
    position = {"crc": start + 17, "body": start + 70, "magic": start + 16, "length": start + 10}[where]
    data[position] ^= 0x55
    log_path.write_bytes(bytes(data))
    segment = reopen(tmp_path, clock)
    segment.recover()
    assert segment.size == start
    assert segment.read_next_offset() == 15
    segment.close()


def test_recover_drops_a_garbage_tail(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=3)
    segment.close()
    log_path = tmp_path / "00000000000000000000.log"
    with log_path.open("ab") as f:
        f.write(os.urandom(500))
    segment = reopen(tmp_path, clock)
    assert segment.recover() == 500
    assert segment.log.read(0, segment.size) == b"".join(written)
    segment.close()


def test_recover_rejects_offsets_going_backwards(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    first = make_batch(5, base_offset=0)
    append(segment, first)
    append(segment, make_batch(5, base_offset=3))  # overlaps the first: not a valid log
    segment.recover()
    assert segment.size == len(first)
    segment.close()


def test_truncate_to(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=10)
    removed = segment.truncate_to(22)  # inside batch 20..24: the whole batch goes
    assert removed == sum(len(b) for b in written[4:])
    assert segment.read_next_offset() == 20
    assert segment.max_timestamp_so_far == T0 + 3
    assert segment.truncate_to(1000) == 0
    segment.truncate_to(0)
    assert segment.size == 0
    segment.close()


def test_should_roll(tmp_path: Path, clock: FakeClock) -> None:
    config = LogConfig(segment_bytes=1000, segment_ms=60_000, segment_index_bytes=4096)
    segment = new_segment(tmp_path, clock, config=config)

    def should_roll(size: int = 10, timestamp: int = T0, offset: int = 10) -> bool:
        return segment.should_roll(
            config=config,
            messages_size=size,
            max_timestamp_in_messages=timestamp,
            max_offset_in_messages=offset,
            now_ms=clock(),
        )

    assert not should_roll(timestamp=T0 + 10**9)  # an empty segment never rolls on time
    append(segment, make_batch(5, timestamp=T0))
    assert not should_roll()
    assert should_roll(size=1000 - segment.size + 1)  # would pass segment.bytes
    assert not should_roll(size=1000 - segment.size)
    assert not should_roll(timestamp=T0 + 60_000)
    assert should_roll(timestamp=T0 + 60_001)  # record time, not wall time, drives time rolls
    assert should_roll(offset=2**31)  # relative offsets must fit int32
    segment.close()


def test_should_roll_when_an_index_is_full(tmp_path: Path, clock: FakeClock) -> None:
    config = LogConfig(segment_index_bytes=24, index_interval_bytes=1)
    segment = new_segment(tmp_path, clock, config=config)
    fill(segment, batches=2)  # the second append writes the first index entries
    assert segment.time_index.is_full()
    assert segment.should_roll(
        config=config,
        messages_size=1,
        max_timestamp_in_messages=T0,
        max_offset_in_messages=20,
        now_ms=clock(),
    )
    segment.close()


def test_find_offset_by_timestamp(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    for i in range(10):
        stamps = [T0 + 100 * i + 10 * j for j in range(5)]  # 10 ms apart within a batch
        codec = CompressionType.ZSTD if i % 2 else CompressionType.NONE
        append(segment, make_batch(5, base_offset=5 * i, timestamps=stamps, compression=codec))
    found = segment.find_offset_by_timestamp(T0 + 325, 0)
    assert found is not None and (found.offset, found.timestamp) == (18, T0 + 330)
    found = segment.find_offset_by_timestamp(T0 + 0, 7)  # records below the start offset do not count
    assert found is not None and found.offset == 7
    assert segment.find_offset_by_timestamp(T0 + 10_000, 0) is None
    segment.close()


def test_rename_to_deleted_keeps_the_descriptor(tmp_path: Path, clock: FakeClock) -> None:
    segment = new_segment(tmp_path, clock)
    written = fill(segment, batches=2)
    info = segment.read(0, max_size=1 << 20)
    segment.rename_to_deleted()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".deleted"] * 3
    assert info is not None and info.records.read_bytes() == b"".join(written)  # in-flight fetch still works
    segment.close_handlers()
    segment.delete_files()
    assert list(tmp_path.iterdir()) == []
