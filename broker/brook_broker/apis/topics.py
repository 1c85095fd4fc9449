"""CreateTopics (19), DeleteTopics (20) and CreatePartitions (37): topic lifecycle.

The handlers translate between wire shapes and the controller's operations; every rule
(legal names, partition counts, replication factors, configs) lives in the controller so
that the Metadata auto-create path and these APIs cannot disagree.
"""

from __future__ import annotations

from typing import Any

from kio.schema.create_partitions.v3.response import CreatePartitionsResponse, CreatePartitionsTopicResult
from kio.schema.create_topics.v7.response import (
    CreatableTopicConfigs,
    CreatableTopicResult,
    CreateTopicsResponse,
)
from kio.schema.delete_topics.v6.response import DeletableTopicResult, DeleteTopicsResponse
from kio.schema.types import TopicName
from kio.static.primitive import i8, i16, i32

from brook_broker.apis import configs as config_apis
from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.metadata.controller import NewTopic
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode


@api(19, min_version=2, max_version=7)
async def handle_create_topics(context: RequestContext, request: Any) -> CreateTopicsResponse:
    services = context.services
    new_topics = [
        NewTopic(
            name=topic.name,
            num_partitions=topic.num_partitions,
            replication_factor=topic.replication_factor,
            assignments={a.partition_index: tuple(a.broker_ids) for a in topic.assignments},
            configs={c.name: c.value for c in topic.configs},
        )
        for topic in request.topics
    ]
    results = services.controller.create_topics(new_topics, validate_only=request.validate_only)
    out = []
    for result in results:
        ok = result.error.code == ErrorCode.none
        entries = (
            tuple(
                CreatableTopicConfigs(
                    name=entry.name,
                    value=entry.value,
                    read_only=entry.read_only,
                    config_source=i8(entry.source),
                    is_sensitive=entry.is_sensitive,
                )
                for entry in config_apis.topic_config_entries(services, result.configs)
            )
            if ok
            else ()
        )
        out.append(
            CreatableTopicResult(
                name=TopicName(result.name),
                topic_id=result.topic_id,
                error_code=result.error.code,
                error_message=result.error.message,
                topic_config_error_code=i16(0),
                num_partitions=i32(result.num_partitions if ok else -1),
                replication_factor=i16(result.replication_factor if ok else -1),
                configs=entries,
            )
        )
    return CreateTopicsResponse(throttle_time=codec.NO_THROTTLE, topics=tuple(out))


@api(20, min_version=1, max_version=6)
async def handle_delete_topics(context: RequestContext, request: Any) -> DeleteTopicsResponse:
    controller = context.services.controller
    # v6 names topics by id or by name; older versions send a list of names.
    wanted: list[tuple[str | None, Any]] = []
    if hasattr(request, "topic_names"):
        wanted = [(name, None) for name in request.topic_names]
    else:
        wanted = [(t.name, t.topic_id if t.name is None else None) for t in request.topics]
    out = []
    names = []
    for requested_name, topic_id in wanted:
        if requested_name is not None:
            names.append(requested_name)
        elif (topic := controller.topic_by_id(topic_id)) is not None:
            names.append(topic.name)
        else:
            out.append(
                DeletableTopicResult(
                    name=None, topic_id=topic_id, error_code=ErrorCode.unknown_topic_id, error_message=None
                )
            )
    ids = {name: t.topic_id for name in names if (t := context.services.image.topic(name)) is not None}
    for name, error in controller.delete_topics(names).items():
        out.append(
            DeletableTopicResult(
                name=TopicName(name),
                topic_id=ids.get(name),
                error_code=error.code,
                error_message=error.message,
            )
        )
    return DeleteTopicsResponse(throttle_time=codec.NO_THROTTLE, responses=tuple(out))


@api(37, min_version=0, max_version=3)
async def handle_create_partitions(context: RequestContext, request: Any) -> CreatePartitionsResponse:
    controller = context.services.controller
    results = []
    for topic in request.topics:
        assignments = None if topic.assignments is None else [tuple(a.broker_ids) for a in topic.assignments]
        error = controller.create_partitions(
            name=topic.name, count=topic.count, assignments=assignments, validate_only=request.validate_only
        )
        results.append(
            CreatePartitionsTopicResult(
                name=TopicName(topic.name), error_code=error.code, error_message=error.message
            )
        )
    return CreatePartitionsResponse(throttle_time=codec.NO_THROTTLE, results=tuple(results))
