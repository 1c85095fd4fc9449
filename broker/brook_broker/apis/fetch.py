"""Fetch (key 1): read records for consumers, with long polling and KIP-74 size limits.

Each partition reads up to its ``partition_max_bytes`` from what remains of the response's
``max_bytes``; the first partition that has data returns at least one whole batch even when
that batch is larger than both limits (KIP-74), so a consumer can never get stuck behind a
big batch. When less than ``min_bytes`` is available the request parks in the fetch
purgatory until data arrives or ``max_wait_ms`` passes, then is read again.

Fetch sessions (KIP-227) are not created: every answer carries session id 0, which clients
take as "send full fetch requests", exactly what Kafka does when its session cache is full.
The response is framed by `protocol.fetch_response` so record bytes leave straight from the
segment files.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, NamedTuple

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode
from brook_broker.protocol.fetch_response import (
    FetchPartitionData,
    FetchTopicData,
    encode_fetch_response,
)
from brook_broker.protocol.types import TopicPartition
from brook_broker.replication.replica_manager import ReadResult, ReplicaManager

#: Session id 0 with epoch -1 means "no session"; any other id is unknown to us.
INVALID_SESSION_ID = 0


class _Wanted(NamedTuple):
    topic_index: int
    tp: TopicPartition | None  # None: unknown topic id
    partition: int
    fetch_offset: int
    partition_max_bytes: int
    current_leader_epoch: int
    last_fetched_epoch: int


def _requested(
    context: RequestContext, request: Any
) -> tuple[list[tuple[str | None, uuid.UUID | None]], list[_Wanted]]:
    image = context.services.image
    by_id = context.api_version >= 13
    topics: list[tuple[str | None, uuid.UUID | None]] = []
    wanted: list[_Wanted] = []
    for index, topic in enumerate(request.topics):
        if by_id:
            found = image.topics_by_id.get(topic.topic_id)
            name = found.name if found is not None else None
            topics.append((name, topic.topic_id))
        else:
            name = topic.topic
            topics.append((name, None))
        wanted.extend(
            _Wanted(
                topic_index=index,
                tp=TopicPartition(name, p.partition) if name is not None else None,
                partition=p.partition,
                fetch_offset=p.fetch_offset,
                partition_max_bytes=p.partition_max_bytes,
                current_leader_epoch=getattr(p, "current_leader_epoch", -1),
                last_fetched_epoch=getattr(p, "last_fetched_epoch", -1),
            )
            for p in topic.partitions
        )
    return topics, wanted


def _read_all(replica_manager: ReplicaManager, wanted: list[_Wanted], max_bytes: int) -> list[ReadResult]:
    results: list[ReadResult] = []
    limit = max_bytes
    min_one_message = True
    for item in wanted:
        if item.tp is None:
            results.append(ReadResult(ErrorCode.unknown_topic_id))
            continue
        result = replica_manager.read(
            item.tp,
            fetch_offset=item.fetch_offset,
            max_bytes=min(item.partition_max_bytes, limit),
            current_leader_epoch=item.current_leader_epoch,
            last_fetched_epoch=item.last_fetched_epoch,
            min_one_message=min_one_message,
        )
        size = result.size
        if size:
            min_one_message = False
            limit = max(limit - size, 0)
        results.append(result)
    return results


@api(1, min_version=4, max_version=18)
async def handle_fetch(context: RequestContext, request: Any) -> list[Any]:
    replica_manager = context.services.replica_manager
    session_id = getattr(request, "session_id", INVALID_SESSION_ID)
    topics, wanted = _requested(context, request)
    if session_id != INVALID_SESSION_ID:
        return _encode(context, topics, wanted, [], error_code=ErrorCode.fetch_session_id_not_found)
    max_bytes = request.max_bytes
    results = _read_all(replica_manager, wanted, max_bytes)
    max_wait_ms = codec.timedelta_ms(request.max_wait)
    min_bytes = request.min_bytes
    if max_wait_ms > 0 and sum(r.size for r in results) < min_bytes and not _has_errors(results):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait_ms / 1000
        while sum(r.size for r in results) < min_bytes and (remaining := deadline - loop.time()) > 0:
            offsets = {item.tp: item.fetch_offset for item in wanted if item.tp is not None}

            def new_data(offsets: dict[TopicPartition, int] = offsets) -> bool:
                for tp, offset in offsets.items():
                    partition = replica_manager.partitions.get(tp)
                    if partition is None or partition.high_watermark > offset:
                        return True
                return False

            await replica_manager.wait_for_data(offsets, new_data, timeout_ms=int(remaining * 1000))
            results = _read_all(replica_manager, wanted, max_bytes)
            if _has_errors(results):
                break
    return _encode(context, topics, wanted, results, error_code=ErrorCode.none)


def _has_errors(results: list[ReadResult]) -> bool:
    return any(r.error_code != ErrorCode.none or r.diverging_epoch is not None for r in results)


def _encode(
    context: RequestContext,
    topics: list[tuple[str | None, uuid.UUID | None]],
    wanted: list[_Wanted],
    results: list[ReadResult],
    *,
    error_code: ErrorCode,
) -> list[Any]:
    partitions: list[list[FetchPartitionData]] = [[] for _ in topics]
    for item, result in zip(wanted, results, strict=False):
        records = result.data.records if result.data is not None and result.data.records is not None else b""
        partitions[item.topic_index].append(
            FetchPartitionData(
                partition_index=item.partition,
                error_code=int(result.error_code),
                high_watermark=result.high_watermark,
                last_stable_offset=result.last_stable_offset,
                log_start_offset=result.log_start_offset,
                records=records,
                diverging_epoch=result.diverging_epoch,
            )
        )
    encoded = encode_fetch_response(
        correlation_id=context.header.correlation_id,
        version=context.api_version,
        topics=[
            FetchTopicData(name=name, topic_id=topic_id, partitions=parts)
            for (name, topic_id), parts in zip(topics, partitions, strict=True)
        ],
        error_code=int(error_code),
    )
    return encoded.chunks
