"""ConsumerGroupHeartbeat: joining, heartbeating and leaving a KIP-848 consumer group.

Kafka's ``GroupMetadataManager.consumerGroupHeartbeat``. One heartbeat, in three steps, each
of which may add records (replayed into the group once appended, as Kafka's are):

1. **The member**: created (epoch 0), or checked (FENCED_MEMBER_EPOCH for an epoch the
   coordinator did not give it, except the previous one if the bump was lost), then updated
   with what the request changed. A changed subscription (names or regex) bumps the group
   epoch, and so does a change of the subscribed topics' metadata (new partitions, topics
   created or deleted, a regex matching new topics) — checked when the member's
   subscription changed or the group was told that topics changed.
2. **The target assignment**, recomputed by the server-side assignor whenever the group epoch
   is ahead of the assignment epoch.
3. **Reconciliation** of this member towards its target (`reconciliation.reconcile`): the
   response carries its new epoch and, when it changed, its assignment.

Leaving (member epoch -1) removes the member and bumps the group epoch; a static member may
leave for a while (-2) and keep its partitions until its session expires, so that the same
``group.instance.id`` rejoining under a new member id gets them back without a rebalance.
Members are fenced (removed) when their session times out (no heartbeat within
``group.consumer.session.timeout.ms``) or when they do not revoke partitions within their
rebalance timeout. Leaving and fencing are the base class, `fencing`; replay, loading and
describing are `manager`.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import uuid

from brook_broker.coordinator.group.classic.group import ClassicGroup
from brook_broker.coordinator.group.common import CoordinatorResult, OnCommitted, group_error
from brook_broker.coordinator.group.consumer import assignors, subscription
from brook_broker.coordinator.group.consumer.fencing import (
    ConsumerGroupFencing,
    check_member_epoch,
    member_tombstones,
    rebalance_timeout_key,
    throw_if_instance_fenced,
)
from brook_broker.coordinator.group.consumer.group import (
    ConsumerGroup,
    preferred_server_assignor,
    regexes_in_use,
    subscribed_names,
)
from brook_broker.coordinator.group.consumer.member import (
    CONSUMER_PROTOCOL_TAGS,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    Assignment,
    ConsumerGroupMember,
    MemberState,
    to_topic_partitions,
)
from brook_broker.coordinator.group.consumer.messages import (
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)
from brook_broker.coordinator.group.consumer.reconciliation import reconcile
from brook_broker.coordinator.group.consumer.target import build_target_assignment
from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupCurrentMemberAssignmentKey,
    ConsumerGroupMemberMetadataKey,
    ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue,
    ConsumerGroupRegularExpressionKey,
    ConsumerGroupRegularExpressionValue,
    ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMemberValue,
)
from brook_broker.coordinator.group.records import CoordinatorRecord
from brook_broker.metadata.image import MetadataImage
from brook_broker.protocol.errors import ErrorCode

logger = logging.getLogger(__name__)

Response = ConsumerGroupHeartbeatResponse


class ConsumerGroupHeartbeats(ConsumerGroupFencing):
    # --- the heartbeat ----------------------------------------------------------------------

    def heartbeat(self, request: ConsumerGroupHeartbeatRequest) -> CoordinatorResult[Response]:
        """One ConsumerGroupHeartbeat (validated by the service already); BrokerError for Kafka's errors."""
        if request.member_epoch < 0:
            return self.leave(request)
        records: list[CoordinatorRecord] = []
        joining = request.member_epoch == 0
        group = self._group_for_heartbeat(request.group_id, create=joining, records=records)
        member_id = request.member_id or _new_member_id()
        self._throw_if_full(group, member_id)
        owned = request.owned()
        if request.instance_id is None:
            member = self._dynamic_member(group, member_id, request.member_epoch, owned, create=joining)
        else:
            member = self._static_member(group, member_id, request, owned, records)
        updated = _apply_request(member, request)
        replaced = group.static_members.get(request.instance_id) if request.instance_id else None
        if replaced == member_id:
            replaced = None
        members = {m.member_id: m for m in group.members.values() if m.member_id != replaced}
        members[member_id] = updated

        bump = False
        if updated != member:
            records.append(
                CoordinatorRecord(
                    ConsumerGroupMemberMetadataKey(group.group_id, member_id), updated.metadata_value()
                )
            )
            bump |= (updated.subscribed_topic_names, updated.regex) != (
                member.subscribed_topic_names,
                member.regex,
            )
        resolved = dict(group.resolved_regexes)
        bump |= self._update_regexes(group, [*members.values()], resolved, records, changed=updated.regex)
        group_epoch = self._next_group_epoch(group, [*members.values()], resolved, bump=bump, records=records)

        if group_epoch > group.assignment_epoch:
            current = dict(group.target_assignment)
            if replaced is not None:
                current[member_id] = group.target_assignment.get(replaced, {})
            assignor = preferred_server_assignor([*members.values()]) or self.assignor_names[0]
            target = build_target_assignment(
                group_id=group.group_id,
                group_epoch=group_epoch,
                members=members,
                current=current,
                resolved_regexes=resolved,
                assignor=assignors.ASSIGNORS[assignor],
                image=self.image,
            )
            records.extend(target.records)
            target_epoch, member_target = group_epoch, target.members.get(member_id, {})
            logger.info(
                "[GroupId %s] Computed a new target assignment for epoch %d with '%s' assignor.",
                group.group_id,
                group_epoch,
                assignor,
            )
        else:
            target_epoch = group.assignment_epoch
            member_target = group.target_assignment.get(
                member_id, group.target_assignment.get(replaced or "", {})
            )

        reconciled = self._maybe_reconcile(
            group,
            member=updated,
            target_epoch=target_epoch,
            target=member_target,
            owned=owned,
            records=records,
        )
        self.schedule_session_timeout(group.group_id, member_id)
        full_request = joining or (
            request.rebalance_timeout_ms != -1
            and request.subscribed_topic_names is not None
            and request.topic_partitions is not None
        )
        changed = reconciled.assigned_partitions != member.assigned_partitions
        response = Response(
            member_id=member_id,
            member_epoch=reconciled.member_epoch,
            heartbeat_interval_ms=self.config.consumer_group_heartbeat_interval_ms,
            assignment=reconciled.assigned_partitions if full_request or changed else None,
        )
        return CoordinatorResult(records=records, response=response, on_committed=_refresh_on_failure(group))

    def _next_group_epoch(
        self,
        group: ConsumerGroup,
        members: list[ConsumerGroupMember],
        resolved: dict[str, frozenset[str]],
        *,
        bump: bool,
        records: list[CoordinatorRecord],
    ) -> int:
        """The group epoch after this heartbeat: bumped for a changed subscription or changed
        metadata of the subscribed topics (checked when the image moved on)."""
        # A new group moves away from epoch 0 at once; a subscription change counts on top of
        # that (Kafka 4.3: a first member subscribing to topics gets epoch 2, one without 1).
        group_epoch = max(group.group_epoch, 1)
        new_hash = group.metadata_hash
        if bump or _stale(group.metadata_checked_at, self.image):
            new_hash = subscription.metadata_hash(subscribed_names(members, resolved), self.image)
            if bump or new_hash != group.metadata_hash:
                group_epoch += 1
            group.metadata_checked_at = self.image.offset
        if group_epoch != group.group_epoch:
            value = ConsumerGroupMetadataValue(group_epoch, new_hash)
            records.append(CoordinatorRecord(ConsumerGroupMetadataKey(group.group_id), value))
            logger.info("[GroupId %s] Bumped group epoch to %d.", group.group_id, group_epoch)
        return group_epoch

    def _group_for_heartbeat(
        self, group_id: str, *, create: bool, records: list[CoordinatorRecord]
    ) -> ConsumerGroup:
        """Kafka's ``getOrMaybeCreateConsumerGroup``: a new group is materialised by its records."""
        group = self.groups.get(group_id)
        if group is None:
            if not create:
                raise group_error(ErrorCode.group_id_not_found, f"Consumer group {group_id} not found.")
            return ConsumerGroup(group_id)
        if isinstance(group, ConsumerGroup):
            return group
        if create and isinstance(group, ClassicGroup) and group.is_empty():
            # An empty classic group (maybe only offsets) becomes a consumer group; offsets stay.
            records.extend(group.tombstones())
            return ConsumerGroup(group_id)
        raise group_error(ErrorCode.group_id_not_found, f"Group {group_id} is not a consumer group.")

    def _throw_if_full(self, group: ConsumerGroup, member_id: str) -> None:
        limit = self.config.consumer_group_max_size
        if len(group.members) >= limit and member_id not in group.members:
            raise group_error(
                ErrorCode.group_max_size_reached,
                f"The consumer group has reached its maximum capacity of {limit} members.",
            )

    def _dynamic_member(
        self, group: ConsumerGroup, member_id: str, epoch: int, owned: Assignment | None, *, create: bool
    ) -> ConsumerGroupMember:
        member = group.members.get(member_id)
        if member is None:
            if not create:
                group.member(member_id)  # raises UNKNOWN_MEMBER_ID
            logger.info("[GroupId %s] Member %s joins the consumer group.", group.group_id, member_id)
            return ConsumerGroupMember(member_id=member_id)
        check_member_epoch(member, epoch, owned)
        return member

    def _static_member(
        self,
        group: ConsumerGroup,
        member_id: str,
        request: ConsumerGroupHeartbeatRequest,
        owned: Assignment | None,
        records: list[CoordinatorRecord],
    ) -> ConsumerGroupMember:
        instance_id = request.instance_id
        existing = group.static_member(instance_id)
        if request.member_epoch != 0:
            if existing is None:
                raise group_error(ErrorCode.unknown_member_id, f"Instance id {instance_id} is unknown.")
            throw_if_instance_fenced(existing, group.group_id, member_id, instance_id)
            check_member_epoch(existing, request.member_epoch, owned)
            return existing
        if existing is None:
            logger.info(
                "[GroupId %s] Static member %s with instance id %s joins the consumer group.",
                group.group_id,
                member_id,
                instance_id,
            )
            return ConsumerGroupMember(member_id=member_id)
        if existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            raise group_error(
                ErrorCode.unreleased_instance_id,
                f"Static member {member_id} with instance id {instance_id} cannot join the group because the "
                f"instance id is owned by {existing.member_id} member.",
            )
        # The instance is back under a new member id: it takes over the old member's place.
        new = dataclasses.replace(existing, member_id=member_id, member_epoch=0, previous_member_epoch=0)
        records.extend(member_tombstones(group.group_id, existing.member_id))
        records.append(
            CoordinatorRecord(ConsumerGroupMemberMetadataKey(group.group_id, member_id), new.metadata_value())
        )
        previous_target = group.target_assignment.get(existing.member_id, {})
        records.append(
            CoordinatorRecord(
                ConsumerGroupTargetAssignmentMemberKey(group.group_id, member_id),
                ConsumerGroupTargetAssignmentMemberValue(to_topic_partitions(previous_target)),
            )
        )
        records.append(
            CoordinatorRecord(
                ConsumerGroupCurrentMemberAssignmentKey(group.group_id, member_id), new.assignment_value()
            )
        )
        logger.info(
            "[GroupId %s] Static member with instance id %s re-joins the consumer group. "
            "Created a new member %s to replace the existing member %s.",
            group.group_id,
            instance_id,
            member_id,
            existing.member_id,
        )
        return new

    def _update_regexes(
        self,
        group: ConsumerGroup,
        members: list[ConsumerGroupMember],
        resolved: dict[str, frozenset[str]],
        records: list[CoordinatorRecord],
        *,
        changed: str | None,
    ) -> bool:
        """Resolve new regexes and re-resolve all after topic changes; drop unused ones. True: bump."""
        if changed is not None and changed not in resolved:
            error = subscription.regex_error(changed)
            if error is not None:
                raise group_error(ErrorCode.invalid_regular_expression, error)
        in_use = regexes_in_use(members)
        stale = _stale(group.regexes_checked_at, self.image)
        bump = False
        for regex in sorted(in_use):
            if regex in resolved and not stale:
                continue
            topics = subscription.resolve_regex(regex, self.image)
            if resolved.get(regex) != topics:
                resolved[regex] = topics
                value = ConsumerGroupRegularExpressionValue(
                    tuple(sorted(topics)), self.image.offset, self.time_ms()
                )
                records.append(
                    CoordinatorRecord(ConsumerGroupRegularExpressionKey(group.group_id, regex), value)
                )
                bump = True
        for regex in sorted(set(resolved) - in_use):
            del resolved[regex]
            records.append(CoordinatorRecord(ConsumerGroupRegularExpressionKey(group.group_id, regex), None))
            bump = True
        group.regexes_checked_at = self.image.offset
        return bump

    def _maybe_reconcile(
        self,
        group: ConsumerGroup,
        *,
        member: ConsumerGroupMember,
        target_epoch: int,
        target: Assignment,
        owned: Assignment | None,
        records: list[CoordinatorRecord],
    ) -> ConsumerGroupMember:
        if member.is_reconciled_to(target_epoch):
            return member
        updated = reconcile(
            member,
            target_epoch=target_epoch,
            target=target,
            partition_epoch=group.current_partition_epoch,
            owned=owned,
            topic_exists=lambda topic_id: topic_id in self.image.topics_by_id,
        )
        if updated != member:
            key = ConsumerGroupCurrentMemberAssignmentKey(group.group_id, member.member_id)
            records.append(CoordinatorRecord(key, updated.assignment_value()))
            if updated.state is MemberState.UNREVOKED_PARTITIONS:
                self.schedule_rebalance_timeout(group.group_id, updated)
            else:
                self.timer.cancel(rebalance_timeout_key(group.group_id, member.member_id))
        return updated


