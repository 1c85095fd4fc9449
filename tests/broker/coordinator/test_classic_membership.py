"""Classic groups after the join: heartbeats, session expiry, leaving, static members, sync errors."""

from __future__ import annotations

from dataclasses import replace

from coordinator_testkit import ShardHarness, subscription

from brook_broker.coordinator.group.classic.group import ClassicGroup, ClassicGroupState
from brook_broker.coordinator.group.messages import LeavingMember
from brook_broker.protocol.errors import ErrorCode

G = "group"


def group(h: ShardHarness) -> ClassicGroup:
    found = h.shard.groups.get(G)
    assert isinstance(found, ClassicGroup)
    return found


def test_heartbeat_errors() -> None:
    h = ShardHarness()
    (member,) = h.stable_group(G, 1)
    assert h.heartbeat(G, member.member_id, 1) == ErrorCode.none
    assert h.heartbeat(G, member.member_id, 0) == ErrorCode.illegal_generation
    assert h.heartbeat(G, "stranger", 1) == ErrorCode.unknown_member_id
    assert h.heartbeat("no-such-group", member.member_id, 1) == ErrorCode.unknown_member_id
    assert h.heartbeat("", member.member_id, 1) == ErrorCode.invalid_group_id


def test_a_member_whose_session_expires_is_removed_and_the_group_rebalances() -> None:
    h = ShardHarness()
    a, b = h.stable_group(G, 2)
    for _ in range(3):  # a heartbeats, b has crashed
        h.advance(4000)
        assert h.heartbeat(G, a.member_id, 1) in (ErrorCode.none, ErrorCode.rebalance_in_progress)
    assert b.member_id not in group(h).members
    assert group(h).state is ClassicGroupState.PREPARING_REBALANCE
    assert h.heartbeat(G, a.member_id, 1) == ErrorCode.rebalance_in_progress
    (rejoined,) = h.join(G, member_id=a.member_id)
    assert rejoined.generation_id == 2 and [m.member_id for m in rejoined.members] == [a.member_id]


def test_the_last_member_leaving_empties_the_group_and_writes_it() -> None:
    h = ShardHarness()
    (member,) = h.stable_group(G, 1)
    response = h.run(h.shard.classic.leave_group(G, (LeavingMember(member.member_id),)))
    assert response.error == ErrorCode.none
    assert [(m.member_id, m.error) for m in response.members] == [(member.member_id, ErrorCode.none)]
    assert group(h).state is ClassicGroupState.EMPTY
    assert group(h).generation_id == 2
    value = h.log[-1][1].value
    assert value is not None and value.members == () and value.generation == 2  # type: ignore[union-attr]


def test_batch_leave_reports_each_member() -> None:
    h = ShardHarness()
    a, b = h.stable_group(G, 2)
    response = h.run(
        h.shard.classic.leave_group(
            G, (LeavingMember(a.member_id), LeavingMember("stranger"), LeavingMember(b.member_id))
        )
    )
    assert [m.error for m in response.members] == [
        ErrorCode.none,
        ErrorCode.unknown_member_id,
        ErrorCode.none,
    ]
    assert group(h).state is ClassicGroupState.EMPTY


def test_leave_of_an_unknown_group_is_per_member_unknown_member_id() -> None:
    response = ShardHarness().run(ShardHarness().shard.classic.leave_group(G, (LeavingMember("m"),)))
    assert response.error == ErrorCode.none
    assert [m.error for m in response.members] == [ErrorCode.unknown_member_id]


def test_sync_errors() -> None:
    h = ShardHarness()
    a, _ = h.stable_group(G, 2)
    assert h.sync(G, a, generation=7)[0].error == ErrorCode.illegal_generation
    assert h.sync("other", a)[0].error == ErrorCode.unknown_member_id
    h.join_two_step(G)  # a newcomer: PreparingRebalance
    assert h.sync(G, a)[0].error == ErrorCode.rebalance_in_progress


def test_sync_with_another_protocol_name_is_inconsistent() -> None:
    h = ShardHarness()
    (a,) = h.stable_group(G, 1)
    assert h.sync(G, replace(a, protocol_name="roundrobin"))[0].error == ErrorCode.inconsistent_group_protocol


def test_a_follower_whose_leader_never_syncs_is_told_to_rejoin() -> None:
    h = ShardHarness()
    parked = [h.join_two_step(G) for _ in range(2)]
    h.advance(6000)
    follower = next(p[0] for p in parked if p[0].member_id != p[0].leader)
    leader = next(p[0] for p in parked if p[0].member_id == p[0].leader)
    waiting = h.sync(G, follower)
    for _ in range(12):  # the leader heartbeats but never syncs, for the 60 s rebalance timeout
        h.advance(5000)
        h.heartbeat(G, leader.member_id, 1)
    assert [w.error for w in waiting] == [ErrorCode.rebalance_in_progress]
    assert leader.member_id not in group(h).members
    assert group(h).state is ClassicGroupState.PREPARING_REBALANCE


# --- static membership (KIP-345) --------------------------------------------------------------


