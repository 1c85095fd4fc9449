"""Consumer-group operations of the client-side admin layer, mixed into `cli.client.Admin`.

What Kafka's AdminClient does for ``kafka-consumer-groups.sh``: find a group's coordinator,
list groups (every broker), describe them (DescribeGroups for classic groups,
ConsumerGroupDescribe for KIP-848 ones), read and commit their offsets (a commit with
generation -1 and no member, as ``alterConsumerGroupOffsets`` sends, which a coordinator
accepts only while the group has no members), delete groups and their offsets. Used by the
`brook groups` and `brook consume --group` commands and by the operator's ConsumerGroup
reconciler (through `brook_operator.admin`).

Every operation finds the coordinator first and is retried as a whole while the answer is a
retriable error (a coordinator that is loading or has moved), like Kafka's AdminClient.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from kio.schema.consumer_group_describe.v0.request import ConsumerGroupDescribeRequest
from kio.schema.consumer_group_describe.v0.response import ConsumerGroupDescribeResponse
from kio.schema.consumer_protocol_assignment.v0 import ConsumerProtocolAssignment
from kio.schema.delete_groups.v2.request import DeleteGroupsRequest
from kio.schema.delete_groups.v2.response import DeleteGroupsResponse
from kio.schema.describe_groups.v5.request import DescribeGroupsRequest
from kio.schema.describe_groups.v5.response import DescribeGroupsResponse
from kio.schema.errors import ErrorCode
from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
from kio.schema.find_coordinator.v4.response import FindCoordinatorResponse
from kio.schema.list_groups.v4.request import ListGroupsRequest as ListGroupsRequestV4
from kio.schema.list_groups.v4.response import ListGroupsResponse as ListGroupsResponseV4
from kio.schema.list_groups.v5.request import ListGroupsRequest
from kio.schema.list_groups.v5.response import ListGroupsResponse
from kio.schema.offset_commit.v8.request import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kio.schema.offset_commit.v8.response import OffsetCommitResponse
from kio.schema.offset_delete.v0.request import (
    OffsetDeleteRequest,
    OffsetDeleteRequestPartition,
    OffsetDeleteRequestTopic,
)
from kio.schema.offset_delete.v0.response import OffsetDeleteResponse
from kio.schema.offset_fetch.v8.request import OffsetFetchRequest, OffsetFetchRequestGroup
from kio.schema.offset_fetch.v8.response import OffsetFetchResponse
from kio.schema.types import GroupId, TopicName
from kio.serial import entity_reader
from kio.static.primitive import i8, i32, i64

from brook_broker.cli.kafka_errors import KafkaApiError, check

T = TypeVar("T")
TopicPartition = tuple[str, int]

_GROUP_KEY = i8(0)
#: The protocol type of consumers' classic groups (Connect workers use "connect").
CONSUMER_PROTOCOL = "consumer"
#: States in which nobody consumes, so offsets may be changed (Kafka's reset-offsets rule).
INACTIVE_STATES = frozenset({"Empty", "Dead"})
_read_assignment = entity_reader(ConsumerProtocolAssignment)


@dataclasses.dataclass(frozen=True, slots=True)
class Coordinator:
    node_id: int
    host: str
    port: int

    def __str__(self) -> str:
        # As kafka-consumer-groups prints "COORDINATOR (ID)".
        return f"{self.host}:{self.port} ({self.node_id})"


@dataclasses.dataclass(frozen=True, slots=True)
class GroupListing:
    group_id: str
    type: str
    state: str
    protocol_type: str


@dataclasses.dataclass(frozen=True, slots=True)
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    host: str
    assignment: tuple[TopicPartition, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class GroupDescription:
    group_id: str
    type: str
    state: str
    protocol_type: str
    #: The partition assignor the group uses (DescribeGroups' protocol_data), "" when none.
    assignor: str
    members: tuple[MemberDescription, ...]
    coordinator: Coordinator

    @property
    def exists(self) -> bool:
        return self.state != "Dead"

    @property
    def inactive(self) -> bool:
        return self.state in INACTIVE_STATES


@dataclasses.dataclass(frozen=True, slots=True)
class CommittedOffset:
    offset: int
    metadata: str
    leader_epoch: int


class GroupOperations:
    """The group half of `cli.client.Admin`; `send`, `retrying` and `broker_ids` come from there."""

    async def send(
        self, request: Any, response_type: type[T], *, node: int | None = None, to_controller: bool = False
    ) -> T:
        raise NotImplementedError

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        raise NotImplementedError

    def broker_ids(self) -> list[int]:
        raise NotImplementedError

    async def find_coordinator(self, group_id: str) -> Coordinator:
        response = await self.send(
            FindCoordinatorRequest(key_type=_GROUP_KEY, coordinator_keys=(group_id,)), FindCoordinatorResponse
        )
        (found,) = response.coordinators
        check(found.error_code, found.error_message, kind="group", name=group_id)
        return Coordinator(int(found.node_id), found.host, int(found.port))

    async def list_groups(
        self, *, states: Sequence[str] = (), types: Sequence[str] = ()
    ) -> list[GroupListing]:
        """Every group of every broker (each coordinates its own), sorted by id."""
        listed: dict[str, GroupListing] = {}
        for node in self.broker_ids():

            async def attempt(node: int = node) -> list[GroupListing]:
                return await self._list_groups_of(node, states=states, types=types)

            for group in await self.retrying(attempt):
                listed[group.group_id] = group
        return sorted(listed.values(), key=lambda g: g.group_id)

    async def _list_groups_of(
        self, node: int, *, states: Sequence[str], types: Sequence[str]
    ) -> list[GroupListing]:
        try:
            response = await self.send(
                ListGroupsRequest(states_filter=tuple(states), types_filter=tuple(types)),
                ListGroupsResponse,
                node=node,
            )
        except KafkaApiError as error:
            if error.code != ErrorCode.unsupported_version:
                raise
            # Brokers before Kafka 4.0 (ListGroups v4) know only classic groups and no type filter.
            old = await self.send(
                ListGroupsRequestV4(states_filter=tuple(states)), ListGroupsResponseV4, node=node
            )
            check(old.error_code, kind="broker", name=str(node))
            return [
                GroupListing(str(g.group_id), "classic", g.group_state, g.protocol_type)
                for g in old.groups
                if not types or "classic" in {t.lower() for t in types}
            ]
        check(response.error_code, kind="broker", name=str(node))
        return [
            GroupListing(str(g.group_id), g.group_type or "classic", g.group_state, g.protocol_type)
            for g in response.groups
        ]

    async def describe_group(self, group_id: str) -> GroupDescription:
        """A group's state and members; state "Dead" for a group that does not exist."""

        async def attempt() -> GroupDescription:
            coordinator = await self.find_coordinator(group_id)
            request = DescribeGroupsRequest(groups=(GroupId(group_id),), include_authorized_operations=False)
            response = await self.send(request, DescribeGroupsResponse, node=coordinator.node_id)
            (group,) = response.groups
            check(group.error_code, kind="group", name=group_id)
            if group.group_state == "Dead":
                # DescribeGroups knows classic groups only; a KIP-848 group may have this id.
                consumer = await self._describe_consumer_group(group_id, coordinator)
                if consumer is not None:
                    return consumer
            members = tuple(
                MemberDescription(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    host=m.client_host,
                    assignment=decode_assignment(m.member_assignment)
                    if group.protocol_type == CONSUMER_PROTOCOL
                    else (),
                )
                for m in group.members
            )
            return GroupDescription(
                group_id=group_id,
                type="classic",
                state=group.group_state,
                protocol_type=group.protocol_type,
                assignor=group.protocol_data,
                members=members,
                coordinator=coordinator,
            )

        return await self.retrying(attempt)

    async def _describe_consumer_group(
        self, group_id: str, coordinator: Coordinator
    ) -> GroupDescription | None:
        request = ConsumerGroupDescribeRequest(
            group_ids=(GroupId(group_id),), include_authorized_operations=False
        )
        try:
            response = await self.send(request, ConsumerGroupDescribeResponse, node=coordinator.node_id)
        except KafkaApiError as error:
            if error.code == ErrorCode.unsupported_version:
                return None  # a broker without KIP-848 has no such groups
            raise
        (group,) = response.groups
        if group.error_code == ErrorCode.group_id_not_found:
            return None
        check(group.error_code, group.error_message, kind="group", name=group_id)
        members = tuple(
            MemberDescription(
                member_id=m.member_id,
                group_instance_id=m.instance_id,
                client_id=m.client_id,
                host=m.client_host,
                assignment=tuple(
                    (str(t.topic_name), int(p)) for t in m.assignment.topic_partitions for p in t.partitions
                ),
            )
            for m in group.members
        )
        return GroupDescription(
            group_id=group_id,
            type="consumer",
            state=group.group_state,
            protocol_type=CONSUMER_PROTOCOL,
            assignor=group.assignor_name,
            members=members,
            coordinator=coordinator,
        )

    async def group_offsets(self, group_id: str) -> dict[TopicPartition, CommittedOffset]:
        """The group's committed offsets (partitions without a commit are left out)."""

        async def attempt() -> dict[TopicPartition, CommittedOffset]:
            coordinator = await self.find_coordinator(group_id)
            request = OffsetFetchRequest(
                groups=(OffsetFetchRequestGroup(group_id=GroupId(group_id), topics=None),)
            )
            response = await self.send(request, OffsetFetchResponse, node=coordinator.node_id)
            (group,) = response.groups
            check(group.error_code, kind="group", name=group_id)
            offsets = {}
            for topic in group.topics:
                for p in topic.partitions:
                    check(p.error_code, kind="partition", name=f"{topic.name}-{p.partition_index}")
                    if p.committed_offset >= 0:
                        offsets[(str(topic.name), int(p.partition_index))] = CommittedOffset(
                            int(p.committed_offset), p.metadata or "", int(p.committed_leader_epoch)
                        )
            return dict(sorted(offsets.items()))

        return await self.retrying(attempt)

    async def commit_group_offsets(self, group_id: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit offsets for a group without members (generation -1, no member id).

        The coordinator refuses it while the group has members (UNKNOWN_MEMBER_ID): members
        would overwrite the offsets with their own positions anyway.
        """
        by_topic: dict[str, list[OffsetCommitRequestPartition]] = {}
        for (topic, partition), offset in sorted(offsets.items()):
            by_topic.setdefault(topic, []).append(
                OffsetCommitRequestPartition(
                    partition_index=i32(partition), committed_offset=i64(offset), committed_metadata=""
                )
            )
        request = OffsetCommitRequest(
            group_id=GroupId(group_id),
            generation_id_or_member_epoch=i32(-1),
            member_id="",
            topics=tuple(
                OffsetCommitRequestTopic(name=TopicName(t), partitions=tuple(ps))
                for t, ps in by_topic.items()
            ),
        )

        async def attempt() -> None:
            coordinator = await self.find_coordinator(group_id)
            response = await self.send(request, OffsetCommitResponse, node=coordinator.node_id)
            for topic in response.topics:
                for p in topic.partitions:
                    if p.error_code in _GROUP_IS_ACTIVE:
                        raise KafkaApiError(
                            p.error_code, f"group '{group_id}' has active members; stop its consumers first"
                        )
                    check(p.error_code, kind="partition", name=f"{topic.name}-{p.partition_index}")

        await self.retrying(attempt)

    async def delete_groups(self, group_ids: Iterable[str]) -> dict[str, KafkaApiError | None]:
        """DeleteGroups at each group's coordinator; the outcome per group (``None``: deleted)."""
        outcome: dict[str, KafkaApiError | None] = {}
        for group_id in dict.fromkeys(group_ids):

            async def attempt(group_id: str = group_id) -> None:
                coordinator = await self.find_coordinator(group_id)
                request = DeleteGroupsRequest(groups_names=(GroupId(group_id),))
                response = await self.send(request, DeleteGroupsResponse, node=coordinator.node_id)
                (result,) = response.results
                check(result.error_code, kind="group", name=group_id)

            try:
                await self.retrying(attempt)
                outcome[group_id] = None
            except KafkaApiError as error:
                outcome[group_id] = error
        return outcome

    async def delete_group_offsets(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, KafkaApiError | None]:
        """OffsetDelete: the outcome per partition; a group-level error is raised."""
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(set(partitions)):
            by_topic.setdefault(topic, []).append(partition)
        request = OffsetDeleteRequest(
            group_id=GroupId(group_id),
            topics=tuple(
                OffsetDeleteRequestTopic(
                    name=TopicName(t),
                    partitions=tuple(OffsetDeleteRequestPartition(partition_index=i32(p)) for p in ps),
                )
                for t, ps in by_topic.items()
            ),
        )

        async def attempt() -> dict[TopicPartition, KafkaApiError | None]:
            coordinator = await self.find_coordinator(group_id)
            response = await self.send(request, OffsetDeleteResponse, node=coordinator.node_id)
            check(response.error_code, kind="group", name=group_id)
            outcome: dict[TopicPartition, KafkaApiError | None] = {}
            for topic in response.topics:
                for p in topic.partitions:
                    name = f"{topic.name}-{p.partition_index}"
                    if p.error_code in _RETRIABLE_HERE:
                        check(p.error_code, kind="partition", name=name)  # retried as a whole
                    error = (
                        None
                        if p.error_code == ErrorCode.none
                        else KafkaApiError(p.error_code, kind="partition", name=name)
                    )
                    outcome[(str(topic.name), int(p.partition_index))] = error
            return outcome

        return await self.retrying(attempt)


#: What a commit without a member gets from a group that has members.
_GROUP_IS_ACTIVE = frozenset(
    {ErrorCode.unknown_member_id, ErrorCode.illegal_generation, ErrorCode.rebalance_in_progress}
)
_RETRIABLE_HERE = frozenset(
    {ErrorCode.coordinator_load_in_progress, ErrorCode.coordinator_not_available, ErrorCode.not_coordinator}
)


def decode_assignment(data: bytes) -> tuple[TopicPartition, ...]:
    """The partitions in a ConsumerProtocolAssignment (any version: v1-v3 add nothing before them)."""
    if len(data) < 2:
        return ()
    try:
        assignment, _ = _read_assignment(data, 2)  # after the int16 version
    except Exception:  # noqa: BLE001 - a malformed or foreign assignment reads as none
        return ()
    return tuple(sorted((str(t.topic), int(p)) for t in assignment.assigned_partitions for p in t.partitions))
