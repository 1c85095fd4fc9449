"""ConsumerGroupHeartbeat on one shard: joining, converging, leaving, fencing, static members, topics.

Members are `consumer_testkit.Member`: clients that follow the protocol (revoke at once,
report what they own). Timers fire only when a test advances the clock.
"""

from __future__ import annotations

import dataclasses

from consumer_testkit import GROUP, ConsumerHarness, settle

from brook_broker.coordinator.group.common import GroupConfig
from brook_broker.coordinator.group.consumer.group import ConsumerGroupState
from brook_broker.coordinator.group.consumer.member import MemberState
from brook_broker.coordinator.group.consumer.messages import ConsumerGroupHeartbeatRequest
from brook_broker.coordinator.group.consumer.subscription import regex_error
from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupCurrentMemberAssignmentKey,
    ConsumerGroupMemberMetadataKey,
    ConsumerGroupMetadataKey,
    ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMetadataKey,
)
from brook_broker.protocol.errors import ErrorCode


def test_three_members_converge_to_two_partitions_each() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 6)
    members = [h.member(name, "orders") for name in "abc"]
    first = members[0].join()
    assert first.error == ErrorCode.none and first.member_epoch == 2  # a new group, then a subscription
    assert members[0].partitions(topic) == [0, 1, 2, 3, 4, 5]
    assert first.heartbeat_interval_ms == 5000
    for member in members[1:]:
        assert member.join().assignment == {}  # nothing free yet: the first one owns all
    settle(members)
    assert sorted(len(m.partitions(topic)) for m in members) == [2, 2, 2]
    assert sorted(p for m in members for p in m.partitions(topic)) == list(range(6))
    group = h.group()
    assert group.state is ConsumerGroupState.STABLE
    assert group.group_epoch == group.assignment_epoch == 4
    assert {m.member_epoch for m in group.members.values()} == {4}


def test_a_partition_moves_only_after_its_owner_revoked_it() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 2)
    a, b = h.member("a", "orders"), h.member("b", "orders")
    a.join()
    b.join()
    # a must give one partition up: it stays at its epoch until it says it no longer owns it.
    response = a.heartbeat(owned={topic: frozenset({0, 1})})
    assert response.member_epoch == 2 and len(response.assignment[topic]) == 1  # type: ignore[index]
    assert h.group().members[a.member_id].state is MemberState.UNREVOKED_PARTITIONS
    assert b.heartbeat().assignment is None  # b waits: the partition is unreleased
    assert h.group().members[b.member_id].state is MemberState.UNRELEASED_PARTITIONS
    assert a.heartbeat().member_epoch == 3  # revoked: a moves on
    assert len(b.heartbeat().assignment[topic]) == 1  # type: ignore[index]
    assert h.group().state is ConsumerGroupState.STABLE


def test_the_records_rebuild_the_same_group() -> None:
    h = ConsumerHarness()
    h.create_topic("orders", 5)
    members = [h.member(n, "orders") for n in "abc"]
    for m in members:
        m.join()
    settle(members)
    members[1].leave()
    settle([members[0], members[2]])
    rebuilt = ConsumerHarness()
    rebuilt.image = h.image
    for offset, record in h.log:
        rebuilt.shard.replay(offset, record)
    ours, theirs = h.group(), rebuilt.group()
    assert (theirs.group_epoch, theirs.assignment_epoch, theirs.metadata_hash) == (
        ours.group_epoch,
        ours.assignment_epoch,
        ours.metadata_hash,
    )
    assert theirs.members == ours.members
    assert theirs.target_assignment == ours.target_assignment
    assert theirs.partition_epochs == ours.partition_epochs


def test_leaving_bumps_the_epoch_and_the_others_take_over() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 4)
    a, b = h.member("a", "orders"), h.member("b", "orders")
    a.join()
    b.join()
    settle([a, b])
    epoch = h.group().group_epoch
    response = b.leave()
    assert (response.error, response.member_id, response.member_epoch) == (ErrorCode.none, b.member_id, -1)
    keys = [type(record.key) for _, record in h.log[-4:]]
    assert keys == [
        ConsumerGroupCurrentMemberAssignmentKey,
        ConsumerGroupTargetAssignmentMemberKey,
        ConsumerGroupMemberMetadataKey,
        ConsumerGroupMetadataKey,
    ]
    assert h.group().group_epoch == epoch + 1
    settle([a])
    assert a.partitions(topic) == [0, 1, 2, 3]
    assert a.leave().error == ErrorCode.none
    assert h.group().state is ConsumerGroupState.EMPTY