def _new_member_id() -> str:
    """Kafka's ``Uuid.randomUuid().toString()``: 22 characters of URL-safe base64."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _apply_request(
    member: ConsumerGroupMember, request: ConsumerGroupHeartbeatRequest
) -> ConsumerGroupMember:
    """The member with what the heartbeat changed (``None`` and -1 mean "unchanged")."""
    return dataclasses.replace(
        member,
        instance_id=request.instance_id if request.instance_id is not None else member.instance_id,
        rack_id=request.rack_id if request.rack_id is not None else member.rack_id,
        rebalance_timeout_ms=request.rebalance_timeout_ms
        if request.rebalance_timeout_ms != -1
        else member.rebalance_timeout_ms,
        server_assignor=request.server_assignor
        if request.server_assignor is not None
        else member.server_assignor,
        subscribed_topic_names=frozenset(request.subscribed_topic_names)
        if request.subscribed_topic_names is not None
        else member.subscribed_topic_names,
        subscribed_topic_regex=request.subscribed_topic_regex
        if request.subscribed_topic_regex is not None
        else member.subscribed_topic_regex,
        client_id=request.client_id,
        client_host=request.client_host,
        metadata_tags=CONSUMER_PROTOCOL_TAGS,
    )


def _stale(checked_at: int | None, image: MetadataImage) -> bool:
    return checked_at is None or checked_at < image.offset


def _refresh_on_failure(group: ConsumerGroup) -> OnCommitted:
    """If the records are lost, the in-memory refresh marks must not be: check again next time."""

    def on_committed(error: ErrorCode) -> None:
        if error != ErrorCode.none:
            group.metadata_checked_at = group.regexes_checked_at = None

    return on_committed
