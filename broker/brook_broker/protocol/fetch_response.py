"""A FetchResponse encoder (versions 4-18) that leaves record bytes where they are.

Fetch is the largest response by far. kio's encoder is pure Python and copies every
record batch into one buffer; this one writes only the framing and returns the frame as
a list of chunks: ``bytes`` for framing (adjacent pieces merged), and the partitions'
records as given (large ``bytes``/``memoryview`` unchanged, or a `RecordsSlice`, a range
of a log segment file). The server's connection writer sends ``bytes`` with ``sendmsg``
and slices with ``os.sendfile`` (or ``os.pread``). The `apis/` Fetch handler calls
`encode_fetch_response` with plain values gathered from the replica manager.

The wire layout follows Kafka's ``FetchResponse.json`` (kio's generated ``kio.schema.fetch``
classes are the reference, and the tests compare the output byte for byte with kio):

* v4-v11 use response header v0 and legacy encodings (int16 string lengths, int32 array
  and bytes lengths, -1 for null); v5 adds LogStartOffset, v7 the top-level ErrorCode and
  SessionId, v11 PreferredReadReplica.
* v12+ are flexible: response header v1, compact strings/arrays/bytes (unsigned varint
  length + 1, 0 for null) and tagged fields: per partition 0 DivergingEpoch, 1
  CurrentLeader, 2 SnapshotId; top level 0 NodeEndpoints (v16+). v13+ name topics by id.
  A tagged field is written only when it differs from its default, as Kafka does.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = [
    "MAX_VERSION",
    "MIN_VERSION",
    "EncodedFetchResponse",
    "FetchPartitionData",
    "FetchTopicData",
    "NodeEndpoint",
    "RecordsSlice",
    "encode_fetch_response",
]

MIN_VERSION = 4
#: kio 0.6.5 has FetchResponse up to v18, identical on the wire to v17.
MAX_VERSION = 18
FIRST_FLEXIBLE_VERSION = 12
FIRST_TOPIC_ID_VERSION = 13
#: Records buffers up to this size are copied into the framing chunk: a short copy is
#: cheaper than one more buffer for the socket writer to handle.
INLINE_RECORDS_MAX = 16 * 1024
#: (-1, -1): the default of DivergingEpoch, CurrentLeader and SnapshotId; not written.
_ABSENT = (-1, -1)
_MAX_INT32 = 2**31 - 1


class RecordsSlice(Protocol):
    """A range of record bytes kept outside Python memory (the log layer's file slice)."""

    @property
    def size(self) -> int: ...


Records = bytes | bytearray | memoryview | RecordsSlice
Chunk = bytes | bytearray | memoryview | RecordsSlice


class FetchPartitionData(NamedTuple):
    """One partition of the response; fields a version lacks are dropped when encoding."""

    partition_index: int
    error_code: int = 0
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    #: ``(producer_id, first_offset)`` pairs; None is a null array (READ_UNCOMMITTED).
    aborted_transactions: Sequence[tuple[int, int]] | None = None
    preferred_read_replica: int = -1
    records: Records | None = None
    #: ``(epoch, end_offset)``; v12+ tag 0.
    diverging_epoch: tuple[int, int] | None = None
    #: ``(leader_id, leader_epoch)``; v12+ tag 1.
    current_leader: tuple[int, int] | None = None
    #: ``(end_offset, epoch)``; v12+ tag 2.
    snapshot_id: tuple[int, int] | None = None


class FetchTopicData(NamedTuple):
    """A topic: ``name`` is written up to v12, ``topic_id`` from v13 (None is the zero id)."""

    name: str | None
    topic_id: uuid.UUID | None
    partitions: Sequence[FetchPartitionData]


class NodeEndpoint(NamedTuple):
    node_id: int
    host: str
    port: int
    rack: str | None = None


class EncodedFetchResponse(NamedTuple):
    """``total_size`` counts every byte of ``chunks``, including the 4-byte size prefix."""

    total_size: int
    chunks: list[Chunk]


_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")
_THROTTLE_ERROR_SESSION = struct.Struct(">ihi")
# Partition heads: partition_index, error_code, high_watermark, last_stable_offset[, log_start_offset].
_PARTITION_V4 = struct.Struct(">ihqq")
_PARTITION_V5 = struct.Struct(">ihqqq")
_ABORTED = struct.Struct(">qq")
_ABORTED_FLEXIBLE = struct.Struct(">qqB")  # + empty tagged fields
_REPLICA_AND_LENGTH = struct.Struct(">ii")
# Partition tagged fields, each as tag, size, struct fields, empty tagged fields.
_DIVERGING_EPOCH = struct.Struct(">BBiqB")
_CURRENT_LEADER = struct.Struct(">BBiiB")
_SNAPSHOT_ID = struct.Struct(">BBqiB")
#: Unsigned varints below 128 are one byte; most lengths and counts in a response are.
_SMALL_UVARINT = [bytes([i]) for i in range(128)]
_NULL_LEGACY_RECORDS = _I32.pack(-1)


def _uvarint(value: int) -> bytes:
    if value < 128:
        return _SMALL_UVARINT[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _records_size(records: Records) -> int:
    size = (
        records.nbytes
        if isinstance(records, memoryview)
        else (len(records) if isinstance(records, bytes | bytearray) else records.size)
    )
    if not 0 <= size <= _MAX_INT32:
        raise ValueError(f"records of {size} bytes do not fit a Fetch response")
    return size


class _Writer:
    """Collects framing pieces and records chunks, merging framing pieces between records."""

    __slots__ = ("chunks", "parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.chunks: list[Chunk] = []
        self.size = 0  # bytes in ``chunks`` (the pending ``parts`` are counted at the end)

    def records(self, records: Records, size: int) -> None:
        if size <= INLINE_RECORDS_MAX and isinstance(records, bytes | bytearray | memoryview):
            self.parts.append(bytes(records) if not isinstance(records, bytes) else records)
            return
        if self.parts:
            joined = b"".join(self.parts)
            self.chunks.append(joined)
            self.size += len(joined)
            self.parts.clear()  # in place: callers hold ``parts.append``
        self.chunks.append(records)
        self.size += size

    def finish(self, header: bytes) -> EncodedFetchResponse:
        if self.parts:
            joined = b"".join(self.parts)
            self.chunks.append(joined)
            self.size += len(joined)
        total = 4 + len(header) + self.size
        # The size prefix and header go in front of the first framing chunk (which always
        # exists: the body starts with throttle_time_ms), costing one small copy.
        first = self.chunks[0]
        assert isinstance(first, bytes)
        self.chunks[0] = _I32.pack(total - 4) + header + first
        return EncodedFetchResponse(total, self.chunks)


def encode_fetch_response(
    *,
    correlation_id: int,
    version: int,
    topics: Sequence[FetchTopicData],
    throttle_time_ms: int = 0,
    error_code: int = 0,
    session_id: int = 0,
    node_endpoints: Sequence[NodeEndpoint] = (),
) -> EncodedFetchResponse:
    """Encode a size-prefixed FetchResponse frame of ``version`` (4-18) as chunks."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"FetchResponse v{version} is not supported (only {MIN_VERSION}-{MAX_VERSION})")
    flexible = version >= FIRST_FLEXIBLE_VERSION
    writer = _Writer()
    append = writer.parts.append
    if version >= 7:
        append(_THROTTLE_ERROR_SESSION.pack(throttle_time_ms, error_code, session_id))
    else:
        append(_I32.pack(throttle_time_ms))
    if flexible:
        _write_flexible_topics(writer, topics, by_id=version >= FIRST_TOPIC_ID_VERSION)
        if version >= 16 and node_endpoints:
            payload = _encode_node_endpoints(node_endpoints)
            append(b"\x01\x00" + _uvarint(len(payload)) + payload)  # one tagged field: tag 0
        else:
            append(b"\x00")
        # Response header v1: correlation id and (empty) tagged fields.
        return writer.finish(_I32.pack(correlation_id) + b"\x00")
    _write_legacy_topics(writer, topics, version=version)
    return writer.finish(_I32.pack(correlation_id))


def _write_legacy_topics(writer: _Writer, topics: Sequence[FetchTopicData], *, version: int) -> None:
    append = writer.parts.append
    head = _PARTITION_V5 if version >= 5 else _PARTITION_V4
    with_log_start = version >= 5
    with_replica = version >= 11
    append(_I32.pack(len(topics)))
    for topic in topics:
        if topic.name is None:
            raise ValueError(f"FetchResponse v{version} needs topic names")
        name = topic.name.encode()
        append(_I16.pack(len(name)) + name + _I32.pack(len(topic.partitions)))
        for p in topic.partitions:
            if with_log_start:
                append(
                    head.pack(
                        p.partition_index,
                        p.error_code,
                        p.high_watermark,
                        p.last_stable_offset,
                        p.log_start_offset,
                    )
                )
            else:
                append(head.pack(p.partition_index, p.error_code, p.high_watermark, p.last_stable_offset))
            aborted = p.aborted_transactions
            if aborted is None:
                append(_NULL_LEGACY_RECORDS)  # a null array is also length -1
            else:
                append(_I32.pack(len(aborted)))
                for producer_id, first_offset in aborted:
                    append(_ABORTED.pack(producer_id, first_offset))
            records = p.records
            size = -1 if records is None else _records_size(records)
            append(
                _REPLICA_AND_LENGTH.pack(p.preferred_read_replica, size) if with_replica else _I32.pack(size)
            )
            if records is not None:
                writer.records(records, size)


def _write_flexible_topics(writer: _Writer, topics: Sequence[FetchTopicData], *, by_id: bool) -> None:
    append = writer.parts.append
    append(_uvarint(len(topics) + 1))
    for topic in topics:
        if by_id:
            append((topic.topic_id or _ZERO_UUID).bytes)
        else:
            if topic.name is None:
                raise ValueError("FetchResponse v12 needs topic names")
            name = topic.name.encode()
            append(_uvarint(len(name) + 1) + name)
        append(_uvarint(len(topic.partitions) + 1))
        for p in topic.partitions:
            append(
                _PARTITION_V5.pack(
                    p.partition_index,
                    p.error_code,
                    p.high_watermark,
                    p.last_stable_offset,
                    p.log_start_offset,
                )
            )
            aborted = p.aborted_transactions
            if aborted is None:
                append(b"\x00")
            else:
                append(_uvarint(len(aborted) + 1))
                for producer_id, first_offset in aborted:
                    append(_ABORTED_FLEXIBLE.pack(producer_id, first_offset, 0))
            records = p.records
            if records is None:
                append(_I32.pack(p.preferred_read_replica) + b"\x00")
            else:
                size = _records_size(records)
                append(_I32.pack(p.preferred_read_replica) + _uvarint(size + 1))
                writer.records(records, size)
            append(_partition_tagged_fields(p))
        append(b"\x00")  # topic tagged fields


def _partition_tagged_fields(p: FetchPartitionData) -> bytes:
    diverging, leader, snapshot = p.diverging_epoch, p.current_leader, p.snapshot_id
    if diverging is None and leader is None and snapshot is None:
        return b"\x00"  # the common case: no tagged fields
    tags = []
    if diverging is not None and tuple(diverging) != _ABSENT:
        tags.append(_DIVERGING_EPOCH.pack(0, 13, diverging[0], diverging[1], 0))
    if leader is not None and tuple(leader) != _ABSENT:
        tags.append(_CURRENT_LEADER.pack(1, 9, leader[0], leader[1], 0))
    if snapshot is not None and tuple(snapshot) != _ABSENT:
        tags.append(_SNAPSHOT_ID.pack(2, 13, snapshot[0], snapshot[1], 0))
    return _uvarint(len(tags)) + b"".join(tags)


def _encode_node_endpoints(endpoints: Sequence[NodeEndpoint]) -> bytes:
    parts = [_uvarint(len(endpoints) + 1)]
    for endpoint in endpoints:
        host = endpoint.host.encode()
        parts += (_I32.pack(endpoint.node_id), _uvarint(len(host) + 1), host, _I32.pack(endpoint.port))
        if endpoint.rack is None:
            parts.append(b"\x00\x00")  # null rack, empty tagged fields
        else:
            rack = endpoint.rack.encode()
            parts += (_uvarint(len(rack) + 1), rack, b"\x00")
    return b"".join(parts)


_ZERO_UUID = uuid.UUID(int=0)
