"""ReplicaManager: the partitions this broker hosts, and the produce/fetch paths through them.

It reacts to metadata changes (creates logs for new partitions assigned here, deletes the
logs of deleted topics, pushes new topic configs into logs), appends produce requests to
leaders, and reads for fetches. Waiting — acks=all until the high watermark covers the
write, long-poll fetches until data arrives — happens in two purgatories keyed by
topic-partition.

Called by the `apis/` handlers; owns no sockets and no request parsing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping

from brook_broker.config.log_config import LogConfig
from brook_broker.log.manager import LogManager
from brook_broker.log.unified_log import FetchDataInfo, LogAppendInfo
from brook_broker.metadata.image import MetadataDelta, MetadataImage
from brook_broker.protocol.errors import (
    BrokerError,
    ErrorCode,
    RecordError,
    RecordValidationError,
    UnknownTopicOrPartitionError,
)
from brook_broker.protocol.types import TopicPartition
from brook_broker.replication.partition import Partition
from brook_broker.replication.purgatory import Purgatory

logger = logging.getLogger(__name__)


#: Produce errors Kafka answers with ``UNKNOWN_LOG_APPEND_INFO`` (log start offset -1).
_UNKNOWN_APPEND_INFO_ERRORS = frozenset(
    {
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.not_leader_or_follower,
        ErrorCode.message_too_large,
        ErrorCode.record_list_too_large,
        ErrorCode.corrupt_message,
        ErrorCode.kafka_storage_error,
    }
)
#: The response message of Kafka's ``RecordValidationException`` per error (per-record texts
#: belong in the response's record errors).
_RECORD_VALIDATION_MESSAGES = {
    ErrorCode.invalid_timestamp: "One or more records have been rejected due to invalid timestamp",
}


@dataclasses.dataclass(frozen=True, slots=True)
class ProduceResult:
    error_code: ErrorCode
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    last_offset: int = -1
    #: The records refused one by one (INVALID_RECORD on a compacted topic): Produce's record_errors.
    record_errors: tuple[RecordError, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ReadResult:
    """One partition's answer to a fetch, before it is framed."""

    error_code: ErrorCode
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    data: FetchDataInfo | None = None
    diverging_epoch: tuple[int, int] | None = None  # (epoch, end offset)
    error_message: str | None = None

    @property
    def size(self) -> int:
        return 0 if self.data is None or self.data.records is None else self.data.records.size


