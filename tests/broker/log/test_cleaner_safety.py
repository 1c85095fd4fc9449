"""The cleaner under crashes, concurrent appends and logs that change while it works."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cleaner_testkit import (
    compact_config,
    config_with,
    cycling_batches,
    make_cleaner,
    produce,
    run_in_cleaning,
)
from log_testkit import TP, FakeClock, OpenLog, keyed_batch, latest_per_key, read_batch_headers, read_records

from brook_broker.config.log_config import LogConfig
from brook_broker.log import cleaner as cleaner_module
from brook_broker.log.segment import CLEANED_SUFFIX, SWAP_SUFFIX
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.errors import OutOfOrderSequenceError
from brook_broker.protocol.record_reader import Record
from brook_broker.protocol.types import TopicPartition


class SimulatedCrash(BaseException):
    """Stands for the process dying: nothing after it runs, the files stay as they are."""


def load(
    open_log: OpenLog, directory: Path, config: LogConfig, *, clean_shutdown: bool = False
) -> UnifiedLog:
    log = open_log(config, dir=directory, clean_shutdown=clean_shutdown)
    log.update_high_watermark(log.log_end_offset)  # as the replica manager would
    return log


def assert_consistent(log: UnifiedLog, written: list[Record]) -> None:
    """No loss (each key's latest value), no duplicates, every record where it was written."""
    records = read_records(log)
    offsets = [record.offset for record in records]
    assert offsets == sorted(set(offsets))
    by_offset = {record.offset: record for record in written}
    for record in records:
        assert (record.key, record.value) == (by_offset[record.offset].key, by_offset[record.offset].value)
    assert latest_per_key(records) == latest_per_key(written)
    assert log.log_end_offset == written[-1].offset + 1


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((CLEANED_SUFFIX, SWAP_SUFFIX)))


def build_compactable_log(open_log: OpenLog, directory: Path) -> tuple[UnifiedLog, list[Record]]:
    """Five segments of heavy duplication, cleaned in two groups (three and two segments)."""
    config = compact_config(segment_bytes=2048, index_interval_bytes=256)
    log = load(open_log, directory, config, clean_shutdown=True)
    written = produce(log, cycling_batches(90, keys=6))
    log.roll()
    assert log.num_segments == 6  # five full ones and the empty active segment
    # The cleaner groups segments up to segment.bytes: three of these per group.
    config_with(log, segment_bytes=3 * 2048 + 100)
    return log, written


