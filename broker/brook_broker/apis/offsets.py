"""Offset APIs: OffsetCommit (8), OffsetFetch (9) and OffsetDelete (47).

Topics and partitions the metadata does not know are answered UNKNOWN_TOPIC_OR_PARTITION
here, before the coordinator sees the request, as Kafka's KafkaApis does for commits and
deletions (fetches of unknown partitions just find no offset). The coordinator checks the
committer against its group (`coordinator.group.group.Group.validate_offset_commit`).

Version notes: OffsetCommit v2-v4 carry a retention time (v1-style expiry per commit), v6 a
leader epoch, v7 a group instance id; OffsetFetch v2+ may ask for all of a group's offsets
(null topics), v7 adds ``require_stable``, v8 batches groups, v9 carries member epochs;
before v2 OffsetFetch has no top-level error, so a group error goes on every partition.
"""

from __future__ import annotations

from typing import Any

from kio.schema.offset_commit.v9.response import (
    OffsetCommitResponse,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)
from kio.schema.offset_delete.v0.response import (
    OffsetDeleteResponse,
    OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
)
from kio.schema.offset_fetch.v7.response import OffsetFetchResponse as OffsetFetchResponseV7
from kio.schema.offset_fetch.v7.response import OffsetFetchResponsePartition as PartitionV7
from kio.schema.offset_fetch.v7.response import OffsetFetchResponseTopic as TopicV7
from kio.schema.offset_fetch.v9.response import (
    OffsetFetchResponse,
    OffsetFetchResponseGroup,
    OffsetFetchResponsePartitions,
    OffsetFetchResponseTopics,
)
from kio.schema.types import GroupId, TopicName
from kio.static.primitive import i32, i64

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.coordinator.group import messages as m
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode


def _known(context: RequestContext, topic: str, partition: int) -> bool:
    found = context.services.image.topic(topic)
    return found is not None and partition in found.partitions


def _grouped(errors: list[tuple[str, int, ErrorCode]]) -> dict[str, list[tuple[int, ErrorCode]]]:
    by_topic: dict[str, list[tuple[int, ErrorCode]]] = {}
    for topic, partition, error in errors:
        by_topic.setdefault(topic, []).append((partition, error))
    return by_topic


@api(8, min_version=2, max_version=9)
async def handle_offset_commit(context: RequestContext, request: Any) -> OffsetCommitResponse:
    retention = getattr(request, "retention_time", None)
    wanted: list[tuple[str, int]] = []
    valid: list[m.CommitPartition] = []
    for topic in request.topics:
        for p in topic.partitions:
            wanted.append((topic.name, p.partition_index))
            if _known(context, topic.name, p.partition_index):
                valid.append(
                    m.CommitPartition(
                        topic=topic.name,
                        partition=p.partition_index,
                        offset=p.committed_offset,
                        leader_epoch=getattr(p, "committed_leader_epoch", -1),
                        metadata=p.committed_metadata,
                    )
                )
    errors: dict[tuple[str, int], ErrorCode] = {}
    if valid:
        results = await context.services.group_coordinator.commit_offsets(
            m.OffsetCommitRequest(
                group_id=request.group_id,
                member_id=request.member_id,
                group_instance_id=getattr(request, "group_instance_id", None),
                generation_id=request.generation_id_or_member_epoch,
                partitions=tuple(valid),
                retention_time_ms=-1 if retention is None else codec.timedelta_ms(retention),
                api_version=context.api_version,
            )
        )
        errors = {(r.topic, r.partition): r.error for r in results}
    by_topic = _grouped([(t, p, errors.get((t, p), ErrorCode.unknown_topic_or_partition)) for t, p in wanted])
    return OffsetCommitResponse(
        throttle_time=codec.NO_THROTTLE,
        topics=tuple(
            OffsetCommitResponseTopic(
                name=TopicName(topic),
                partitions=tuple(
                    OffsetCommitResponsePartition(partition_index=i32(p), error_code=e) for p, e in partitions
                ),
            )
            for topic, partitions in by_topic.items()
        ),
    )


