"""Group and offset APIs byte by byte: the version differences and error codes clients rely on.

Client libraries retry or hide most of these answers, so they are checked here with raw
requests (`harness.kafka_wire`, kio's classes): FindCoordinator's shapes before and after v4
and its refusal while ``__consumer_offsets`` cannot be created, a whole classic membership at
v0, the v5/v6 split of DescribeGroups, filters of ListGroups, OffsetCommit/OffsetFetch/
OffsetDelete/DeleteGroups errors, and that clients cannot write to ``__consumer_offsets``.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from kio.schema.delete_groups.v2.request import DeleteGroupsRequest
from kio.schema.delete_topics.v4.request import DeleteTopicsRequest
from kio.schema.describe_groups.v5.request import DescribeGroupsRequest as DescribeGroupsRequestV5
from kio.schema.describe_groups.v6.request import DescribeGroupsRequest
from kio.schema.find_coordinator.v1.request import FindCoordinatorRequest as FindCoordinatorRequestV1
from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
from kio.schema.heartbeat.v0.request import HeartbeatRequest
from kio.schema.join_group.v0.request import JoinGroupRequest, JoinGroupRequestProtocol
from kio.schema.leave_group.v0.request import LeaveGroupRequest
from kio.schema.list_groups.v5.request import ListGroupsRequest
from kio.schema.offset_commit.v2.request import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kio.schema.offset_delete.v0.request import (
    OffsetDeleteRequest,
    OffsetDeleteRequestPartition,
    OffsetDeleteRequestTopic,
)
from kio.schema.offset_fetch.v1.request import OffsetFetchRequest as OffsetFetchRequestV1
from kio.schema.offset_fetch.v1.request import OffsetFetchRequestTopic
from kio.schema.offset_fetch.v8.request import OffsetFetchRequest, OffsetFetchRequestGroup
from kio.schema.sync_group.v0.request import SyncGroupRequest as SyncGroupRequestV0
from kio.schema.sync_group.v0.request import SyncGroupRequestAssignment as SyncAssignmentV0
from kio.schema.sync_group.v5.request import SyncGroupRequest
from kio.schema.types import GroupId, TopicName
from kio.static.primitive import i8, i32, i64, i64Timedelta

from harness.brook import BrookProcess, start_brook
from harness.kafka_clients import create_topic, wait_until
from harness.kafka_wire import KafkaWire, metadata_request, ms, new_batch, produce_request, subscription

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
COORDINATOR_NOT_AVAILABLE = 15
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
INVALID_TOPIC_EXCEPTION = 17
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
GROUP_SUBSCRIBED_TO_TOPIC = 86


def _commit(
    group: str, topic: str, offsets: dict[int, int], *, metadata: str = "", generation: int = -1
) -> OffsetCommitRequest:
    return OffsetCommitRequest(
        group_id=GroupId(group),
        generation_id_or_member_epoch=i32(generation),
        member_id="",
        retention_time=i64Timedelta.parse(datetime.timedelta(milliseconds=-1)),
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


def _fetch_all(wire: KafkaWire, group: str) -> dict[tuple[str, int], int]:
    response = wire.request(
        OffsetFetchRequest(groups=(OffsetFetchRequestGroup(group_id=GroupId(group), topics=None),))
    )
    (fetched,) = response.groups
    assert fetched.error_code == NONE
    return {(t.name, p.partition_index): p.committed_offset for t in fetched.topics for p in t.partitions}


def test_find_coordinator_is_unavailable_while_the_offsets_topic_cannot_be_replicated(tmp_path: Path) -> None:
    # Kafka's default offsets.topic.replication.factor (3) on a single broker.
    brook = start_brook(tmp_path / "brook", offsets_topic_replication_factor="3")
    with brook, KafkaWire.connect(brook.bootstrap) as wire:
        old = wire.request(FindCoordinatorRequestV1(key="g", key_type=i8(0)))
        assert (old.error_code, old.node_id, old.host, old.port) == (
            COORDINATOR_NOT_AVAILABLE,
            -1,
            "",
            -1,
        )
        new = wire.request(FindCoordinatorRequest(key_type=i8(0), coordinator_keys=("g", "h")))
        assert [c.error_code for c in new.coordinators] == [COORDINATOR_NOT_AVAILABLE] * 2
        topics = wire.request(metadata_request("__consumer_offsets")).topics
        assert topics[0].error_code == UNKNOWN_TOPIC_OR_PARTITION, "not created"


def test_find_coordinator_creates_the_internal_offsets_topic(shared_brook: BrookProcess) -> None:
    host, port = shared_brook.bootstrap.rsplit(":", 1)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        old = wire.request(FindCoordinatorRequestV1(key="wire-group", key_type=i8(0)))
        assert (old.error_code, old.node_id, old.host, old.port) == (NONE, 1, host, int(port))
        new = wire.request(FindCoordinatorRequest(key_type=i8(0), coordinator_keys=("a", "b")))
        assert [(c.key, c.error_code, c.node_id) for c in new.coordinators] == [
            ("a", NONE, 1),
            ("b", NONE, 1),
        ]
        transactions = wire.request(FindCoordinatorRequest(key_type=i8(1), coordinator_keys=("tx",)))
        assert transactions.coordinators[0].error_code == COORDINATOR_NOT_AVAILABLE, (
            "no transaction coordinator"
        )
        (topic,) = wire.request(metadata_request("__consumer_offsets")).topics
        assert topic.error_code == NONE and topic.is_internal and len(topic.partitions) == 50


def test_a_whole_classic_membership_at_version_0(shared_brook: BrookProcess, unique_topic: str) -> None:
    group = f"{unique_topic}-v0"
    with KafkaWire.connect(shared_brook.bootstrap, timeout_s=30) as wire:
        wire.request(FindCoordinatorRequestV1(key=group, key_type=i8(0)))
        joined = wire.request(
            JoinGroupRequest(
                group_id=GroupId(group),
                session_timeout=ms(10_000),  # v0: also the rebalance timeout
                member_id="",
                protocol_type="consumer",
                protocols=(JoinGroupRequestProtocol(name="range", metadata=subscription(unique_topic)),),
            )
        )
        assert joined.error_code == NONE, "v0 joins in one step (no MEMBER_ID_REQUIRED)"
        assert (
            joined.generation_id == 1
            and joined.protocol_name == "range"
            and joined.leader == joined.member_id
        )
        assert [m.metadata for m in joined.members] == [subscription(unique_topic)]
        synced = wire.request(
            SyncGroupRequestV0(
                group_id=GroupId(group),
                generation_id=i32(1),
                member_id=joined.member_id,
                assignments=(SyncAssignmentV0(member_id=joined.member_id, assignment=b"mine"),),
            )
        )
        assert (synced.error_code, synced.assignment) == (NONE, b"mine")
        beat = wire.request(
            HeartbeatRequest(group_id=GroupId(group), generation_id=i32(1), member_id=joined.member_id)
        )
        assert beat.error_code == NONE
        (described,) = wire.request(
            DescribeGroupsRequestV5(groups=(GroupId(group),), include_authorized_operations=False)
        ).groups
        assert (described.group_state, described.protocol_data) == ("Stable", "range")
        assert [
            (m.member_id, m.client_id, m.client_host, m.member_assignment) for m in described.members
        ] == [(joined.member_id, "brook-integration", "/127.0.0.1", b"mine")]
        left = wire.request(LeaveGroupRequest(group_id=GroupId(group), member_id=joined.member_id))
        assert left.error_code == NONE
        again = wire.request(LeaveGroupRequest(group_id=GroupId(group), member_id=joined.member_id))
        assert again.error_code == UNKNOWN_MEMBER_ID
        (described,) = wire.request(
            DescribeGroupsRequestV5(groups=(GroupId(group),), include_authorized_operations=False)
        ).groups
        assert (described.group_state, described.members) == ("Empty", ())


def test_sync_group_v5_requires_protocol_type_and_name(shared_brook: BrookProcess) -> None:
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        response = wire.request(
            SyncGroupRequest(
                group_id=GroupId("any"),
                generation_id=i32(1),
                member_id="m",
                group_instance_id=None,
                assignments=(),
            )
        )
        assert response.error_code == INCONSISTENT_GROUP_PROTOCOL


def test_describe_groups_v6_reports_an_unknown_group_as_not_found(shared_brook: BrookProcess) -> None:
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        wire.request(FindCoordinatorRequestV1(key="no-such-group", key_type=i8(0)))
        (v5,) = wire.request(
            DescribeGroupsRequestV5(groups=(GroupId("no-such-group"),), include_authorized_operations=False)
        ).groups
        assert (v5.error_code, v5.group_state) == (NONE, "Dead")
        (v6,) = wire.request(
            DescribeGroupsRequest(groups=(GroupId("no-such-group"),), include_authorized_operations=True)
        ).groups
        assert (v6.error_code, v6.error_message) == (GROUP_ID_NOT_FOUND, "Group no-such-group not found.")


def test_offsets_commit_fetch_delete_and_delete_groups(shared_brook: BrookProcess, unique_topic: str) -> None:
    create_topic(shared_brook.bootstrap, unique_topic, partitions=2)
    group = f"{unique_topic}-simple"
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        wire.request(FindCoordinatorRequestV1(key=group, key_type=i8(0)))
        committed = wire.request(_commit(group, unique_topic, {0: 5, 1: 7, 9: 1}, metadata="m"))
        assert [(p.partition_index, p.error_code) for p in committed.topics[0].partitions] == [
            (0, NONE), (1, NONE), (9, UNKNOWN_TOPIC_OR_PARTITION)
        ]  # fmt: skip
        unknown = wire.request(_commit(group, "no-such-topic", {0: 1}))
        assert unknown.topics[0].partitions[0].error_code == UNKNOWN_TOPIC_OR_PARTITION
        too_large = wire.request(_commit(group, unique_topic, {0: 6}, metadata="x" * 4097))
        assert too_large.topics[0].partitions[0].error_code == OFFSET_METADATA_TOO_LARGE
        assert _fetch_all(wire, group) == {(unique_topic, 0): 5, (unique_topic, 1): 7}

        v1 = wire.request(
            OffsetFetchRequestV1(
                group_id=GroupId(group),
                topics=(
                    OffsetFetchRequestTopic(name=TopicName(unique_topic), partition_indexes=(i32(1), i32(2))),
                ),
            )
        )
        assert [(p.partition_index, p.committed_offset, p.metadata) for p in v1.topics[0].partitions] == [
            (1, 7, "m"), (2, -1, "")
        ]  # fmt: skip

        (listed,) = [
            g
            for g in wire.request(
                ListGroupsRequest(states_filter=("empty",), types_filter=("classic",))
            ).groups
            if g.group_id == group
        ]
        assert (listed.protocol_type, listed.group_state, listed.group_type) == ("", "Empty", "classic")
        assert group not in {
            g.group_id for g in wire.request(ListGroupsRequest(states_filter=("Stable",))).groups
        }

        deleted = wire.request(
            OffsetDeleteRequest(
                group_id=GroupId(group),
                topics=(
                    OffsetDeleteRequestTopic(
                        name=TopicName(unique_topic),
                        partitions=(OffsetDeleteRequestPartition(partition_index=i32(0)),),
                    ),
                ),
            )
        )
        assert (deleted.error_code, deleted.topics[0].partitions[0].error_code) == (NONE, NONE)
        assert _fetch_all(wire, group) == {(unique_topic, 1): 7}

        results = wire.request(
            DeleteGroupsRequest(groups_names=(GroupId(group), GroupId("never-existed")))
        ).results
        assert {r.group_id: r.error_code for r in results} == {
            group: NONE,
            "never-existed": GROUP_ID_NOT_FOUND,
        }
        assert _fetch_all(wire, group) == {}


def test_offsets_of_a_deleted_topic_are_removed(shared_brook: BrookProcess, unique_topic: str) -> None:
    create_topic(shared_brook.bootstrap, unique_topic)
    group = f"{unique_topic}-g"
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        wire.request(FindCoordinatorRequestV1(key=group, key_type=i8(0)))
        assert wire.request(_commit(group, unique_topic, {0: 3})).topics[0].partitions[0].error_code == NONE
        wire.request(DeleteTopicsRequest(topic_names=(TopicName(unique_topic),), timeout=ms(10_000)))
        wait_until(
            lambda: _fetch_all(wire, group) == {}, what="the deleted topic's offsets to go", timeout_s=60
        )


def test_clients_cannot_write_to_the_offsets_topic(shared_brook: BrookProcess) -> None:
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        wire.request(FindCoordinatorRequestV1(key="any", key_type=i8(0)))
        response = wire.request(produce_request("__consumer_offsets", new_batch([b"junk"]), partition=0))
        partition = response.responses[0].partition_responses[0]
        assert (partition.error_code, partition.log_start_offset) == (INVALID_TOPIC_EXCEPTION, -1)


def test_a_group_with_members_keeps_its_metadata_and_the_offsets_it_consumes(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    create_topic(shared_brook.bootstrap, unique_topic)
    group = f"{unique_topic}-busy"
    with KafkaWire.connect(shared_brook.bootstrap, timeout_s=30) as wire:
        wire.request(FindCoordinatorRequestV1(key=group, key_type=i8(0)))
        joined = wire.request(
            JoinGroupRequest(
                group_id=GroupId(group),
                session_timeout=ms(10_000),
                member_id="",
                protocol_type="consumer",
                protocols=(JoinGroupRequestProtocol(name="range", metadata=subscription(unique_topic)),),
            )
        )
        assert joined.error_code == NONE
        (result,) = wire.request(DeleteGroupsRequest(groups_names=(GroupId(group),))).results
        assert result.error_code == NON_EMPTY_GROUP
        partition = OffsetDeleteRequestPartition(partition_index=i32(0))
        subscribed = wire.request(
            OffsetDeleteRequest(
                group_id=GroupId(group),
                topics=(OffsetDeleteRequestTopic(name=TopicName(unique_topic), partitions=(partition,)),),
            )
        )
        assert (subscribed.error_code, subscribed.topics[0].partitions[0].error_code) == (
            NONE,
            GROUP_SUBSCRIBED_TO_TOPIC,
        )
