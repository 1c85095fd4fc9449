"""Consumer groups side by side: coordinator lookup, classic membership, offsets and the group admin APIs.

Raw requests (`differential.group_wire`) at the versions the Java client uses, so every error
code, state name and field a client sees is compared; member ids, which brokers make up, are
replaced by stable names (`MemberIds`). Both brokers run with ``group.initial.rebalance.delay.ms=0``
(the reference settings), so a JoinGroup of the only member is answered at once.
"""

from __future__ import annotations

from typing import Any

import pytest
from differential import admin
from differential import group_wire as gw
from differential.framework import Observation, Scenario, Target, plain, run_scenario, scenario
from differential.group_wire import Member, MemberIds
from kio.schema.find_coordinator.v3.request import FindCoordinatorRequest as FindCoordinatorRequestV3
from kio.static.primitive import i8

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

MEMBER_ID_REQUIRED = 79


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


def _by_partition(response: Any) -> Observation:
    """A response with per-topic partition results, partitions sorted: Kafka lists the ones it refused
    before the coordinator's results, Brook in request order; clients key them by partition."""
    data = plain(response)
    for topic in data["topics"]:
        topic["partitions"].sort(key=lambda p: p["partition_index"])
    return data


def _port(t: Target, port: int) -> str:
    return "<port>" if str(port) == t.bootstrap.rsplit(":", 1)[1] else str(port)


def _join(response: Any, ids: MemberIds) -> Observation:
    return {
        "error_code": plain(response.error_code),
        "generation_id": int(response.generation_id),
        "protocol_type": response.protocol_type,
        "protocol_name": response.protocol_name,
        "leader": ids(response.leader),
        "skip_assignment": response.skip_assignment,
        "member_id": ids(response.member_id),
        # Kafka lists members in hash order; clients (the leader's assignor) do not care.
        "members": sorted(
            (ids(m.member_id), m.group_instance_id, plain(m.metadata)) for m in response.members
        ),
    }


def _described(groups: Any, ids: MemberIds) -> Observation:
    # Kafka answers groups in its own order (by coordinator shard); clients key them by group id.
    return sorted(
        (
            {
                **plain(g),
                "members": [
                    {**plain(m), "member_id": ids(m.member_id)}
                    for m in sorted(g.members, key=lambda m: ids(m.member_id) or "")
                ],
            }
            for g in groups
        ),
        key=lambda g: g["group_id"],
    )


def _offsets(response: Any) -> Observation:
    return [
        {
            "group_id": g.group_id,
            "error_code": plain(g.error_code),
            "topics": sorted(
                [t.name, sorted(([plain(p) for p in t.partitions]), key=lambda p: p["partition_index"])]
                for t in g.topics
            ),
        }
        for g in response.groups
    ]


@scenario
def find_coordinator(t: Target) -> Observation:
    """FindCoordinator v4: two group keys at once (this broker, its address), an unknown key type; v3's
    single-key shape."""
    group = t.topic("g")
    gw.ready(t, group)
    found = gw.find_coordinator(t, [group, t.topic("other")]).coordinators
    unknown_type = gw.find_coordinator(t, [group], key_type=7).coordinators
    old = t.call(FindCoordinatorRequestV3(key=group, key_type=i8(0)))
    return {
        "v3": {**plain(old), "node_id": t.node(int(old.node_id)), "port": _port(t, int(old.port))},
        "groups": [
            {**plain(c), "node_id": t.node(int(c.node_id)), "port": _port(t, int(c.port))} for c in found
        ],
        "unknown_key_type": [{**plain(c), "port": _port(t, int(c.port))} for c in unknown_type],
    }


@scenario
def join_two_step(t: Target) -> Observation:
    """JoinGroup v9 without a member id: MEMBER_ID_REQUIRED with an id to use, then the real join makes the
    member leader of generation 1; SyncGroup hands it its assignment; Heartbeat and LeaveGroup succeed."""
    group, topic = t.topic("g"), t.topic("t")
    gw.ready(t, group)
    ids = MemberIds()
    with Member(t, group, topics=[topic]) as member:
        first = member.wire.request(gw.join_request(group, protocols=member.protocols()))
        member.member_id = first.member_id
        member.start_join()  # with the id it was given
        second = member.finish_join()
        synced = member.sync([(member.member_id, gw.assignment(topic, [0]))])
        beat = gw.heartbeat(t, group, member.generation, member.member_id)
        described = gw.describe(t, [group])
        left = gw.leave(t, group, [member.member_id])
        member.member_id = ""  # gone already: no second LeaveGroup on close
    return {
        "first": _join(first, ids),
        "second": _join(second, ids),
        "sync": plain(synced),
        "heartbeat": plain(beat),
        "described": _described(described, ids),
        "leave": {
            **plain(left),
            "members": [{**plain(m), "member_id": ids(m.member_id)} for m in left.members],
        },
        "after_leave": _described(gw.describe(t, [group]), ids),
    }