@api(9, min_version=1, max_version=9)
async def handle_offset_fetch(context: RequestContext, request: Any) -> Any:
    coordinator = context.services.group_coordinator
    require_stable = getattr(request, "require_stable", False)
    if context.api_version >= 8:
        groups = []
        for group in request.groups:
            response = await coordinator.fetch_offsets(
                m.OffsetFetchRequest(
                    group_id=group.group_id,
                    partitions=_partitions(group.topics),
                    member_id=getattr(group, "member_id", None),
                    member_epoch=getattr(group, "member_epoch", -1),
                    require_stable=require_stable,
                )
            )
            groups.append(
                OffsetFetchResponseGroup(
                    group_id=GroupId(response.group_id),
                    topics=tuple(
                        OffsetFetchResponseTopics(
                            name=TopicName(topic), partitions=tuple(_partition(o) for o in offsets)
                        )
                        for topic, offsets in _by_topic(response.offsets).items()
                    ),
                    error_code=response.error,
                )
            )
        return OffsetFetchResponse(throttle_time=codec.NO_THROTTLE, groups=tuple(groups))
    partitions = _partitions(request.topics)
    response = await coordinator.fetch_offsets(
        m.OffsetFetchRequest(group_id=request.group_id, partitions=partitions, require_stable=require_stable)
    )
    offsets = response.offsets
    if context.api_version < 2 and response.error != ErrorCode.none:
        # No top-level error before v2: each requested partition carries it, so that old
        # clients retry (COORDINATOR_LOAD_IN_PROGRESS) instead of seeing "no offset".
        offsets = tuple(
            m.FetchedOffset(topic=t, partition=p, error=response.error) for t, p in partitions or ()
        )
    return OffsetFetchResponseV7(
        throttle_time=codec.NO_THROTTLE,
        topics=tuple(
            TopicV7(name=TopicName(topic), partitions=tuple(_partition_v7(o) for o in fetched))
            for topic, fetched in _by_topic(offsets).items()
        ),
        error_code=response.error,
    )


def _partitions(topics: Any) -> tuple[tuple[str, int], ...] | None:
    """The requested partitions; ``None`` (v2+) asks for every committed offset of the group."""
    if topics is None:
        return None
    return tuple((topic.name, index) for topic in topics for index in topic.partition_indexes)


def _by_topic(offsets: tuple[m.FetchedOffset, ...]) -> dict[str, list[m.FetchedOffset]]:
    by_topic: dict[str, list[m.FetchedOffset]] = {}
    for offset in offsets:
        by_topic.setdefault(offset.topic, []).append(offset)
    return by_topic


def _partition(offset: m.FetchedOffset) -> OffsetFetchResponsePartitions:
    return OffsetFetchResponsePartitions(
        partition_index=i32(offset.partition),
        committed_offset=i64(offset.offset),
        committed_leader_epoch=i32(offset.leader_epoch),
        metadata=offset.metadata,
        error_code=offset.error,
    )


def _partition_v7(offset: m.FetchedOffset) -> PartitionV7:
    return PartitionV7(
        partition_index=i32(offset.partition),
        committed_offset=i64(offset.offset),
        committed_leader_epoch=i32(offset.leader_epoch),
        metadata=offset.metadata,
        error_code=offset.error,
    )


@api(47, min_version=0, max_version=0)
async def handle_offset_delete(context: RequestContext, request: Any) -> OffsetDeleteResponse:
    wanted = [(topic.name, p.partition_index) for topic in request.topics for p in topic.partitions]
    valid = [(t, p) for t, p in wanted if _known(context, t, p)]
    error = ErrorCode.none
    errors: dict[tuple[str, int], ErrorCode] = {}
    if valid:
        error, results = await context.services.group_coordinator.delete_offsets(request.group_id, valid)
        errors = {(r.topic, r.partition): r.error for r in results}
    if error != ErrorCode.none:
        # A group-level error: only the partitions refused up front are listed (as Kafka merges).
        listed = [(t, p, ErrorCode.unknown_topic_or_partition) for t, p in wanted if (t, p) not in valid]
    else:
        listed = [(t, p, errors.get((t, p), ErrorCode.unknown_topic_or_partition)) for t, p in wanted]
    by_topic = _grouped(listed)
    return OffsetDeleteResponse(
        error_code=error,
        throttle_time=codec.NO_THROTTLE,
        topics=tuple(
            OffsetDeleteResponseTopic(
                name=TopicName(topic),
                partitions=tuple(
                    OffsetDeleteResponsePartition(partition_index=i32(p), error_code=e) for p, e in partitions
                ),
            )
            for topic, partitions in by_topic.items()
        ),
    )
