"""OffsetIndex and TimeIndex: Kafka's file formats, lookups, truncation, resizing, sanity checks."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from brook_broker.log.index import CorruptIndexError, OffsetIndex, OffsetPosition, TimeIndex, TimestampOffset


def test_new_offset_index_is_preallocated_and_empty(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "00000000000000000100.index", base_offset=100, max_index_size=1003)
    assert index.length == 1000  # rounded down to whole 8-byte entries
    assert index.entries == 0
    assert index.max_entries == 125
    assert index.lookup(150) == OffsetPosition(100, 0)
    index.close()


def test_offset_index_lookup_is_largest_entry_at_or_below(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", base_offset=100, max_index_size=4096)
    for offset, position in [(105, 0), (110, 500), (120, 900)]:
        index.append(offset, position)
    assert index.lookup(99) == OffsetPosition(100, 0)
    assert index.lookup(105) == OffsetPosition(105, 0)
    assert index.lookup(119) == OffsetPosition(110, 500)
    assert index.lookup(10_000) == OffsetPosition(120, 900)
    assert index.lookup_position(899) == OffsetPosition(110, 500)
    assert index.lookup_position(900) == OffsetPosition(120, 900)
    assert index.lookup_position(10) == OffsetPosition(105, 0)
    index.close()


def test_offset_index_file_is_kafkas_format(tmp_path: Path) -> None:
    path = tmp_path / "0.index"
    index = OffsetIndex(path, base_offset=100, max_index_size=4096)
    index.append(105, 7)
    index.append(130, 4000)
    index.close()  # trims to the entries
    assert path.read_bytes() == struct.pack(">iiii", 5, 7, 30, 4000)
    reopened = OffsetIndex(path, base_offset=100, max_index_size=4096)
    assert reopened.entries == 2
    assert reopened.last_offset == 130
    reopened.close()


def test_offset_index_rejects_non_increasing_and_overflowing_offsets(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", base_offset=100, max_index_size=4096)
    index.append(110, 0)
    with pytest.raises(ValueError, match="not larger"):
        index.append(110, 10)
    with pytest.raises(ValueError, match="does not fit"):
        index.append(100 + 2**31, 10)
    assert not index.can_append_offset(99)
    assert index.can_append_offset(100 + 2**31 - 1)
    index.close()


def test_offset_index_full(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", base_offset=0, max_index_size=16)
    index.append(1, 0)
    assert not index.is_full()
    index.append(2, 10)
    assert index.is_full()
    with pytest.raises(ValueError, match="full"):
        index.append(3, 20)
    index.close()


def test_offset_index_truncate_to(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", base_offset=0, max_index_size=4096)
    for offset in (10, 20, 30):
        index.append(offset, offset * 10)
    index.truncate_to(25)  # no entry for 25: keep entries below it
    assert index.entries == 2
    index.truncate_to(20)  # an entry for exactly 20: it goes too
    assert index.entries == 1
    assert index.last_offset == 10
    index.truncate_to(5)
    assert index.entries == 0
    assert index.last_offset == 0
    index.close()


def test_resize_and_reset(tmp_path: Path) -> None:
    path = tmp_path / "0.index"
    index = OffsetIndex(path, base_offset=0, max_index_size=4096)
    index.append(1, 0)
    index.trim_to_valid_size()
    assert path.stat().st_size == 8
    assert index.is_full()
    index.resize(4096)
    assert path.stat().st_size == 4096 and index.entries == 1
    index.reset()
    assert index.entries == 0 and index.max_entries == 512
    index.close()
    assert path.stat().st_size == 0


def test_empty_trimmed_index_reopens(tmp_path: Path) -> None:
    path = tmp_path / "0.index"
    OffsetIndex(path, base_offset=0, max_index_size=4096).close()
    index = OffsetIndex(path, base_offset=0, max_index_size=4096)
    assert index.entries == 0 and index.max_entries == 0 and index.is_full()
    index.resize(4096)
    index.append(3, 0)
    index.close()


def test_sanity_check_catches_an_untrimmed_index(tmp_path: Path) -> None:
    path = tmp_path / "0.index"
    index = OffsetIndex(path, base_offset=50, max_index_size=80)
    index.append(60, 0)
    index.append(70, 100)
    index.close_handler()  # a crash: the file keeps its preallocated zeroes
    reopened = OffsetIndex(path, base_offset=50, max_index_size=80)
    assert reopened.entries == 10
    with pytest.raises(CorruptIndexError):
        reopened.sanity_check(log_size=1000)
    reopened.close_handler()


def test_sanity_check_catches_positions_past_the_log(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", base_offset=0, max_index_size=80)
    index.append(5, 500)
    with pytest.raises(CorruptIndexError):
        index.sanity_check(log_size=100)
    index.sanity_check(log_size=1000)
    index.close()


def test_time_index_appends_only_growing_timestamps(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "0.timeindex", base_offset=100, max_index_size=4096)
    assert index.last_entry == TimestampOffset(-1, 100)
    index.maybe_append(1000, 105)
    index.maybe_append(1000, 106)  # same timestamp: ignored
    index.maybe_append(900, 107)  # smaller timestamp: ignored
    index.maybe_append(2000, 110)
    assert index.entries == 2
    assert index.lookup(999) == TimestampOffset(-1, 100)
    assert index.lookup(1500) == TimestampOffset(1000, 105)
    assert index.lookup(5000) == TimestampOffset(2000, 110)
    with pytest.raises(ValueError, match="smaller"):
        index.maybe_append(3000, 109)
    index.close()


def test_time_index_keeps_its_last_slot_for_the_roll_entry(tmp_path: Path) -> None:
    path = tmp_path / "0.timeindex"
    index = TimeIndex(path, base_offset=0, max_index_size=36)  # three entries
    index.maybe_append(10, 1)
    index.maybe_append(20, 2)
    assert index.is_full()
    with pytest.raises(ValueError, match="full"):
        index.maybe_append(30, 3)
    index.maybe_append(30, 3, skip_full_check=True)
    assert index.entries == 3
    index.close()
    assert path.read_bytes()[-12:] == struct.pack(">qi", 30, 3)


def test_time_index_truncate_and_sanity(tmp_path: Path) -> None:
    path = tmp_path / "0.timeindex"
    index = TimeIndex(path, base_offset=0, max_index_size=120)
    for ts, offset in [(10, 1), (20, 5), (30, 9)]:
        index.maybe_append(ts, offset)
    index.truncate_to(5)
    assert index.entries == 1 and index.last_entry == TimestampOffset(10, 1)
    index.sanity_check()
    index.close_handler()
    reopened = TimeIndex(path, base_offset=0, max_index_size=120)  # untrimmed after a "crash"
    with pytest.raises(CorruptIndexError):
        reopened.sanity_check()
    reopened.close_handler()
