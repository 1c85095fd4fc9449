"""Offsets: commit validation per group state, fetch, delete, expiration, and DeleteGroups."""

from __future__ import annotations

import pytest
from coordinator_testkit import ShardHarness, subscription

from brook_broker.coordinator.group.classic.group import ClassicGroup
from brook_broker.coordinator.group.common import GroupConfig
from brook_broker.coordinator.group.messages import (
    CommitPartition,
    LeavingMember,
    OffsetCommitRequest,
    OffsetFetchRequest,
)
from brook_broker.protocol.errors import BrokerError, ErrorCode

G = "group"


def commit(
    h: ShardHarness,
    *,
    member_id: str = "",
    generation: int = -1,
    offsets: dict[tuple[str, int], int] | None = None,
    metadata: str | None = None,
    api_version: int = 8,
    retention_ms: int = -1,
    group_id: str = G,
) -> list[tuple[str, int, ErrorCode]]:
    request = OffsetCommitRequest(
        group_id=group_id,
        member_id=member_id,
        group_instance_id=None,
        generation_id=generation,
        partitions=tuple(
            CommitPartition(topic=t, partition=p, offset=o, leader_epoch=3, metadata=metadata)
            for (t, p), o in (offsets or {("t", 0): 42}).items()
        ),
        retention_time_ms=retention_ms,
        api_version=api_version,
    )
    errors = h.run(h.shard.offsets.commit_offsets(request))
    return [(e.topic, e.partition, e.error) for e in errors]


def commit_error(h: ShardHarness, **kwargs: object) -> ErrorCode:
    with pytest.raises(BrokerError) as raised:
        commit(h, **kwargs)  # type: ignore[arg-type]
    return raised.value.error_code


def fetch(
    h: ShardHarness, partitions: tuple[tuple[str, int], ...] | None = (("t", 0),), group_id: str = G
) -> dict:
    response = h.shard.offsets.fetch_offsets(OffsetFetchRequest(group_id=group_id, partitions=partitions))
    assert response.error == ErrorCode.none
    return {(o.topic, o.partition): (o.offset, o.leader_epoch, o.metadata) for o in response.offsets}


def test_a_standalone_consumer_commits_with_generation_minus_one_into_a_simple_group() -> None:
    h = ShardHarness()
    assert commit(h, metadata="meta") == [("t", 0, ErrorCode.none)]
    assert fetch(h) == {("t", 0): (42, 3, "meta")}
    group = h.shard.groups.get(G)
    assert isinstance(group, ClassicGroup) and group.protocol_type is None and group.is_empty()


def test_unknown_partitions_fetch_as_minus_one() -> None:
    h = ShardHarness()
    assert fetch(h, (("t", 5), ("nope", 0))) == {("t", 5): (-1, -1, ""), ("nope", 0): (-1, -1, "")}
    commit(h)
    assert fetch(h, None) == {("t", 0): (42, 3, "")}


def test_member_commits_are_checked_against_generation_and_membership() -> None:
    h = ShardHarness()
    (member,) = h.stable_group(G, 1)
    assert commit(h, member_id=member.member_id, generation=1) == [("t", 0, ErrorCode.none)]
    assert commit_error(h, member_id=member.member_id, generation=0) == ErrorCode.illegal_generation
    assert commit_error(h, member_id="stranger", generation=1) == ErrorCode.unknown_member_id
    assert commit_error(h, generation=-1) == ErrorCode.unknown_member_id, "simple commits need an empty group"


def test_commits_during_completing_rebalance_are_refused() -> None:
    h = ShardHarness()
    parked = h.join_two_step(G)
    h.advance(3000)
    assert commit_error(h, member_id=parked[0].member_id, generation=1) == ErrorCode.rebalance_in_progress


def test_commit_to_a_missing_group_with_a_generation_is_illegal_generation_before_v9() -> None:
    h = ShardHarness()
    assert commit_error(h, member_id="m", generation=3, api_version=8) == ErrorCode.illegal_generation
    assert commit_error(h, member_id="m", generation=3, api_version=9) == ErrorCode.group_id_not_found


def test_metadata_larger_than_offset_metadata_max_bytes_is_refused_per_partition() -> None:
    h = ShardHarness(GroupConfig(offset_metadata_max_bytes=4))
    assert commit(h, metadata="12345") == [("t", 0, ErrorCode.offset_metadata_too_large)]
    assert commit(h, metadata="1234") == [("t", 0, ErrorCode.none)]