def test_a_crash_at_any_step_of_the_swap_loses_and_duplicates_nothing(
    tmp_path: Path, open_log: OpenLog, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rename = os.rename
    renames: list[str] = []

    def counting_rename(src: Any, dst: Any) -> None:
        renames.append(str(dst))
        real_rename(src, dst)

    # A run without a crash counts the renames the swaps make (.cleaned->.swap, old->.deleted, .swap->).
    log, _ = build_compactable_log(open_log, tmp_path / "count" / str(TP))
    monkeypatch.setattr(os, "rename", counting_rename)
    assert make_cleaner(log, clock).clean_one() is not None
    monkeypatch.setattr(os, "rename", real_rename)
    assert any(name.endswith(SWAP_SUFFIX) for name in renames)
    seen_states = set()
    for crash_at in range(len(renames)):
        directory = tmp_path / f"crash{crash_at}" / str(TP)
        log, written = build_compactable_log(open_log, directory)
        sources = list(log.local_log.segments)
        calls = 0

        def crashing_rename(src: Any, dst: Any, crash_at: int = crash_at) -> None:
            nonlocal calls
            if calls == crash_at:
                raise SimulatedCrash
            calls += 1
            real_rename(src, dst)

        monkeypatch.setattr(os, "rename", crashing_rename)
        with pytest.raises(SimulatedCrash):
            make_cleaner(log, clock).clean_one()
        monkeypatch.setattr(os, "rename", real_rename)
        # The OS closes a dead process's descriptors; a half-done swap may no longer list a source.
        for segment in sources:
            segment.close_handlers()
        files = leftovers(directory)
        seen_states.add(tuple(sorted({name.rsplit(".", 1)[-1] for name in files})))
        reloaded = load(open_log, directory, log.config)
        assert leftovers(directory) == []
        assert_consistent(reloaded, written)
        # The recovered log cleans as usual.
        make_cleaner(reloaded, clock).clean_one()
        assert len(read_records(reloaded)) == 6
        assert_consistent(reloaded, written)
    # Crashes happened with only .cleaned files, with .swap files, and with both.
    assert ("cleaned",) in seen_states
    assert ("swap",) in seen_states
    assert ("cleaned", "swap") in seen_states


def test_a_crash_while_writing_the_cleaned_segment_rolls_back(
    tmp_path: Path, open_log: OpenLog, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / str(TP)
    log, written = build_compactable_log(open_log, directory)
    cleaner = make_cleaner(log, clock)
    copied = 0

    def check_done(tp: TopicPartition) -> None:
        # Dies in the middle of copying into the first cleaned segment.
        nonlocal copied
        copied += any(directory.glob("*.log" + CLEANED_SUFFIX))
        if copied == 20:
            raise SimulatedCrash

    monkeypatch.setattr(cleaner._cleaner, "_check_done", check_done)
    # A dead process cleans nothing up (its descriptors close with it).
    monkeypatch.setattr(cleaner_module, "discard", lambda segment: segment.close_handlers())
    with pytest.raises(SimulatedCrash):
        cleaner.clean_one()
    assert any(name.endswith(".log" + CLEANED_SUFFIX) for name in leftovers(directory))
    reloaded = load(open_log, directory, log.config)
    assert leftovers(directory) == []
    assert read_records(reloaded) == read_records(log)  # rolled back to the original
    assert_consistent(reloaded, written)


@pytest.mark.parametrize("change", ["truncate", "delete_records", "retention", "delete_log"])
def test_a_log_changed_during_cleaning_refuses_the_swap(
    open_log: OpenLog, clock: FakeClock, change: str
) -> None:
    log = open_log(compact_config(segment_bytes=2048, retention_ms=1000, cleanup_policy="compact,delete"))
    written = produce(log, cycling_batches(90, keys=6))
    log.roll()
    cleaner = make_cleaner(log, clock)
    actions: dict[str, Callable[[], None]] = {
        "truncate": lambda: log.truncate_to(log.local_log.segments.first.base_offset + 30),
        "delete_records": lambda: (log.delete_records_before(100), log.delete_old_segments(clock())),
        "retention": lambda: log.delete_old_segments(clock() + 10_000),
        "delete_log": lambda: cleaner.abort_cleaning(TP),
    }
    before = read_records(log)
    run_in_cleaning(cleaner, actions[change])
    assert cleaner.clean_one() is None
    assert leftovers(log.dir) == []
    assert not cleaner.is_cleaning(TP)
    records = [r for r in read_records(log) if r.offset >= log.log_start_offset]
    if change == "delete_log":
        assert records == before
    else:
        # What the change left is there, uncleaned; nothing came back from the cleaned copy.
        assert records == [r for r in written if log.log_start_offset <= r.offset < log.log_end_offset]


def test_appends_during_cleaning_stay_consistent(open_log: OpenLog, clock: FakeClock) -> None:
    log = open_log(compact_config(segment_bytes=4000))
    cleaner = make_cleaner(log, clock)
    stop = threading.Event()
    passes = 0
    failures: list[BaseException] = []

    def clean_repeatedly() -> None:
        nonlocal passes
        try:
            while not stop.is_set():
                if cleaner.clean_one() is not None:
                    passes += 1
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=clean_repeatedly)
    thread.start()
    written: list[Record] = []
    overlapping = 0
    try:
        for i in range(50_000):
            overlapping += cleaner.is_cleaning(TP)
            written += produce(log, [[(f"k{i % 40}".encode(), f"v{i}".encode())]])
            if i % 400 == 0:
                assert_consistent(log, written)  # reads interleave with the cleaning too
            if passes >= 3 and i > 800:
                break
    finally:
        stop.set()
        thread.join()
    assert not failures
    assert passes >= 3
    assert overlapping > 100  # appends really happened while segments were being cleaned
    assert_consistent(log, written)
    log.roll()
    # The tail left after the last pass can be a single record, which is below a dirty ratio of
    # 0.01 next to the many small cleaned segments (each keeps its last batch): clean it anyway.
    log.update_config(compact_config(segment_bytes=4000, min_cleanable_dirty_ratio=0.0))
    while cleaner.clean_one() is not None:
        pass
    assert len(read_records(log)) == 40
    assert_consistent(log, written)
    log.flush()
    log.close()
    assert_consistent(load(open_log, log.dir, log.config, clean_shutdown=True), written)


def test_producer_state_and_deduplication_survive_compaction_and_reopen(
    open_log: OpenLog, clock: FakeClock
) -> None:
    log = open_log(compact_config())
    pid = 7

    def idempotent(pairs: list[tuple[bytes, bytes]], sequence: int) -> bytes:
        return keyed_batch(pairs, producer_id=pid, producer_epoch=0, base_sequence=sequence)

    first = log.append_as_leader(idempotent([(b"a", b"1"), (b"b", b"1")], 0), leader_epoch=0)
    last = log.append_as_leader(idempotent([(b"c", b"1")], 2), leader_epoch=0)
    produce(log, [[(b"a", b"2"), (b"b", b"2"), (b"c", b"2")]] * 20)  # overwrites all three keys
    log.roll()
    assert make_cleaner(log, clock).clean_one() is not None
    producer_batches = [h for h in read_batch_headers(log) if h.producer_id == pid]
    # Only the producer's last batch stays, empty, with its offsets and sequence number.
    assert len(producer_batches) == 1
    kept = producer_batches[0]
    assert (kept.base_offset, kept.last_offset_delta, kept.base_sequence) == (last.first_offset, 0, 2)
    assert kept.records_count == 0
    assert first.first_offset not in {r.offset for r in read_records(log)}

    retry = log.append_as_leader(idempotent([(b"c", b"1")], 2), leader_epoch=0)
    assert retry.duplicate
    assert retry.first_offset == last.first_offset
    following = log.append_as_leader(idempotent([(b"d", b"1")], 3), leader_epoch=0)
    assert not following.duplicate

    log.close()
    reopened = open_log(compact_config())
    assert reopened.append_as_leader(idempotent([(b"d", b"1")], 3), leader_epoch=0).duplicate
    reopened.close()

    # Without snapshots the state is rebuilt from the batches themselves, the empty one included.
    for snapshot in log.dir.glob("*.snapshot"):
        snapshot.unlink()
    rebuilt = open_log(compact_config(), clean_shutdown=False)
    entry = rebuilt.producer_state_manager.last_entry(pid)
    assert entry is not None
    assert entry.last_seq == 3
    assert rebuilt.append_as_leader(idempotent([(b"d", b"1")], 3), leader_epoch=0).duplicate
    with pytest.raises(OutOfOrderSequenceError):
        rebuilt.append_as_leader(idempotent([(b"e", b"1")], 6), leader_epoch=0)
    assert not rebuilt.append_as_leader(idempotent([(b"e", b"1")], 4), leader_epoch=0).duplicate