def test_a_member_whose_session_expires_is_fenced() -> None:
    h = ConsumerHarness(GroupConfig(consumer_group_session_timeout_ms=10_000))
    topic = h.create_topic("orders", 4)
    a, b = h.member("a", "orders"), h.member("b", "orders")
    a.join()
    b.join()
    settle([a, b])
    for _ in range(3):  # b has crashed; a keeps heartbeating
        h.advance(4000)
        a.heartbeat()
    assert b.member_id not in h.group().members
    settle([a])
    assert a.partitions(topic) == [0, 1, 2, 3]
    assert b.heartbeat().error == ErrorCode.unknown_member_id


def test_a_member_that_does_not_revoke_within_its_rebalance_timeout_is_fenced() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 2)
    a, b = h.member("a", "orders"), h.member("b", "orders")
    a.join()
    b.join()
    a.heartbeat(owned={topic: frozenset({0, 1})})  # keeps both: must revoke one
    for _ in range(7):  # 35 s > the 30 s rebalance timeout; a still claims both
        h.advance(5000)
        a.heartbeat(owned={topic: frozenset({0, 1})})
        b.heartbeat()
    assert a.member_id not in h.group().members
    assert a.last is not None and a.last.error == ErrorCode.unknown_member_id
    settle([b])
    assert b.partitions(topic) == [0, 1]


def test_epochs_the_coordinator_did_not_give_are_fenced() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 2)
    a, b = h.member("a", "orders"), h.member("b", "orders")
    a.join()
    b.join()
    settle([a, b])
    member = h.group().members[a.member_id]
    assert (member.member_epoch, member.previous_member_epoch) == (3, 2)
    a.epoch = 4
    assert a.heartbeat().error == ErrorCode.fenced_member_epoch
    a.epoch = 0  # rejoining under the same member id while still a member
    response = a.heartbeat(owned={})
    assert response.error == ErrorCode.fenced_member_epoch
    assert response.error_message is not None and "smaller member epoch (0)" in response.error_message
    # The previous epoch is fine when the response bumping it was lost and nothing extra is owned.
    a.epoch = 2
    assert a.heartbeat(owned={topic: frozenset({0, 1})}).error == ErrorCode.fenced_member_epoch
    a.epoch = 2
    assert a.heartbeat(owned={topic: member.assigned_partitions[topic]}).error == ErrorCode.none


def test_unknown_members_and_groups() -> None:
    h = ConsumerHarness()
    h.create_topic("orders", 1)
    stranger = h.member("x", "orders")
    stranger.epoch = 3
    assert stranger.heartbeat().error == ErrorCode.group_id_not_found
    h.member("a", "orders").join()
    response = stranger.heartbeat()
    assert response.error == ErrorCode.unknown_member_id
    assert response.error_message == f"Member {stranger.member_id} is not a member of group {GROUP}."
    assert stranger.leave().error == ErrorCode.unknown_member_id


def test_a_static_member_that_returns_gets_its_partitions_back_without_a_rebalance() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 4)
    a = h.member("a", "orders", instance_id="instance-a")
    b = h.member("b", "orders", instance_id="instance-b")
    a.join()
    b.join()
    settle([a, b])
    owned_by_b, epoch = b.partitions(topic), h.group().group_epoch
    assert b.leave(epoch=-2).member_epoch == -2
    assert h.group().members[b.member_id].member_epoch == -2
    settle([a])
    assert a.partitions(topic) != list(range(4)), "nobody gets a leaving static member's partitions"
    # Another instance id is still owned: UNRELEASED_INSTANCE_ID; the same one rejoins fine.
    impostor = h.member("c", "orders", instance_id="instance-a")
    assert impostor.join().error == ErrorCode.unreleased_instance_id
    b2 = h.member("b2", "orders", instance_id="instance-b")
    assert b2.join().error == ErrorCode.none
    assert b2.partitions(topic) == owned_by_b
    assert h.group().group_epoch == epoch, "no rebalance"
    assert b.member_id not in h.group().members
    assert b.heartbeat().error == ErrorCode.fenced_instance_id


def test_a_static_member_whose_session_expires_is_fenced() -> None:
    h = ConsumerHarness(GroupConfig(consumer_group_session_timeout_ms=10_000))
    topic = h.create_topic("orders", 2)
    a, b = h.member("a", "orders"), h.member("b", "orders", instance_id="instance-b")
    a.join()
    b.join()
    settle([a, b])
    b.leave(epoch=-2)
    for _ in range(3):
        h.advance(4000)
        a.heartbeat()
    settle([a])
    assert a.partitions(topic) == [0, 1]


