"""Admin and data requests the scenarios send, as kio entities over `Target.call` (raw sockets).

Raw requests rather than an admin client because the suite compares what the *broker* answers:
error codes, error messages, config sources and synonyms, exactly as they come off the wire (a
client library would map, retry or hide some of them). Versions are fixed to ones both Kafka
4.3 and Brook serve and the Java client would pick, so the two brokers answer the same request.

Kafka acknowledges a topic change when its controller commits it; the broker that answers the
next request applies it a moment later. `create_topic` therefore waits until Metadata shows the
topic with leaders, as every Kafka client does before producing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from differential.framework import Target, wait_for
from kio.schema.create_partitions.v3.request import CreatePartitionsRequest, CreatePartitionsTopic
from kio.schema.create_topics.v7.request import (
    CreatableReplicaAssignment,
    CreatableTopic,
    CreatableTopicConfig,
    CreateTopicsRequest,
)
from kio.schema.delete_records.v2.request import (
    DeleteRecordsPartition,
    DeleteRecordsRequest,
    DeleteRecordsTopic,
)
from kio.schema.delete_topics.v6.request import DeleteTopicsRequest, DeleteTopicState
from kio.schema.describe_configs.v4.request import DescribeConfigsRequest, DescribeConfigsResource
from kio.schema.incremental_alter_configs.v1.request import (
    AlterableConfig,
    AlterConfigsResource,
    IncrementalAlterConfigsRequest,
)
from kio.schema.list_offsets.v10.request import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import Records, i8, i16, i32, i64

from harness.kafka_wire import ms, new_batch

TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4
#: IncrementalAlterConfigs operations.
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
#: ListOffsets special timestamps.
LATEST, EARLIEST, MAX_TIMESTAMP = -1, -2, -3


# --- topics ------------------------------------------------------------------------------------


def create_topics(
    target: Target,
    topics: Sequence[CreatableTopic],
    *,
    validate_only: bool = False,
) -> Any:
    """CreateTopics v7; returns the response's per-topic results."""
    request = CreateTopicsRequest(topics=tuple(topics), timeout=ms(30_000), validate_only=validate_only)
    return target.call(request).topics


def new_topic(
    name: str,
    *,
    partitions: int = 1,
    replication_factor: int = 1,
    configs: Mapping[str, str | None] | None = None,
    assignments: Sequence[Sequence[int]] | Mapping[int, Sequence[int]] | None = None,
) -> CreatableTopic:
    """A CreateTopics entry; with ``assignments`` (replicas per partition, as a list or by partition
    index) the counts are -1, as required."""
    by_partition = dict(enumerate(assignments)) if isinstance(assignments, Sequence) else assignments or {}
    return CreatableTopic(
        name=TopicName(name),
        num_partitions=i32(-1 if by_partition else partitions),
        replication_factor=i16(-1 if by_partition else replication_factor),
        assignments=tuple(
            CreatableReplicaAssignment(partition_index=i32(index), broker_ids=tuple(BrokerId(b) for b in ids))
            for index, ids in by_partition.items()
        ),
        configs=tuple(CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()),
    )