class ReplicaManager:
    def __init__(
        self,
        *,
        node_id: int,
        log_manager: LogManager,
        image: MetadataImage,
        log_config_for: Callable[[str], LogConfig],
    ) -> None:
        self.node_id = node_id
        self.log_manager = log_manager
        self.image = image
        self._log_config_for = log_config_for
        self.partitions: dict[TopicPartition, Partition] = {}
        self.produce_purgatory = Purgatory()
        self.fetch_purgatory = Purgatory()

    # --- metadata -------------------------------------------------------------------

    def load_from_image(self) -> None:
        """On startup: host every partition the image assigns to this broker."""
        delta = MetadataDelta()
        for topic in self.image.topics_by_name.values():
            delta.created_partitions.extend((topic, p) for p in topic.partitions)
        self.apply_delta(delta)

    def apply_delta(self, delta: MetadataDelta) -> None:
        for topic in delta.deleted_topics:
            for partition_id in topic.partitions:
                self._stop_partition(TopicPartition(topic.name, partition_id))
        for topic, partition_id in [*delta.created_partitions, *delta.changed_partitions]:
            registration = topic.partitions[partition_id]
            tp = TopicPartition(topic.name, partition_id)
            if self.node_id not in registration.replicas:
                self._stop_partition(tp)
                continue
            partition = self.partitions.get(tp) or self._start_partition(tp, topic.topic_id)
            partition.update_registration(
                leader=registration.leader,
                leader_epoch=registration.leader_epoch,
                partition_epoch=registration.partition_epoch,
                replicas=registration.replicas,
                isr=registration.isr,
            )
        # A dynamic broker config may be the default of every topic's config.
        changed = (
            {tp.topic for tp in self.partitions}
            if delta.changed_broker_configs
            else delta.changed_topic_configs
        )
        for name in changed & set(self.image.topics_by_name):
            config = self._log_config_for(name)
            for tp, partition in self.partitions.items():
                if tp.topic == name:
                    partition.log.update_config(config)

    def _start_partition(self, tp: TopicPartition, topic_id: uuid.UUID) -> Partition:
        log = self.log_manager.get_or_create_log(tp, topic_id=topic_id, config=self._log_config_for(tp.topic))
        partition = Partition(topic_partition=tp, topic_id=topic_id, log=log, local_node_id=self.node_id)
        self.partitions[tp] = partition
        return partition

    def _stop_partition(self, tp: TopicPartition) -> None:
        if self.partitions.pop(tp, None) is not None:
            self.log_manager.delete_log(tp)
            # Wake waiters so parked fetches notice the partition is gone.
            self.fetch_purgatory.notify(tp)
            self.produce_purgatory.notify(tp)

    def get_partition(self, tp: TopicPartition) -> Partition:
        partition = self.partitions.get(tp)
        if partition is None:
            raise UnknownTopicOrPartitionError("This server does not host this topic-partition.")
        return partition

    # --- produce --------------------------------------------------------------------

    async def append_records(
        self,
        entries: Mapping[TopicPartition, bytes],
        *,
        required_acks: int,
        timeout_ms: int,
    ) -> dict[TopicPartition, ProduceResult]:
        results: dict[TopicPartition, ProduceResult] = {}
        appended: dict[TopicPartition, LogAppendInfo] = {}
        for tp, records in entries.items():
            try:
                partition = self.get_partition(tp)
                info = partition.append_records_to_leader(
                    records,
                    required_acks=required_acks,
                    min_insync_replicas=partition.log.config.min_insync_replicas,
                )
            except BrokerError as exc:
                results[tp] = self._failed_append(tp, exc)
                continue
            appended[tp] = info
            results[tp] = ProduceResult(
                ErrorCode.none,
                base_offset=info.first_offset,
                log_append_time_ms=info.log_append_time_ms,
                log_start_offset=info.log_start_offset,
                last_offset=info.last_offset,
            )
            self.fetch_purgatory.notify(tp)
        if required_acks == -1 and appended:
            await self._wait_for_replication(appended, results, timeout_ms=timeout_ms)
        return results

    def _failed_append(self, tp: TopicPartition, exc: BrokerError) -> ProduceResult:
        """A refused append as Kafka's ReplicaManager reports it.

        Only record validation errors carry a message; errors before the log was touched
        (unknown partition, not leader, too large, corrupt) carry no log start offset either.
        """
        if exc.error_code in _UNKNOWN_APPEND_INFO_ERRORS:
            return ProduceResult(exc.error_code)
        partition = self.partitions.get(tp)
        log_start_offset = partition.log.log_start_offset if partition is not None else -1
        message: str | None = None
        if exc.error_code in _RECORD_VALIDATION_MESSAGES:
            message = _RECORD_VALIDATION_MESSAGES[exc.error_code]
        elif exc.error_code == ErrorCode.invalid_record:
            message = exc.message
        return ProduceResult(
            exc.error_code,
            log_start_offset=log_start_offset,
            error_message=message,
            record_errors=exc.record_errors if isinstance(exc, RecordValidationError) else (),
        )

    async def _wait_for_replication(
        self,
        appended: Mapping[TopicPartition, LogAppendInfo],
        results: dict[TopicPartition, ProduceResult],
        *,
        timeout_ms: int,
    ) -> None:
        def replicated(tp: TopicPartition) -> bool:
            partition = self.partitions.get(tp)
            return partition is None or partition.high_watermark > appended[tp].last_offset

        def all_replicated() -> bool:
            return all(replicated(tp) for tp in appended)

        if not all_replicated():
            await self.produce_purgatory.wait_until(appended, all_replicated, timeout_s=timeout_ms / 1000)
        for tp in appended:
            if tp not in self.partitions:
                results[tp] = ProduceResult(ErrorCode.not_leader_or_follower)
            elif not replicated(tp):
                results[tp] = ProduceResult(ErrorCode.request_timed_out, error_message="acks=all timed out")

    # --- coordinator writes ---------------------------------------------------------

    def append_to_leader(self, tp: TopicPartition, records: bytes) -> LogAppendInfo:
        """A coordinator's own batch, appended locally (acks=1), as Kafka's CoordinatorPartitionWriter.

        Synchronous, so the coordinator can replay the records into its state in append
        order; it then waits for them to be committed with `wait_for_high_watermark`.
        Raises `BrokerError` (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, ...).
        """
        partition = self.get_partition(tp)
        info = partition.append_records_to_leader(
            records, required_acks=1, min_insync_replicas=partition.log.config.min_insync_replicas
        )
        self.fetch_purgatory.notify(tp)
        return info

    async def wait_for_high_watermark(self, tp: TopicPartition, offset: int, *, timeout_ms: int) -> ErrorCode:
        """Wait until the high watermark reaches ``offset`` (acks=all semantics for coordinator writes)."""

        def reached() -> bool:
            partition = self.partitions.get(tp)
            return partition is None or partition.high_watermark >= offset

        await self.produce_purgatory.wait_until([tp], reached, timeout_s=timeout_ms / 1000)
        if tp not in self.partitions:
            return ErrorCode.not_leader_or_follower
        return ErrorCode.none if reached() else ErrorCode.request_timed_out

    # --- fetch ----------------------------------------------------------------------

    def read(
        self,
        tp: TopicPartition,
        *,
        fetch_offset: int,
        max_bytes: int,
        current_leader_epoch: int,
        last_fetched_epoch: int,
        min_one_message: bool,
    ) -> ReadResult:
        """Read committed data (below the high watermark) for a consumer."""
        try:
            partition = self.get_partition(tp)
            partition.check_leader_epoch(current_leader_epoch)
            log = partition.log
            if last_fetched_epoch >= 0:  # KIP-595 truncation detection, Kafka's Partition.fetchRecords
                diverging = self._diverging_epoch(partition, fetch_offset, last_fetched_epoch)
                if diverging is not None:
                    return ReadResult(
                        ErrorCode.none,
                        high_watermark=log.high_watermark,
                        last_stable_offset=log.high_watermark,
                        log_start_offset=log.log_start_offset,
                        diverging_epoch=diverging,
                    )
            data = log.read(
                fetch_offset,
                max_bytes=max_bytes,
                max_offset=log.high_watermark,
                min_one_message=min_one_message,
            )
        except BrokerError as exc:
            # Kafka answers every failed read (OFFSET_OUT_OF_RANGE included) with unknown
            # offsets (-1): the consumer resets its position with ListOffsets.
            return ReadResult(exc.error_code, error_message=exc.message)
        return ReadResult(
            ErrorCode.none,
            high_watermark=log.high_watermark,
            last_stable_offset=log.high_watermark,
            log_start_offset=log.log_start_offset,
            data=data,
        )

    @staticmethod
    def _diverging_epoch(
        partition: Partition, fetch_offset: int, last_fetched_epoch: int
    ) -> tuple[int, int] | None:
        """KIP-595 truncation detection: is (last_fetched_epoch, fetch_offset) on our log?"""
        epoch, end_offset = partition.log.leader_epoch_cache.end_offset_for(
            last_fetched_epoch, partition.log.log_end_offset
        )
        if epoch < last_fetched_epoch or end_offset < fetch_offset:
            return epoch, end_offset
        return None

    async def wait_for_data(
        self, tps: Iterable[TopicPartition], enough: Callable[[], bool], *, timeout_ms: int
    ) -> None:
        await self.fetch_purgatory.wait_until(tps, enough, timeout_s=timeout_ms / 1000)
