"""Classic groups, the join phase: two-step joins, the initial delay, generations, protocols."""

from __future__ import annotations

from coordinator_testkit import ShardHarness, subscription

from brook_broker.coordinator.group.classic.group import ClassicGroup, ClassicGroupState
from brook_broker.coordinator.group.common import GroupConfig
from brook_broker.protocol.errors import ErrorCode

G = "group"


def group(h: ShardHarness, group_id: str = G) -> ClassicGroup:
    found = h.shard.groups.get(group_id)
    assert isinstance(found, ClassicGroup)
    return found


def test_first_join_of_v4_plus_gets_member_id_required_then_joins_after_the_initial_delay() -> None:
    h = ShardHarness()
    (first,) = h.join(G, version=4, client_id="c1")
    assert first.error == ErrorCode.member_id_required
    assert first.member_id.startswith("c1-")
    parked = h.join(G, member_id=first.member_id, version=4)
    assert parked == [], "the join parks until the rebalance completes"
    assert group(h).state is ClassicGroupState.PREPARING_REBALANCE
    h.advance(2999)
    assert parked == []
    h.advance(1)
    (response,) = parked
    assert response.error == ErrorCode.none
    assert response.generation_id == 1
    assert response.leader == response.member_id == first.member_id
    assert response.protocol_name == "range"
    assert [m.member_id for m in response.members] == [first.member_id]
    assert group(h).state is ClassicGroupState.COMPLETING_REBALANCE


def test_v3_joins_in_one_step() -> None:
    h = ShardHarness()
    parked = h.join(G, version=3)
    h.advance(3000)
    assert parked[0].error == ErrorCode.none
    assert parked[0].generation_id == 1


def test_new_group_is_made_durable_with_an_empty_group_metadata_record() -> None:
    h = ShardHarness()
    h.join(G, version=3)
    (_, record) = h.log[0]
    assert record.value is not None
    assert record.value.generation == 0  # type: ignore[union-attr]
    assert record.value.members == ()  # type: ignore[union-attr]


def test_members_joining_during_the_initial_delay_share_one_generation() -> None:
    h = ShardHarness(GroupConfig(classic_group_initial_rebalance_delay_ms=3000))
    a = h.join_two_step(G)
    h.advance(2000)
    b = h.join_two_step(G)  # extends the delay by another 3 s
    h.advance(2000)
    assert a == b == []
    c = h.join_two_step(G)
    h.advance(3000)
    assert a == [] and c == []  # still extended: members kept arriving
    h.advance(3000)
    responses = [a[0], b[0], c[0]]
    assert {r.generation_id for r in responses} == {1}
    leaders = [r for r in responses if r.members]
    assert len(leaders) == 1 and len(leaders[0].members) == 3
    assert {r.leader for r in responses} == {leaders[0].member_id}


def test_followers_wait_for_the_leaders_sync_and_get_their_assignment() -> None:
    h = ShardHarness()
    parked = [h.join_two_step(G) for _ in range(2)]
    h.advance(6000)  # the second join extended the initial delay once
    leader, follower = sorted((p[0] for p in parked), key=lambda r: r.member_id != r.leader)
    waiting = h.sync(G, follower)
    assert waiting == []
    done = h.sync(G, leader, assignments={leader.member_id: b"A", follower.member_id: b"B"})
    assert [(r.error, r.assignment) for r in done] == [(ErrorCode.none, b"A")]
    assert [(r.error, r.assignment, r.protocol_name) for r in waiting] == [(ErrorCode.none, b"B", "range")]
    assert group(h).state is ClassicGroupState.STABLE
    # The assignment was written as GroupMetadata, not replayed (the group already has it).
    value = h.log[-1][1].value
    assert value is not None and {m.assignment for m in value.members} == {b"A", b"B"}  # type: ignore[union-attr]
    # A later sync in Stable returns the stored assignment at once.
    assert h.sync(G, follower)[0].assignment == b"B"


