"""Incremental reconciliation (`consumer.reconciliation.reconcile`), one step at a time.

The cases of Kafka's ``CurrentAssignmentBuilderTest``: a member moves to a new epoch with
its new partitions; it first revokes what it must give up, and keeps its epoch until its
heartbeat no longer reports them; it waits for partitions other members still own.
"""

from __future__ import annotations

import uuid

import pytest

from brook_broker.coordinator.group.consumer.member import ConsumerGroupMember, MemberState
from brook_broker.coordinator.group.consumer.reconciliation import reconcile
from brook_broker.protocol.errors import BrokerError, ErrorCode

T = uuid.UUID(int=1)
U = uuid.UUID(int=2)


def member(
    *,
    epoch: int = 10,
    state: MemberState = MemberState.STABLE,
    assigned: dict[uuid.UUID, set[int]] | None = None,
    revoking: dict[uuid.UUID, set[int]] | None = None,
) -> ConsumerGroupMember:
    return ConsumerGroupMember(
        member_id="m",
        member_epoch=epoch,
        previous_member_epoch=epoch - 1,
        state=state,
        assigned_partitions={t: frozenset(p) for t, p in (assigned or {}).items()},
        partitions_pending_revocation={t: frozenset(p) for t, p in (revoking or {}).items()},
    )


def step(
    m: ConsumerGroupMember,
    target: dict[uuid.UUID, set[int]],
    *,
    target_epoch: int = 11,
    owned: dict[uuid.UUID, set[int]] | None = None,
    taken: set[tuple[uuid.UUID, int]] = frozenset(),  # type: ignore[assignment]
    existing: set[uuid.UUID] = frozenset({T, U}),  # type: ignore[assignment]
) -> ConsumerGroupMember:
    return reconcile(
        m,
        target_epoch=target_epoch,
        target={t: frozenset(p) for t, p in target.items()},
        partition_epoch=lambda topic, partition: 5 if (topic, partition) in taken else -1,
        owned=None if owned is None else {t: frozenset(p) for t, p in owned.items()},
        topic_exists=lambda topic: topic in existing,
    )


def parts(assignment: object) -> dict[uuid.UUID, set[int]]:
    return {t: set(p) for t, p in assignment.items()}  # type: ignore[attr-defined]


def test_a_stable_member_moves_to_the_new_epoch_with_its_new_partitions() -> None:
    m = member(assigned={T: {0, 1}})
    new = step(m, {T: {0, 1, 2}}, owned={T: {0, 1}})
    assert (new.member_epoch, new.previous_member_epoch, new.state) == (11, 10, MemberState.STABLE)
    assert parts(new.assigned_partitions) == {T: {0, 1, 2}}


def test_a_reconciled_member_is_left_alone() -> None:
    m = member(epoch=11, assigned={T: {0}})
    assert step(m, {T: {0}}) is m


def test_partitions_to_give_up_are_revoked_first_at_the_same_epoch() -> None:
    m = member(assigned={T: {0, 1, 2}})
    new = step(m, {T: {0, 3}}, owned={T: {0, 1, 2}})
    assert (new.member_epoch, new.state) == (10, MemberState.UNREVOKED_PARTITIONS)
    assert parts(new.assigned_partitions) == {T: {0}}
    assert parts(new.partitions_pending_revocation) == {T: {1, 2}}
    # Still owned: nothing moves.
    assert step(new, {T: {0, 3}}, owned={T: {0, 1}}) is new
    assert step(new, {T: {0, 3}}, owned=None) is new
    # Revoked: on to the next epoch and the target.
    done = step(new, {T: {0, 3}}, owned={T: {0}})
    assert (done.member_epoch, done.state) == (11, MemberState.STABLE)
    assert parts(done.assigned_partitions) == {T: {0, 3}} and not done.partitions_pending_revocation


def test_partitions_already_revoked_by_the_client_need_no_round_trip() -> None:
    new = step(member(assigned={T: {0, 1}}), {T: {0}}, owned={T: {0}})
    assert (new.member_epoch, new.state) == (11, MemberState.STABLE)


def test_partitions_other_members_still_own_are_unreleased() -> None:
    m = member(assigned={T: {0}})
    new = step(m, {T: {0, 1, 2}}, owned={T: {0}}, taken={(T, 2)})
    assert (new.member_epoch, new.state) == (11, MemberState.UNRELEASED_PARTITIONS)
    assert parts(new.assigned_partitions) == {T: {0, 1}}
    released = step(new, {T: {0, 1, 2}}, owned={T: {0, 1}})
    assert (released.member_epoch, released.state) == (11, MemberState.STABLE)
    assert parts(released.assigned_partitions) == {T: {0, 1, 2}}


def test_partitions_of_deleted_topics_are_dropped_without_revocation() -> None:
    m = member(assigned={T: {0}, U: {0, 1}})
    new = step(m, {T: {0}}, owned={T: {0}, U: {0, 1}}, existing={T})
    assert (new.member_epoch, new.state) == (11, MemberState.STABLE)
    assert parts(new.assigned_partitions) == {T: {0}}


def test_a_member_in_an_unknown_state_must_start_over() -> None:
    m = member(state=MemberState.UNKNOWN, assigned={T: {0}})
    with pytest.raises(BrokerError) as raised:
        step(m, {T: {0}}, owned={T: {0}})
    assert raised.value.error_code == ErrorCode.fenced_member_epoch
    new = step(m, {T: {0, 1}}, owned={})
    assert new.member_epoch == 11 and new.state is MemberState.STABLE
