"""Group and offset requests for the differential group scenarios (tests/differential/test_groups.py).

Raw kio requests, like `differential.admin`, so what is compared is exactly what the broker
answers. Versions are the newest both Kafka 4.3 and Brook serve, which the Java client picks:
JoinGroup v9, SyncGroup v5, Heartbeat v4, LeaveGroup v5, OffsetCommit v9, OffsetFetch v9,
DescribeGroups v5/v6, ListGroups v5, DeleteGroups v2, OffsetDelete v0, FindCoordinator v4/v6.

`Member` plays one classic consumer-group member over its own connection (a member whose
JoinGroup waits for a rebalance must not block the others); `MemberIds` replaces the
broker-generated member ids with stable names, so observations compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from differential.framework import Target, wait_for
from kio.schema.delete_groups.v2.request import DeleteGroupsRequest
from kio.schema.describe_groups.v5.request import DescribeGroupsRequest as DescribeGroupsRequestV5
from kio.schema.describe_groups.v6.request import DescribeGroupsRequest
from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
from kio.schema.heartbeat.v4.request import HeartbeatRequest
from kio.schema.join_group.v9.request import JoinGroupRequest, JoinGroupRequestProtocol
from kio.schema.leave_group.v5.request import LeaveGroupRequest, MemberIdentity
from kio.schema.list_groups.v5.request import ListGroupsRequest
from kio.schema.offset_commit.v9.request import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kio.schema.offset_delete.v0.request import (
    OffsetDeleteRequest,
    OffsetDeleteRequestPartition,
    OffsetDeleteRequestTopic,
)
from kio.schema.offset_fetch.v9.request import (
    OffsetFetchRequest,
    OffsetFetchRequestGroup,
    OffsetFetchRequestTopics,
)
from kio.schema.sync_group.v5.request import SyncGroupRequest, SyncGroupRequestAssignment
from kio.schema.types import GroupId, TopicName
from kio.static.primitive import i8, i32, i64

from harness.kafka_wire import CLIENT_ID, KafkaWire, assignment, ms, subscription

GROUP_KEY = 0
SESSION_MS = 30_000
REBALANCE_MS = 30_000


class MemberIds:
    """Broker-made member ids as ``<m1>``, ``<m2>``... in order of first sight (or ``""``)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, member_id: str | None) -> str | None:
        if not member_id:
            return member_id
        if member_id not in self._names:
            # Both brokers make ids "<client id>-<uuid>"; only the uuid legitimately differs.
            prefix = "" if member_id.startswith(f"{CLIENT_ID}-") else "foreign:"
            self._names[member_id] = f"<{prefix}m{len(self._names) + 1}>"
        return self._names[member_id]


def find_coordinator(target: Target, keys: Sequence[str], *, key_type: int = GROUP_KEY) -> Any:
    return target.call(FindCoordinatorRequest(key_type=i8(key_type), coordinator_keys=tuple(keys)))


def ready(target: Target, group: str) -> None:
    """Wait until the group's coordinator answers (the offsets topic exists and is loaded)."""

    def probe() -> Any:
        [found] = find_coordinator(target, [group]).coordinators
        if int(found.error_code) != 0:
            return int(found.error_code)
        [fetched] = fetch_offsets(target, group, None).groups
        return int(fetched.error_code)

    assert wait_for(probe, lambda code: code == 0, timeout_s=30) == 0, f"{group} on {target.name}"


def join_request(
    group: str,
    member_id: str = "",
    *,
    protocols: Sequence[tuple[str, bytes]] = (),
    protocol_type: str = "consumer",
    session_ms: int = SESSION_MS,
    instance_id: str | None = None,
) -> JoinGroupRequest:
    return JoinGroupRequest(
        group_id=GroupId(group),
        session_timeout=ms(session_ms),
        rebalance_timeout=ms(REBALANCE_MS),
        member_id=member_id,
        group_instance_id=instance_id,
        protocol_type=protocol_type,
        protocols=tuple(JoinGroupRequestProtocol(name=n, metadata=m) for n, m in protocols),
        reason=None,
    )


def sync_request(
    group: str, generation: int, member_id: str, assignments: Sequence[tuple[str, bytes]] = ()
) -> SyncGroupRequest:
    return SyncGroupRequest(
        group_id=GroupId(group),
        generation_id=i32(generation),
        member_id=member_id,
        protocol_type="consumer",
        protocol_name="range",
        assignments=tuple(SyncGroupRequestAssignment(member_id=m, assignment=a) for m, a in assignments),
    )


def heartbeat(target: Target, group: str, generation: int, member_id: str) -> Any:
    request = HeartbeatRequest(group_id=GroupId(group), generation_id=i32(generation), member_id=member_id)
    return target.call(request)


