"""Helpers for the log cleaner's tests (imported as ``cleaner_testkit``; see ``conftest``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from log_testkit import T0, TP, KeyValue, keyed_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log.clock import Clock
from brook_broker.log.log_cleaner import CleanerConfig, LogCleaner
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.record_reader import Record
from brook_broker.protocol.records import CompressionType
from brook_broker.protocol.types import TopicPartition

DAY_MS = 24 * 3600 * 1000


def compact_config(**overrides: Any) -> LogConfig:
    """A compacted topic with small segments and a low dirty-ratio threshold."""
    settings: dict[str, Any] = {
        "segment_bytes": 1024,
        "cleanup_policy": "compact",
        "min_cleanable_dirty_ratio": 0.01,
        "file_delete_delay_ms": 0,
        # Small indexes: preallocating and trimming 10 MB files is slow on some filesystems.
        "segment_index_bytes": 64 * 1024,
    }
    settings.update(overrides)
    return LogConfig(**settings)


def make_cleaner(log: UnifiedLog, clock: Clock, **config: Any) -> LogCleaner:
    return LogCleaner(CleanerConfig(**config), logs=lambda: {TP: log}, time=clock)


def produce(
    log: UnifiedLog,
    batches: Sequence[Sequence[KeyValue]],
    *,
    timestamp: int = T0,
    compression: CompressionType = CompressionType.NONE,
) -> list[Record]:
    """Append each list of pairs as one batch, move the high watermark to the end; the records as written."""
    written: list[Record] = []
    for pairs in batches:
        batch = keyed_batch(pairs, timestamp=timestamp, compression=compression)
        info = log.append_as_leader(batch, leader_epoch=0)
        written.extend(
            Record(info.first_offset + i, timestamp + i, key, value) for i, (key, value) in enumerate(pairs)
        )
    log.update_high_watermark(log.log_end_offset)
    return written


def cycling_batches(count: int, *, keys: int, per_batch: int = 3, tag: str = "v") -> list[list[KeyValue]]:
    """``count`` batches whose keys cycle over ``keys`` names, each value unique."""
    return [
        [(f"k{(b * per_batch + i) % keys}".encode(), f"{tag}{b}-{i}".encode()) for i in range(per_batch)]
        for b in range(count)
    ]


def config_with(log: UnifiedLog, **overrides: Any) -> None:
    log.update_config(dataclasses.replace(log.config, **overrides))


def run_in_cleaning(cleaner: LogCleaner, action: Callable[[], None]) -> None:
    """Make ``action`` happen while the cleaner copies its first batch (as another thread would)."""
    check_done = cleaner._cleaner._check_done
    done = False

    def hook(tp: TopicPartition) -> None:
        nonlocal done
        if not done and cleaner._cleaner.offset_map.latest_offset >= 0:
            done = True
            action()
        check_done(tp)

    cleaner._cleaner._check_done = hook
