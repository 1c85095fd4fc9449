"""OffsetForLeaderEpoch (key 23): the end offset of a leader epoch (KIP-101/KIP-320).

Consumers use it to detect log truncation after a leader change; followers used it before
Fetch v12 carried ``LastFetchedEpoch``. Answered from the partition's leader-epoch cache.
"""

from __future__ import annotations

from typing import Any

from kio.schema.offset_for_leader_epoch.v4.response import (
    EpochEndOffset,
    OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult,
)
from kio.schema.types import TopicName
from kio.static.primitive import i32, i64

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import BrokerError, ErrorCode
from brook_broker.protocol.types import TopicPartition


@api(23, min_version=2, max_version=4)
async def handle_offset_for_leader_epoch(
    context: RequestContext, request: Any
) -> OffsetForLeaderEpochResponse:
    replica_manager = context.services.replica_manager
    topics = []
    for topic in request.topics:
        results = []
        for item in topic.partitions:
            try:
                partition = replica_manager.get_partition(TopicPartition(topic.topic, item.partition))
                found = partition.last_offset_for_leader_epoch(
                    current_leader_epoch=item.current_leader_epoch, leader_epoch=item.leader_epoch
                )
            except BrokerError as exc:
                results.append(EpochEndOffset(error_code=exc.error_code, partition=i32(item.partition)))
                continue
            results.append(
                EpochEndOffset(
                    error_code=ErrorCode.none,
                    partition=i32(item.partition),
                    leader_epoch=i32(found.leader_epoch),
                    end_offset=i64(found.end_offset),
                )
            )
        topics.append(OffsetForLeaderTopicResult(topic=TopicName(topic.topic), partitions=tuple(results)))
    return OffsetForLeaderEpochResponse(throttle_time=codec.NO_THROTTLE, topics=tuple(topics))
