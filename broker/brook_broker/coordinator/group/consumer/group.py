"""`ConsumerGroup`: the state of one KIP-848 consumer group (Kafka's ``ConsumerGroup``).

Two epochs drive the protocol. The **group epoch** goes up whenever the target assignment
must be recomputed (a member joins, leaves or changes its subscription; subscribed topics
change). The **assignment epoch** is the group epoch the current target assignment was
computed for. Each member has its own **member epoch**, which reaches the assignment epoch
once it is reconciled. The state Kafka reports follows from them: Empty (no members),
Assigning (group epoch ahead of the assignment epoch), Reconciling (some member not at the
target yet), Stable.

The group changes only by replaying records (`consumer.manager.ConsumerGroupManager.replay`);
the methods that mutate are called from there. It also answers the `group.Group` questions
for offsets and the admin APIs: a member commits with its current member epoch
(STALE_MEMBER_EPOCH otherwise), and offsets age from their commit time.
"""

from __future__ import annotations

import enum
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping

from brook_broker.coordinator.group.common import group_error
from brook_broker.coordinator.group.consumer.member import Assignment, ConsumerGroupMember
from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupCurrentMemberAssignmentKey,
    ConsumerGroupMemberMetadataKey,
    ConsumerGroupMetadataKey,
    ConsumerGroupPartitionMetadataKey,
    ConsumerGroupRegularExpressionKey,
    ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMetadataKey,
)
from brook_broker.coordinator.group.group import ExpirationBase, GroupType, ListedGroup
from brook_broker.coordinator.group.records import CoordinatorRecord
from brook_broker.protocol.errors import ErrorCode

#: The protocol type a consumer group reports (ListGroups, DescribeGroups).
CONSUMER_PROTOCOL_TYPE = "consumer"


class ConsumerGroupState(enum.StrEnum):
    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"
    DEAD = "Dead"


