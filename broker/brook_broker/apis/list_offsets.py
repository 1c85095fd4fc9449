"""ListOffsets (key 2): offsets by timestamp, earliest, latest and max-timestamp.

Special timestamps (Kafka's ``ListOffsetsRequest``): -1 latest (the high watermark for
consumers: what they can read), -2 earliest (log start offset), -3 the record with the
largest timestamp (KIP-734, v7+), -4 earliest local (KIP-405, v8+; every segment is local
here, so the log start offset), -5 latest tiered (v9+; nothing is tiered: -1). v10 adds a
timeout for remote-storage reads, which never happen here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kio.schema.list_offsets.v10.response import (
    ListOffsetsPartitionResponse,
    ListOffsetsResponse,
    ListOffsetsTopicResponse,
)
from kio.schema.types import TopicName
from kio.static.primitive import i32, i64

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import BrokerError, ErrorCode
from brook_broker.protocol.types import TopicPartition
from brook_broker.replication.partition import Partition

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3
EARLIEST_LOCAL = -4
LATEST_TIERED = -5
#: replica_id of ordinary consumers; followers and the debug id (-2) see the log end offset.
CONSUMER_REPLICA_ID = -1


def _or_unknown(epoch: int | None) -> int:
    return -1 if epoch is None else epoch


def _lookup(partition: Partition, timestamp: int, *, consumer: bool) -> tuple[int, int, int]:
    """``(timestamp, offset, leader_epoch)`` for one partition, -1 where Kafka answers unknown."""
    log = partition.log
    cache = log.leader_epoch_cache
    if timestamp == LATEST:
        offset = partition.high_watermark if consumer else log.log_end_offset
        return -1, offset, _or_unknown(cache.latest_epoch)
    if timestamp in (EARLIEST, EARLIEST_LOCAL):
        offset = log.log_start_offset
        return -1, offset, _or_unknown(cache.epoch_for_offset(offset))
    if timestamp == LATEST_TIERED:
        return -1, -1, -1
    found = (
        log.max_timestamp_and_offset()
        if timestamp == MAX_TIMESTAMP
        else log.fetch_offset_by_timestamp(timestamp)
    )
    if found is None or (consumer and found.offset >= partition.high_watermark):
        return -1, -1, -1
    return found.timestamp, found.offset, found.leader_epoch


@api(2, min_version=1, max_version=10)
async def handle_list_offsets(context: RequestContext, request: Any) -> ListOffsetsResponse:
    replica_manager = context.services.replica_manager
    consumer = request.replica_id == CONSUMER_REPLICA_ID
    topics = []
    # Kafka refuses a partition named twice in one request: one INVALID_REQUEST entry for it.
    counts = Counter(
        TopicPartition(topic.name, item.partition_index)
        for topic in request.topics
        for item in topic.partitions
    )
    answered: set[TopicPartition] = set()
    for topic in request.topics:
        partitions = []
        for item in topic.partitions:
            tp = TopicPartition(topic.name, item.partition_index)
            response_kwargs: dict[str, Any] = {"partition_index": i32(item.partition_index)}
            if tp in answered:
                continue
            answered.add(tp)
            if counts[tp] > 1:
                partitions.append(
                    ListOffsetsPartitionResponse(error_code=ErrorCode.invalid_request, **response_kwargs)
                )
                continue
            try:
                partition = replica_manager.get_partition(tp)
                partition.check_leader_epoch(getattr(item, "current_leader_epoch", -1))
                ts, offset, epoch = _lookup(partition, item.timestamp, consumer=consumer)
            except BrokerError as exc:
                partitions.append(ListOffsetsPartitionResponse(error_code=exc.error_code, **response_kwargs))
                continue
            partitions.append(
                ListOffsetsPartitionResponse(
                    error_code=ErrorCode.none,
                    timestamp=i64(ts),
                    offset=i64(offset),
                    leader_epoch=i32(epoch),
                    **response_kwargs,
                )
            )
        topics.append(ListOffsetsTopicResponse(name=TopicName(topic.name), partitions=tuple(partitions)))
    return ListOffsetsResponse(throttle_time=codec.NO_THROTTLE, topics=tuple(topics))
