"""DeleteRecords (key 21): move a partition's log start offset forward.

Offset -1 means "up to the high watermark". Segments wholly below the new log start
offset are deleted by the next retention pass, as in Kafka.
"""

from __future__ import annotations

from typing import Any

from kio.schema.delete_records.v2.response import (
    DeleteRecordsPartitionResult,
    DeleteRecordsResponse,
    DeleteRecordsTopicResult,
)
from kio.schema.types import TopicName
from kio.static.primitive import i32, i64

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import BrokerError, ErrorCode
from brook_broker.protocol.types import TopicPartition

HIGH_WATERMARK = -1


@api(21, min_version=0, max_version=2)
async def handle_delete_records(context: RequestContext, request: Any) -> DeleteRecordsResponse:
    replica_manager = context.services.replica_manager
    topics = []
    for topic in request.topics:
        results = []
        for item in topic.partitions:
            try:
                partition = replica_manager.get_partition(TopicPartition(topic.name, item.partition_index))
                offset = partition.high_watermark if item.offset == HIGH_WATERMARK else item.offset
                partition.log.delete_records_before(offset)
                results.append(
                    DeleteRecordsPartitionResult(
                        partition_index=i32(item.partition_index),
                        low_watermark=i64(partition.log.log_start_offset),
                        error_code=ErrorCode.none,
                    )
                )
            except BrokerError as exc:
                results.append(
                    DeleteRecordsPartitionResult(
                        partition_index=i32(item.partition_index),
                        low_watermark=i64(-1),
                        error_code=exc.error_code,
                    )
                )
        topics.append(DeleteRecordsTopicResult(name=TopicName(topic.name), partitions=tuple(results)))
    return DeleteRecordsResponse(throttle_time=codec.NO_THROTTLE, topics=tuple(topics))