class ConsumerGroup:
    def __init__(self, group_id: str) -> None:
        self._group_id = group_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        #: The hash of the subscribed topics' metadata when the group epoch was last bumped.
        self.metadata_hash = 0
        self.members: dict[str, ConsumerGroupMember] = {}
        #: group.instance.id -> member id of the static members.
        self.static_members: dict[str, str] = {}
        self.target_assignment: dict[str, Assignment] = {}
        #: Regex -> the topics it matched when it was last resolved (ConsumerGroupRegularExpression).
        self.resolved_regexes: dict[str, frozenset[str]] = {}
        #: (topic id, partition) -> epoch of the member that owns it (or still has to revoke it).
        self.partition_epochs: dict[tuple[uuid.UUID, int], int] = {}
        #: The metadata image offset the subscribed topics' metadata (hash) and the regexes were
        #: last checked against; a heartbeat checks again when the image moved on (Kafka's
        #: refresh deadline). In memory only: ``None`` after a load, so the first heartbeat checks.
        self.metadata_checked_at: int | None = None
        self.regexes_checked_at: int | None = None
        self.dead = False

    # --- the Group protocol ---------------------------------------------------------------

    @property
    def group_id(self) -> str:
        return self._group_id

    @property
    def type(self) -> GroupType:
        return GroupType.CONSUMER

    @property
    def state(self) -> ConsumerGroupState:
        if self.dead:
            return ConsumerGroupState.DEAD
        if not self.members:
            return ConsumerGroupState.EMPTY
        if self.group_epoch > self.assignment_epoch:
            return ConsumerGroupState.ASSIGNING
        if any(not m.is_reconciled_to(self.assignment_epoch) for m in self.members.values()):
            return ConsumerGroupState.RECONCILING
        return ConsumerGroupState.STABLE

    def state_name(self) -> str:
        return self.state.value

    def is_empty(self) -> bool:
        return self.state is ConsumerGroupState.EMPTY

    def validate_offset_commit(
        self, *, member_id: str, group_instance_id: str | None, generation_id: int, api_version: int
    ) -> None:
        del group_instance_id  # members are known by id alone in this protocol
        if generation_id < 0 and not self.members:
            return  # an admin tool, or a consumer without group management: the group is empty
        member = self.member(member_id)
        if not member.uses_classic_protocol() and api_version < 9:
            raise group_error(
                ErrorCode.unsupported_version,
                "OffsetCommit version 9 or above must be used by members using the modern group protocol",
            )
        self._validate_epoch(generation_id, member)

    def validate_offset_fetch(self, *, member_id: str | None, member_epoch: int) -> None:
        if member_id is None and member_epoch < 0:
            return  # the admin client, or a client that does not send them
        self._validate_epoch(member_epoch, self.member(member_id or ""))

    def validate_offset_delete(self) -> None:
        return  # offsets of topics nobody subscribes to may go at any time

    def validate_delete_group(self) -> None:
        if not self.is_empty():
            raise group_error(ErrorCode.non_empty_group)

    def is_subscribed_to_topic(self, topic: str) -> bool:
        return topic in self.subscribed_topic_names()

    def offset_expiration_base(self) -> ExpirationBase:
        return lambda offset: offset.commit_timestamp_ms

    def tombstones(self) -> list[CoordinatorRecord]:
        """Kafka's ``createGroupTombstoneRecords``, in its order (members first, the group last)."""
        group = self.group_id
        records = [
            CoordinatorRecord(ConsumerGroupCurrentMemberAssignmentKey(group, m), None) for m in self.members
        ]
        records += [
            CoordinatorRecord(ConsumerGroupTargetAssignmentMemberKey(group, m), None) for m in self.members
        ]
        records.append(CoordinatorRecord(ConsumerGroupTargetAssignmentMetadataKey(group), None))
        records += [CoordinatorRecord(ConsumerGroupMemberMetadataKey(group, m), None) for m in self.members]
        records += [
            CoordinatorRecord(ConsumerGroupRegularExpressionKey(group, r), None)
            for r in self.resolved_regexes
        ]
        records.append(CoordinatorRecord(ConsumerGroupPartitionMetadataKey(group), None))
        records.append(CoordinatorRecord(ConsumerGroupMetadataKey(group), None))
        return records

    def as_listed_group(self) -> ListedGroup:
        return ListedGroup(
            group_id=self.group_id,
            protocol_type=CONSUMER_PROTOCOL_TYPE,
            group_state=self.state_name(),
            group_type=GroupType.CONSUMER.value,
        )

    # --- members ----------------------------------------------------------------------------

    def _validate_epoch(self, received: int, member: ConsumerGroupMember) -> None:
        if received == member.member_epoch:
            return
        if member.uses_classic_protocol():
            raise group_error(
                ErrorCode.illegal_generation,
                f"The received generation id {received} does not match the expected member epoch "
                f"{member.member_epoch}.",
            )
        raise group_error(
            ErrorCode.stale_member_epoch,
            f"The received member epoch {received} does not match the expected member epoch "
            f"{member.member_epoch}.",
        )

    def member(self, member_id: str) -> ConsumerGroupMember:
        """The member, or UNKNOWN_MEMBER_ID (Kafka's ``getOrMaybeCreateMember(id, false)``)."""
        member = self.members.get(member_id)
        if member is None:
            raise group_error(
                ErrorCode.unknown_member_id, f"Member {member_id} is not a member of group {self.group_id}."
            )
        return member

    def static_member(self, instance_id: str | None) -> ConsumerGroupMember | None:
        member_id = self.static_members.get(instance_id) if instance_id is not None else None
        return self.members.get(member_id) if member_id is not None else None

    def update_member(self, member: ConsumerGroupMember) -> None:
        old = self.members.get(member.member_id)
        if old is not None:
            self._set_partition_epochs(old, remove=True)
            if old.instance_id is not None and self.static_members.get(old.instance_id) == old.member_id:
                del self.static_members[old.instance_id]
        self.members[member.member_id] = member
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member.member_id
        self._set_partition_epochs(member, remove=False)

    def remove_member(self, member_id: str) -> None:
        old = self.members.pop(member_id, None)
        if old is None:
            return
        self._set_partition_epochs(old, remove=True)
        if old.instance_id is not None and self.static_members.get(old.instance_id) == member_id:
            del self.static_members[old.instance_id]

    def _set_partition_epochs(self, member: ConsumerGroupMember, *, remove: bool) -> None:
        for assignment in (member.assigned_partitions, member.partitions_pending_revocation):
            for topic_id, partitions in assignment.items():
                for partition in partitions:
                    if remove:
                        if self.partition_epochs.get((topic_id, partition)) == member.member_epoch:
                            del self.partition_epochs[(topic_id, partition)]
                    else:
                        self.partition_epochs[(topic_id, partition)] = member.member_epoch

    def current_partition_epoch(self, topic_id: uuid.UUID, partition: int) -> int:
        return self.partition_epochs.get((topic_id, partition), -1)

    # --- subscriptions ------------------------------------------------------------------------

    def subscribed_topic_names(self) -> set[str]:
        """Every topic a member subscribes to, by name or through its (resolved) regex."""
        return subscribed_names(self.members.values(), self.resolved_regexes)


def subscribed_names(
    members: Iterable[ConsumerGroupMember], resolved: Mapping[str, frozenset[str]]
) -> set[str]:
    """The topics ``members`` subscribe to by name or by a regex (as ``resolved``)."""
    names: set[str] = set()
    for member in members:
        names |= member.subscribed_topic_names
        if member.regex is not None:
            names |= resolved.get(member.regex, frozenset())
    return names


def regexes_in_use(members: Iterable[ConsumerGroupMember]) -> set[str]:
    return {m.regex for m in members if m.regex is not None}


def preferred_server_assignor(members: Iterable[ConsumerGroupMember]) -> str | None:
    """Kafka's rule: the assignor most members ask for (``None``: the broker's default)."""
    votes = Counter(m.server_assignor for m in members if m.server_assignor)
    return votes.most_common(1)[0][0] if votes else None
