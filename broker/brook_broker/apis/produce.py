"""Produce (key 0): append record batches to partition leaders.

Per partition the batches go to `ReplicaManager.append_records` as the bytes the client
sent; errors are per partition, as Kafka reports them. acks=0 gets no response at all,
acks=1 is answered after the local append, acks=-1 after the high watermark covers the
write (or the request timeout passes).
"""

from __future__ import annotations

from typing import Any

from kio.schema.produce.v12.response import (
    BatchIndexAndErrorMessage,
    PartitionProduceResponse,
    ProduceResponse,
    TopicProduceResponse,
)
from kio.schema.types import TopicName
from kio.static.primitive import i32, i64

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import CloseConnection, api
from brook_broker.metadata import topic_names
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode
from brook_broker.protocol.types import TopicPartition
from brook_broker.replication.replica_manager import ProduceResult

#: Kafka lets its admin client (and nobody else) append to internal topics.
ADMIN_CLIENT_ID = "__admin_client"


def _partition_response(index: int, result: ProduceResult) -> PartitionProduceResponse:
    return PartitionProduceResponse(
        index=i32(index),
        error_code=result.error_code,
        base_offset=i64(result.base_offset),
        log_append_time=codec.timestamp_from_ms(result.log_append_time_ms),
        log_start_offset=i64(result.log_start_offset),
        record_errors=tuple(
            BatchIndexAndErrorMessage(batch_index=i32(e.batch_index), batch_index_error_message=e.message)
            for e in result.record_errors
        ),
        error_message=result.error_message,
    )


@api(0, min_version=3, max_version=12)
async def handle_produce(context: RequestContext, request: Any) -> ProduceResponse | None:
    acks = request.acks
    entries: dict[TopicPartition, bytes] = {}
    failed: dict[TopicPartition, ProduceResult] = {}
    order: list[TopicPartition] = []
    for topic in request.topic_data:
        for data in topic.partition_data:
            tp = TopicPartition(topic.name, data.index)
            order.append(tp)
            if acks not in (0, 1, -1):
                failed[tp] = ProduceResult(ErrorCode.invalid_required_acks)
            elif request.transactional_id is not None:
                failed[tp] = ProduceResult(
                    ErrorCode.transactional_id_authorization_failed,
                    error_message="Brook does not support transactions yet",
                )
            elif topic_names.is_internal(topic.name) and context.header.client_id != ADMIN_CLIENT_ID:
                # Only coordinators write __consumer_offsets; a client's records there could
                # corrupt group state (Kafka: "Cannot append to internal topic", no message).
                failed[tp] = ProduceResult(ErrorCode.invalid_topic_exception)
            else:
                entries[tp] = data.records or b""
    results: dict[TopicPartition, ProduceResult] = dict(failed)
    if entries:
        timeout_ms = codec.timedelta_ms(request.timeout)
        results.update(
            await context.services.replica_manager.append_records(
                entries, required_acks=acks, timeout_ms=timeout_ms
            )
        )
    if acks == 0:
        failed_partitions = [tp for tp, result in results.items() if result.error_code != ErrorCode.none]
        if failed_partitions:
            # acks=0 has no response to carry an error; Kafka closes the connection so the
            # producer notices and refreshes its metadata.
            raise CloseConnection(f"acks=0 produce failed for {', '.join(map(str, failed_partitions))}")
        return None
    by_topic: dict[str, list[PartitionProduceResponse]] = {}
    for tp in order:
        by_topic.setdefault(tp.topic, []).append(_partition_response(tp.partition, results[tp]))
    return ProduceResponse(
        responses=tuple(
            TopicProduceResponse(name=TopicName(name), partition_responses=tuple(parts))
            for name, parts in by_topic.items()
        ),
        throttle_time=codec.NO_THROTTLE,
    )