def static_group(h: ShardHarness, protocols: tuple[tuple[str, bytes], ...] | None = None) -> dict[str, str]:
    """Two static members, Stable; returns instance id -> member id."""
    protocols = protocols or (("range", subscription("t")),)
    parked = {iid: h.join(G, instance_id=iid, protocols=protocols) for iid in ("i-1", "i-2")}
    h.advance(6000)
    responses = {iid: p[0] for iid, p in parked.items()}
    leader = next(r for r in responses.values() if r.member_id == r.leader)
    for iid, r in responses.items():
        if r is not leader:
            h.sync(G, r, instance_id=iid)
    leader_iid = next(iid for iid, r in responses.items() if r is leader)
    h.sync(
        G,
        leader,
        instance_id=leader_iid,
        assignments={r.member_id: iid.encode() for iid, r in responses.items()},
    )
    assert group(h).state is ClassicGroupState.STABLE
    return {iid: r.member_id for iid, r in responses.items()}


def test_static_members_join_in_one_step_even_at_v4_plus() -> None:
    h = ShardHarness()
    members = static_group(h)
    assert set(group(h).static_members) == {"i-1", "i-2"}
    assert set(members.values()) == set(group(h).members)


def test_a_restarted_static_member_gets_its_assignment_back_without_a_rebalance() -> None:
    h = ShardHarness()
    members = static_group(h)
    follower_iid = next(iid for iid, mid in members.items() if not group(h).is_leader(mid))
    (rejoined,) = h.join(G, instance_id=follower_iid, version=5)
    assert rejoined.error == ErrorCode.none
    assert rejoined.generation_id == 1, "no new generation"
    assert rejoined.member_id != members[follower_iid]
    assert group(h).state is ClassicGroupState.STABLE
    (synced,) = h.sync(G, rejoined, instance_id=follower_iid)
    assert synced.assignment == follower_iid.encode()
    # The old instance is fenced.
    assert h.heartbeat(G, members[follower_iid], 1, instance_id=follower_iid) == ErrorCode.fenced_instance_id


def test_a_restarted_static_leader_at_v9_is_told_to_skip_the_assignment() -> None:
    h = ShardHarness()
    members = static_group(h)
    leader_iid = next(iid for iid, mid in members.items() if group(h).is_leader(mid))
    (rejoined,) = h.join(G, instance_id=leader_iid, version=9)
    assert rejoined.leader == rejoined.member_id and rejoined.skip_assignment
    assert len(rejoined.members) == 2
    (old,) = h.join(G, instance_id=leader_iid, version=5)
    assert old.leader == rejoined.member_id != old.member_id, "pre-v9: named a follower of the old leader"


def test_a_static_member_rejoining_with_a_new_subscription_keeps_the_protocol_and_does_not_rebalance() -> (
    None
):
    # Kafka's rule: only a change of the selected protocol rebalances a Stable group here.
    h = ShardHarness()
    members = static_group(h)
    iid = next(iter(members))
    (response,) = h.join(G, instance_id=iid, protocols=(("range", subscription("t", "u")),))
    assert response.generation_id == 1
    assert group(h).state is ClassicGroupState.STABLE


def test_a_static_member_rejoin_that_changes_the_selected_protocol_rebalances() -> None:
    sub = subscription("t")
    h = ShardHarness()
    members = static_group(h, (("range", sub), ("roundrobin", sub)))
    assert group(h).protocol_name == "range"
    parked = h.join(G, instance_id=next(iter(members)), protocols=(("roundrobin", sub),))
    assert parked == []
    assert group(h).state is ClassicGroupState.PREPARING_REBALANCE


def test_a_static_member_is_not_removed_for_missing_a_rebalance_but_expires_with_its_session() -> None:
    h = ShardHarness()
    members = static_group(h)
    iid_a, iid_b = members
    h.join(G, member_id=members[iid_a], instance_id=iid_a)  # a known member rejoins: rebalance
    assert group(h).state is ClassicGroupState.PREPARING_REBALANCE
    h.advance(9_000)
    assert members[iid_b] in group(h).members, "not rejoining yet is no reason to drop a static member"
    h.advance(2_000)
    assert members[iid_b] not in group(h).members, "its 10 s session expired"
    assert group(h).state is ClassicGroupState.COMPLETING_REBALANCE


def test_admin_removes_a_static_member_by_instance_id() -> None:
    h = ShardHarness()
    members = static_group(h)
    response = h.run(h.shard.classic.leave_group(G, (LeavingMember("", "i-1"), LeavingMember("", "i-9"))))
    assert [m.error for m in response.members] == [ErrorCode.none, ErrorCode.unknown_member_id]
    assert members["i-1"] not in group(h).members


def test_a_failed_write_of_the_static_rejoin_restores_the_old_member() -> None:
    h = ShardHarness()
    members = static_group(h)
    h.fail_writes = ErrorCode.request_timed_out
    (response,) = h.join(G, instance_id="i-1")
    assert response.error == ErrorCode.coordinator_not_available
    assert group(h).static_members["i-1"] == members["i-1"]
