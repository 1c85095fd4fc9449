"""The ``__consumer_offsets`` record format: Kafka's binary keys and values, byte for byte.

Every record in the offsets topic is a key and a value (or a tombstone: no value), each
starting with an int16 *version*. For keys the version is the record type, for values it is
the schema version of that type (Kafka's ``group-coordinator/.../common/message/*.json``):

    key 0, 1  OffsetCommitKey    group, topic, partition     value OffsetCommitValue 0-4
    key 2     GroupMetadataKey   group                       value GroupMetadataValue 0-4
    key 3-8, 16  KIP-848 consumer-group records              (`consumer_records`)
    key 9+    share / streams group records                  (decoded as `UnknownKey`)

Brook writes what Kafka 4.0 (the ``metadata.version`` Brook advertises) writes: OffsetCommitKey
version 1 with OffsetCommitValue version 3 (version 1 when the commit carries an expire
timestamp) and GroupMetadataValue version 3. Version 4 of both values is the first flexible
version (compact strings, tagged fields); Kafka 4.1+ writes OffsetCommitValue v4 with the
topic id as tagged field 0, which is read (and written back byte for byte) here. Unknown
keys decode to `UnknownKey` so a loader can skip record types it does not know (share and
streams groups). The KIP-848 record types live in `consumer_records`; this module's
`encode_key`/`decode_key` and friends dispatch to it, so callers see one record format.

Used by the shard (to build records), the loader (to replay them) and tests (against bytes
written by Apache Kafka). Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import TypeAlias

from brook_broker.coordinator.group import consumer_records
from brook_broker.coordinator.group.consumer_records import ConsumerGroupKey, ConsumerGroupValue
from brook_broker.coordinator.group.record_codec import Reader, Writer
from brook_broker.protocol.errors import CorruptRecordError

OFFSET_COMMIT_KEY_VERSION = 1
GROUP_METADATA_KEY_VERSION = 2
OFFSET_COMMIT_VALUE_VERSION = 3
#: Kafka writes version 1 (the only one with ``expireTimestamp``) for commits with a retention time.
OFFSET_COMMIT_VALUE_EXPIRING_VERSION = 1
GROUP_METADATA_VALUE_VERSION = 3
_MAX_VALUE_VERSION = 4
_FIRST_FLEXIBLE_VERSION = 4
#: OffsetCommitValue v4's tagged field holding the topic id.
_TOPIC_ID_TAG = 0


@dataclasses.dataclass(frozen=True, slots=True)
class OffsetCommitKey:
    group: str
    topic: str
    partition: int


@dataclasses.dataclass(frozen=True, slots=True)
class GroupMetadataKey:
    group: str


@dataclasses.dataclass(frozen=True, slots=True)
class UnknownKey:
    """A record type this coordinator does not handle (yet); kept so the loader can skip it."""

    version: int
    data: bytes


RecordKey: TypeAlias = OffsetCommitKey | GroupMetadataKey | ConsumerGroupKey | UnknownKey


@dataclasses.dataclass(frozen=True, slots=True)
class OffsetCommitValue:
    offset: int
    metadata: str
    commit_timestamp: int
    leader_epoch: int = -1
    #: Only in version 1: the commit's own expiry (OffsetCommit v2-v4 ``retention_time_ms``).
    expire_timestamp: int = -1
    #: Tagged field 0 of version 4 (Kafka 4.1+): the id of the committed topic.
    topic_id: uuid.UUID | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class MemberMetadata:
    member_id: str
    client_id: str
    client_host: str
    session_timeout: int
    subscription: bytes
    assignment: bytes
    rebalance_timeout: int = -1
    group_instance_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class GroupMetadataValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    members: tuple[MemberMetadata, ...] = ()
    current_state_timestamp: int = -1


RecordValue: TypeAlias = OffsetCommitValue | GroupMetadataValue | ConsumerGroupValue


@dataclasses.dataclass(frozen=True, slots=True)
class CoordinatorRecord:
    """One record for the offsets topic; ``value`` None is a tombstone."""

    key: RecordKey
    value: RecordValue | None


# --- encoding -----------------------------------------------------------------------------


def encode_key(key: RecordKey) -> bytes:
    if not isinstance(key, OffsetCommitKey | GroupMetadataKey | UnknownKey):
        return consumer_records.encode_key(key)
    writer = Writer()
    match key:
        case OffsetCommitKey():
            writer.int16(OFFSET_COMMIT_KEY_VERSION)
            writer.string(key.group)
            writer.string(key.topic)
            writer.int32(key.partition)
        case GroupMetadataKey():
            writer.int16(GROUP_METADATA_KEY_VERSION)
            writer.string(key.group)
        case UnknownKey():
            writer.int16(key.version)
            writer.parts.append(key.data)
    return writer.getvalue()


def encode_value(value: RecordValue | None, *, version: int | None = None) -> bytes | None:
    """The value bytes Kafka writes for ``value`` (``None`` for a tombstone).

    ``version`` picks another schema version (tests write every version Kafka can read).
    """
    if value is None:
        return None
    if isinstance(value, consumer_records.VALUE_TYPES):
        return consumer_records.encode_value(value)
    writer = Writer()
    if isinstance(value, OffsetCommitValue):
        if version is None:
            expiring = value.expire_timestamp >= 0
            version = OFFSET_COMMIT_VALUE_EXPIRING_VERSION if expiring else OFFSET_COMMIT_VALUE_VERSION
        _write_offset_commit(writer, value, version)
    else:
        _write_group_metadata(writer, value, GROUP_METADATA_VALUE_VERSION if version is None else version)
    return writer.getvalue()


def _write_offset_commit(writer: Writer, value: OffsetCommitValue, version: int) -> None:
    writer.int16(version)
    writer.flexible = version >= _FIRST_FLEXIBLE_VERSION
    writer.int64(value.offset)
    if version >= 3:
        writer.int32(value.leader_epoch)
    writer.string(value.metadata)
    writer.int64(value.commit_timestamp)
    if version == 1:
        writer.int64(value.expire_timestamp)
    has_topic_id = value.topic_id is not None and value.topic_id.int != 0
    writer.tagged_fields({_TOPIC_ID_TAG: value.topic_id.bytes} if has_topic_id and value.topic_id else None)


def _write_group_metadata(writer: Writer, value: GroupMetadataValue, version: int) -> None:
    writer.int16(version)
    writer.flexible = version >= _FIRST_FLEXIBLE_VERSION
    writer.string(value.protocol_type)
    writer.int32(value.generation)
    writer.string(value.protocol)
    writer.string(value.leader)
    if version >= 2:
        writer.int64(value.current_state_timestamp)
    writer.array_length(len(value.members))
    for member in value.members:
        writer.string(member.member_id)
        if version >= 3:
            writer.string(member.group_instance_id)
        writer.string(member.client_id)
        writer.string(member.client_host)
        if version >= 1:
            writer.int32(member.rebalance_timeout)
        writer.int32(member.session_timeout)
        writer.bytes_(member.subscription)
        writer.bytes_(member.assignment)
        writer.tagged_fields()
    writer.tagged_fields()


# --- decoding -----------------------------------------------------------------------------


def decode_key(data: bytes) -> RecordKey:
    reader = Reader(data)
    version = reader.int16()
    if version in (0, 1):
        return OffsetCommitKey(group=reader.string(), topic=reader.string(), partition=reader.int32())
    if version == GROUP_METADATA_KEY_VERSION:
        return GroupMetadataKey(group=reader.string())
    if version in consumer_records.KEY_TYPES:
        return consumer_records.decode_key(version, reader)
    return UnknownKey(version=version, data=data[2:])


def decode_value(key: RecordKey, data: bytes | None) -> RecordValue | None:
    """The value of a record with ``key``; ``None`` for a tombstone. Unknown keys have no value."""
    if data is None or isinstance(key, UnknownKey):
        return None
    if not isinstance(key, OffsetCommitKey | GroupMetadataKey):
        return consumer_records.decode_value(key, data)
    reader = Reader(data)
    version = reader.int16()
    if not 0 <= version <= _MAX_VALUE_VERSION:
        raise CorruptRecordError(f"unknown {type(key).__name__} value version {version}")
    reader.flexible = version >= _FIRST_FLEXIBLE_VERSION
    if isinstance(key, OffsetCommitKey):
        return _decode_offset_commit(reader, version)
    return _decode_group_metadata(reader, version)


def _decode_offset_commit(reader: Reader, version: int) -> OffsetCommitValue:
    offset = reader.int64()
    leader_epoch = reader.int32() if version >= 3 else -1
    metadata = reader.string()
    commit_timestamp = reader.int64()
    expire_timestamp = reader.int64() if version == 1 else -1
    topic_id = reader.tagged_fields().get(_TOPIC_ID_TAG)
    if topic_id is not None and len(topic_id) != 16:
        raise CorruptRecordError("OffsetCommitValue has a topic id that is not 16 bytes")
    return OffsetCommitValue(
        offset=offset,
        metadata=metadata,
        commit_timestamp=commit_timestamp,
        leader_epoch=leader_epoch,
        expire_timestamp=expire_timestamp,
        topic_id=None if topic_id is None else uuid.UUID(bytes=topic_id),
    )


def _decode_group_metadata(reader: Reader, version: int) -> GroupMetadataValue:
    protocol_type = reader.string()
    generation = reader.int32()
    protocol = reader.nullable_string()
    leader = reader.nullable_string()
    current_state_timestamp = reader.int64() if version >= 2 else -1
    members = []
    for _ in range(reader.array_length()):
        member_id = reader.string()
        group_instance_id = reader.nullable_string() if version >= 3 else None
        client_id = reader.string()
        client_host = reader.string()
        rebalance_timeout = reader.int32() if version >= 1 else -1
        session_timeout = reader.int32()
        subscription = reader.bytes_()
        assignment = reader.bytes_()
        reader.tagged_fields()
        members.append(
            MemberMetadata(
                member_id=member_id,
                client_id=client_id,
                client_host=client_host,
                session_timeout=session_timeout,
                subscription=subscription,
                assignment=assignment,
                rebalance_timeout=rebalance_timeout,
                group_instance_id=group_instance_id,
            )
        )
    reader.tagged_fields()
    return GroupMetadataValue(
        protocol_type=protocol_type,
        generation=generation,
        protocol=protocol,
        leader=leader,
        members=tuple(members),
        current_state_timestamp=current_state_timestamp,
    )


def decode_record(key: bytes, value: bytes | None) -> CoordinatorRecord:
    decoded_key = decode_key(key)
    return CoordinatorRecord(decoded_key, decode_value(decoded_key, value))
