"""LeaderEpochFileCache: Kafka's assign/truncate rules and OffsetForLeaderEpoch answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from brook_broker.log.leader_epoch import UNDEFINED_EPOCH, EpochEntry, LeaderEpochFileCache


def cache_with(*entries: tuple[int, int], path: Path | None = None) -> LeaderEpochFileCache:
    return LeaderEpochFileCache(path, [EpochEntry(*entry) for entry in entries])


def test_assign_persists_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "leader-epoch-checkpoint"
    cache = LeaderEpochFileCache(path)
    cache.assign(0, 0)
    cache.assign(2, 10)
    cache.assign(2, 15)  # same epoch, later offset: no change
    assert path.read_text() == "0\n2\n0 0\n2 10\n"
    assert LeaderEpochFileCache.load(path).entries == [(0, 0), (2, 10)]


def test_assign_same_epoch_earlier_offset_replaces(tmp_path: Path) -> None:
    cache = cache_with((0, 0), (2, 10))
    cache.assign(2, 8)
    assert cache.entries == [(0, 0), (2, 8)]


def test_assign_removes_contradicting_entries() -> None:
    cache = cache_with((0, 0), (2, 10), (4, 20))
    cache.assign(3, 15)  # an older epoch at a later offset than epoch 2: epoch 4 goes
    assert cache.entries == [(0, 0), (2, 10), (3, 15)]
    cache.assign(5, 12)  # a newer epoch starting before 15: epoch 3 goes
    assert cache.entries == [(0, 0), (2, 10), (5, 12)]


def test_assign_if_newer_ignores_older_epochs() -> None:
    cache = cache_with((3, 10))
    cache.assign_if_newer(2, 20)
    cache.assign_if_newer(-1, 30)
    assert cache.entries == [(3, 10)]
    cache.assign_if_newer(4, 30)
    assert cache.latest_epoch == 4


def test_invalid_entries_rejected() -> None:
    with pytest.raises(ValueError, match="invalid"):
        LeaderEpochFileCache(None).assign(-1, 0)


def test_end_offset_for() -> None:
    cache = cache_with((1, 0), (3, 100), (6, 250))
    log_end = 300
    assert cache.end_offset_for(UNDEFINED_EPOCH, log_end) == (-1, -1)
    assert cache.end_offset_for(6, log_end) == (6, 300)  # the latest epoch ends at the log end
    assert cache.end_offset_for(3, log_end) == (3, 250)
    assert cache.end_offset_for(4, log_end) == (3, 250)  # unknown epoch: the largest one below it
    assert cache.end_offset_for(5, log_end) == (3, 250)
    assert cache.end_offset_for(1, log_end) == (1, 100)
    # Older than every known epoch: Kafka answers the requested epoch and the first start offset.
    assert cache.end_offset_for(0, log_end) == (0, 0)
    assert cache.end_offset_for(7, log_end) == (-1, -1)  # newer than the latest
    assert LeaderEpochFileCache(None).end_offset_for(3, log_end) == (-1, -1)


def test_epoch_for_offset() -> None:
    cache = cache_with((1, 0), (3, 100))
    assert cache.epoch_for_offset(0) == 1
    assert cache.epoch_for_offset(99) == 1
    assert cache.epoch_for_offset(100) == 3
    assert cache.epoch_for_offset(10_000) == 3
    assert cache_with((1, 5)).epoch_for_offset(4) is None


def test_truncate_from_end(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    cache = cache_with((1, 0), (3, 100), (6, 250), path=path)
    cache.truncate_from_end(250)
    assert cache.entries == [(1, 0), (3, 100)]
    cache.truncate_from_end(101)
    assert cache.entries == [(1, 0), (3, 100)]
    cache.truncate_from_end(0)
    assert cache.entries == []


def test_truncate_from_start(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    cache = cache_with((1, 0), (3, 100), (6, 250), path=path)
    cache.truncate_from_start(150)
    assert cache.entries == [(3, 150), (6, 250)]
    cache.truncate_from_start(250)  # exclusive: the entry at 250 stays
    assert cache.entries == [(6, 250)]
    cache.truncate_from_start(10)
    assert cache.entries == [(6, 250)]
    assert LeaderEpochFileCache.load(path).entries == [(6, 250)]
