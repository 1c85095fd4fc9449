"""Consumer groups with real clients: members share a topic's partitions, groups each get everything.

Every member is a real client in its own process (`harness.group_clients.GroupMember`) that
commits each record before reporting it. A test first waits for the group to settle (the
members' reported assignments cover the topic exactly once), then produces, so that every
message is consumed exactly once; the rebalances themselves are driven by members joining,
leaving (clean close: LeaveGroup) and crashing (SIGKILL: the session times out).
"""

from __future__ import annotations

import pytest

from harness.brook import BrookProcess
from harness.group_clients import (
    GroupMember,
    all_consumed_once,
    produce_values,
    read_from_own_partitions,
    wait_for_assignment,
)
from harness.kafka_clients import create_topic

PARTITIONS = 6
CLIENTS = ["confluent", "aiokafka", "kafka-python", "java"]


@pytest.mark.parametrize("client", CLIENTS)
def test_three_members_each_own_two_partitions_and_consume_every_message_once(
    shared_brook: BrookProcess, unique_topic: str, client: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"
    members = [
        GroupMember(
            client=client, bootstrap=bootstrap, group=group, topic=unique_topic, client_id=f"member-{i}"
        )
        for i in range(3)
    ]
    try:
        wait_for_assignment(members, [2, 2, 2], partitions=PARTITIONS)
        expected = produce_values(
            bootstrap, unique_topic, (f"order-{i}" for i in range(60)), partitions=PARTITIONS
        )
        all_consumed_once(members, expected)
        read_from_own_partitions(members, expected)
        assert sorted(len(m.records) for m in members) == [20, 20, 20]
    finally:
        for member in members:
            member.kill()


def test_partitions_move_when_a_member_joins_and_when_one_leaves(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"

    def member(name: str) -> GroupMember:
        return GroupMember(
            client="confluent", bootstrap=bootstrap, group=group, topic=unique_topic, client_id=name
        )

    a, b = member("a"), member("b")
    c: GroupMember | None = None
    try:
        wait_for_assignment([a, b], [3, 3], partitions=PARTITIONS)
        c = member("c")
        wait_for_assignment([a, b, c], [2, 2, 2], partitions=PARTITIONS)
        first = produce_values(
            bootstrap, unique_topic, (f"first-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once([a, b, c], first)
        c.stop()  # LeaveGroup: the others take its partitions at once, not after a session timeout
        wait_for_assignment([a, b], [3, 3], partitions=PARTITIONS)
        second = produce_values(
            bootstrap, unique_topic, (f"second-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once([a, b, c], first + second)
        read_from_own_partitions([a, b], second)
        assert not {r.value for r in c.records} & set(second)
    finally:
        for m in (a, b, c):
            if m is not None:
                m.kill()


@pytest.mark.parametrize("client", ["confluent", "kafka-python", "java"])
def test_a_crashed_members_partitions_move_after_its_session_times_out(
    shared_brook: BrookProcess, unique_topic: str, client: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"
    members = [
        GroupMember(
            client=client,
            bootstrap=bootstrap,
            group=group,
            topic=unique_topic,
            client_id=f"m{i}",
            session_ms=6000,
        )
        for i in range(3)
    ]
    try:
        wait_for_assignment(members, [2, 2, 2], partitions=PARTITIONS)
        crashed = members.pop()
        crashed.kill()  # no LeaveGroup
        wait_for_assignment(members, [3, 3], partitions=PARTITIONS)
        expected = produce_values(
            bootstrap, unique_topic, (f"after-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once(members, expected)
    finally:
        for member in members:
            member.kill()


def test_two_groups_each_receive_every_message(shared_brook: BrookProcess, unique_topic: str) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    email = [
        GroupMember(
            client="confluent", bootstrap=bootstrap, group=f"{unique_topic}-email", topic=unique_topic
        )
        for _ in range(2)
    ]
    analytics = [
        GroupMember(
            client="aiokafka", bootstrap=bootstrap, group=f"{unique_topic}-analytics", topic=unique_topic
        )
    ]
    try:
        wait_for_assignment(email, [3, 3], partitions=PARTITIONS)
        wait_for_assignment(analytics, [6], partitions=PARTITIONS)
        expected = produce_values(
            bootstrap, unique_topic, (f"order-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once(email, expected)
        all_consumed_once(analytics, expected)
    finally:
        for member in email + analytics:
            member.kill()


def test_a_restarted_static_member_gets_its_partitions_back_without_a_rebalance(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"

    def member(instance: str) -> GroupMember:
        return GroupMember(
            client="confluent",
            bootstrap=bootstrap,
            group=group,
            topic=unique_topic,
            client_id=instance,
            instance_id=instance,
            session_ms=30_000,
        )

    a, b = member("static-a"), member("static-b")
    b2: GroupMember | None = None
    try:
        wait_for_assignment([a, b], [3, 3], partitions=PARTITIONS)
        rebalances_of_a = len(a.assignments)
        owned_by_b = b.assignment
        b.stop()  # a static member does not leave the group when it closes (KIP-345)
        b2 = member("static-b")
        b2.wait_for(lambda m: m.assignment == owned_by_b, what=f"its old partitions {owned_by_b}")
        # Had the restart rebalanced the group, `a` would have rejoined (eager protocol:
        # revoke, then assign) before `b2` got an assignment.
        assert len(a.assignments) == rebalances_of_a, f"a was rebalanced: {a.assignments}"
        expected = produce_values(
            bootstrap, unique_topic, (f"v{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once([a, b2], expected)
    finally:
        for m in (a, b, b2):
            if m is not None:
                m.kill()


def test_cooperative_sticky_moves_only_the_partitions_that_change_owner(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"

    def member(name: str) -> GroupMember:
        return GroupMember(
            client="confluent",
            bootstrap=bootstrap,
            group=group,
            topic=unique_topic,
            client_id=name,
            assignor="cooperative-sticky",
        )

    a = member("a")
    b: GroupMember | None = None
    try:
        wait_for_assignment([a], [6], partitions=PARTITIONS)
        first = produce_values(
            bootstrap, unique_topic, (f"first-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once([a], first)
        b = member("b")
        wait_for_assignment([a, b], [3, 3], partitions=PARTITIONS)
        # Incremental: `a` gave up three partitions and kept three, never holding nothing.
        assert [] not in a.assignments[1:], a.assignments
        assert set(a.assignment) < set(range(PARTITIONS))
        second = produce_values(
            bootstrap, unique_topic, (f"second-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once([a, b], first + second)
    finally:
        for m in (a, b):
            if m is not None:
                m.kill()
