"""The KIP-848 record types of ``__consumer_offsets``: Kafka 4.3.1's bytes, decoded and re-encoded.

The fixtures are records Apache Kafka 4.3.1 wrote for a group of two librdkafka consumers
(``group.protocol=consumer``; one static, one subscribed by regex), copied from its log
segment; ``test_consumer_records_kafka`` repeats the check live against the reference broker.
"""

from __future__ import annotations

import uuid

import pytest

from brook_broker.coordinator.group.consumer.member import ConsumerGroupMember, MemberState
from brook_broker.coordinator.group.consumer_records import (
    ConsumerGroupCurrentMemberAssignmentKey,
    ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupMemberMetadataKey,
    ConsumerGroupMemberMetadataValue,
    ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue,
    ConsumerGroupPartitionMetadataKey,
    ConsumerGroupPartitionMetadataValue,
    ConsumerGroupRegularExpressionKey,
    ConsumerGroupRegularExpressionValue,
    ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupTargetAssignmentMetadataKey,
    ConsumerGroupTargetAssignmentMetadataValue,
    PartitionMetadataTopic,
    TopicPartitions,
)
from brook_broker.coordinator.group.records import decode_key, decode_value, encode_key, encode_value
from brook_broker.protocol.errors import CorruptRecordError

TOPIC = uuid.UUID("ee4b4c3c-3554-40b2-8fce-c1d471d424a5")
STATIC = "rN/G+PPxRBSI2uVdjg1R4A"
REGEX = "nSHpBkMyRPSMXm3yVXoq7g"

#: (key hex, value hex) as Kafka 4.3.1 wrote them.
KAFKA_RECORDS = [
    (  # the regex member's subscription (tag 0: a null ClassicMemberMetadata)
        "000500046738343800166e534870426b4d795250534d586d337956586f713767",
        "000000000872646b61666b610b2f3132372e302e302e310108285e74382e2a29000493e00001000100",
    ),
    ("00100004673834380007285e74382e2a29", "0000020574383438000000000000004e000001a203a9d6a300"),
    ("0003000467383438", "000000000002010008d8b03c37a30cb6b0"),  # epoch 2 with its metadata hash
    (
        "00050004673834380016724e2f472b50507852425349327556646a6731523441",
        "0000097374617469632d31000872646b61666b610b2f3132372e302e302e3102057438343801000493e00001000100",
    ),
    (
        "000700046738343800166e534870426b4d795250534d586d337956586f713767",
        "000002ee4b4c3c355440b28fcec1d471d424a502000000000000",
    ),
    ("0006000467383438", "000000000003010008000001a203a9d776"),  # tag 0: the assignment timestamp
    (  # tag 0 of each topic: KIP-1251's assignment epochs
        "00080004673834380016724e2f472b50507852425349327556646a6731523441",
        "000000000003000000000002ee4b4c3c355440b28fcec1d471d424a5020000000101000502000000030100",
    ),
    (  # the static member left for now: epoch -2, its partition kept
        "00080004673834380016724e2f472b50507852425349327556646a6731523441",
        "0000fffffffe000000000002ee4b4c3c355440b28fcec1d471d424a5020000000101000502000000000100",
    ),
    ("000800046738343800166e534870426b4d795250534d586d337956586f713767", None),
]


@pytest.mark.parametrize(("key_hex", "value_hex"), KAFKA_RECORDS)
def test_kafkas_records_decode_and_reencode_byte_for_byte(key_hex: str, value_hex: str | None) -> None:
    key_bytes = bytes.fromhex(key_hex)
    value_bytes = None if value_hex is None else bytes.fromhex(value_hex)
    key = decode_key(key_bytes)
    assert encode_key(key) == key_bytes
    value = decode_value(key, value_bytes)
    assert encode_value(value) == value_bytes


