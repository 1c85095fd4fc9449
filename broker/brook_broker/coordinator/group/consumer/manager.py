"""`ConsumerGroupManager`: the KIP-848 consumer groups of one shard — replay, loading, describing.

KIP-848 records *are* the state: every change of a consumer group is a record, and the group
is rebuilt by replaying them, in order, both right after an operation appends them and when
a ``__consumer_offsets`` partition is loaded (Kafka's ``GroupMetadataManager.replay`` for the
ConsumerGroup* record types). A tombstone removes what its key names; the group goes with its
ConsumerGroupMetadata tombstone. Records of a group id held by a *simple* classic group (one
that only ever committed offsets) replace it, as in Kafka.

After a load every member gets a fresh session timeout (and a rebalance timeout when it was
revoking partitions), and the first heartbeat re-checks the subscribed topics against the
metadata image. ConsumerGroupDescribe is answered here. The heartbeat itself is the base
class, `heartbeat.ConsumerGroupHeartbeats`; the shard (`shard.GroupCoordinatorShard`) owns one
manager and routes ConsumerGroup* records to `replay`.
"""

from __future__ import annotations

import dataclasses
import logging

from brook_broker.coordinator.group.classic.group import ClassicGroup
from brook_broker.coordinator.group.consumer.group import ConsumerGroup, preferred_server_assignor
from brook_broker.coordinator.group.consumer.heartbeat import ConsumerGroupHeartbeats
from brook_broker.coordinator.group.consumer.member import (
    LEAVE_GROUP_MEMBER_EPOCH,
    Assignment,
    ConsumerGroupMember,
    MemberState,
    from_topic_partitions,
)
from brook_broker.coordinator.group.consumer.messages import (
    DescribedConsumerGroup,
    DescribedConsumerMember,
    DescribedTopicPartitions,
)
from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupCurrentMemberAssignmentKey,
    ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupKey,
    ConsumerGroupMemberMetadataKey,
    ConsumerGroupMemberMetadataValue,
    ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue,
    ConsumerGroupPartitionMetadataKey,
    ConsumerGroupRegularExpressionKey,
    ConsumerGroupRegularExpressionValue,
    ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupTargetAssignmentMetadataKey,
    ConsumerGroupTargetAssignmentMetadataValue,
    ConsumerGroupValue,
)
from brook_broker.protocol.errors import ErrorCode

logger = logging.getLogger(__name__)


