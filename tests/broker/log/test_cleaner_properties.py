"""Property: whatever is produced and however often it is cleaned, a compacted log reads as its model.

The model of a compacted log is each key's latest value. Tombstoned keys may read as a
tombstone until ``delete.retention.ms`` after the cleaning that first saw the tombstone, and
must be gone after it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from unittest import mock

from cleaner_testkit import compact_config, make_cleaner, produce
from hypothesis import given, settings
from hypothesis import strategies as st
from log_testkit import TP, FakeClock, KeyValue, latest_per_key, read_records

from brook_broker.log.offset_map import BYTES_PER_ENTRY
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.record_reader import Record
from brook_broker.protocol.records import CompressionType

DELETE_RETENTION_MS = 10_000

keys = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f", b"a-much-longer-key-than-sixteen-bytes"])
values = st.one_of(st.none(), st.binary(min_size=0, max_size=30))
batches = st.lists(st.lists(st.tuples(keys, values), min_size=1, max_size=5), min_size=1, max_size=12)
#: Rounds of produced batches; after each the clock moves on and the cleaner runs.
rounds = st.lists(st.tuples(batches, st.integers(0, 2 * DELETE_RETENTION_MS)), min_size=1, max_size=4)


def clean_until_done(log: UnifiedLog, clock: FakeClock, map_keys: int) -> None:
    cleaner = make_cleaner(
        log, clock, dedupe_buffer_size=BYTES_PER_ENTRY * map_keys, dedupe_buffer_load_factor=1.0
    )
    for _ in range(100):
        if cleaner.clean_one() is None:
            return
    raise AssertionError("the cleaner never ran out of work")


def check_against_model(
    log: UnifiedLog,
    written: list[Record],
    *,
    now_ms: int,
    written_at: dict[bytes, int],
    tombstones_may_remain: bool,
) -> None:
    records = read_records(log)
    by_offset = {record.offset: record for record in written}
    offsets = [record.offset for record in records]
    assert offsets == sorted(set(offsets))
    for record in records:  # every record is one that was produced, at its offset
        assert (record.key, record.value) == (by_offset[record.offset].key, by_offset[record.offset].value)
    model = latest_per_key(written)
    visible = latest_per_key(records)
    assert set(visible) <= set(model)
    for key, value in model.items():
        if value is not None:
            assert visible[key] == value
        elif tombstones_may_remain:
            assert visible.get(key) is None  # absent, or still a tombstone
            # A tombstone's horizon is at least delete.retention.ms after it was written.
            if now_ms < written_at[key] + DELETE_RETENTION_MS:
                assert key in visible
        else:
            assert key not in visible


@settings(max_examples=40, deadline=None)
@given(
    rounds=rounds,
    codec=st.sampled_from(list(CompressionType)),
    segment_bytes=st.sampled_from([400, 900, 3000]),
    map_keys=st.sampled_from([2, 5, 1000]),
    roll_each_round=st.booleans(),
)
def test_a_compacted_log_reads_as_its_model(
    rounds: list[tuple[list[list[KeyValue]], int]],
    codec: CompressionType,
    segment_bytes: int,
    map_keys: int,
    roll_each_round: bool,
) -> None:
    clock = FakeClock()
    config = compact_config(segment_bytes=segment_bytes, delete_retention_ms=DELETE_RETENTION_MS)
    # Durability is not under test here (see test_cleaner_safety); fsync dominates the run time.
    with tempfile.TemporaryDirectory() as directory, mock.patch.object(os, "fsync", lambda fd: None):
        log = UnifiedLog.load(
            dir=Path(directory) / str(TP), topic_partition=TP, config=config, time=clock, clean_shutdown=True
        )
        written: list[Record] = []
        written_at: dict[bytes, int] = {}
        for produced, pause_ms in rounds:
            written += produce(log, produced, compression=codec, timestamp=clock())
            written_at.update((key, clock()) for pairs in produced for key, _ in pairs)
            if roll_each_round:
                log.roll()
            clean_until_done(log, clock, map_keys)
            check_against_model(
                log, written, now_ms=clock(), written_at=written_at, tombstones_may_remain=True
            )
            clock.advance(pause_ms)

        # Everything rolled and cleaned, then once more after the delete horizon (new data makes
        # the log dirty enough): no tombstone is left.
        log.roll()
        clean_until_done(log, clock, map_keys)
        clock.advance(DELETE_RETENTION_MS)
        written += produce(log, [[(b"filler", b"x")]], timestamp=clock())
        log.roll()
        clean_until_done(log, clock, map_keys)
        check_against_model(log, written, now_ms=clock(), written_at=written_at, tombstones_may_remain=False)
        if map_keys == 1000:
            assert len(read_records(log)) == sum(
                value is not None for value in latest_per_key(written).values()
            )

        # What is on disk reads the same after a restart.
        expected = read_records(log)
        log.flush()
        log.close()
        reopened = UnifiedLog.load(
            dir=Path(directory) / str(TP), topic_partition=TP, config=config, time=clock, clean_shutdown=True
        )
        assert read_records(reopened, start=0) == expected
        reopened.close()