def test_decoded_fields() -> None:
    records = {}
    for key_hex, value_hex in KAFKA_RECORDS[:6]:
        key = decode_key(bytes.fromhex(key_hex))
        records[key] = decode_value(key, None if value_hex is None else bytes.fromhex(value_hex))
    regex_member = records[ConsumerGroupMemberMetadataKey("g848", REGEX)]
    assert isinstance(regex_member, ConsumerGroupMemberMetadataValue)
    assert regex_member.subscribed_topic_regex == "(^t8.*)" and regex_member.subscribed_topic_names == ()
    assert regex_member.client_host == "/127.0.0.1" and regex_member.rebalance_timeout_ms == 300_000
    static = records[ConsumerGroupMemberMetadataKey("g848", STATIC)]
    assert isinstance(static, ConsumerGroupMemberMetadataValue)
    assert static.instance_id == "static-1" and static.subscribed_topic_names == ("t848",)
    assert static.subscribed_topic_regex == ""  # librdkafka sends an empty regex with names
    assert records[
        ConsumerGroupRegularExpressionKey("g848", "(^t8.*)")
    ] == ConsumerGroupRegularExpressionValue(("t848",), 78, 1795357791907)
    metadata = records[ConsumerGroupMetadataKey("g848")]
    assert isinstance(metadata, ConsumerGroupMetadataValue) and metadata.epoch == 2 and metadata.metadata_hash
    target = records[ConsumerGroupTargetAssignmentMemberKey("g848", REGEX)]
    assert target == ConsumerGroupTargetAssignmentMemberValue((TopicPartitions(TOPIC, (0,)),))


def test_a_member_round_trips_through_its_two_records() -> None:
    member = ConsumerGroupMember(
        member_id="m",
        member_epoch=7,
        previous_member_epoch=5,
        state=MemberState.UNREVOKED_PARTITIONS,
        instance_id="i",
        rebalance_timeout_ms=30_000,
        client_id="c",
        client_host="/h",
        subscribed_topic_names=frozenset({"b", "a"}),
        server_assignor="range",
        assigned_partitions={TOPIC: frozenset({2, 0})},
        partitions_pending_revocation={TOPIC: frozenset({5})},
    )
    metadata = decode_value(ConsumerGroupMemberMetadataKey("g", "m"), encode_value(member.metadata_value()))
    assignment = decode_value(
        ConsumerGroupCurrentMemberAssignmentKey("g", "m"), encode_value(member.assignment_value())
    )
    assert isinstance(metadata, ConsumerGroupMemberMetadataValue)
    assert isinstance(assignment, ConsumerGroupCurrentMemberAssignmentValue)
    rebuilt = ConsumerGroupMember(member_id="m").with_metadata(metadata).with_assignment(assignment)
    assert rebuilt == member


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (ConsumerGroupMetadataKey("g"), ConsumerGroupMetadataValue(3)),
        (ConsumerGroupMetadataKey("g"), ConsumerGroupMetadataValue(3, metadata_hash=-5)),
        (
            ConsumerGroupPartitionMetadataKey("g"),
            ConsumerGroupPartitionMetadataValue((PartitionMetadataTopic(TOPIC, "t", 2, ((0, ("r1",)),)),)),
        ),
        (ConsumerGroupTargetAssignmentMetadataKey("g"), ConsumerGroupTargetAssignmentMetadataValue(4)),
        (ConsumerGroupRegularExpressionKey("g", "a.*"), ConsumerGroupRegularExpressionValue((), 1, 2)),
    ],
)
def test_every_record_type_round_trips(key: object, value: object) -> None:
    key_bytes = encode_key(key)  # type: ignore[arg-type]
    decoded_key = decode_key(key_bytes)
    assert decoded_key == key
    assert decode_value(decoded_key, encode_value(value)) == value  # type: ignore[arg-type]


def test_unknown_value_versions_and_truncation_are_corrupt() -> None:
    key = ConsumerGroupMetadataKey("g")
    with pytest.raises(CorruptRecordError):
        decode_value(key, b"\x00\x01\x00\x00\x00\x01\x00")
    with pytest.raises(CorruptRecordError):
        decode_value(key, b"\x00\x00\x00\x00")
