"""The KIP-848 consumer-group records of ``__consumer_offsets``: Kafka's keys and values, byte for byte.

A consumer group (``group.protocol=consumer``) is stored as several record types, all keyed
by group id (and member id where it says so); each value is version 0 of a flexible schema
(Kafka's ``group-coordinator/.../common/message/ConsumerGroup*.json``):

    key 3   ConsumerGroupMetadata                group epoch (+ tag 0: metadata hash, Kafka 4.1+)
    key 4   ConsumerGroupPartitionMetadata       subscribed topics' metadata (Kafka 4.0; read only)
    key 5   ConsumerGroupMemberMetadata          a member's subscription and client details
    key 6   ConsumerGroupTargetAssignmentMetadata  the epoch of the target assignment
    key 7   ConsumerGroupTargetAssignmentMember  a member's target partitions
    key 8   ConsumerGroupCurrentMemberAssignment a member's epoch, state and owned partitions
    key 16  ConsumerGroupRegularExpression       a resolved regex (Kafka 4.0+; read only)

Unlike the classic GroupMetadata record these records *are* the state: the coordinator writes
them and rebuilds the group by replaying them (`consumer.manager`). Tagged fields this code does
not interpret are kept as raw bytes (``tags``) so that a record read from Apache Kafka
re-encodes to the same bytes. Used through `records` (which dispatches key types 3-8 and 16
here); pure.
"""

from __future__ import annotations

import dataclasses
import struct
import uuid
from typing import TypeAlias

from brook_broker.coordinator.group.record_codec import Reader, Writer
from brook_broker.protocol.errors import CorruptRecordError

#: Raw tagged fields: ``((tag, bytes), ...)`` in tag order.
Tags: TypeAlias = tuple[tuple[int, bytes], ...]

CONSUMER_GROUP_METADATA = 3
CONSUMER_GROUP_PARTITION_METADATA = 4
CONSUMER_GROUP_MEMBER_METADATA = 5
CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA = 6
CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER = 7
CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT = 8
CONSUMER_GROUP_REGULAR_EXPRESSION = 16
_VALUE_VERSION = 0
_METADATA_HASH_TAG = 0


# --- keys -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupMetadataKey:
    group: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupPartitionMetadataKey:
    group: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupMemberMetadataKey:
    group: str
    member_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupTargetAssignmentMetadataKey:
    group: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupTargetAssignmentMemberKey:
    group: str
    member_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupCurrentMemberAssignmentKey:
    group: str
    member_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupRegularExpressionKey:
    group: str
    regular_expression: str


ConsumerGroupKey: TypeAlias = (
    ConsumerGroupMetadataKey
    | ConsumerGroupPartitionMetadataKey
    | ConsumerGroupMemberMetadataKey
    | ConsumerGroupTargetAssignmentMetadataKey
    | ConsumerGroupTargetAssignmentMemberKey
    | ConsumerGroupCurrentMemberAssignmentKey
    | ConsumerGroupRegularExpressionKey
)
_GROUP_KEYS: dict[int, type[ConsumerGroupKey]] = {
    CONSUMER_GROUP_METADATA: ConsumerGroupMetadataKey,
    CONSUMER_GROUP_PARTITION_METADATA: ConsumerGroupPartitionMetadataKey,
    CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA: ConsumerGroupTargetAssignmentMetadataKey,
}
_MEMBER_KEYS: dict[int, type[ConsumerGroupKey]] = {
    CONSUMER_GROUP_MEMBER_METADATA: ConsumerGroupMemberMetadataKey,
    CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER: ConsumerGroupTargetAssignmentMemberKey,
    CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: ConsumerGroupCurrentMemberAssignmentKey,
}
KEY_TYPES = frozenset([*_GROUP_KEYS, *_MEMBER_KEYS, CONSUMER_GROUP_REGULAR_EXPRESSION])
_TYPE_OF = {cls: key_type for key_type, cls in [*_GROUP_KEYS.items(), *_MEMBER_KEYS.items()]}
_TYPE_OF[ConsumerGroupRegularExpressionKey] = CONSUMER_GROUP_REGULAR_EXPRESSION