def test_new_partitions_and_topics_bump_the_group_epoch() -> None:
    h = ConsumerHarness()
    orders = h.create_topic("orders", 2)
    a, b = h.member("a", "orders", "payments"), h.member("b", "orders", "payments")
    a.join()
    b.join()
    settle([a, b])
    epoch = h.group().group_epoch
    h.add_partitions("orders", 2)
    settle([a, b])
    assert h.group().group_epoch == epoch + 1
    assert sorted(a.partitions(orders) + b.partitions(orders)) == [0, 1, 2, 3]
    payments = h.create_topic("payments", 2)  # subscribed before it existed
    settle([a, b])
    assert sorted(a.partitions(payments) + b.partitions(payments)) == [0, 1]
    h.delete_topic("payments")
    settle([a, b])
    assert payments not in a.owned and payments not in b.owned
    assert h.group().state is ConsumerGroupState.STABLE


def test_a_regex_subscription_picks_up_new_matching_topics() -> None:
    h = ConsumerHarness()
    first = h.create_topic("events-1", 2)
    h.create_topic("other", 2)
    a = h.member("a", regex="events-.*")
    a.join()
    settle([a])
    assert set(a.owned) == {first}
    second = h.create_topic("events-2", 3)
    settle([a])
    assert set(a.owned) == {first, second} and a.partitions(second) == [0, 1, 2]
    assert h.group().resolved_regexes == {"events-.*": frozenset({"events-1", "events-2"})}
    assert h.group().is_subscribed_to_topic("events-2")
    a.leave()
    assert h.group().resolved_regexes == {}


def test_an_invalid_regex_is_refused() -> None:
    h = ConsumerHarness()
    response = h.member("a", regex="events-(").join()
    assert response.error == ErrorCode.invalid_regular_expression
    assert response.error_message is not None
    assert response.error_message.startswith(
        "SubscribedTopicRegex `events-(` is not a valid regular expression"
    )


def test_the_group_uses_the_assignor_most_members_ask_for() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 4)
    members = [h.member(n, "orders", assignor="range") for n in "ab"]
    for m in members:
        m.join()
    settle(members)
    assert sorted(m.partitions(topic) for m in members) == [[0, 1], [2, 3]]
    described = h.shard.consumer.describe(GROUP)
    assert described.assignor_name == "range"


def test_group_max_size() -> None:
    h = ConsumerHarness(GroupConfig(consumer_group_max_size=1))
    h.create_topic("orders", 1)
    assert h.member("a", "orders").join().error == ErrorCode.none
    response = h.member("b", "orders").join()
    assert response.error == ErrorCode.group_max_size_reached
    assert response.error_message == "The consumer group has reached its maximum capacity of 1 members."


def test_invalid_requests() -> None:
    h = ConsumerHarness()
    base = ConsumerGroupHeartbeatRequest(
        group_id=GROUP,
        member_id="m",
        member_epoch=0,
        rebalance_timeout_ms=1000,
        subscribed_topic_names=(),
        topic_partitions=(),
    )
    cases = [
        (dataclasses.replace(base, member_id=""), "MemberId can't be empty."),
        (dataclasses.replace(base, group_id=" "), "GroupId can't be empty."),
        (
            dataclasses.replace(base, rebalance_timeout_ms=-1),
            "RebalanceTimeoutMs must be provided in first request.",
        ),
        (
            dataclasses.replace(base, topic_partitions=None),
            "TopicPartitions must be empty when (re-)joining.",
        ),
        (
            dataclasses.replace(base, subscribed_topic_names=None),
            "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
        ),
        (dataclasses.replace(base, member_epoch=-2), "InstanceId can't be null."),
        (dataclasses.replace(base, member_epoch=-3), "MemberEpoch is invalid."),
    ]
    for request, message in cases:
        response = h.heartbeat(request)
        assert (response.error, response.error_message) == (ErrorCode.invalid_request, message)
    response = h.heartbeat(dataclasses.replace(base, server_assignor="sticky"))
    assert response.error == ErrorCode.unsupported_assignor
    assert (
        response.error_message
        == "ServerAssignor sticky is not supported. Supported assignors: uniform, range."
    )


def test_an_empty_member_list_still_writes_the_target_metadata() -> None:
    h = ConsumerHarness()
    h.member("a").join()  # subscribes to nothing: a member without partitions
    assert h.group().state is ConsumerGroupState.STABLE
    assert any(isinstance(record.key, ConsumerGroupTargetAssignmentMetadataKey) for _, record in h.log)


def test_regex_errors_read_like_re2s() -> None:
    """Kafka compiles with RE2/J; Python's errors are translated, and what RE2 refuses is refused."""
    assert regex_error("a|b-[0-9]+") is None
    for pattern, description in [
        ("a(", "missing closing )"),
        ("a)", "unexpected )"),
        ("[a", "missing closing ]"),
        ("*a", "missing argument to repetition operator"),
        ("(?=a)b", "invalid or unsupported Perl syntax"),
        ("(a)\\1", "invalid escape sequence"),
    ]:
        assert regex_error(pattern) == (
            f"SubscribedTopicRegex `{pattern}` is not a valid regular expression: {description}."
        )
