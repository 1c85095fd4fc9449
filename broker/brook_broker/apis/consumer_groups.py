"""KIP-848 consumer group APIs: ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69).

The handlers translate between kio's wire classes and the group coordinator's consumer-group
messages (`coordinator.group.consumer.messages`); every rule lives in the coordinator.
Version notes: ConsumerGroupHeartbeat v1 adds ``SubscribedTopicRegex`` and makes the client
generate its member id (librdkafka and the Java client use only v1); ConsumerGroupDescribe v1
adds each member's ``MemberType``. Both are flexible at every version.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.consumer_group_describe.v1.response import (
    Assignment as DescribedAssignment,
)
from kio.schema.consumer_group_describe.v1.response import (
    ConsumerGroupDescribeResponse,
    DescribedGroup,
    Member,
)
from kio.schema.consumer_group_describe.v1.response import (
    TopicPartitions as DescribedTopicPartitions,
)
from kio.schema.consumer_group_heartbeat.v1.response import (
    Assignment,
    ConsumerGroupHeartbeatResponse,
    TopicPartitions,
)
from kio.schema.types import GroupId, TopicName
from kio.static.primitive import i8, i32, i32Timedelta

from brook_broker.apis.context import RequestContext
from brook_broker.apis.groups import GROUP_AUTHORIZED_OPERATIONS, OPERATIONS_NOT_REQUESTED
from brook_broker.apis.registry import api
from brook_broker.coordinator.group.consumer import messages as m
from brook_broker.coordinator.group.consumer.member import Assignment as PartitionsByTopic
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode


@api(68, min_version=0, max_version=1)
async def handle_consumer_group_heartbeat(
    context: RequestContext, request: Any
) -> ConsumerGroupHeartbeatResponse:
    owned = request.topic_partitions
    response = await context.services.group_coordinator.consumer_group_heartbeat(
        m.ConsumerGroupHeartbeatRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            member_epoch=request.member_epoch,
            instance_id=request.instance_id,
            rack_id=request.rack_id,
            rebalance_timeout_ms=codec.timedelta_ms(request.rebalance_timeout),
            subscribed_topic_names=None
            if request.subscribed_topic_names is None
            else tuple(request.subscribed_topic_names),
            subscribed_topic_regex=getattr(request, "subscribed_topic_regex", None),
            server_assignor=request.server_assignor,
            topic_partitions=None
            if owned is None
            else tuple((t.topic_id, tuple(int(p) for p in t.partitions)) for t in owned),
            client_id=context.header.client_id or "",
            # Kafka prints the client's InetAddress, which reads "/127.0.0.1".
            client_host=f"/{context.client_host}",
            api_version=context.api_version,
        )
    )
    assignment = response.assignment
    return ConsumerGroupHeartbeatResponse(
        throttle_time=codec.NO_THROTTLE,
        error_code=response.error,
        error_message=response.error_message,
        member_id=response.member_id,
        member_epoch=i32(response.member_epoch),
        heartbeat_interval=i32Timedelta.parse(
            datetime.timedelta(milliseconds=response.heartbeat_interval_ms)
        ),
        assignment=None
        if assignment is None
        else Assignment(
            topic_partitions=tuple(
                TopicPartitions(topic_id=topic_id, partitions=tuple(i32(p) for p in sorted(partitions)))
                for topic_id, partitions in _sorted(assignment)
            )
        ),
    )


@api(69, min_version=0, max_version=1)
async def handle_consumer_group_describe(
    context: RequestContext, request: Any
) -> ConsumerGroupDescribeResponse:
    operations = (
        GROUP_AUTHORIZED_OPERATIONS if request.include_authorized_operations else OPERATIONS_NOT_REQUESTED
    )
    groups = []
    for group_id in request.group_ids:
        described = context.services.group_coordinator.consumer_group_describe(group_id)
        groups.append(
            DescribedGroup(
                error_code=described.error,
                error_message=described.error_message,
                group_id=GroupId(group_id),
                group_state=described.state,
                group_epoch=i32(described.group_epoch),
                assignment_epoch=i32(described.assignment_epoch),
                assignor_name=described.assignor_name,
                members=tuple(_member(member) for member in described.members),
                authorized_operations=i32(
                    operations if described.error == ErrorCode.none else OPERATIONS_NOT_REQUESTED
                ),
            )
        )
    return ConsumerGroupDescribeResponse(throttle_time=codec.NO_THROTTLE, groups=tuple(groups))


def _member(member: m.DescribedConsumerMember) -> Member:
    return Member(
        member_id=member.member_id,
        instance_id=member.instance_id,
        rack_id=member.rack_id,
        member_epoch=i32(member.member_epoch),
        client_id=member.client_id,
        client_host=member.client_host,
        subscribed_topic_names=tuple(TopicName(name) for name in member.subscribed_topic_names),
        subscribed_topic_regex=member.subscribed_topic_regex,
        assignment=_described_assignment(member.assignment),
        target_assignment=_described_assignment(member.target_assignment),
        member_type=i8(member.member_type),
    )


def _described_assignment(topics: tuple[m.DescribedTopicPartitions, ...]) -> DescribedAssignment:
    return DescribedAssignment(
        topic_partitions=tuple(
            DescribedTopicPartitions(
                topic_id=topic.topic_id,
                topic_name=TopicName(topic.topic_name),
                partitions=tuple(i32(p) for p in topic.partitions),
            )
            for topic in topics
        )
    )


def _sorted(assignment: PartitionsByTopic) -> list[tuple[Any, frozenset[int]]]:
    return sorted(assignment.items(), key=lambda item: str(item[0]))
