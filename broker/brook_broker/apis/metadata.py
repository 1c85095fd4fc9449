"""Metadata (key 3): brokers, controller and topic/partition leadership, with auto-creation.

Version notes: v0 treats an empty topic list as "all topics" (v1+ uses null for that);
``allow_auto_topic_creation`` exists from v4 and is implied before; v10+ may name topics
by id; v11 dropped cluster authorized operations, v13 added a top-level error code (kio's classes
handle the field sets).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from kio.schema.metadata.v10.response import MetadataResponse as MetadataResponseV10
from kio.schema.metadata.v13.response import (
    MetadataResponse,
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i32

from brook_broker.apis.context import BrokerServices, RequestContext
from brook_broker.apis.registry import api
from brook_broker.metadata import topic_names
from brook_broker.metadata.controller import NewTopic
from brook_broker.metadata.image import TopicImage
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode

#: Kafka's AclOperation ids a topic reports when asked (no authorizer: everything allowed).
_TOPIC_OPERATIONS = (
    3,
    4,
    5,
    6,
    7,
    8,
    10,
    11,
)  # READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE/ALTER_CONFIGS
TOPIC_AUTHORIZED_OPERATIONS = sum(1 << op for op in _TOPIC_OPERATIONS)
#: Kafka's ClusterAuthorizedOperations with no authorizer: everything on the cluster resource.
_CLUSTER_OPERATIONS = (
    4,
    5,
    7,
    8,
    9,
    10,
    11,
    12,
)  # WRITE CREATE ALTER DESCRIBE CLUSTER_ACTION .. IDEMPOTENT_WRITE
CLUSTER_AUTHORIZED_OPERATIONS = sum(1 << op for op in _CLUSTER_OPERATIONS)
#: "Not requested" marker for authorized-operations fields.
OPERATIONS_NOT_REQUESTED = -(2**31)


def brokers_for(services: BrokerServices, listener: str) -> tuple[MetadataResponseBroker, ...]:
    endpoint = services.endpoints.get(listener) or next(iter(services.endpoints.values()))
    return (
        MetadataResponseBroker(
            node_id=BrokerId(services.node_id),
            host=endpoint.host,
            port=i32(endpoint.port),
            rack=services.rack,
        ),
    )


def _topic_response(topic: TopicImage, *, authorized_operations: int) -> MetadataResponseTopic:
    partitions = []
    for index in sorted(topic.partitions):
        registration = topic.partitions[index]
        partitions.append(
            MetadataResponsePartition(
                error_code=ErrorCode.none if registration.leader >= 0 else ErrorCode.leader_not_available,
                partition_index=i32(index),
                leader_id=BrokerId(registration.leader),
                leader_epoch=i32(registration.leader_epoch),
                replica_nodes=tuple(BrokerId(b) for b in registration.replicas),
                isr_nodes=tuple(BrokerId(b) for b in registration.isr),
                offline_replicas=(),
            )
        )
    return MetadataResponseTopic(
        error_code=ErrorCode.none,
        name=TopicName(topic.name),
        topic_id=topic.topic_id,
        is_internal=topic_names.is_internal(topic.name),
        partitions=tuple(partitions),
        topic_authorized_operations=i32(authorized_operations),
    )


def _error_topic(name: str | None, topic_id: uuid.UUID | None, code: ErrorCode) -> MetadataResponseTopic:
    return MetadataResponseTopic(
        error_code=code,
        name=None if name is None else TopicName(name),
        topic_id=topic_id or uuid.UUID(int=0),
        is_internal=False,
        partitions=(),
        topic_authorized_operations=i32(OPERATIONS_NOT_REQUESTED),
    )


@api(3, min_version=0, max_version=13)
async def handle_metadata(context: RequestContext, request: Any) -> MetadataResponse | MetadataResponseV10:
    services = context.services
    image = services.image
    version = context.api_version
    operations = (
        TOPIC_AUTHORIZED_OPERATIONS
        if getattr(request, "include_topic_authorized_operations", False)
        else OPERATIONS_NOT_REQUESTED
    )
    requested = request.topics
    if requested is None or (version == 0 and not requested):
        topics = [_topic_response(t, authorized_operations=operations) for t in image.topics_by_name.values()]
    else:
        allow_auto_create = (
            getattr(request, "allow_auto_topic_creation", True) and services.config.auto_create_topics_enable
        )
        topics = []
        to_create: list[str] = []
        for item in requested:
            name = item.name
            topic_id = getattr(item, "topic_id", None)
            # A topic asked for by id (v12+): Kafka looks up the id whatever the name holds (the
            # Java client leaves it "", its default, rather than null).
            if name is None or (topic_id is not None and topic_id.int != 0):
                found = image.topics_by_id.get(topic_id) if topic_id is not None else None
                topics.append(
                    _topic_response(found, authorized_operations=operations)
                    if found
                    else _error_topic(None, topic_id, ErrorCode.unknown_topic_id)
                )
                continue
            found = image.topic(name)
            if found is not None:
                topics.append(_topic_response(found, authorized_operations=operations))
            elif topic_names.invalid_reason(name) is not None:
                topics.append(_error_topic(name, None, ErrorCode.invalid_topic_exception))
            elif allow_auto_create and not topic_names.is_internal(name):
                to_create.append(name)
                topics.append(
                    _error_topic(name, None, ErrorCode.unknown_topic_or_partition)
                )  # replaced below
            else:
                topics.append(_error_topic(name, None, ErrorCode.unknown_topic_or_partition))
        if to_create:
            topics = _auto_create(services, topics, to_create, operations)
    response = MetadataResponse(
        throttle_time=codec.NO_THROTTLE,
        brokers=brokers_for(services, context.listener),
        cluster_id=services.cluster_id,
        controller_id=BrokerId(services.node_id),
        topics=tuple(topics),
        error_code=ErrorCode.none,
    )
    if getattr(request, "include_cluster_authorized_operations", False):
        # v8-v10 only (v11 moved it to DescribeCluster), so the field is not in the v13 class:
        # answer in v10's shape, which the dispatcher adapts to v8/v9 like any other.
        return dataclasses.replace(
            codec.adapt(response, MetadataResponseV10),
            cluster_authorized_operations=i32(CLUSTER_AUTHORIZED_OPERATIONS),
        )
    return response


def _auto_create(
    services: BrokerServices, topics: list[MetadataResponseTopic], names: list[str], operations: int
) -> list[MetadataResponseTopic]:
    """Create missing topics with the broker defaults (auto.create.topics.enable)."""
    results = {
        result.name: result
        for result in services.controller.create_topics(
            [NewTopic(name=n) for n in names], validate_only=False
        )
    }
    out = []
    for topic in topics:
        result = results.get(topic.name) if topic.name is not None else None
        if result is None:
            out.append(topic)
            continue
        created = services.image.topic(result.name)
        if created is not None:
            out.append(_topic_response(created, authorized_operations=operations))
        else:
            out.append(_error_topic(result.name, None, result.error.code))
    return out
