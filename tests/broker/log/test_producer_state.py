"""Producer state: Kafka's epoch and sequence rules, the five-batch duplicate window, snapshots."""

from __future__ import annotations

import struct
from pathlib import Path

import crc32c
import pytest
from log_testkit import T0, FakeClock, make_batch

from brook_broker.log import producer_snapshot
from brook_broker.log.producer_entry import AppendOrigin, BatchMetadata, decrement_sequence, in_sequence
from brook_broker.log.producer_snapshot import CorruptSnapshotError, SnapshotEntry
from brook_broker.log.producer_state import ProducerStateManager
from brook_broker.protocol.errors import InvalidProducerEpochError, OutOfOrderSequenceError
from brook_broker.protocol.records import RecordBatchHeader, read_header

PID = 4000


def header(*, seq: int, count: int = 3, epoch: int = 0, offset: int = 0, pid: int = PID) -> RecordBatchHeader:
    batch = make_batch(count, base_offset=offset, producer_id=pid, producer_epoch=epoch, base_sequence=seq)
    return read_header(batch)


def append(
    manager: ProducerStateManager, *headers: RecordBatchHeader, origin: AppendOrigin = AppendOrigin.CLIENT
) -> BatchMetadata | None:
    updates, duplicate = manager.analyze(list(headers), origin)
    if duplicate is None:
        for info in updates.values():
            manager.update(info)
        manager.update_map_end_offset(headers[-1].next_offset)
    return duplicate


@pytest.fixture
def manager(tmp_path: Path, clock: FakeClock) -> ProducerStateManager:
    return ProducerStateManager(tmp_path, time=clock)


def test_sequence_arithmetic_wraps_at_int32() -> None:
    assert in_sequence(4, 5)
    assert not in_sequence(4, 6)
    assert in_sequence(2**31 - 1, 0)
    assert decrement_sequence(2, 5) == 2**31 - 3
    assert decrement_sequence(10, 5) == 5


def test_in_sequence_batches_are_accepted(manager: ProducerStateManager) -> None:
    assert append(manager, header(seq=0, offset=0)) is None
    assert append(manager, header(seq=3, offset=3), header(seq=6, offset=6)) is None
    entry = manager.last_entry(PID)
    assert entry is not None and entry.last_seq == 8 and entry.last_data_offset == 8


def test_a_new_producer_may_start_at_any_sequence(manager: ProducerStateManager) -> None:
    # No state (e.g. retention removed it): Kafka accepts whatever comes.
    assert append(manager, header(seq=77)) is None


def test_gap_is_out_of_order(manager: ProducerStateManager) -> None:
    append(manager, header(seq=0))
    with pytest.raises(OutOfOrderSequenceError):
        append(manager, header(seq=4, offset=3))


def test_gap_inside_one_append_is_out_of_order(manager: ProducerStateManager) -> None:
    append(manager, header(seq=0))
    with pytest.raises(OutOfOrderSequenceError):
        append(manager, header(seq=3, offset=3), header(seq=9, offset=6))
    # Nothing of the rejected append was kept.
    entry = manager.last_entry(PID)
    assert entry is not None and entry.last_seq == 2


def test_older_epoch_is_rejected(manager: ProducerStateManager) -> None:
    append(manager, header(seq=0, epoch=3))
    with pytest.raises(InvalidProducerEpochError):
        append(manager, header(seq=3, epoch=2, offset=3))


def test_new_epoch_must_start_at_zero(manager: ProducerStateManager) -> None:
    append(manager, header(seq=0, epoch=1))
    with pytest.raises(OutOfOrderSequenceError):
        append(manager, header(seq=3, epoch=2, offset=3))
    assert append(manager, header(seq=0, epoch=2, offset=3)) is None
    entry = manager.last_entry(PID)
    assert entry is not None and entry.producer_epoch == 2 and len(entry.batch_metadata) == 1


def test_duplicates_of_the_last_five_batches(manager: ProducerStateManager) -> None:
    for i in range(7):
        append(manager, header(seq=3 * i, offset=3 * i))
    for i in range(2, 7):
        duplicate = append(manager, header(seq=3 * i, offset=999))
        assert duplicate is not None
        assert (duplicate.first_offset, duplicate.last_offset) == (3 * i, 3 * i + 2)
    with pytest.raises(OutOfOrderSequenceError):  # fell out of the window: no longer recognised
        append(manager, header(seq=3, offset=999))


