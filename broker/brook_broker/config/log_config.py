"""The effective configuration of one partition's log (Kafka's ``LogConfig``).

Built by `config.topic` from topic overrides over broker defaults; the log layer reads only
this object, so it never needs to know where a value came from.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

CleanupPolicy = Literal["delete", "compact", "compact,delete"]
TimestampTypeName = Literal["CreateTime", "LogAppendTime"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """Topic-level settings, named as Kafka names them with dots turned into underscores."""

    segment_bytes: int = 1024 * 1024 * 1024
    segment_ms: int = 7 * 24 * 3600 * 1000
    segment_jitter_ms: int = 0
    segment_index_bytes: int = 10 * 1024 * 1024
    index_interval_bytes: int = 4096
    retention_ms: int = 7 * 24 * 3600 * 1000  # -1: no time limit
    retention_bytes: int = -1  # -1: no size limit
    cleanup_policy: CleanupPolicy = "delete"
    max_message_bytes: int = 1024 * 1024 + 12
    message_timestamp_type: TimestampTypeName = "CreateTime"
    message_timestamp_before_max_ms: int = 2**63 - 1
    message_timestamp_after_max_ms: int = 3600 * 1000
    file_delete_delay_ms: int = 60_000
    flush_messages: int = 2**63 - 1
    flush_ms: int = 2**63 - 1
    min_insync_replicas: int = 1
    delete_retention_ms: int = 24 * 3600 * 1000
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = 2**63 - 1
    min_cleanable_dirty_ratio: float = 0.5
    compression_type: str = "producer"
    unclean_leader_election_enable: bool = False
    preallocate: bool = False
    # Levels used when the broker recompresses (compression.type other than producer).
    compression_gzip_level: int = -1  # -1: the codec's own default
    compression_lz4_level: int = 9
    compression_zstd_level: int = 3

    @property
    def compact(self) -> bool:
        return "compact" in self.cleanup_policy

    @property
    def delete(self) -> bool:
        return "delete" in self.cleanup_policy
