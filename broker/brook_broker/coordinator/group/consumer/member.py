"""`ConsumerGroupMember`: one member of a KIP-848 consumer group (Kafka's ``ConsumerGroupMember``).

A member is an immutable value: every change (a heartbeat, a reconciliation step, a replayed
record) builds a new one with `dataclasses.replace`, so an operation can compute the member's
next state, turn it into records, and leave the group untouched until those records are
replayed. Its persisted form is two records: ConsumerGroupMemberMetadata (what the client
told us: subscription, ids, timeouts) and ConsumerGroupCurrentMemberAssignment (what the
coordinator decided: epochs, reconciliation state, owned and to-be-revoked partitions).

Assignments are maps of topic id to partition ids (`Assignment`), as in Kafka: they survive
topic renames and tell a deleted topic from a recreated one.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping

from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupMemberMetadataValue,
    Tags,
    TopicPartitions,
)

#: Topic id -> partition ids (never empty sets).
Assignment = Mapping[uuid.UUID, frozenset[int]]
EMPTY_ASSIGNMENT: Assignment = {}

#: A member epoch of -1 in a heartbeat leaves the group; -2 is a static member leaving for now.
LEAVE_GROUP_MEMBER_EPOCH = -1
LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2
#: ConsumerGroupMemberMetadataValue's tag 0 as Kafka 4.3 writes it for a member that uses the
#: consumer protocol: an explicit null ClassicMemberMetadata.
CONSUMER_PROTOCOL_TAGS: Tags = ((0, b"\x00"),)


class MemberState(enum.IntEnum):
    """Kafka's ``MemberState``: where a member is in reconciling towards its target assignment."""

    STABLE = 0
    UNREVOKED_PARTITIONS = 1
    UNRELEASED_PARTITIONS = 2
    UNKNOWN = 127

    @classmethod
    def of(cls, value: int) -> MemberState:
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerGroupMember:
    member_id: str
    member_epoch: int = 0
    previous_member_epoch: int = -1
    state: MemberState = MemberState.STABLE
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    client_id: str = ""
    client_host: str = ""
    subscribed_topic_names: frozenset[str] = frozenset()
    #: ``None`` and ``""`` both mean "no regex"; Kafka 4.3 starts members at ``""``.
    subscribed_topic_regex: str | None = ""
    server_assignor: str | None = None
    assigned_partitions: Assignment = dataclasses.field(default_factory=dict)
    partitions_pending_revocation: Assignment = dataclasses.field(default_factory=dict)
    #: Tagged fields of the member metadata record (a classic member's protocols), kept as read.
    metadata_tags: Tags = CONSUMER_PROTOCOL_TAGS

    @property
    def regex(self) -> str | None:
        return self.subscribed_topic_regex or None

    def uses_classic_protocol(self) -> bool:
        """A member a Kafka coordinator converted from a classic group (Brook does not create them)."""
        return any(tag == 0 and raw != b"\x00" for tag, raw in self.metadata_tags)

    def is_reconciled_to(self, target_assignment_epoch: int) -> bool:
        return self.state is MemberState.STABLE and self.member_epoch == target_assignment_epoch

    def with_epoch(self, member_epoch: int) -> ConsumerGroupMember:
        """Kafka's ``updateMemberEpoch``: the current epoch becomes the previous one."""
        return dataclasses.replace(self, member_epoch=member_epoch, previous_member_epoch=self.member_epoch)

    # --- records ------------------------------------------------------------------------------

    def metadata_value(self) -> ConsumerGroupMemberMetadataValue:
        return ConsumerGroupMemberMetadataValue(
            instance_id=self.instance_id,
            rack_id=self.rack_id,
            client_id=self.client_id,
            client_host=self.client_host,
            subscribed_topic_names=tuple(sorted(self.subscribed_topic_names)),
            subscribed_topic_regex=self.subscribed_topic_regex,
            rebalance_timeout_ms=self.rebalance_timeout_ms,
            server_assignor=self.server_assignor,
            tags=self.metadata_tags,
        )

    def assignment_value(self) -> ConsumerGroupCurrentMemberAssignmentValue:
        return ConsumerGroupCurrentMemberAssignmentValue(
            member_epoch=self.member_epoch,
            previous_member_epoch=self.previous_member_epoch,
            state=int(self.state),
            assigned_partitions=to_topic_partitions(self.assigned_partitions),
            partitions_pending_revocation=to_topic_partitions(self.partitions_pending_revocation),
        )

    def with_metadata(self, value: ConsumerGroupMemberMetadataValue) -> ConsumerGroupMember:
        """The member after replaying its ConsumerGroupMemberMetadata record."""
        return dataclasses.replace(
            self,
            instance_id=value.instance_id,
            rack_id=value.rack_id,
            client_id=value.client_id,
            client_host=value.client_host,
            subscribed_topic_names=frozenset(value.subscribed_topic_names),
            subscribed_topic_regex=value.subscribed_topic_regex,
            rebalance_timeout_ms=value.rebalance_timeout_ms,
            server_assignor=value.server_assignor,
            metadata_tags=value.tags,
        )

    def with_assignment(self, value: ConsumerGroupCurrentMemberAssignmentValue) -> ConsumerGroupMember:
        """The member after replaying its ConsumerGroupCurrentMemberAssignment record."""
        return dataclasses.replace(
            self,
            member_epoch=value.member_epoch,
            previous_member_epoch=value.previous_member_epoch,
            state=MemberState.of(value.state),
            assigned_partitions=from_topic_partitions(value.assigned_partitions),
            partitions_pending_revocation=from_topic_partitions(value.partitions_pending_revocation),
        )


def to_topic_partitions(assignment: Assignment) -> tuple[TopicPartitions, ...]:
    """An assignment as records carry it, in a stable order (Kafka's is its hash maps')."""
    return tuple(
        TopicPartitions(topic_id, tuple(sorted(partitions)))
        for topic_id, partitions in sorted(assignment.items(), key=lambda item: str(item[0]))
        if partitions
    )


def from_topic_partitions(topics: tuple[TopicPartitions, ...]) -> dict[uuid.UUID, frozenset[int]]:
    assignment: dict[uuid.UUID, frozenset[int]] = {}
    for topic in topics:
        if topic.partitions:
            assignment[topic.topic_id] = assignment.get(topic.topic_id, frozenset()) | frozenset(
                topic.partitions
            )
    return assignment


def assignment_size(assignment: Assignment) -> int:
    return sum(len(partitions) for partitions in assignment.values())
