"""Leaving and fencing KIP-848 consumer group members, and the timers that fence them.

Kafka's ``GroupMetadataManager.consumerGroupLeave``/``consumerGroupFenceMember`` and the
session and rebalance timeouts. A member leaves with member epoch -1 (it is removed and the
group epoch bumped, so the others get its partitions); a static member may leave *for now*
with -2: it keeps its partitions — nobody else gets them — until it rejoins under the same
``group.instance.id`` or its session expires. The coordinator fences (removes) a member
whose session times out (no heartbeat within ``group.consumer.session.timeout.ms``) or who
does not revoke partitions within its rebalance timeout.

Base class of `heartbeat.ConsumerGroupHeartbeats`; holds what every consumer-group operation
of a shard needs (group store, timer, config, clock, metadata image).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from brook_broker.coordinator.group.common import CoordinatorResult, GroupConfig, Timer, group_error
from brook_broker.coordinator.group.consumer import assignors, subscription
from brook_broker.coordinator.group.consumer.group import ConsumerGroup, regexes_in_use, subscribed_names
from brook_broker.coordinator.group.consumer.member import (
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    Assignment,
    ConsumerGroupMember,
)
from brook_broker.coordinator.group.consumer.messages import (
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)
from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupCurrentMemberAssignmentKey,
    ConsumerGroupMemberMetadataKey,
    ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue,
    ConsumerGroupRegularExpressionKey,
    ConsumerGroupTargetAssignmentMemberKey,
)
from brook_broker.coordinator.group.records import CoordinatorRecord
from brook_broker.coordinator.group.store import GroupStore
from brook_broker.metadata.image import MetadataImage
from brook_broker.protocol.errors import BrokerError, ErrorCode

logger = logging.getLogger(__name__)

Response = ConsumerGroupHeartbeatResponse


def session_timeout_key(group_id: str, member_id: str) -> str:
    return f"session-timeout-{group_id}-{member_id}"


def rebalance_timeout_key(group_id: str, member_id: str) -> str:
    return f"rebalance-timeout-{group_id}-{member_id}"


class ConsumerGroupFencing:
    def __init__(
        self,
        *,
        groups: GroupStore,
        timer: Timer,
        config: GroupConfig,
        time_ms: Callable[[], int],
        image: MetadataImage,
    ) -> None:
        self.groups = groups
        self.timer = timer
        self.config = config
        self.time_ms = time_ms
        self.image = image
        #: group.consumer.assignors by Kafka's short names; the first is the default.
        self.assignor_names = [assignors.assignor_name(name) for name in config.consumer_group_assignors]

    def consumer_group(self, group_id: str) -> ConsumerGroup:
        """The consumer group, or GROUP_ID_NOT_FOUND (also for a group of another type)."""
        group = self.groups.get(group_id)
        if group is None:
            raise group_error(ErrorCode.group_id_not_found, f"Consumer group {group_id} not found.")
        if not isinstance(group, ConsumerGroup):
            raise group_error(ErrorCode.group_id_not_found, f"Group {group_id} is not a consumer group.")
        return group

    # --- leaving ------------------------------------------------------------------------------

    def leave(self, request: ConsumerGroupHeartbeatRequest) -> CoordinatorResult[Response]:
        """A heartbeat with member epoch -1 (leave) or -2 (a static member leaving for now)."""
        group = self.consumer_group(request.group_id)
        response = Response(member_id=request.member_id, member_epoch=request.member_epoch)
        if request.instance_id is None:
            member = group.member(request.member_id)
            logger.info("[GroupId %s] Member %s left the consumer group.", group.group_id, member.member_id)
            return self.fence_member(group, member, response)
        static = group.static_member(request.instance_id)
        if static is None:
            raise group_error(ErrorCode.unknown_member_id, f"Instance id {request.instance_id} is unknown.")
        throw_if_instance_fenced(static, group.group_id, request.member_id, request.instance_id)
        if request.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            return self.fence_member(group, static, response)
        logger.info(
            "[GroupId %s] Static Member %s with instance id %s temporarily left the consumer group.",
            group.group_id,
            static.member_id,
            request.instance_id,
        )
        leaving = dataclasses.replace(
            static, member_epoch=LEAVE_GROUP_STATIC_MEMBER_EPOCH, partitions_pending_revocation={}
        )
        key = ConsumerGroupCurrentMemberAssignmentKey(group.group_id, static.member_id)
        return CoordinatorResult(
            records=[CoordinatorRecord(key, leaving.assignment_value())],
            response=Response(member_id=static.member_id, member_epoch=LEAVE_GROUP_STATIC_MEMBER_EPOCH),
        )

    # --- fencing ------------------------------------------------------------------------------

    def fence_member(
        self, group: ConsumerGroup, member: ConsumerGroupMember, response: Response | None
    ) -> CoordinatorResult[Response]:
        """Remove the member and bump the group epoch: the others get its partitions."""
        records = member_tombstones(group.group_id, member.member_id)
        remaining = [m for m in group.members.values() if m.member_id != member.member_id]
        still_used = regexes_in_use(remaining)
        for regex in sorted(set(group.resolved_regexes) - still_used):
            records.append(CoordinatorRecord(ConsumerGroupRegularExpressionKey(group.group_id, regex), None))
        resolved = {r: topics for r, topics in group.resolved_regexes.items() if r in still_used}
        new_hash = subscription.metadata_hash(subscribed_names(remaining, resolved), self.image)
        value = ConsumerGroupMetadataValue(group.group_epoch + 1, new_hash)
        records.append(CoordinatorRecord(ConsumerGroupMetadataKey(group.group_id), value))
        self.cancel_timers(group.group_id, member.member_id)
        return CoordinatorResult(records=records, response=response)

    def fence_member_operation(self, group_id: str, member_id: str, reason: str) -> CoordinatorResult[None]:
        """A timer's operation: fence the member if it is still there."""
        try:
            group = self.consumer_group(group_id)
            member = group.member(member_id)
        except BrokerError:
            return CoordinatorResult()
        logger.info("[GroupId %s] Member %s fenced from the group because %s", group_id, member_id, reason)
        return CoordinatorResult(records=self.fence_member(group, member, None).records)

    # --- timers -------------------------------------------------------------------------------

    def schedule_session_timeout(self, group_id: str, member_id: str) -> None:
        self.timer.schedule(
            session_timeout_key(group_id, member_id),
            self.config.consumer_group_session_timeout_ms,
            lambda: self.fence_member_operation(group_id, member_id, "the member session expired."),
        )

    def schedule_rebalance_timeout(self, group_id: str, member: ConsumerGroupMember) -> None:
        """Fence the member unless it leaves its current epoch (revokes) in time."""
        member_id, epoch, timeout_ms = member.member_id, member.member_epoch, member.rebalance_timeout_ms

        def expire() -> CoordinatorResult[None]:
            try:
                current = self.consumer_group(group_id).member(member_id)
            except BrokerError:
                return CoordinatorResult()
            if current.member_epoch != epoch:
                return CoordinatorResult()
            reason = f"it failed to transition from epoch {epoch} within {timeout_ms}ms."
            return self.fence_member_operation(group_id, member_id, reason)

        self.timer.schedule(rebalance_timeout_key(group_id, member_id), timeout_ms, expire)

    def cancel_timers(self, group_id: str, member_id: str) -> None:
        self.timer.cancel(session_timeout_key(group_id, member_id))
        self.timer.cancel(rebalance_timeout_key(group_id, member_id))


