"""Consumer groups beyond heartbeats: offsets with member epochs, DeleteGroups, ListGroups,
DescribeGroups/ConsumerGroupDescribe, expiration, and living next to classic groups."""

from __future__ import annotations

import pytest
from consumer_testkit import GROUP, ConsumerHarness, settle
from coordinator_testkit import subscription

from brook_broker.coordinator.group.common import GroupConfig
from brook_broker.coordinator.group.consumer.group import ConsumerGroup
from brook_broker.coordinator.group.messages import CommitPartition, OffsetCommitRequest, OffsetFetchRequest
from brook_broker.protocol.errors import BrokerError, ErrorCode


def commit(
    h: ConsumerHarness, *, member_id: str, epoch: int, api_version: int = 9, topic: str = "orders"
) -> None:
    request = OffsetCommitRequest(
        group_id=GROUP,
        member_id=member_id,
        group_instance_id=None,
        generation_id=epoch,
        partitions=(CommitPartition(topic=topic, partition=0, offset=7),),
        api_version=api_version,
    )
    h.run(h.shard.offsets.commit_offsets(request))


def commit_error(h: ConsumerHarness, **kwargs: object) -> ErrorCode:
    with pytest.raises(BrokerError) as raised:
        commit(h, **kwargs)  # type: ignore[arg-type]
    return raised.value.error_code


def fetch(h: ConsumerHarness, *, member_id: str | None = None, epoch: int = -1) -> tuple[ErrorCode, dict]:
    response = h.shard.offsets.fetch_offsets(
        OffsetFetchRequest(group_id=GROUP, partitions=None, member_id=member_id, member_epoch=epoch)
    )
    return response.error, {(o.topic, o.partition): o.offset for o in response.offsets}


def test_commits_carry_the_member_epoch() -> None:
    h = ConsumerHarness()
    h.create_topic("orders", 1)
    member = h.member("a", "orders")
    member.join()
    settle([member])
    assert commit_error(h, member_id=member.member_id, epoch=member.epoch - 1) == ErrorCode.stale_member_epoch
    assert commit_error(h, member_id=member.member_id, epoch=member.epoch, api_version=8) == (
        ErrorCode.unsupported_version
    )
    assert commit_error(h, member_id="stranger", epoch=1) == ErrorCode.unknown_member_id
    assert commit_error(h, member_id="", epoch=-1) == ErrorCode.unknown_member_id  # not empty
    commit(h, member_id=member.member_id, epoch=member.epoch)
    assert fetch(h, member_id=member.member_id, epoch=member.epoch) == (ErrorCode.none, {("orders", 0): 7})
    assert fetch(h, member_id=member.member_id, epoch=0)[0] == ErrorCode.stale_member_epoch
    assert fetch(h)[1] == {("orders", 0): 7}  # the admin client: no member id, epoch -1
    member.leave()
    commit(h, member_id="", epoch=-1)  # an empty group takes commits from anyone (reset-offsets)


def test_delete_groups_needs_an_empty_group_and_removes_everything() -> None:
    h = ConsumerHarness()
    h.create_topic("orders", 2)
    member = h.member("a", "orders")
    member.join()
    commit(h, member_id=member.member_id, epoch=member.epoch)
    assert h.run(h.shard.delete_groups([GROUP])) == {GROUP: ErrorCode.non_empty_group}
    member.leave()
    assert h.run(h.shard.delete_groups([GROUP])) == {GROUP: ErrorCode.none}
    assert GROUP not in h.shard.groups
    assert fetch(h) == (ErrorCode.none, {})
    rebuilt = ConsumerHarness()
    for offset, record in h.log:
        rebuilt.shard.replay(offset, record)
    assert GROUP not in rebuilt.shard.groups


def test_list_and_describe() -> None:
    h = ConsumerHarness()
    topic = h.create_topic("orders", 2)
    member = h.member("a", "orders", instance_id="static-a")
    member.join()
    (listed,) = h.shard.list_groups(states=set(), types={"Consumer"})
    assert (listed.group_id, listed.protocol_type, listed.group_state, listed.group_type) == (
        GROUP,
        "consumer",
        "Stable",
        "consumer",
    )
    assert h.shard.list_groups(states=set(), types={"classic"}) == []
    assert h.shard.list_groups(states={"stable"}, types=set()) == [listed]
    described = h.shard.consumer.describe(GROUP)
    assert (described.state, described.group_epoch, described.assignment_epoch) == ("Stable", 2, 2)
    assert described.assignor_name == "uniform"
    (m,) = described.members
    assert (m.member_id, m.instance_id, m.client_host, m.subscribed_topic_names) == (
        member.member_id,
        "static-a",
        "/127.0.0.1",
        ("orders",),
    )
    assert [(t.topic_id, t.topic_name, t.partitions) for t in m.assignment] == [(topic, "orders", (0, 1))]
    assert m.target_assignment == m.assignment
    missing = h.shard.consumer.describe("nope")
    assert (missing.error, missing.error_message) == (
        ErrorCode.group_id_not_found,
        "Group nope not found.",
    )
    # DescribeGroups is for classic groups: Kafka reports a consumer group Dead, or (v6) an error.
    assert h.shard.describe_group(GROUP, api_version=5).state == "Dead"
    v6 = h.shard.describe_group(GROUP, api_version=6)
    assert (v6.error, v6.error_message) == (
        ErrorCode.group_id_not_found,
        f"Group {GROUP} is not a classic group.",
    )


def test_classic_and_consumer_groups_share_one_namespace() -> None:
    h = ConsumerHarness()
    h.create_topic("orders", 1)
    h.join("classic", protocols=(("range", subscription("orders")),), version=3)  # a classic member
    response = h.member("a", "orders", group_id="classic").join()
    assert (response.error, response.error_message) == (
        ErrorCode.group_id_not_found,
        "Group classic is not a consumer group.",
    )
    h.member("a", "orders").join()
    (joined,) = h.join(GROUP, version=3)
    assert joined.error == ErrorCode.inconsistent_group_protocol


def test_a_group_that_only_committed_offsets_becomes_a_consumer_group_and_keeps_them() -> None:
    h = ConsumerHarness()
    h.create_topic("orders", 1)
    commit(h, member_id="", epoch=-1)  # a simple (classic) group: offsets only
    assert not isinstance(h.shard.groups.get(GROUP), ConsumerGroup)
    member = h.member("a", "orders")
    assert member.join().error == ErrorCode.none
    assert isinstance(h.shard.groups.get(GROUP), ConsumerGroup)
    assert fetch(h)[1] == {("orders", 0): 7}
    rebuilt = ConsumerHarness()
    for offset, record in h.log:
        rebuilt.shard.replay(offset, record)
    assert rebuilt.group().members.keys() == {member.member_id}


def test_offsets_expire_from_their_commit_time_unless_subscribed() -> None:
    h = ConsumerHarness(GroupConfig(offsets_retention_ms=60_000, consumer_group_session_timeout_ms=600_000))
    h.create_topic("orders", 1)
    member = h.member("a", "orders")
    member.join()
    commit(h, member_id=member.member_id, epoch=member.epoch)
    commit(h, member_id=member.member_id, epoch=member.epoch, topic="old")
    h.advance(120_000)
    member.heartbeat()
    h.run(h.shard.cleanup_group_metadata())
    assert fetch(h)[1] == {("orders", 0): 7}, "subscribed topics keep their offsets"
    member.leave()
    h.run(h.shard.cleanup_group_metadata())
    assert GROUP not in h.shard.groups, "an empty group without offsets goes"
