"""What every part of the group coordinator shares: results, timers, settings, errors.

A coordinator operation (a join, a commit, a timer firing) runs synchronously against one
shard and returns a `CoordinatorResult`: the records to append to the shard's
``__consumer_offsets`` partition, the response, and optionally a callback for when those
records are committed (Kafka's ``CoordinatorResult`` with its append future). The runtime
(`coordinator.GroupCoordinator`) appends the records, replays them into the shard when
``replay`` is set, waits until the high watermark covers them, then calls the callback and
hands the response out. Nothing here does I/O, so the state machines can be unit-tested
with a manual `Timer` and clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from brook_broker.config.broker import BrokerConfig
from brook_broker.coordinator.group.records import CoordinatorRecord
from brook_broker.protocol.errors import BrokerError, ErrorCode

T = TypeVar("T")

#: Called once the operation's records are committed (``ErrorCode.none``) or failed to be.
OnCommitted = Callable[[ErrorCode], None]


@dataclasses.dataclass(slots=True)
class CoordinatorResult(Generic[T]):
    records: list[CoordinatorRecord] = dataclasses.field(default_factory=list)
    response: T | None = None
    on_committed: OnCommitted | None = None
    #: Offset commits and tombstones change state by being replayed; classic group metadata
    #: records describe state the operation already changed in memory (Kafka's replayRecords).
    replay: bool = True


EMPTY_RESULT: CoordinatorResult[None] = CoordinatorResult()


class Timer(Protocol):
    """Keyed one-shot timers (Kafka's ``CoordinatorTimer``): scheduling a key replaces it."""

    def schedule(self, key: str, delay_ms: int, operation: Callable[[], CoordinatorResult[None]]) -> None: ...

    def cancel(self, key: str) -> None: ...

    def is_scheduled(self, key: str) -> bool: ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GroupConfig:
    """The broker settings the group coordinator reads (Kafka's ``GroupCoordinatorConfig``)."""

    offsets_topic_num_partitions: int = 50
    offsets_topic_replication_factor: int = 3
    offsets_topic_segment_bytes: int = 104_857_600
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    offsets_retention_check_interval_ms: int = 600_000
    offsets_commit_timeout_ms: int = 5000
    offset_metadata_max_bytes: int = 4096
    classic_group_initial_rebalance_delay_ms: int = 3000
    classic_group_min_session_timeout_ms: int = 6000
    classic_group_max_session_timeout_ms: int = 1_800_000
    classic_group_max_size: int = 2**31 - 1
    #: Kafka's fixed 5 minutes for a new member's parked JoinGroup (it cannot heartbeat yet).
    classic_group_new_member_join_timeout_ms: int = 5 * 60 * 1000
    #: group.coordinator.rebalance.protocols: ConsumerGroupHeartbeat needs "consumer" in it.
    rebalance_protocols: tuple[str, ...] = ("classic", "consumer")
    consumer_group_session_timeout_ms: int = 45_000
    consumer_group_heartbeat_interval_ms: int = 5000
    consumer_group_max_size: int = 2**31 - 1
    #: group.consumer.assignors: the first is the default (Kafka's ``uniform``).
    consumer_group_assignors: tuple[str, ...] = ("uniform", "range")

    @classmethod
    def from_broker(cls, config: BrokerConfig) -> GroupConfig:
        return cls(
            offsets_topic_num_partitions=config.offsets_topic_num_partitions,
            offsets_topic_replication_factor=config.offsets_topic_replication_factor,
            offsets_topic_segment_bytes=config.offsets_topic_segment_bytes,
            offsets_retention_ms=config.offsets_retention_minutes * 60_000,
            offsets_retention_check_interval_ms=config.offsets_retention_check_interval_ms,
            offsets_commit_timeout_ms=config.offsets_commit_timeout_ms,
            offset_metadata_max_bytes=config.offset_metadata_max_bytes,
            classic_group_initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
            classic_group_min_session_timeout_ms=config.group_min_session_timeout_ms,
            classic_group_max_session_timeout_ms=config.group_max_session_timeout_ms,
            classic_group_max_size=config.group_max_size,
            rebalance_protocols=tuple(config.group_coordinator_rebalance_protocols),
            consumer_group_session_timeout_ms=config.group_consumer_session_timeout_ms,
            consumer_group_heartbeat_interval_ms=config.group_consumer_heartbeat_interval_ms,
            consumer_group_max_size=config.group_consumer_max_size,
            consumer_group_assignors=tuple(config.group_consumer_assignors),
        )


def group_error(code: ErrorCode, message: str | None = None) -> BrokerError:
    """An error for the wire: ``raise group_error(ErrorCode.unknown_member_id)``."""
    return BrokerError(message or code.name.upper(), error_code=code)


def append_error_to_response_error(code: ErrorCode) -> ErrorCode:
    """What a client is told when a coordinator write fails.

    Kafka's appendGroupMetadataErrorToResponseError: storage errors become coordinator errors.
    """
    if code in (
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.not_enough_replicas,
        ErrorCode.request_timed_out,
    ):
        return ErrorCode.coordinator_not_available
    if code in (ErrorCode.not_leader_or_follower, ErrorCode.kafka_storage_error):
        return ErrorCode.not_coordinator
    if code in (ErrorCode.message_too_large, ErrorCode.record_list_too_large, ErrorCode.invalid_fetch_size):
        return ErrorCode.unknown_server_error
    return code


def java_string_hash(value: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units, wrapping at 32 bits, signed)."""
    h = 0
    encoded = value.encode("utf-16-be")
    for i in range(0, len(encoded), 2):
        h = (31 * h + ((encoded[i] << 8) | encoded[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group_id: str, num_partitions: int) -> int:
    """The offsets-topic partition of a group: ``Utils.abs(groupId.hashCode) % partitions``."""
    h = java_string_hash(group_id)
    return (0 if h == -(2**31) else abs(h)) % num_partitions