def leave(target: Target, group: str, member_ids: Sequence[str]) -> Any:
    members = tuple(MemberIdentity(member_id=m, reason=None) for m in member_ids)
    return target.call(LeaveGroupRequest(group_id=GroupId(group), members=members))


def commit(
    target: Target,
    group: str,
    topic: str,
    offsets: dict[int, int],
    *,
    metadata: str | None = "",
    generation: int = -1,
    member_id: str = "",
) -> Any:
    request = OffsetCommitRequest(
        group_id=GroupId(group),
        generation_id_or_member_epoch=i32(generation),
        member_id=member_id,
        topics=(
            OffsetCommitRequestTopic(
                name=TopicName(topic),
                partitions=tuple(
                    OffsetCommitRequestPartition(
                        partition_index=i32(p), committed_offset=i64(o), committed_metadata=metadata
                    )
                    for p, o in offsets.items()
                ),
            ),
        ),
    )
    return target.call(request)


def fetch_offsets(
    target: Target,
    group: str,
    topics: dict[str, Sequence[int]] | None,
    *,
    require_stable: bool = False,
) -> Any:
    wanted = (
        None
        if topics is None
        else tuple(
            OffsetFetchRequestTopics(name=TopicName(t), partition_indexes=tuple(i32(p) for p in ps))
            for t, ps in topics.items()
        )
    )
    request = OffsetFetchRequest(
        groups=(OffsetFetchRequestGroup(group_id=GroupId(group), topics=wanted),),
        require_stable=require_stable,
    )
    return target.call(request)


def describe(target: Target, groups: Sequence[str], *, version: int = 6, operations: bool = False) -> Any:
    cls = DescribeGroupsRequest if version == 6 else DescribeGroupsRequestV5
    request = cls(groups=tuple(GroupId(g) for g in groups), include_authorized_operations=operations)
    return target.call(request).groups


def list_groups(target: Target, *, states: Sequence[str] = (), types: Sequence[str] = ()) -> Any:
    return target.call(ListGroupsRequest(states_filter=tuple(states), types_filter=tuple(types)))


def delete_groups(target: Target, groups: Sequence[str]) -> Any:
    return target.call(DeleteGroupsRequest(groups_names=tuple(GroupId(g) for g in groups))).results


def delete_offsets(target: Target, group: str, topic: str, partitions: Sequence[int]) -> Any:
    request = OffsetDeleteRequest(
        group_id=GroupId(group),
        topics=(
            OffsetDeleteRequestTopic(
                name=TopicName(topic),
                partitions=tuple(OffsetDeleteRequestPartition(partition_index=i32(p)) for p in partitions),
            ),
        ),
    )
    return target.call(request)


class Member:
    """One classic member on its own connection: join (two steps), sync, and what it was told."""

    def __init__(self, target: Target, group: str, *, topics: Sequence[str] = ()) -> None:
        self.target = target
        self.group = group
        self.topics = tuple(topics)
        self.wire = KafkaWire.connect(target.bootstrap, timeout_s=60)
        self.member_id = ""
        self.generation = -1
        self._pending: int | None = None

    def protocols(self) -> tuple[tuple[str, bytes], ...]:
        return (("range", subscription(*self.topics)),)

    def join(self) -> Any:
        """JoinGroup, repeated once with the id from MEMBER_ID_REQUIRED; the final answer."""
        self.start_join()
        return self.finish_join()

    def start_join(self) -> Any:
        """The MEMBER_ID_REQUIRED step, then send the real join without waiting for its answer."""
        if not self.member_id:
            first = self.wire.request(join_request(self.group, protocols=self.protocols()))
            assert int(first.error_code) == 79, first  # MEMBER_ID_REQUIRED
            self.member_id = first.member_id
        self._pending = self.wire.send(join_request(self.group, self.member_id, protocols=self.protocols()))
        return None

    def finish_join(self) -> Any:
        assert self._pending is not None
        response = self.wire.receive().body
        self._pending = None
        if int(response.error_code) == 0:
            self.generation = int(response.generation_id)
        return response

    def sync(self, assignments: Sequence[tuple[str, bytes]] = ()) -> Any:
        return self.wire.request(sync_request(self.group, self.generation, self.member_id, assignments))

    def join_and_sync(self, partitions: Sequence[int] = (0,)) -> Any:
        """Become the only member, owning ``partitions`` of the first topic."""
        self.join()
        owned = assignment(self.topics[0], partitions) if self.topics else b""
        return self.sync([(self.member_id, owned)])

    def close(self) -> None:
        if self.member_id:
            leave(self.target, self.group, [self.member_id])
        self.wire.close()

    def __enter__(self) -> Member:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