# --- values ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class TopicPartitions:
    """A topic's partitions in an assignment (``AssignmentEpochs`` is Kafka 4.3's KIP-1251 tag 0)."""

    topic_id: uuid.UUID
    partitions: tuple[int, ...]
    tags: Tags = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupMetadataValue:
    epoch: int
    #: KIP-1101's hash of the subscribed topics' metadata (tag 0; 0 means "not written").
    metadata_hash: int = 0
    tags: Tags = ()


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionMetadataTopic:
    topic_id: uuid.UUID
    topic_name: str
    num_partitions: int
    #: ``((partition, (rack, ...)), ...)``: deprecated after Kafka 4.0, kept for re-encoding.
    partition_racks: tuple[tuple[int, tuple[str, ...]], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupPartitionMetadataValue:
    topics: tuple[PartitionMetadataTopic, ...]
    tags: Tags = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerGroupMemberMetadataValue:
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    rebalance_timeout_ms: int = -1
    server_assignor: str | None = None
    #: Tag 0 is ClassicMemberMetadata (members that joined with JoinGroup); kept raw.
    tags: Tags = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupTargetAssignmentMetadataValue:
    assignment_epoch: int
    tags: Tags = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupTargetAssignmentMemberValue:
    topic_partitions: tuple[TopicPartitions, ...]
    tags: Tags = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerGroupCurrentMemberAssignmentValue:
    member_epoch: int
    previous_member_epoch: int
    state: int
    assigned_partitions: tuple[TopicPartitions, ...]
    partitions_pending_revocation: tuple[TopicPartitions, ...]
    tags: Tags = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerGroupRegularExpressionValue:
    topics: tuple[str, ...]
    version: int
    timestamp: int
    tags: Tags = ()


ConsumerGroupValue: TypeAlias = (
    ConsumerGroupMetadataValue
    | ConsumerGroupPartitionMetadataValue
    | ConsumerGroupMemberMetadataValue
    | ConsumerGroupTargetAssignmentMetadataValue
    | ConsumerGroupTargetAssignmentMemberValue
    | ConsumerGroupCurrentMemberAssignmentValue
    | ConsumerGroupRegularExpressionValue
)
VALUE_TYPES = (
    ConsumerGroupMetadataValue,
    ConsumerGroupPartitionMetadataValue,
    ConsumerGroupMemberMetadataValue,
    ConsumerGroupTargetAssignmentMetadataValue,
    ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupRegularExpressionValue,
)


# --- encoding -------------------------------------------------------------------------------


def encode_key(key: ConsumerGroupKey) -> bytes:
    """Key bytes: the record type, then the key's fields (keys are never flexible)."""
    writer = Writer()
    writer.int16(_TYPE_OF[type(key)])
    writer.string(key.group)
    if isinstance(key, ConsumerGroupRegularExpressionKey):
        writer.string(key.regular_expression)
    elif not isinstance(
        key,
        ConsumerGroupMetadataKey
        | ConsumerGroupPartitionMetadataKey
        | ConsumerGroupTargetAssignmentMetadataKey,
    ):
        writer.string(key.member_id)
    return writer.getvalue()


def encode_value(value: ConsumerGroupValue) -> bytes:
    writer = Writer()
    writer.int16(_VALUE_VERSION)
    writer.flexible = True
    match value:
        case ConsumerGroupMetadataValue():
            writer.int32(value.epoch)
            extra = (
                {_METADATA_HASH_TAG: struct.pack(">q", value.metadata_hash)} if value.metadata_hash else {}
            )
            _tags(writer, value.tags, extra)
        case ConsumerGroupPartitionMetadataValue():
            writer.array_length(len(value.topics))
            for topic in value.topics:
                writer.uuid_(topic.topic_id)
                writer.string(topic.topic_name)
                writer.int32(topic.num_partitions)
                writer.array_length(len(topic.partition_racks))
                for partition, racks in topic.partition_racks:
                    writer.int32(partition)
                    writer.string_array(racks)
                    writer.tagged_fields()
                writer.tagged_fields()
            _tags(writer, value.tags)
        case ConsumerGroupMemberMetadataValue():
            writer.string(value.instance_id)
            writer.string(value.rack_id)
            writer.string(value.client_id)
            writer.string(value.client_host)
            writer.string_array(value.subscribed_topic_names)
            writer.string(value.subscribed_topic_regex)
            writer.int32(value.rebalance_timeout_ms)
            writer.string(value.server_assignor)
            _tags(writer, value.tags)
        case ConsumerGroupTargetAssignmentMetadataValue():
            writer.int32(value.assignment_epoch)
            _tags(writer, value.tags)
        case ConsumerGroupTargetAssignmentMemberValue():
            _write_topic_partitions(writer, value.topic_partitions)
            _tags(writer, value.tags)
        case ConsumerGroupCurrentMemberAssignmentValue():
            writer.int32(value.member_epoch)
            writer.int32(value.previous_member_epoch)
            writer.int8(value.state)
            _write_topic_partitions(writer, value.assigned_partitions)
            _write_topic_partitions(writer, value.partitions_pending_revocation)
            _tags(writer, value.tags)
        case ConsumerGroupRegularExpressionValue():
            writer.string_array(value.topics)
            writer.int64(value.version)
            writer.int64(value.timestamp)
            _tags(writer, value.tags)
    return writer.getvalue()


def _write_topic_partitions(writer: Writer, topics: tuple[TopicPartitions, ...]) -> None:
    writer.array_length(len(topics))
    for topic in topics:
        writer.uuid_(topic.topic_id)
        writer.int32_array(topic.partitions)
        _tags(writer, topic.tags)


def _tags(writer: Writer, raw: Tags, known: dict[int, bytes] | None = None) -> None:
    writer.tagged_fields({**dict(raw), **(known or {})})


# --- decoding -------------------------------------------------------------------------------


def decode_key(key_type: int, reader: Reader) -> ConsumerGroupKey:
    """The key of type ``key_type`` (one of `KEY_TYPES`), read after its int16 type."""
    group = reader.string()
    if key_type in _GROUP_KEYS:
        return _GROUP_KEYS[key_type](group)  # type: ignore[call-arg]
    if key_type == CONSUMER_GROUP_REGULAR_EXPRESSION:
        return ConsumerGroupRegularExpressionKey(group, reader.string())
    return _MEMBER_KEYS[key_type](group, reader.string())  # type: ignore[call-arg]


def decode_value(key: ConsumerGroupKey, data: bytes) -> ConsumerGroupValue:
    reader = Reader(data)
    version = reader.int16()
    if version != _VALUE_VERSION:
        raise CorruptRecordError(f"unknown {type(key).__name__} value version {version}")
    reader.flexible = True
    value: ConsumerGroupValue
    match key:
        case ConsumerGroupMetadataKey():
            epoch = reader.int32()
            tags = reader.tagged_fields()
            raw_hash = tags.pop(_METADATA_HASH_TAG, None)
            value = ConsumerGroupMetadataValue(
                epoch, 0 if raw_hash is None else struct.unpack(">q", raw_hash)[0], _raw(tags)
            )
        case ConsumerGroupPartitionMetadataKey():
            value = ConsumerGroupPartitionMetadataValue(_read_partition_metadata(reader), _raw(reader))
        case ConsumerGroupMemberMetadataKey():
            value = ConsumerGroupMemberMetadataValue(
                instance_id=reader.nullable_string(),
                rack_id=reader.nullable_string(),
                client_id=reader.string(),
                client_host=reader.string(),
                subscribed_topic_names=reader.string_array(),
                subscribed_topic_regex=reader.nullable_string(),
                rebalance_timeout_ms=reader.int32(),
                server_assignor=reader.nullable_string(),
                tags=_raw(reader),
            )
        case ConsumerGroupTargetAssignmentMetadataKey():
            value = ConsumerGroupTargetAssignmentMetadataValue(reader.int32(), _raw(reader))
        case ConsumerGroupTargetAssignmentMemberKey():
            value = ConsumerGroupTargetAssignmentMemberValue(_read_topic_partitions(reader), _raw(reader))
        case ConsumerGroupCurrentMemberAssignmentKey():
            value = ConsumerGroupCurrentMemberAssignmentValue(
                member_epoch=reader.int32(),
                previous_member_epoch=reader.int32(),
                state=reader.int8(),
                assigned_partitions=_read_topic_partitions(reader),
                partitions_pending_revocation=_read_topic_partitions(reader),
                tags=_raw(reader),
            )
        case ConsumerGroupRegularExpressionKey():
            value = ConsumerGroupRegularExpressionValue(
                reader.string_array(), reader.int64(), reader.int64(), _raw(reader)
            )
    return value


def _read_topic_partitions(reader: Reader) -> tuple[TopicPartitions, ...]:
    return tuple(
        TopicPartitions(reader.uuid_(), reader.int32_array(), _raw(reader))
        for _ in range(reader.array_length())
    )


def _read_partition_metadata(reader: Reader) -> tuple[PartitionMetadataTopic, ...]:
    topics = []
    for _ in range(reader.array_length()):
        topic_id, name, count = reader.uuid_(), reader.string(), reader.int32()
        racks = []
        for _ in range(reader.array_length()):
            racks.append((reader.int32(), reader.string_array()))
            reader.tagged_fields()
        reader.tagged_fields()
        topics.append(PartitionMetadataTopic(topic_id, name, count, tuple(racks)))
    return tuple(topics)


def _raw(source: Reader | dict[int, bytes]) -> Tags:
    """The tagged fields at this point of ``source`` (or already read), as sorted raw pairs."""
    fields = source.tagged_fields() if isinstance(source, Reader) else source
    return tuple(sorted(fields.items()))