def test_replication_skips_sequence_checks(manager: ProducerStateManager) -> None:
    append(manager, header(seq=0), origin=AppendOrigin.REPLICATION)
    assert append(manager, header(seq=50, offset=3), origin=AppendOrigin.REPLICATION) is None
    assert append(manager, header(seq=7, epoch=1, offset=6), origin=AppendOrigin.REPLICATION) is None


def test_sequence_wraps_around(manager: ProducerStateManager) -> None:
    last = 2**31 - 1
    append(manager, header(seq=last - 2))  # three records: last-2 .. last
    assert append(manager, header(seq=0, offset=3)) is None


def test_expiry(manager: ProducerStateManager, clock: FakeClock) -> None:
    append(manager, header(seq=0))  # batch timestamp T0
    clock.now = T0 + manager.producer_id_expiration_ms - 1
    assert manager.remove_expired_producers(clock()) == 0
    assert manager.remove_expired_producers(clock() + 1) == 1
    assert manager.last_entry(PID) is None


def test_snapshot_round_trip_keeps_the_five_batch_window(tmp_path: Path, clock: FakeClock) -> None:
    manager = ProducerStateManager(tmp_path, time=clock)
    for i in range(6):
        append(manager, header(seq=3 * i, offset=3 * i))
    append(manager, header(seq=0, offset=18, pid=PID + 1, epoch=2))
    path = manager.take_snapshot()
    assert path == tmp_path / "00000000000000000021.snapshot"
    assert manager.take_snapshot() is None  # nothing new since
    reloaded = ProducerStateManager(tmp_path, time=clock)
    reloaded.truncate_and_reload(log_start_offset=0, log_end_offset=21, now_ms=clock())
    assert reloaded.map_end_offset == 21
    assert reloaded.producers == manager.producers
    assert append(reloaded, header(seq=3, offset=999)) is not None  # still recognised after "restart"


def test_snapshot_bytes_are_kafkas_schema(tmp_path: Path) -> None:
    entry = SnapshotEntry(7, 1, 9, 100, 2, T0, -1, -1)
    data = producer_snapshot.encode_snapshot([entry])
    body = struct.pack(">i", 1) + struct.pack(">qhiqiqiq", *entry)
    assert data == struct.pack(">hI", 1, crc32c.crc32c(body)) + body
    assert producer_snapshot.decode_snapshot(data) == [entry]


@pytest.mark.parametrize("damage", ["crc", "version", "truncated"])
def test_corrupt_snapshots_are_detected(damage: str) -> None:
    data = bytearray(producer_snapshot.encode_snapshot([SnapshotEntry(7, 1, 9, 100, 2, T0, -1, -1)]))
    if damage == "crc":
        data[-1] ^= 1
    elif damage == "version":
        data[1] = 9
    else:
        del data[-3:]
    with pytest.raises(CorruptSnapshotError):
        producer_snapshot.decode_snapshot(bytes(data))


def test_a_corrupt_latest_snapshot_falls_back_to_an_older_one(tmp_path: Path, clock: FakeClock) -> None:
    manager = ProducerStateManager(tmp_path, time=clock)
    append(manager, header(seq=0))
    manager.take_snapshot()
    append(manager, header(seq=3, offset=3))
    newest = manager.take_snapshot()
    assert newest is not None
    newest.write_bytes(b"garbage")
    reloaded = ProducerStateManager(tmp_path, time=clock)
    reloaded.truncate_and_reload(log_start_offset=0, log_end_offset=6, now_ms=clock())
    assert reloaded.map_end_offset == 3
    assert not newest.exists()


def test_truncate_and_reload_drops_snapshots_out_of_range(tmp_path: Path, clock: FakeClock) -> None:
    manager = ProducerStateManager(tmp_path, time=clock)
    for i in range(3):
        append(manager, header(seq=3 * i, offset=3 * i))
        manager.take_snapshot()
    assert manager.snapshot_offsets == [3, 6, 9]
    manager.truncate_and_reload(log_start_offset=3, log_end_offset=7, now_ms=clock())
    assert manager.snapshot_offsets == [6]
    assert manager.map_end_offset == 6
    manager.delete_snapshots_before(7)
    assert manager.snapshot_offsets == []


def test_remove_stray_snapshots_keeps_the_newest_past_the_last_segment(
    tmp_path: Path, clock: FakeClock
) -> None:
    for offset in (5, 10, 20, 30):
        producer_snapshot.write_snapshot(
            tmp_path / producer_snapshot.snapshot_file_name(offset), [], sync=False
        )
    manager = ProducerStateManager(tmp_path, time=clock)
    manager.remove_stray_snapshots([0, 10, 25])
    assert manager.snapshot_offsets == [10, 30]