def test_offset_delete_refuses_topics_the_group_consumes() -> None:
    h = ShardHarness()
    (member,) = h.stable_group(G, 1)  # subscribed to "t"
    commit(h, member_id=member.member_id, generation=1, offsets={("t", 0): 1, ("u", 0): 2})
    errors = h.run(h.shard.offsets.delete_offsets(G, [("t", 0), ("u", 0)]))
    assert [(e.topic, e.error) for e in errors] == [
        ("t", ErrorCode.group_subscribed_to_topic),
        ("u", ErrorCode.none),
    ]
    assert fetch(h, (("t", 0), ("u", 0))) == {("t", 0): (1, 3, ""), ("u", 0): (-1, -1, "")}


def test_delete_groups_refuses_a_group_with_members_and_deletes_an_empty_one() -> None:
    h = ShardHarness()
    (member,) = h.stable_group(G, 1)
    commit(h, member_id=member.member_id, generation=1)
    assert h.run(h.shard.delete_groups([G, "missing"])) == {
        G: ErrorCode.non_empty_group,
        "missing": ErrorCode.group_id_not_found,
    }
    h.run(h.shard.classic.leave_group(G, (LeavingMember(member.member_id),)))
    assert h.run(h.shard.delete_groups([G])) == {G: ErrorCode.none}
    assert G not in h.shard.groups
    assert fetch(h) == {("t", 0): (-1, -1, "")}


def test_offsets_of_an_empty_group_expire_after_the_retention_and_then_the_group_goes() -> None:
    day = 24 * 3600 * 1000
    h = ShardHarness(GroupConfig(offsets_retention_ms=day, offsets_retention_check_interval_ms=60_000))
    h.shard.on_loaded()  # schedules the periodic expiration
    commit(h)
    h.advance(day - 120_000)
    assert fetch(h) == {("t", 0): (42, 3, "")}
    h.advance(120_000)
    assert fetch(h) == {("t", 0): (-1, -1, "")}
    assert G not in h.shard.groups


def test_offsets_of_a_stable_group_do_not_expire() -> None:
    day = 24 * 3600 * 1000
    config = GroupConfig(
        offsets_retention_ms=day,
        offsets_retention_check_interval_ms=60_000,
        classic_group_max_session_timeout_ms=10 * day,
    )
    h = ShardHarness(config)
    h.shard.on_loaded()
    parked = h.join_two_step(G, session_ms=10 * day)
    h.advance(3000)
    (joined,) = parked
    h.sync(G, joined, assignments={joined.member_id: b"a"})
    commit(h, member_id=joined.member_id, generation=1)
    h.advance(2 * day)
    assert fetch(h) == {("t", 0): (42, 3, "")}


def test_an_explicit_retention_time_writes_an_expire_timestamp() -> None:
    h = ShardHarness(GroupConfig(offsets_retention_check_interval_ms=1000))
    h.shard.on_loaded()
    commit(h, retention_ms=5000)
    value = h.log[-1][1].value
    assert value is not None and value.expire_timestamp == h.clock.now + 5000  # type: ignore[union-attr]
    h.advance(5000)
    assert fetch(h) == {("t", 0): (-1, -1, "")}


def test_offsets_of_deleted_topics_are_tombstoned() -> None:
    h = ShardHarness()
    commit(h, offsets={("t", 0): 1, ("t", 1): 2, ("u", 0): 3})
    h.run(h.shard.delete_offsets_of_topics({"t"}))
    assert fetch(h, None) == {("u", 0): (3, 3, "")}


def test_a_member_commit_keeps_its_session_alive() -> None:
    h = ShardHarness()
    (member,) = h.stable_group(G, 1)
    for _ in range(5):
        h.advance(8000)
        commit(h, member_id=member.member_id, generation=1)
    assert member.member_id in h.shard.groups.get(G).members  # type: ignore[union-attr]


def test_subscription_parsing_ignores_malformed_metadata() -> None:
    from brook_broker.coordinator.group.classic.group import parse_subscription_topics

    assert parse_subscription_topics(subscription("a", "b", version=3)) == {"a", "b"}
    assert parse_subscription_topics(b"\x00") is None
