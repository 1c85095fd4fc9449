"""LogManager: log directories, Kafka's checkpoint files, the clean-shutdown marker, deletion."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from log_testkit import FakeClock, NewLogManager, make_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log import checkpoint
from brook_broker.log.manager import LogDirectoryError, LogManager, parse_topic_partition
from brook_broker.protocol.errors import InconsistentTopicIdError
from brook_broker.protocol.records import validate_batches
from brook_broker.protocol.types import TopicPartition

A0 = TopicPartition("alpha", 0)
A1 = TopicPartition("alpha", 1)
B0 = TopicPartition("beta-v2", 0)


@pytest.fixture
def manager(new_log_manager: NewLogManager) -> NewLogManager:
    """``manager(dirs, **kwargs)``: a LogManager whose files go one second after their deletion."""

    def factory(dirs: list[Path], **kwargs: Any) -> LogManager:
        kwargs.setdefault("default_config", LogConfig(file_delete_delay_ms=1000))
        return new_log_manager(dirs, **kwargs)

    return factory


def test_parse_topic_partition() -> None:
    assert parse_topic_partition("beta-v2-11") == TopicPartition("beta-v2", 11)
    assert parse_topic_partition("orders-x") is None
    assert parse_topic_partition("-3") is None
    assert parse_topic_partition("meta.properties") is None


def test_startup_writes_meta_properties_and_checks_them(
    tmp_path: Path, clock: FakeClock, manager: NewLogManager
) -> None:
    dirs = [tmp_path / "d1", tmp_path / "d2"]
    first = manager(dirs)
    first.startup()
    props = checkpoint.read_properties(dirs[0] / "meta.properties")
    assert props is not None
    assert props["version"] == "1" and props["node.id"] == "1" and props["cluster.id"] == "c1"
    assert props["directory.id"] != checkpoint.read_properties(dirs[1] / "meta.properties")["directory.id"]  # type: ignore[index]
    first.shutdown()
    with pytest.raises(LogDirectoryError, match=r"cluster\.id"):
        LogManager(dirs, node_id=1, cluster_id="other", time=clock).startup()


def test_logs_spread_over_directories(tmp_path: Path, manager: NewLogManager) -> None:
    dirs = [tmp_path / "d1", tmp_path / "d2"]
    logs = manager(dirs)
    logs.startup()
    created = [logs.get_or_create_log(tp, topic_id=None) for tp in (A0, A1, B0)]
    assert [log.dir.parent.name for log in created] == ["d1", "d2", "d1"]
    assert logs.get_or_create_log(A0, topic_id=None) is created[0]
    assert logs.get_log(TopicPartition("nope", 0)) is None
    assert sorted(logs.all_partitions()) == sorted([A0, A1, B0])


def test_checkpoints_and_clean_shutdown_round_trip(tmp_path: Path, manager: NewLogManager) -> None:
    logs = manager([tmp_path])
    assert not logs.had_clean_shutdown
    logs.startup()
    topic_id = uuid.uuid4()
    log = logs.get_or_create_log(A0, topic_id=topic_id)
    for _ in range(4):
        log.append_as_leader(make_batch(5), leader_epoch=0)
    log.update_high_watermark(15)
    log.delete_records_before(5)
    logs.shutdown()
    assert (tmp_path / "recovery-point-offset-checkpoint").read_text() == "0\n1\nalpha 0 20\n"
    assert (tmp_path / "log-start-offset-checkpoint").read_text() == "0\n1\nalpha 0 5\n"
    assert (tmp_path / "replication-offset-checkpoint").read_text() == "0\n1\nalpha 0 15\n"
    assert (tmp_path / ".kafka_cleanshutdown").exists()

    again = manager([tmp_path])
    assert again.had_clean_shutdown
    again.startup(topic_ids={"alpha": topic_id})
    assert not (tmp_path / ".kafka_cleanshutdown").exists()  # a crash from now on is detected
    assert again.had_clean_shutdown  # still reports how the last run ended
    loaded = again.get_log(A0)
    assert loaded is not None
    assert (loaded.log_start_offset, loaded.high_watermark, loaded.log_end_offset) == (5, 15, 20)
    assert loaded.recovery_point == 20 and loaded.topic_id == topic_id


def test_unclean_startup_recovers(tmp_path: Path, manager: NewLogManager) -> None:
    logs = manager([tmp_path])
    logs.startup()
    log = logs.get_or_create_log(A0, topic_id=None)
    log.append_as_leader(make_batch(5), leader_epoch=0)
    logs.checkpoint()  # recovery point 0: nothing flushed yet
    log.append_as_leader(make_batch(5), leader_epoch=0)
    segment_file = log.dir / "00000000000000000000.log"
    with segment_file.open("ab") as f:
        f.write(b"\x00" * 30)  # a torn append at the moment of the crash
    # kill -9: no shutdown, no marker.
    again = manager([tmp_path])
    assert not again.had_clean_shutdown
    again.startup()
    loaded = again.get_log(A0)
    assert loaded is not None and loaded.log_end_offset == 10
    assert loaded.size_in_bytes == 2 * len(make_batch(5))


def test_startup_skips_the_metadata_log_and_removes_deleted_dirs(
    tmp_path: Path, manager: NewLogManager
) -> None:
    (tmp_path / "__cluster_metadata-0").mkdir()
    (tmp_path / "alpha-0.0123abcd-delete").mkdir()
    (tmp_path / "not a partition").mkdir()
    logs = manager([tmp_path])
    logs.startup()
    assert logs.all_partitions() == []
    assert (tmp_path / "__cluster_metadata-0").exists()
    assert not (tmp_path / "alpha-0.0123abcd-delete").exists()
    metadata = logs.get_or_create_log(TopicPartition("__cluster_metadata", 0), topic_id=None)
    assert metadata.dir == tmp_path.absolute() / "__cluster_metadata-0"


def test_a_recreated_topic_moves_the_old_directory_aside(tmp_path: Path, manager: NewLogManager) -> None:
    logs = manager([tmp_path])
    logs.startup()
    logs.get_or_create_log(A0, topic_id=uuid.uuid4())
    logs.shutdown()
    again = manager([tmp_path])
    new_id = uuid.uuid4()
    again.startup(topic_ids={"alpha": new_id})
    assert again.get_log(A0) is None
    assert [p.name.endswith("-stray") for p in tmp_path.iterdir() if p.name.startswith("alpha-0.")] == [True]
    assert again.get_or_create_log(A0, topic_id=new_id).topic_id == new_id
    with pytest.raises(InconsistentTopicIdError):
        again.get_or_create_log(A0, topic_id=uuid.uuid4())


def test_delete_log(tmp_path: Path, clock: FakeClock, manager: NewLogManager) -> None:
    logs = manager([tmp_path])
    logs.startup()
    log = logs.get_or_create_log(A0, topic_id=None)
    log.append_as_leader(make_batch(5), leader_epoch=0)
    in_flight = log.read(0, max_bytes=1 << 20).records
    logs.delete_log(A0)
    assert logs.get_log(A0) is None
    [deleted] = [p for p in tmp_path.iterdir() if p.name.endswith("-delete")]
    assert deleted.name.startswith("alpha-0.")
    # The fetch that was under way still completes: the descriptor outlives the rename.
    assert validate_batches(in_flight.read_bytes())[0][1].records_count == 5
    with pytest.raises(Exception, match="closed"):
        log.append_as_leader(make_batch(1), leader_epoch=0)
    logs.checkpoint()
    assert (tmp_path / "recovery-point-offset-checkpoint").read_text() == "0\n0\n"
    assert logs.delete_pending_files(clock() + 999) == 0
    assert logs.delete_pending_files(clock() + 1000) == 1
    assert not deleted.exists()


def test_periodic_work(tmp_path: Path, clock: FakeClock, manager: NewLogManager) -> None:
    config = LogConfig(segment_bytes=1000, retention_ms=5000, flush_ms=10_000, file_delete_delay_ms=0)
    logs = manager([tmp_path], default_config=config)
    logs.startup()
    log = logs.get_or_create_log(A0, topic_id=None)
    for _ in range(6):
        log.append_as_leader(make_batch(5, value_size=100, timestamp=clock()), leader_epoch=0)
    log.update_high_watermark(log.log_end_offset)
    assert log.num_segments > 1
    logs.flush_dirty_logs(clock())
    rolled = log.local_log.active_segment.base_offset
    assert log.recovery_point == rolled  # rolled segments are flushed, the active one waits for flush.ms
    logs.flush_dirty_logs(clock() + 10_000)
    assert log.recovery_point == log.log_end_offset
    segments = log.num_segments
    assert logs.cleanup_logs(clock() + 5001) == segments  # all expired: rolled, then deleted
    assert log.num_segments == 1
    assert log.log_start_offset == log.log_end_offset
    assert logs.delete_pending_files(clock() + 5001) > 0
    assert logs.remove_expired_producers(clock()) == 0