@scenario
def membership_errors(t: Target) -> Observation:
    """Join/Sync/Heartbeat/Leave refused: unknown member or group, illegal generation, inconsistent protocol
    type or names, session timeouts outside the broker's bounds, SyncGroup v5 without protocol fields."""
    group, topic = t.topic("g"), t.topic("t")
    gw.ready(t, group)
    seen: dict[str, Any] = {}
    with Member(t, group, topics=[topic]) as member:
        member.join_and_sync()
        gen, me = member.generation, member.member_id
        seen["heartbeat_unknown_member"] = gw.heartbeat(t, group, gen, "nobody")
        seen["heartbeat_wrong_generation"] = gw.heartbeat(t, group, gen + 1, me)
        seen["heartbeat_unknown_group"] = gw.heartbeat(t, t.topic("nogroup"), 1, "nobody")
        seen["sync_wrong_generation"] = t.call(gw.sync_request(group, gen + 4, me))
        seen["sync_unknown_member"] = t.call(gw.sync_request(group, gen, "nobody"))
        sync_without_protocol = gw.sync_request(group, gen, me)
        seen["sync_v5_without_protocol"] = t.call(
            type(sync_without_protocol)(
                group_id=sync_without_protocol.group_id,
                generation_id=sync_without_protocol.generation_id,
                member_id=me,
                assignments=(),
            )
        )
        protocols = member.protocols()
        seen["join_other_protocol_type"] = t.call(
            gw.join_request(group, protocols=protocols, protocol_type="connect")
        )
        seen["join_no_common_protocol"] = t.call(
            gw.join_request(group, protocols=[("roundrobin", gw.subscription(topic))])
        )
        seen["join_unknown_member_id"] = t.call(gw.join_request(group, "nobody", protocols=protocols))
        seen["join_session_too_short"] = t.call(gw.join_request(group, protocols=protocols, session_ms=1))
        seen["join_session_too_long"] = t.call(
            gw.join_request(t.topic("g2"), protocols=protocols, session_ms=1_800_001)
        )
        seen["leave_unknown_member"] = gw.leave(t, group, ["nobody"])
        seen["leave_unknown_group"] = gw.leave(t, t.topic("nogroup"), ["nobody"])
        seen["still_stable"] = [(g.group_state, len(g.members)) for g in gw.describe(t, [group])]
    ids = MemberIds()
    out: dict[str, Any] = {}
    for label, response in seen.items():
        if hasattr(response, "error_code") and hasattr(response, "generation_id"):
            out[label] = _join(response, ids)
        elif label.startswith("leave"):
            out[label] = {
                **plain(response),
                "members": [{**plain(m), "member_id": ids(m.member_id)} for m in response.members],
            }
        else:
            out[label] = plain(response)
    return out


@scenario
def rebalance_in_progress(t: Target) -> Observation:
    """A second member's JoinGroup starts a rebalance: the first member's Heartbeat, SyncGroup and
    OffsetCommit get REBALANCE_IN_PROGRESS until it joins again; then both are in generation 2."""
    group, topic = t.topic("g"), t.topic("t")
    admin.create_topic(t, topic, partitions=2)
    gw.ready(t, group)
    ids = MemberIds()
    with Member(t, group, topics=[topic]) as first, Member(t, group, topics=[topic]) as second:
        first.join_and_sync([0, 1])
        second.start_join()  # waits for the first member to join again
        ids(first.member_id), ids(second.member_id)  # name them in a fixed order
        observed = {
            "heartbeat": plain(gw.heartbeat(t, group, first.generation, first.member_id)),
            "sync": plain(first.sync()),
            "commit": plain(
                gw.commit(t, group, topic, {0: 1}, generation=first.generation, member_id=first.member_id)
            ),
            "state": [g.group_state for g in gw.describe(t, [group])],
        }
        rejoined = first.join()
        joined = second.finish_join()
        observed["rejoined"] = _join(rejoined, ids)
        observed["joined"] = _join(joined, ids)
        observed["state_after"] = [(g.group_state, g.protocol_data) for g in gw.describe(t, [group])]
    return observed


