"""Loading a log after clean and unclean shutdowns: recovery, index rebuilds, producer state, epochs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from log_testkit import OpenLog, make_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.errors import InconsistentTopicIdError

BATCH = make_batch(5, value_size=100)
CONFIG = LogConfig(segment_bytes=3 * len(BATCH), index_interval_bytes=200)
PID = 31


def crash(log: UnifiedLog) -> None:
    """kill -9: drop the descriptors, leave every file as it is (untrimmed indexes, no snapshot)."""
    for segment in log.local_log.segments:
        segment.close_handlers()


def produce(log: UnifiedLog, count: int, *, first_seq: int = 0, epoch: int = 0) -> None:
    for i in range(count):
        batch = make_batch(
            5, value_size=100, producer_id=PID, producer_epoch=0, base_sequence=first_seq + 5 * i
        )
        log.append_as_leader(batch, leader_epoch=epoch)


def contents(log: UnifiedLog) -> bytes:
    return b"".join(
        log.read(segment.base_offset, max_bytes=1 << 30).records.read_bytes()
        for segment in log.local_log.segments
    )


def test_clean_reopen_preserves_everything(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 8, epoch=2)
    before = contents(log)
    log.flush()
    log.close()
    assert (log.dir / "00000000000000000040.snapshot").exists()
    reopened = open_log(CONFIG, recovery_point=40)
    assert reopened.log_end_offset == 40 and reopened.num_segments == 3
    assert contents(reopened) == before
    assert reopened.leader_epoch_cache.entries == [(2, 0)]
    duplicate = reopened.append_as_leader(
        make_batch(5, value_size=100, producer_id=PID, producer_epoch=0, base_sequence=30), leader_epoch=2
    )
    assert duplicate.duplicate and duplicate.first_offset == 30


def test_unclean_reopen_recovers_a_torn_active_segment(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 8)
    log.flush(up_to_offset=30)
    assert log.recovery_point == 30
    expected = contents(log)
    crash(log)
    active = log.dir / "00000000000000000030.log"
    os.truncate(active, active.stat().st_size - 7)  # the last batch was half written
    reopened = open_log(CONFIG, recovery_point=30, clean_shutdown=False)
    assert reopened.log_end_offset == 35
    assert contents(reopened) == expected[: -len(BATCH)]
    # Producer state came back from the snapshot taken at the roll plus a header replay.
    entry = reopened.producer_state_manager.last_entry(PID)
    assert entry is not None and entry.last_seq == 34
    retry = reopened.append_as_leader(
        make_batch(5, value_size=100, producer_id=PID, producer_epoch=0, base_sequence=30), leader_epoch=0
    )
    assert retry.duplicate and retry.first_offset == 30
    lost = reopened.append_as_leader(
        make_batch(5, value_size=100, producer_id=PID, producer_epoch=0, base_sequence=35), leader_epoch=0
    )
    assert not lost.duplicate and lost.first_offset == 35


def test_producer_state_survives_kill_without_any_snapshot(open_log: OpenLog) -> None:
    log = open_log(LogConfig())
    produce(log, 3)
    crash(log)
    assert list(log.dir.glob("*.snapshot")) == []
    reopened = open_log(LogConfig(), clean_shutdown=False)
    entry = reopened.producer_state_manager.last_entry(PID)
    assert entry is not None and [b.first_offset for b in entry.batch_metadata] == [0, 5, 10]
    assert reopened.append_as_leader(
        make_batch(5, value_size=100, producer_id=PID, producer_epoch=0, base_sequence=5), leader_epoch=0
    ).duplicate


def test_corrupt_segment_deletes_everything_after_it(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 8)
    crash(log)
    middle = log.dir / "00000000000000000015.log"
    data = bytearray(middle.read_bytes())
    data[len(BATCH) + 100] ^= 0xFF  # the second batch of the middle segment
    middle.write_bytes(bytes(data))
    reopened = open_log(CONFIG, recovery_point=0, clean_shutdown=False)
    assert reopened.log_end_offset == 20
    assert [s.base_offset for s in reopened.local_log.segments] == [0, 15]
    assert not (log.dir / "00000000000000000030.log").exists()
    reopened.append_as_leader(make_batch(1), leader_epoch=0)
    assert reopened.log_end_offset == 21


def test_segments_below_the_recovery_point_are_not_rescanned(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 8)
    log.flush()
    crash(log)
    first = log.dir / "00000000000000000000.log"
    data = bytearray(first.read_bytes())
    data[-5] ^= 0xFF  # corruption below the recovery point is not looked for (as in Kafka)
    first.write_bytes(bytes(data))
    reopened = open_log(CONFIG, recovery_point=40, clean_shutdown=False)
    assert reopened.log_end_offset == 40


def test_untrimmed_indexes_are_rebuilt(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 2)
    crash(log)
    index = log.dir / "00000000000000000000.index"
    assert index.stat().st_size == CONFIG.segment_index_bytes
    # Even if the marker claims a clean shutdown, an implausible index is rebuilt.
    reopened = open_log(CONFIG, recovery_point=10, clean_shutdown=True)
    assert reopened.log_end_offset == 10
    assert reopened.read(7, max_bytes=1 << 20).records.size == len(BATCH)


def test_missing_and_orphaned_files(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 8)
    log.close()
    (log.dir / "00000000000000000015.index").unlink()
    (log.dir / "00000000000000000099.index").write_bytes(b"")
    (log.dir / "00000000000000000099.timeindex").write_bytes(b"")
    for stray in ("00000000000000000045.log.deleted", "00000000000000000045.log.cleaned", "x.swap"):
        (log.dir / stray).write_bytes(b"junk")
    reopened = open_log(CONFIG, recovery_point=40)
    names = {p.name for p in reopened.dir.iterdir()}
    assert "00000000000000000015.index" in names
    assert not names & {"00000000000000000099.index", "00000000000000000099.timeindex", "x.swap"}
    assert not [n for n in names if n.endswith((".deleted", ".cleaned"))]
    assert reopened.read(17, max_bytes=1 << 20).records.size == 3 * len(BATCH)


def test_leader_epoch_cache_is_truncated_to_the_log(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 2, epoch=1)
    crash(log)
    # The epoch was checkpointed before its data, and the data never made it.
    (log.dir / "leader-epoch-checkpoint").write_text("0\n2\n1 0\n2 10\n")
    reopened = open_log(CONFIG, clean_shutdown=False)
    assert reopened.leader_epoch_cache.entries == [(1, 0)]


def test_corrupt_leader_epoch_checkpoint_is_rebuilt_from_the_log(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 2, epoch=1)
    produce(log, 2, first_seq=10, epoch=4)
    log.close()
    (log.dir / "leader-epoch-checkpoint").write_text("garbage")
    reopened = open_log(CONFIG, recovery_point=20)
    assert reopened.leader_epoch_cache.entries == [(1, 0), (4, 10)]
    assert (log.dir / "leader-epoch-checkpoint").read_text() == "0\n2\n1 0\n4 10\n"


def test_topic_id_is_recorded_and_checked(open_log: OpenLog) -> None:
    topic_id = uuid.uuid4()
    log = open_log(topic_id=topic_id)
    assert log.topic_id == topic_id
    log.close()
    assert open_log().topic_id == topic_id
    with pytest.raises(InconsistentTopicIdError):
        open_log(topic_id=uuid.uuid4())


def test_log_start_offset_from_the_checkpoint(open_log: OpenLog) -> None:
    log = open_log(CONFIG)
    produce(log, 8)
    log.close()
    reopened = open_log(CONFIG, recovery_point=40, log_start_offset=17, high_watermark=38)
    assert (reopened.log_start_offset, reopened.high_watermark) == (17, 38)
    # A start past the end of what survived means the whole log is gone: start over there.
    reopened.close()
    again = open_log(CONFIG, recovery_point=40, log_start_offset=90)
    assert (again.log_start_offset, again.log_end_offset) == (90, 90)


def test_flush_messages_advances_the_recovery_point(open_log: OpenLog) -> None:
    log = open_log(LogConfig(flush_messages=10))
    log.append_as_leader(make_batch(6), leader_epoch=0)
    assert log.recovery_point == 0
    log.append_as_leader(make_batch(6), leader_epoch=0)
    assert log.recovery_point == 12


def test_rolled_segments_are_flushed_by_flush_rolled_segments(open_log: OpenLog, tmp_path: Path) -> None:
    log = open_log(CONFIG)
    produce(log, 7)
    assert log.recovery_point == 0
    log.flush_rolled_segments()
    assert log.recovery_point == 30


def test_flush_racing_a_truncation_does_not_cover_unsynced_data(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(5), leader_epoch=0)
    segment = log.local_log.active_segment
    fsync = segment.flush

    def flush_while_replication_truncates() -> None:
        fsync()
        # What a replica fetcher thread may do while the flush thread is between its fsyncs.
        log.truncate_to(2)
        log.append_as_leader(make_batch(5), leader_epoch=1)

    segment.flush = flush_while_replication_truncates  # type: ignore[method-assign]
    log.flush()
    assert log.log_end_offset == 5
    assert log.recovery_point == 0  # the new batch at 0..4 was never fsync'd
