"""Incremental reconciliation: one member's next step towards its target assignment.

Kafka's ``CurrentAssignmentBuilder``. A member never gets a partition that another member
still owns, and gives up partitions before it may move to a new epoch:

- **STABLE** at an older epoch than the target: compute the next assignment.
- **UNREVOKED_PARTITIONS**: the member must stop using ``partitions_pending_revocation``. It
  stays here (same epoch) until a heartbeat's owned partitions no longer include any of
  them; then it moves to epoch + 1 and on towards the target.
- **UNRELEASED_PARTITIONS**: the member is at the target epoch but some target partitions are
  still owned by others (their epoch in the group is set); each heartbeat hands over those
  that became free.

The next assignment keeps ``assigned ∩ target``, asks to revoke ``assigned - target`` (if
the member still reports owning any of them), and adds the target partitions nobody owns.
Partitions of topics that no longer exist are dropped without a revocation round: no client
can still consume them. Pure: called by `heartbeat` with the group's partition epochs.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from brook_broker.coordinator.group.common import group_error
from brook_broker.coordinator.group.consumer.member import Assignment, ConsumerGroupMember, MemberState
from brook_broker.protocol.errors import ErrorCode

#: Topic id, partition -> the epoch of its current owner, or -1 when nobody owns it.
PartitionEpoch = Callable[[uuid.UUID, int], int]


def reconcile(
    member: ConsumerGroupMember,
    *,
    target_epoch: int,
    target: Assignment,
    partition_epoch: PartitionEpoch,
    owned: Assignment | None,
    topic_exists: Callable[[uuid.UUID], bool],
) -> ConsumerGroupMember:
    """The member after this heartbeat's reconciliation step (itself when nothing changes).

    ``owned`` is what the heartbeat reported (``None``: not sent, i.e. unchanged and unknown).
    """
    step = _Step(member, target_epoch, target, partition_epoch, owned, topic_exists)
    match member.state:
        case MemberState.STABLE:
            if member.member_epoch != target_epoch:
                return step.next_assignment(member.member_epoch)
            return member
        case MemberState.UNREVOKED_PARTITIONS:
            if step.owns_any(member.partitions_pending_revocation):
                return member
            # Revoked: the member may move to the next epoch, and on towards the target.
            return step.next_assignment(member.member_epoch + 1)
        case MemberState.UNRELEASED_PARTITIONS:
            return step.next_assignment(member.member_epoch)
        case _:
            # A state from a newer coordinator: start over from an empty assignment.
            if owned is None or owned:
                raise group_error(
                    ErrorCode.fenced_member_epoch,
                    "The consumer group member is in a unknown state. "
                    "The member must abandon all its partitions and rejoin.",
                )
            return step.next_assignment(target_epoch)


@dataclasses.dataclass(slots=True)
class _Step:
    member: ConsumerGroupMember
    target_epoch: int
    target: Assignment
    partition_epoch: PartitionEpoch
    owned: Assignment | None
    topic_exists: Callable[[uuid.UUID], bool]

    def owns_any(self, partitions: Assignment) -> bool:
        """Whether the member (by its heartbeat) still owns any of ``partitions``; unknown = yes."""
        if self.owned is None:
            return True
        return any(
            self.owned.get(topic_id, frozenset()) & revoked for topic_id, revoked in partitions.items()
        )

    def next_assignment(self, member_epoch: int) -> ConsumerGroupMember:
        current = self.member.assigned_partitions
        assigned: dict[uuid.UUID, frozenset[int]] = {}
        revoking: dict[uuid.UUID, frozenset[int]] = {}
        pending: dict[uuid.UUID, frozenset[int]] = {}
        has_unreleased = False
        for topic_id in {*self.target, *current}:
            target = self.target.get(topic_id, frozenset())
            mine = current.get(topic_id, frozenset()) if self.topic_exists(topic_id) else frozenset()
            kept = mine & target
            to_assign = target - kept
            free = frozenset(p for p in to_assign if self.partition_epoch(topic_id, p) == -1)
            has_unreleased = has_unreleased or free != to_assign
            for collection, partitions in ((assigned, kept), (revoking, mine - kept), (pending, free)):
                if partitions:
                    collection[topic_id] = partitions
        if revoking and self.owns_any(revoking):
            # Revoke first: the member keeps its epoch until the client confirms.
            return dataclasses.replace(
                self.member.with_epoch(member_epoch),
                state=MemberState.UNREVOKED_PARTITIONS,
                assigned_partitions=assigned,
                partitions_pending_revocation=revoking,
            )
        for topic_id, partitions in pending.items():
            assigned[topic_id] = assigned.get(topic_id, frozenset()) | partitions
        state = MemberState.UNRELEASED_PARTITIONS if has_unreleased else MemberState.STABLE
        return dataclasses.replace(
            self.member.with_epoch(self.target_epoch),
            state=state,
            assigned_partitions=assigned,
            partitions_pending_revocation={},
        )
