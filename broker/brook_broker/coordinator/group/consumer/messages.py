"""ConsumerGroupHeartbeat and ConsumerGroupDescribe requests and responses, independent of wire versions.

`apis/consumer_groups.py` translates kio's classes into these and back; the coordinator sees
the API version only where Kafka's rules depend on it (v1: the client generates its member id).
Fields carry Kafka's names in snake case; assignments are topic id -> partitions.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from brook_broker.coordinator.group.common import group_error
from brook_broker.coordinator.group.consumer.member import (
    LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    Assignment,
)
from brook_broker.protocol.errors import BrokerError, ErrorCode


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerGroupHeartbeatRequest:
    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    #: -1: unchanged since the last heartbeat (the same for every ``None`` below).
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: tuple[str, ...] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    #: The partitions the member owns: ``((topic id, (partition, ...)), ...)``.
    topic_partitions: tuple[tuple[uuid.UUID, tuple[int, ...]], ...] | None = None
    client_id: str = ""
    client_host: str = ""
    api_version: int = 1

    def validate(self, *, assignors: Sequence[str]) -> None:
        """Kafka 4.3's ``throwIfConsumerGroupHeartbeatRequestIsInvalid``: INVALID_REQUEST (or
        UNSUPPORTED_ASSIGNOR) with Kafka's message, checked before the group is looked at."""
        if self.api_version >= 1 or self.member_epoch > 0 or self.member_epoch == LEAVE_GROUP_MEMBER_EPOCH:
            _not_blank(self.member_id, "MemberId can't be empty.")
        _not_blank(self.group_id, "GroupId can't be empty.")
        _not_blank(self.instance_id, "InstanceId can't be empty.")
        _not_blank(self.rack_id, "RackId can't be empty.")
        if self.member_epoch == 0:
            if self.rebalance_timeout_ms == -1:
                raise _invalid("RebalanceTimeoutMs must be provided in first request.")
            if self.topic_partitions is None or self.topic_partitions:
                raise _invalid("TopicPartitions must be empty when (re-)joining.")
            # Empty names or an empty regex are fine: a member of the group without topics.
            if self.subscribed_topic_names is None and self.subscribed_topic_regex is None:
                raise _invalid(
                    "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining."
                )
        elif self.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            if self.instance_id is None:
                raise _invalid("InstanceId can't be null.")
        elif self.member_epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            raise _invalid("MemberEpoch is invalid.")
        if self.server_assignor is not None and self.server_assignor not in assignors:
            raise group_error(
                ErrorCode.unsupported_assignor,
                f"ServerAssignor {self.server_assignor} is not supported. "
                f"Supported assignors: {', '.join(assignors)}.",
            )

    def owned(self) -> dict[uuid.UUID, frozenset[int]] | None:
        if self.topic_partitions is None:
            return None
        owned: dict[uuid.UUID, frozenset[int]] = {}
        for topic_id, partitions in self.topic_partitions:
            owned[topic_id] = owned.get(topic_id, frozenset()) | frozenset(partitions)
        return owned


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerGroupHeartbeatResponse:
    error: ErrorCode = ErrorCode.none
    error_message: str | None = None
    member_id: str | None = None
    member_epoch: int = 0
    heartbeat_interval_ms: int = 0
    #: ``None`` when the member's assignment did not change (and the request was not a full one).
    assignment: Assignment | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DescribedTopicPartitions:
    topic_id: uuid.UUID
    topic_name: str
    partitions: tuple[int, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DescribedConsumerMember:
    member_id: str
    instance_id: str | None
    rack_id: str | None
    member_epoch: int
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    assignment: tuple[DescribedTopicPartitions, ...]
    target_assignment: tuple[DescribedTopicPartitions, ...]
    #: ConsumerGroupDescribe v1: 0 for a classic member, 1 for a consumer member.
    member_type: int = 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DescribedConsumerGroup:
    group_id: str
    error: ErrorCode = ErrorCode.none
    error_message: str | None = None
    state: str = ""
    group_epoch: int = 0
    assignment_epoch: int = 0
    assignor_name: str = ""
    members: tuple[DescribedConsumerMember, ...] = ()


def _invalid(message: str) -> BrokerError:
    return group_error(ErrorCode.invalid_request, message)


def _not_blank(value: str | None, message: str) -> None:
    """Kafka's ``throwIfEmptyString``: null passes, a string of only whitespace does not."""
    if value is not None and not value.strip():
        raise _invalid(message)
