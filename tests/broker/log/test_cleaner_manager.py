"""The cleaner inside LogManager: the server's API, the checkpoint file, retention and truncation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cleaner_testkit import DAY_MS, compact_config, cycling_batches, produce, run_in_cleaning
from log_testkit import T0, FakeClock, NewLogManager, latest_per_key, read_records

from brook_broker.config.log_config import LogConfig
from brook_broker.log import checkpoint
from brook_broker.log.cleaner_manager import CLEANER_OFFSET_CHECKPOINT
from brook_broker.log.log_cleaner import CleanerConfig
from brook_broker.log.manager import LogManager
from brook_broker.protocol.record_reader import Record, build_batch
from brook_broker.protocol.types import TopicPartition

STATE = TopicPartition("state", 0)
EVENTS = TopicPartition("events", 0)


@pytest.fixture
def log_manager(new_log_manager: NewLogManager) -> NewLogManager:
    """``log_manager(directory, **kwargs)``: a started LogManager with a compacted ``state`` topic."""
    configs = {"state": compact_config(), "events": LogConfig(segment_bytes=1024)}

    def factory(directory: Path, **kwargs: Any) -> LogManager:
        manager = new_log_manager([directory], config_for_topic=lambda topic: configs[topic], **kwargs)
        manager.startup()
        return manager

    return factory


def checkpointed(directory: Path) -> dict[TopicPartition, int]:
    return checkpoint.read_offset_checkpoint(directory / CLEANER_OFFSET_CHECKPOINT)


def test_clean_logs_compacts_only_compacted_topics(tmp_path: Path, log_manager: NewLogManager) -> None:
    manager = log_manager(tmp_path)
    state = manager.get_or_create_log(STATE, topic_id=None)
    events = manager.get_or_create_log(EVENTS, topic_id=None)
    written = produce(state, cycling_batches(40, keys=4))
    produce(events, cycling_batches(40, keys=4))
    state.roll()
    events.roll()
    stats = manager.clean_logs()
    assert stats is not None
    assert stats.topic_partition == STATE
    assert stats.mb_per_second > 0
    assert manager.clean_logs() is None  # nothing else is dirty: the server backs off
    assert latest_per_key(read_records(state)) == latest_per_key(written)
    assert len(read_records(state)) == 4
    assert len(read_records(events)) == 120
    assert checkpointed(tmp_path) == {STATE: state.log_end_offset}


def test_the_cleaner_checkpoint_survives_a_restart(tmp_path: Path, log_manager: NewLogManager) -> None:
    manager = log_manager(tmp_path)
    state = manager.get_or_create_log(STATE, topic_id=None)
    produce(state, cycling_batches(40, keys=4))
    state.roll()
    assert manager.clean_logs() is not None
    end = state.log_end_offset
    manager.shutdown()
    restarted = log_manager(tmp_path)
    state = restarted.get_or_create_log(STATE, topic_id=None)
    state.update_high_watermark(state.log_end_offset)
    assert restarted.clean_logs() is None  # everything up to ``end`` is known to be clean
    produce(state, cycling_batches(40, keys=4, tag="w"))
    state.roll()
    stats = restarted.clean_logs()
    assert stats is not None
    assert stats.first_dirty_offset == end


def test_a_truncation_below_the_checkpoint_makes_that_data_dirty_again(
    tmp_path: Path, log_manager: NewLogManager
) -> None:
    manager = log_manager(tmp_path)
    state = manager.get_or_create_log(STATE, topic_id=None)
    produce(state, cycling_batches(40, keys=4))
    state.roll()
    assert manager.clean_logs() is not None
    truncation_point = state.local_log.segments.first.base_offset + 100
    state.truncate_to(truncation_point)
    # A new leader's data replaces what was cut, with a tombstone for k0 among it.
    replacement = [Record(truncation_point, T0, b"k0", None), Record(truncation_point + 1, T0, b"k1", b"new")]
    state.append_as_follower(build_batch(replacement, partition_leader_epoch=1))
    written = read_records(state)
    state.roll()
    state.update_high_watermark(state.log_end_offset)
    stats = manager.clean_logs()
    assert stats is not None
    assert stats.first_dirty_offset <= truncation_point
    assert checkpointed(tmp_path)[STATE] == state.log_end_offset
    assert latest_per_key(read_records(state)) == latest_per_key(written)


def test_compact_delete_topics_are_compacted_and_expire(
    tmp_path: Path, clock: FakeClock, log_manager: NewLogManager
) -> None:
    manager = log_manager(tmp_path)
    config = compact_config(cleanup_policy="compact,delete", retention_ms=DAY_MS)
    state = manager.get_or_create_log(STATE, topic_id=None, config=config)
    produce(state, cycling_batches(40, keys=4), timestamp=clock())
    state.roll()
    assert manager.clean_logs() is not None
    assert len(read_records(state)) == 4
    clock.advance(DAY_MS + 1000)
    assert manager.cleanup_logs() > 0
    assert read_records(state) == []


def test_retention_waits_while_a_log_is_being_cleaned(
    tmp_path: Path, clock: FakeClock, log_manager: NewLogManager
) -> None:
    manager = log_manager(tmp_path)
    config = compact_config(cleanup_policy="compact,delete", retention_ms=1000)
    state = manager.get_or_create_log(STATE, topic_id=None, config=config)
    produce(state, cycling_batches(40, keys=4), timestamp=clock())
    state.roll()
    clock.advance(2000)
    assert manager.cleaner is not None
    to_clean = manager.cleaner.manager.grab_filthiest_compacted_log(clock())
    assert to_clean is not None
    assert manager.cleaner.is_cleaning(STATE)
    assert manager.cleanup_logs() == 0
    manager.cleaner.manager.done_cleaning(to_clean, None)
    assert manager.cleanup_logs() > 0


def test_a_disabled_cleaner_never_runs(tmp_path: Path, log_manager: NewLogManager) -> None:
    manager = log_manager(tmp_path, cleaner_config=CleanerConfig(enable_cleaner=False))
    state = manager.get_or_create_log(STATE, topic_id=None)
    produce(state, cycling_batches(40, keys=4))
    state.roll()
    assert manager.cleaner is None
    assert manager.clean_logs() is None
    assert len(read_records(state)) == 120


def test_after_shutdown_the_cleaner_does_nothing(tmp_path: Path, log_manager: NewLogManager) -> None:
    manager = log_manager(tmp_path)
    state = manager.get_or_create_log(STATE, topic_id=None)
    produce(state, cycling_batches(40, keys=4))
    state.roll()
    assert manager.cleaner is not None
    manager.cleaner.shutdown()
    assert manager.clean_logs() is None
    manager.shutdown()


def test_deleting_a_log_stops_its_cleaning(
    tmp_path: Path, clock: FakeClock, log_manager: NewLogManager
) -> None:
    manager = log_manager(tmp_path)
    state = manager.get_or_create_log(STATE, topic_id=None)
    produce(state, cycling_batches(40, keys=4))
    state.roll()
    assert manager.cleaner is not None
    run_in_cleaning(manager.cleaner, lambda: manager.delete_log(STATE))
    assert manager.clean_logs() is None
    assert not manager.cleaner.is_cleaning(STATE)
    assert STATE not in manager.cleaner.manager.uncleanable
    clock.advance(60_000)
    manager.delete_pending_files()
    assert not any(tmp_path.glob("state-0*"))