@scenario
def offset_commit_and_fetch(t: Target) -> Observation:
    """OffsetCommit v9 for a group without members (metadata string, null metadata, unknown partition and
    topic, oversized metadata); OffsetFetch v9 of named partitions, of all, with require_stable, and for
    a group that does not exist; a member's commits with a wrong generation or an unknown member id."""
    group, topic = t.topic("g"), t.topic("t")
    admin.create_topic(t, topic, partitions=3)
    gw.ready(t, group)
    seen: dict[str, Any] = {
        "commit": _by_partition(gw.commit(t, group, topic, {0: 5, 1: 7, 9: 1}, metadata="meta-0")),
        "commit_null_metadata": plain(gw.commit(t, group, topic, {2: 3}, metadata=None)),
        "commit_unknown_topic": plain(gw.commit(t, group, t.topic("missing"), {0: 1})),
        "commit_metadata_too_large": plain(gw.commit(t, group, topic, {0: 6}, metadata="x" * 4097)),
        "fetch_named": _offsets(gw.fetch_offsets(t, group, {topic: [0, 1, 2, 5], t.topic("missing"): [0]})),
        "fetch_all": _offsets(gw.fetch_offsets(t, group, None)),
        "fetch_stable": _offsets(gw.fetch_offsets(t, group, None, require_stable=True)),
        "fetch_unknown_group": _offsets(gw.fetch_offsets(t, t.topic("nogroup"), {topic: [0]})),
    }
    active = t.topic("active")
    with Member(t, active, topics=[topic]) as member:
        member.join_and_sync()
        gen, me = member.generation, member.member_id
        seen["member_commit"] = plain(gw.commit(t, active, topic, {0: 2}, generation=gen, member_id=me))
        seen["member_commit_wrong_generation"] = plain(
            gw.commit(t, active, topic, {0: 3}, generation=gen + 1, member_id=me)
        )
        seen["member_commit_unknown_member"] = plain(
            gw.commit(t, active, topic, {0: 3}, generation=gen, member_id="nobody")
        )
        seen["commit_without_member_to_active_group"] = plain(gw.commit(t, active, topic, {0: 4}))
        seen["active_offsets"] = _offsets(gw.fetch_offsets(t, active, None))
    return seen


def _listed(t: Target, **filters: Any) -> Observation:
    response = gw.list_groups(t, **filters)
    mine = [g for g in response.groups if g.group_id.startswith(t.topic(""))]
    return {
        "error_code": plain(response.error_code),
        "groups": sorted((plain(g) for g in mine), key=lambda g: g["group_id"]),
    }


@scenario
def describe_and_list_groups(t: Target) -> Observation:
    """DescribeGroups v5 and v6 (with authorized operations) of a Stable group, an Empty one and an unknown
    one; ListGroups v5 with state and type filters."""
    stable, empty, topic = t.topic("stable"), t.topic("empty"), t.topic("t")
    admin.create_topic(t, topic)
    gw.ready(t, stable)
    gw.ready(t, empty)
    gw.commit(t, empty, topic, {0: 1})
    ids = MemberIds()
    with Member(t, stable, topics=[topic]) as member:
        member.join_and_sync()
        groups = [stable, empty, t.topic("unknown")]
        return {
            "v5": _described(gw.describe(t, groups, version=5), ids),
            "v6": _described(gw.describe(t, groups, operations=True), ids),
            "all": _listed(t),
            "stable": _listed(t, states=["Stable"]),
            "empty_lower_case": _listed(t, states=["empty"]),
            "classic": _listed(t, types=["classic"]),
            "consumer_type": _listed(t, types=["consumer"]),
        }


@scenario
def delete_groups(t: Target) -> Observation:
    """DeleteGroups: a group with a member is NON_EMPTY_GROUP, an empty one is deleted (offsets too), an
    unknown one GROUP_ID_NOT_FOUND; a name given twice is answered once."""
    busy, idle, topic = t.topic("busy"), t.topic("idle"), t.topic("t")
    admin.create_topic(t, topic)
    gw.ready(t, busy)
    gw.ready(t, idle)
    gw.commit(t, idle, topic, {0: 1})
    with Member(t, busy, topics=[topic]) as member:
        member.join_and_sync()
        results = gw.delete_groups(t, [busy, idle, t.topic("unknown"), idle])
        return {
            "results": sorted((r.group_id, plain(r.error_code)) for r in results),
            "idle_offsets": _offsets(gw.fetch_offsets(t, idle, None)),
            "idle_described": [
                (g.group_state, plain(g.error_code)) for g in gw.describe(t, [idle], version=5)
            ],
            "busy_state": [g.group_state for g in gw.describe(t, [busy])],
        }


@scenario
def offset_delete(t: Target) -> Observation:
    """OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC for a topic the members consume, allowed for another topic
    and for an empty group, UNKNOWN_TOPIC_OR_PARTITION for a missing partition, GROUP_ID_NOT_FOUND."""
    active, idle = t.topic("active"), t.topic("idle")
    subscribed, other = t.topic("sub"), t.topic("other")
    admin.create_topic(t, subscribed)
    admin.create_topic(t, other, partitions=2)
    gw.ready(t, active)
    gw.ready(t, idle)
    gw.commit(t, idle, other, {0: 1, 1: 2})
    with Member(t, active, topics=[subscribed]) as member:
        member.join_and_sync()
        for topic in (subscribed, other):
            gw.commit(t, active, topic, {0: 3}, generation=member.generation, member_id=member.member_id)
        seen = {
            "subscribed": plain(gw.delete_offsets(t, active, subscribed, [0])),
            "not_subscribed": plain(gw.delete_offsets(t, active, other, [0])),
            "active_left": _offsets(gw.fetch_offsets(t, active, None)),
        }
    seen["empty_group"] = _by_partition(gw.delete_offsets(t, idle, other, [1, 7]))
    seen["idle_left"] = _offsets(gw.fetch_offsets(t, idle, None))
    seen["unknown_group"] = plain(gw.delete_offsets(t, t.topic("unknown"), other, [0]))
    return seen