def test_protocol_is_the_one_all_support_that_most_prefer() -> None:
    h = ShardHarness()
    sub = subscription("t")
    prefs = [
        (("range", sub), ("roundrobin", sub)),
        (("roundrobin", sub), ("range", sub)),
        (("roundrobin", sub), ("range", sub), ("sticky", sub)),
    ]
    parked = [h.join_two_step(G, protocols=p) for p in prefs]
    h.advance(6000)
    assert {p[0].protocol_name for p in parked} == {"roundrobin"}


def test_a_member_without_a_common_protocol_is_refused() -> None:
    h = ShardHarness()
    h.stable_group(G, 1)
    (response,) = h.join(G, protocols=(("cooperative-sticky", subscription("t")),))
    assert response.error == ErrorCode.inconsistent_group_protocol
    (response,) = h.join(G, protocol_type="connect")
    assert response.error == ErrorCode.inconsistent_group_protocol


def test_session_timeout_outside_the_broker_bounds_is_invalid() -> None:
    h = ShardHarness(
        GroupConfig(classic_group_min_session_timeout_ms=6000, classic_group_max_session_timeout_ms=30000)
    )
    assert h.join(G, session_ms=5999)[0].error == ErrorCode.invalid_session_timeout
    assert h.join(G, session_ms=30001)[0].error == ErrorCode.invalid_session_timeout
    assert h.join(G, session_ms=6000)[0].error == ErrorCode.member_id_required


def test_empty_group_id_is_invalid() -> None:
    assert ShardHarness().join("")[0].error == ErrorCode.invalid_group_id


def test_group_max_size_refuses_the_extra_member() -> None:
    h = ShardHarness(GroupConfig(classic_group_max_size=2))
    h.stable_group(G, 2)
    (response,) = h.join(G)
    assert response.error == ErrorCode.group_max_size_reached


def test_a_known_member_of_a_group_that_does_not_exist_must_rejoin() -> None:
    (response,) = ShardHarness().join(G, member_id="ghost")
    assert response.error == ErrorCode.unknown_member_id


def test_a_new_member_rebalances_a_stable_group_and_everybody_rejoins() -> None:
    h = ShardHarness()
    first = h.stable_group(G, 1)[0]
    newcomer = h.join_two_step(G)
    assert group(h).state is ClassicGroupState.PREPARING_REBALANCE
    assert h.heartbeat(G, first.member_id, 1) == ErrorCode.rebalance_in_progress
    rejoin = h.join(G, member_id=first.member_id)
    (a,) = rejoin
    (b,) = newcomer
    assert a.generation_id == b.generation_id == 2
    assert group(h).state is ClassicGroupState.COMPLETING_REBALANCE


def test_members_that_do_not_rejoin_within_the_rebalance_timeout_are_removed() -> None:
    h = ShardHarness()
    stable = h.stable_group(G, 2)
    newcomer = h.join_two_step(G, rebalance_ms=20_000)
    keeps = stable[0]
    h.join(G, member_id=keeps.member_id, rebalance_ms=20_000)
    # The other old member never rejoins; its session is kept alive by heartbeats. The
    # rebalance timeout is the largest of the members' (60 s, the old members' value).
    for _ in range(7):
        h.advance(9000)
        h.heartbeat(G, stable[1].member_id, 1)
    assert newcomer and newcomer[0].generation_id == 2
    assert stable[1].member_id not in group(h).members
    assert h.heartbeat(G, stable[1].member_id, 1) == ErrorCode.unknown_member_id


def test_leader_rejoin_in_stable_rebalances_but_an_unchanged_follower_does_not() -> None:
    h = ShardHarness()
    responses = h.stable_group(G, 2)
    follower = next(r for r in responses if r.member_id != r.leader)
    (same,) = h.join(G, member_id=follower.member_id)
    assert same.generation_id == 1 and same.error == ErrorCode.none
    assert group(h).state is ClassicGroupState.STABLE
    leader = next(r for r in responses if r.member_id == r.leader)
    assert h.join(G, member_id=leader.member_id) == []
    assert group(h).state is ClassicGroupState.PREPARING_REBALANCE