def member_tombstones(group_id: str, member_id: str) -> list[CoordinatorRecord]:
    """Kafka's ``removeMember``; replay needs this order (assignment, target, subscription)."""
    return [
        CoordinatorRecord(ConsumerGroupCurrentMemberAssignmentKey(group_id, member_id), None),
        CoordinatorRecord(ConsumerGroupTargetAssignmentMemberKey(group_id, member_id), None),
        CoordinatorRecord(ConsumerGroupMemberMetadataKey(group_id, member_id), None),
    ]


def check_member_epoch(member: ConsumerGroupMember, received: int, owned: Assignment | None) -> None:
    """FENCED_MEMBER_EPOCH unless ``received`` is the member's epoch — or its previous one, when
    the response that bumped it may have been lost and the member owns only what it may."""
    if received > member.member_epoch:
        raise group_error(
            ErrorCode.fenced_member_epoch,
            f"The consumer group member has a greater member epoch ({received}) than the one known by the "
            f"group coordinator ({member.member_epoch}). The member must abandon all its partitions "
            "and rejoin.",
        )
    if received < member.member_epoch and (
        received != member.previous_member_epoch or not _is_subset(owned, member.assigned_partitions)
    ):
        raise group_error(
            ErrorCode.fenced_member_epoch,
            f"The consumer group member has a smaller member epoch ({received}) than the one known by the "
            f"group coordinator ({member.member_epoch}). The member must abandon all its partitions "
            "and rejoin.",
        )


def _is_subset(owned: Assignment | None, assigned: Assignment) -> bool:
    if owned is None:
        return False
    return all(partitions <= assigned.get(topic_id, frozenset()) for topic_id, partitions in owned.items())


def throw_if_instance_fenced(
    member: ConsumerGroupMember, group_id: str, member_id: str, instance_id: str | None
) -> None:
    """FENCED_INSTANCE_ID when another member holds the static member's instance id."""
    if member.member_id == member_id:
        return
    logger.info(
        "[GroupId %s] Static member %s with instance id %s is fenced by existing member %s.",
        group_id,
        member_id,
        instance_id,
        member.member_id,
    )
    raise group_error(
        ErrorCode.fenced_instance_id,
        f"Static member {member_id} with instance id {instance_id} was fenced by member {member.member_id}.",
    )
