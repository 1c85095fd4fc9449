"""The ``__consumer_offsets`` record format, and rebuilding a shard by replaying its records."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from coordinator_testkit import ShardHarness
from hypothesis import given
from hypothesis import strategies as st

from brook_broker.coordinator.group.classic.group import ClassicGroup, ClassicGroupState
from brook_broker.coordinator.group.common import java_string_hash, partition_for
from brook_broker.coordinator.group.messages import CommitPartition, OffsetCommitRequest, OffsetFetchRequest
from brook_broker.coordinator.group.records import (
    CoordinatorRecord,
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadata,
    OffsetCommitKey,
    OffsetCommitValue,
    UnknownKey,
    decode_key,
    decode_record,
    decode_value,
    encode_key,
    encode_value,
)
from brook_broker.coordinator.group.shard import GroupCoordinatorShard
from brook_broker.protocol.errors import CorruptRecordError


@pytest.mark.parametrize(
    ("text", "expected"),
    # Values printed by Java 17's String.hashCode.
    [
        ("", 0),
        ("hello", 99162322),
        ("test-group", 627841412),
        ("é€😀", 16752006),
        ("polygenelubricants", -(2**31)),
    ],
)
def test_java_string_hash(text: str, expected: int) -> None:
    assert java_string_hash(text) == expected


def test_partition_for_is_kafkas_abs_hash_modulo() -> None:
    assert partition_for("hello", 50) == 22
    assert partition_for("analytics", 50) == 10, "abs of a negative hash"
    assert partition_for("polygenelubricants", 50) == 0, "Utils.abs(MIN_VALUE) is 0"


def test_offset_commit_key_and_value_bytes() -> None:
    key = OffsetCommitKey("g", "t", 3)
    assert encode_key(key) == b"\x00\x01" + b"\x00\x01g" + b"\x00\x01t" + b"\x00\x00\x00\x03"
    value = OffsetCommitValue(offset=7, metadata="m", commit_timestamp=9, leader_epoch=2)
    assert encode_value(value) == (
        b"\x00\x03" + (7).to_bytes(8, "big") + (2).to_bytes(4, "big") + b"\x00\x01m" + (9).to_bytes(8, "big")
    )
    assert decode_record(encode_key(key), encode_value(value)) == CoordinatorRecord(key, value)


def test_a_commit_with_an_expire_timestamp_is_written_as_version_1() -> None:
    value = OffsetCommitValue(offset=7, metadata="", commit_timestamp=9, expire_timestamp=100)
    data = encode_value(value)
    assert data is not None and data[:2] == b"\x00\x01"
    assert decode_value(OffsetCommitKey("g", "t", 0), data) == dataclass_replace(value, leader_epoch=-1)


def dataclass_replace(value: OffsetCommitValue, **changes: int) -> OffsetCommitValue:
    return dataclasses.replace(value, **changes)


members = st.builds(
    MemberMetadata,
    member_id=st.text(max_size=20),
    client_id=st.text(max_size=20),
    client_host=st.text(max_size=20),
    session_timeout=st.integers(0, 2**31 - 1),
    subscription=st.binary(max_size=40),
    assignment=st.binary(max_size=40),
    rebalance_timeout=st.integers(0, 2**31 - 1),
    group_instance_id=st.none() | st.text(max_size=10),
)
group_values = st.builds(
    GroupMetadataValue,
    protocol_type=st.text(max_size=10),
    generation=st.integers(0, 2**31 - 1),
    protocol=st.none() | st.text(max_size=10),
    leader=st.none() | st.text(max_size=10),
    members=st.lists(members, max_size=4).map(tuple),
    current_state_timestamp=st.integers(-1, 2**62),
)


@given(group_values, st.sampled_from([3, 4]))
def test_group_metadata_round_trips_in_the_written_and_the_flexible_version(
    value: GroupMetadataValue, version: int
) -> None:
    data = encode_value(value, version=version)
    assert decode_value(GroupMetadataKey("g"), data) == value


@given(st.integers(0, 2**62), st.integers(-1, 2**31 - 1), st.text(max_size=30), st.sampled_from([3, 4]))
def test_offset_commit_round_trips(offset: int, epoch: int, metadata: str, version: int) -> None:
    value = OffsetCommitValue(offset=offset, metadata=metadata, commit_timestamp=5, leader_epoch=epoch)
    assert decode_value(OffsetCommitKey("g", "t", 0), encode_value(value, version=version)) == value


def test_older_value_versions_decode_with_defaults() -> None:
    value = GroupMetadataValue(
        "consumer", 4, "range", "m", (MemberMetadata("m", "c", "/h", 10, b"s", b"a", 20),), 77
    )
    v0 = decode_value(GroupMetadataKey("g"), encode_value(value, version=0))
    assert v0 == GroupMetadataValue(
        "consumer", 4, "range", "m", (MemberMetadata("m", "c", "/h", 10, b"s", b"a", -1),), -1
    )


def test_tombstones_and_unknown_record_types() -> None:
    assert decode_record(encode_key(GroupMetadataKey("g")), None) == CoordinatorRecord(
        GroupMetadataKey("g"), None
    )
    unknown = decode_key(b"\x00\x09rest")  # 9: a share-group record (KIP-932), not handled
    assert unknown == UnknownKey(9, b"rest")
    assert decode_value(unknown, b"anything") is None


def test_truncated_records_are_corrupt() -> None:
    with pytest.raises(CorruptRecordError):
        decode_key(b"\x00\x01\x00\x05ab")
    with pytest.raises(CorruptRecordError):
        decode_value(OffsetCommitKey("g", "t", 0), b"\x00\x03\x00")
    with pytest.raises(CorruptRecordError):
        decode_value(OffsetCommitKey("g", "t", 0), b"\x00\x09")


# --- replay: what a restarted broker rebuilds from the log --------------------------------------


def replayed(h: ShardHarness) -> GroupCoordinatorShard:
    """A fresh shard fed the records ``h`` wrote, through their bytes, as the loader does."""
    fresh = ShardHarness()
    for offset, record in h.log:
        fresh.shard.replay(offset, decode_record(encode_key(record.key), encode_value(record.value)))
    return fresh.shard


def test_a_stable_group_comes_back_stable_with_its_members_and_assignments() -> None:
    h = ShardHarness()
    responses = h.stable_group("g", 3)
    shard = replayed(h)
    group = shard.groups.get("g")
    assert isinstance(group, ClassicGroup)
    assert group.state is ClassicGroupState.STABLE
    assert group.generation_id == 1 and group.protocol_name == "range" and group.protocol_type == "consumer"
    assert set(group.members) == {r.member_id for r in responses}
    assert group.leader_id == responses[0].leader
    assert {m.assignment for m in group.members.values()} == {
        f"assignment-{r.member_id}".encode() for r in responses
    }
    assert group.subscribed_topics == {"t"}


def test_offsets_and_deletions_replay() -> None:
    h = ShardHarness()
    for offset in (1, 2, 3):
        h.run(
            h.shard.offsets.commit_offsets(
                OffsetCommitRequest(
                    group_id="simple",
                    member_id="",
                    group_instance_id=None,
                    generation_id=-1,
                    partitions=(CommitPartition(topic="t", partition=0, offset=offset),),
                )
            )
        )
    h.stable_group("g", 1)
    h.run(h.shard.delete_offsets_of_topics({"nothing"}))
    shard = replayed(h)
    fetched = shard.offsets.fetch_offsets(OffsetFetchRequest(group_id="simple", partitions=None))
    assert [(o.topic, o.partition, o.offset) for o in fetched.offsets] == [("t", 0, 3)]
    assert shard.groups.get("simple").is_empty()  # type: ignore[union-attr]
    assert h.run(h.shard.delete_groups(["simple"]))
    assert "simple" not in replayed(h).groups


def test_loaded_members_get_a_session_to_come_back_in() -> None:
    h = ShardHarness()
    (member,) = h.stable_group("g", 1)
    fresh = ShardHarness()
    for offset, record in h.log:
        fresh.shard.replay(offset, record)
    fresh.shard.on_loaded()
    assert fresh.heartbeat("g", member.member_id, 1).name == "none"
    fresh.advance(11_000)
    group = fresh.shard.groups.get("g")
    assert isinstance(group, ClassicGroup) and not group.members, "expired: nobody came back"


def test_offset_commit_v4_carries_the_topic_id_as_tagged_field_0() -> None:
    # The bytes Kafka 4.3 wrote for offset 1 of a topic (read from its __consumer_offsets).
    kafka = bytes.fromhex(
        "00040000000000000001ffffffff01000001a203669fe00100108de7addb85f54662a91f5109f771d376"
    )
    value = decode_value(OffsetCommitKey("g", "t", 0), kafka)
    assert value == OffsetCommitValue(
        offset=1,
        metadata="",
        commit_timestamp=0x1A203669FE0,
        leader_epoch=-1,
        topic_id=uuid.UUID("8de7addb-85f5-4662-a91f-5109f771d376"),
    )
    assert encode_value(value, version=4) == kafka
    # Brook writes Kafka 4.0's version 3, which has no place for the topic id.
    assert isinstance(value, OffsetCommitValue)
    assert encode_value(value) == encode_value(dataclasses.replace(value, topic_id=None), version=3)