class ConsumerGroupManager(ConsumerGroupHeartbeats):
    # --- replay -------------------------------------------------------------------------------

    def replay(self, key: ConsumerGroupKey, value: ConsumerGroupValue | None) -> None:
        group = self._persisted_group(key.group, create=value is not None)
        if group is None:
            return  # a tombstone for a group that is gone already
        match key:
            case ConsumerGroupMetadataKey():
                if isinstance(value, ConsumerGroupMetadataValue):
                    group.group_epoch, group.metadata_hash = value.epoch, value.metadata_hash
                else:
                    group.dead = True
                    self.groups.remove(key.group)
            case ConsumerGroupPartitionMetadataKey():
                pass  # Kafka 4.0's subscription metadata: the metadata hash replaces it
            case ConsumerGroupMemberMetadataKey():
                if isinstance(value, ConsumerGroupMemberMetadataValue):
                    group.update_member(_member_or_new(group, key.member_id).with_metadata(value))
                else:
                    group.remove_member(key.member_id)
            case ConsumerGroupCurrentMemberAssignmentKey():
                if isinstance(value, ConsumerGroupCurrentMemberAssignmentValue):
                    group.update_member(_member_or_new(group, key.member_id).with_assignment(value))
                elif key.member_id in group.members:
                    # Kafka's tombstone replay: the member stays (until its metadata tombstone)
                    # but owns nothing any more.
                    group.update_member(_without_assignment(group.members[key.member_id]))
            case ConsumerGroupTargetAssignmentMemberKey():
                if isinstance(value, ConsumerGroupTargetAssignmentMemberValue):
                    group.target_assignment[key.member_id] = from_topic_partitions(value.topic_partitions)
                else:
                    group.target_assignment.pop(key.member_id, None)
            case ConsumerGroupTargetAssignmentMetadataKey():
                if isinstance(value, ConsumerGroupTargetAssignmentMetadataValue):
                    group.assignment_epoch = value.assignment_epoch
                else:
                    group.assignment_epoch = -1
            case ConsumerGroupRegularExpressionKey():
                if isinstance(value, ConsumerGroupRegularExpressionValue):
                    group.resolved_regexes[key.regular_expression] = frozenset(value.topics)
                else:
                    group.resolved_regexes.pop(key.regular_expression, None)

    def _persisted_group(self, group_id: str, *, create: bool) -> ConsumerGroup | None:
        """Kafka's ``getOrMaybeCreatePersistedConsumerGroup`` (``None``: nothing to replay into)."""
        group = self.groups.get(group_id)
        if isinstance(group, ConsumerGroup):
            return group
        if group is not None and not _is_simple(group):
            logger.error(
                "Skipping a consumer group record for %s: it is a %s group", group_id, group.type.value
            )
            return None
        if not create:
            return None
        # No group, or a simple group (offsets only, no records of its own): replace it.
        created = ConsumerGroup(group_id)
        self.groups.put(created)
        return created

    # --- loading ------------------------------------------------------------------------------

    def on_loaded(self) -> None:
        for group in self.groups:
            if not isinstance(group, ConsumerGroup):
                continue
            logger.info(
                "Loaded consumer group %s (%s, epoch %d) with %d member(s)",
                group.group_id,
                group.state_name(),
                group.group_epoch,
                len(group.members),
            )
            for member in group.members.values():
                self.schedule_session_timeout(group.group_id, member.member_id)
                if member.state is MemberState.UNREVOKED_PARTITIONS:
                    self.schedule_rebalance_timeout(group.group_id, member)

    def on_unloaded(self) -> None:
        for group in self.groups:
            if isinstance(group, ConsumerGroup):
                group.dead = True

    # --- ConsumerGroupDescribe ----------------------------------------------------------------

    def describe(self, group_id: str) -> DescribedConsumerGroup:
        group = self.groups.get(group_id)
        if not isinstance(group, ConsumerGroup):
            message = (
                f"Group {group_id} not found."
                if group is None
                else f"Group {group_id} is not a consumer group."
            )
            return DescribedConsumerGroup(
                group_id=group_id, error=ErrorCode.group_id_not_found, error_message=message
            )
        members = list(group.members.values())
        return DescribedConsumerGroup(
            group_id=group_id,
            state=group.state_name(),
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            assignor_name=preferred_server_assignor(members) or self.assignor_names[0],
            members=tuple(self._describe_member(group, m) for m in members),
        )

    def _describe_member(self, group: ConsumerGroup, member: ConsumerGroupMember) -> DescribedConsumerMember:
        return DescribedConsumerMember(
            member_id=member.member_id,
            instance_id=member.instance_id,
            rack_id=member.rack_id,
            member_epoch=member.member_epoch,
            client_id=member.client_id,
            client_host=member.client_host,
            subscribed_topic_names=tuple(sorted(member.subscribed_topic_names)),
            subscribed_topic_regex=member.subscribed_topic_regex,
            assignment=self._named(member.assigned_partitions),
            target_assignment=self._named(group.target_assignment.get(member.member_id, {})),
            member_type=0 if member.uses_classic_protocol() else 1,
        )

    def _named(self, assignment: Assignment) -> tuple[DescribedTopicPartitions, ...]:
        """The assignment with topic names; topics that no longer exist are left out (as Kafka)."""
        described = []
        for topic_id, partitions in sorted(assignment.items(), key=lambda item: str(item[0])):
            topic = self.image.topics_by_id.get(topic_id)
            if topic is not None:
                described.append(DescribedTopicPartitions(topic_id, topic.name, tuple(sorted(partitions))))
        return tuple(described)


def _is_simple(group: object) -> bool:
    """A classic group created only to hold committed offsets (no records of its own)."""
    return isinstance(group, ClassicGroup) and group.protocol_type is None and group.is_empty()


def _member_or_new(group: ConsumerGroup, member_id: str) -> ConsumerGroupMember:
    return group.members.get(member_id) or ConsumerGroupMember(member_id=member_id)


def _without_assignment(member: ConsumerGroupMember) -> ConsumerGroupMember:
    return dataclasses.replace(
        member,
        member_epoch=LEAVE_GROUP_MEMBER_EPOCH,
        previous_member_epoch=LEAVE_GROUP_MEMBER_EPOCH,
        assigned_partitions={},
        partitions_pending_revocation={},
    )