def create_topic(
    target: Target,
    name: str,
    *,
    partitions: int = 1,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create a topic (asserting success) and wait until every partition has a leader."""
    [result] = create_topics(target, [new_topic(name, partitions=partitions, configs=configs)])
    assert int(result.error_code) == 0, f"create {name} on {target.name}: {result.error_message}"
    wait_for_partitions(target, name, partitions)


def wait_for_partitions(target: Target, name: str, partitions: int) -> None:
    def led(response: Any) -> bool:
        [topic] = response.topics
        return (
            int(topic.error_code) == 0
            and len(topic.partitions) == partitions
            and all(int(p.leader_id) >= 0 for p in topic.partitions)
        )

    response = wait_for(lambda: metadata(target, [name]), led)
    assert led(response), f"{name} on {target.name} has no leaders: {response}"
    # Kafka's metadata cache can name a leader a moment before that broker's replica manager
    # leads the partition (produce would get NOT_LEADER_OR_FOLLOWER): wait for that too.
    queries = [(p, LATEST) for p in range(partitions)]
    answers = wait_for(
        lambda: list_offsets(target, name, queries), lambda ps: all(int(p.error_code) == 0 for p in ps)
    )
    assert all(int(p.error_code) == 0 for p in answers), f"{name} on {target.name} not led: {answers}"


def metadata(target: Target, names: Sequence[str] | None, *, auto_create: bool = False) -> Any:
    """Metadata v12 for ``names`` (None: all topics)."""
    topics = (
        None
        if names is None
        else tuple(MetadataRequestTopic(topic_id=None, name=TopicName(n)) for n in names)
    )
    request = MetadataRequest(
        topics=topics, allow_auto_topic_creation=auto_create, include_topic_authorized_operations=False
    )
    return target.call(request)


def metadata_by_id(target: Target, topic_ids: Sequence[uuid.UUID], *, name: str | None) -> Any:
    """Metadata v12 for topics asked for by id, each with ``name`` beside it (the Java client
    sends "", its default; the protocol allows null)."""
    request = MetadataRequest(
        topics=tuple(
            MetadataRequestTopic(topic_id=i, name=None if name is None else TopicName(name))
            for i in topic_ids
        ),
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )
    return target.call(request)


def delete_topics(target: Target, names: Sequence[str]) -> Any:
    request = DeleteTopicsRequest(
        topics=tuple(DeleteTopicState(name=TopicName(n), topic_id=None) for n in names), timeout=ms(30_000)
    )
    return target.call(request).responses


def create_partitions(target: Target, name: str, count: int, *, validate_only: bool = False) -> Any:
    topic = CreatePartitionsTopic(name=TopicName(name), count=i32(count), assignments=None)
    request = CreatePartitionsRequest(topics=(topic,), timeout=ms(30_000), validate_only=validate_only)
    [result] = target.call(request).results
    return result


# --- configs -----------------------------------------------------------------------------------


def describe_configs(
    target: Target, resource_type: int, name: str, *, keys: Sequence[str] | None = None
) -> Any:
    """DescribeConfigs v4 with synonyms (no documentation); returns the one result."""
    resource = DescribeConfigsResource(
        resource_type=i8(resource_type),
        resource_name=name,
        configuration_keys=None if keys is None else tuple(keys),
    )
    request = DescribeConfigsRequest(
        resources=(resource,), include_synonyms=True, include_documentation=False
    )
    [result] = target.call(request).results
    return result


def incremental_alter(
    target: Target,
    resource_type: int,
    name: str,
    ops: Sequence[tuple[str, int, str | None]],
    *,
    validate_only: bool = False,
) -> Any:
    """IncrementalAlterConfigs v1 with ``(config name, operation, value)`` ops; returns the one result."""
    resource = AlterConfigsResource(
        resource_type=i8(resource_type),
        resource_name=name,
        configs=tuple(AlterableConfig(name=n, config_operation=i8(op), value=v) for n, op, v in ops),
    )
    request = IncrementalAlterConfigsRequest(resources=(resource,), validate_only=validate_only)
    [result] = target.call(request).responses
    return result


# --- data --------------------------------------------------------------------------------------


def timed_batch(records: Sequence[tuple[bytes, int]]) -> bytes:
    """An uncompressed record batch v2 whose records carry their own CreateTime timestamps (ms)."""
    return new_batch(
        [value for value, _ in records], timestamps_ms=[timestamp for _, timestamp in records], headers=()
    )


def produce(
    target: Target,
    topic: str,
    batches: Mapping[int, bytes],
    *,
    acks: int = -1,
    timeout_ms: int = 5_000,
) -> Any:
    """Produce v9: one record-batch blob per partition; returns the per-partition responses, in order."""
    request = ProduceRequest(
        acks=i16(acks),
        timeout=ms(timeout_ms),
        topic_data=(
            TopicProduceData(
                name=TopicName(topic),
                partition_data=tuple(
                    PartitionProduceData(index=i32(p), records=Records(data)) for p, data in batches.items()
                ),
            ),
        ),
    )
    [topic_response] = target.call(request).responses
    return topic_response.partition_responses


def list_offsets(target: Target, topic: str, queries: Sequence[tuple[int, int]]) -> Any:
    """ListOffsets v10 (read uncommitted) for ``(partition, timestamp)`` queries; per-partition results."""
    request = ListOffsetsRequest(
        replica_id=BrokerId(-1),
        isolation_level=i8(0),
        topics=(
            ListOffsetsTopic(
                name=TopicName(topic),
                partitions=tuple(
                    ListOffsetsPartition(
                        partition_index=i32(p), current_leader_epoch=i32(-1), timestamp=i64(ts)
                    )
                    for p, ts in queries
                ),
            ),
        ),
        timeout=ms(5_000),
    )
    [topic_response] = target.call(request).topics
    return topic_response.partitions


def delete_records(target: Target, topic: str, offsets: Mapping[int, int]) -> Any:
    """DeleteRecords v2: ``{partition: offset}`` (-1 = high watermark); per-partition results."""
    request = DeleteRecordsRequest(
        topics=(
            DeleteRecordsTopic(
                name=TopicName(topic),
                partitions=tuple(
                    DeleteRecordsPartition(partition_index=i32(p), offset=i64(o)) for p, o in offsets.items()
                ),
            ),
        ),
        timeout=ms(5_000),
    )
    [topic_response] = target.call(request).topics
    return topic_response.partitions
