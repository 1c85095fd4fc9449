"""The target assignment of a consumer group for a new group epoch (Kafka's ``TargetAssignmentBuilder``).

Runs the group's assignor over the members as they will be after the current heartbeat (one
member added, changed or replaced) and returns the new target assignment with the records
that persist it: a ConsumerGroupTargetAssignmentMember record for each member whose target
changed, then ConsumerGroupTargetAssignmentMetadata with the new assignment epoch. Members'
subscriptions are resolved to topic ids here, so topics that do not exist (yet) are ignored
until they do. A static member that replaces its previous incarnation inherits that one's
target assignment, which is what keeps static membership sticky. Pure.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping

from brook_broker.coordinator.group.consumer.assignors import Assignor, GroupSpec, MemberSpec
from brook_broker.coordinator.group.consumer.member import (
    Assignment,
    ConsumerGroupMember,
    to_topic_partitions,
)
from brook_broker.coordinator.group.consumer.subscription import existing_topic_ids
from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupTargetAssignmentMetadataKey,
    ConsumerGroupTargetAssignmentMetadataValue,
)
from brook_broker.coordinator.group.records import CoordinatorRecord
from brook_broker.metadata.image import MetadataImage


@dataclasses.dataclass(frozen=True, slots=True)
class TargetAssignment:
    members: dict[str, Assignment]
    records: list[CoordinatorRecord]


def build_target_assignment(
    *,
    group_id: str,
    group_epoch: int,
    members: Mapping[str, ConsumerGroupMember],
    current: Mapping[str, Assignment],
    resolved_regexes: Mapping[str, frozenset[str]],
    assignor: Assignor,
    image: MetadataImage,
) -> TargetAssignment:
    """``members`` as they will be; ``current`` the target assignment so far (by member id).

    ``current`` may map a replacing static member's new id to its predecessor's assignment.
    """
    partitions: dict[uuid.UUID, int] = {}
    specs: dict[str, MemberSpec] = {}
    for member_id, member in members.items():
        names = set(member.subscribed_topic_names)
        if member.regex is not None:
            names |= resolved_regexes.get(member.regex, frozenset())
        topics = existing_topic_ids(names, image)
        partitions.update(topics)
        specs[member_id] = MemberSpec(member.instance_id, frozenset(topics), current.get(member_id, {}))
    assigned = assignor(GroupSpec(specs, partitions))
    records = []
    result: dict[str, Assignment] = {}
    for member_id in members:
        new = assigned.get(member_id, {})
        result[member_id] = new
        if member_id not in current or new != dict(current[member_id]):
            value = ConsumerGroupTargetAssignmentMemberValue(to_topic_partitions(new))
            records.append(
                CoordinatorRecord(ConsumerGroupTargetAssignmentMemberKey(group_id, member_id), value)
            )
    metadata = ConsumerGroupTargetAssignmentMetadataValue(group_epoch)
    records.append(CoordinatorRecord(ConsumerGroupTargetAssignmentMetadataKey(group_id), metadata))
    return TargetAssignment(result, records)
