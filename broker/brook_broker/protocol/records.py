"""A view of Kafka record batches (magic v2) that reads only the fixed header.

Batches stay opaque bytes on the hot path: the broker reads the 61-byte header, checks the
CRC-32C, rewrites ``baseOffset`` and ``partitionLeaderEpoch`` (both outside the CRC) and
appends the bytes as they came. Record-level decoding lives in `protocol.record_reader` and
is used only where semantics need it (compaction keys, keyless records, ``LogAppendTime``).

Layout (Kafka's ``DefaultRecordBatch``)::

    baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32
    attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64
    producerId int64 | producerEpoch int16 | baseSequence int32 | recordsCount int32 | records...

``batchLength`` counts the bytes after the length field, so a batch occupies
``LOG_OVERHEAD + batchLength`` bytes. The CRC covers ``attributes`` to the end of the batch.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from typing import NamedTuple

import crc32c

from brook_broker.protocol.errors import CorruptRecordError, InvalidRecordError

#: ``baseOffset`` + ``batchLength``: the part of a batch that precedes its length-counted body.
LOG_OVERHEAD = 12
#: Size of the fixed batch header up to and including ``recordsCount``.
RECORD_BATCH_OVERHEAD = 61
#: The only batch format a Kafka 4.x broker accepts (KIP-724 removed magic 0 and 1).
MAGIC_V2 = 2
#: Offset of the first byte covered by the CRC (``attributes``).
CRC_START = 21

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
NO_PARTITION_LEADER_EPOCH = -1
NO_TIMESTAMP = -1

_HEADER = struct.Struct(">qiibIhiqqqhii")
_OFFSET_AND_LENGTH = struct.Struct(">qi")
_BASE_OFFSET = struct.Struct(">q")
_LEADER_EPOCH = struct.Struct(">i")
#: ``baseOffset`` + ``batchLength`` + ``partitionLeaderEpoch``: the bytes a leader rewrites.
_PREFIX = struct.Struct(">qii")
_ATTRIBUTES = struct.Struct(">h")
_MAX_TIMESTAMP = struct.Struct(">q")
_CRC = struct.Struct(">I")
#: Byte offsets of fields inside a batch.
_CRC_POSITION = 17
_MAX_TIMESTAMP_POSITION = 35
#: Bytes a leader rewrites at the front of each batch (outside the CRC).
BATCH_PREFIX_SIZE = _PREFIX.size

_COMPRESSION_MASK = 0x07
_TIMESTAMP_TYPE_MASK = 0x08
_TRANSACTIONAL_MASK = 0x10
_CONTROL_MASK = 0x20
_DELETE_HORIZON_MASK = 0x40


class CompressionType(enum.IntEnum):
    """Codec ids stored in bits 0-2 of the batch attributes."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


class TimestampType(enum.IntEnum):
    CREATE_TIME = 0
    LOG_APPEND_TIME = 1


class RecordBatchHeader(NamedTuple):
    """The fixed fields of one batch, as found at ``position`` in some buffer or file."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Total bytes of the batch including the offset and length fields."""
        return LOG_OVERHEAD + self.batch_length

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> CompressionType:
        return CompressionType(self.attributes & _COMPRESSION_MASK)

    @property
    def timestamp_type(self) -> TimestampType:
        return (
            TimestampType.LOG_APPEND_TIME
            if self.attributes & _TIMESTAMP_TYPE_MASK
            else TimestampType.CREATE_TIME
        )

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & _TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & _CONTROL_MASK)

    @property
    def has_producer_id(self) -> bool:
        return self.producer_id != NO_PRODUCER_ID

    @property
    def last_sequence(self) -> int:
        """Sequence of the last record, wrapping at int32 like Kafka's ``DefaultRecordBatch``."""
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) & 0x7FFFFFFF


def read_header(buf: bytes | bytearray | memoryview, position: int = 0) -> RecordBatchHeader:
    """Parse the fixed header at ``position``; the caller guarantees 61 bytes are there."""
    return RecordBatchHeader._make(_HEADER.unpack_from(buf, position))


def read_offset_and_length(buf: bytes | bytearray | memoryview, position: int = 0) -> tuple[int, int]:
    """``(baseOffset, batchLength)`` at ``position``: enough to skip from batch to batch."""
    base_offset, batch_length = _OFFSET_AND_LENGTH.unpack_from(buf, position)
    return base_offset, batch_length


def iter_batches(buf: bytes | bytearray | memoryview) -> Iterator[tuple[int, RecordBatchHeader]]:
    """Yield ``(position, header)`` for each complete batch; stop at a truncated tail.

    Used on data that came from our own log (already validated). For client input use
    `validate_batches`, which rejects what this silently ignores.
    """
    position = 0
    end = len(buf)
    while end - position >= RECORD_BATCH_OVERHEAD:
        header = read_header(buf, position)
        if header.batch_length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD or position + header.size > end:
            return
        yield position, header
        position += header.size


def crc_matches(buf: bytes | bytearray | memoryview, position: int, header: RecordBatchHeader) -> bool:
    """Whether the stored CRC-32C equals the checksum of ``attributes..end`` of the batch."""
    view = memoryview(buf)[position + CRC_START : position + header.size]
    return crc32c.crc32c(view) == header.crc


def validate_batches(buf: bytes | bytearray | memoryview) -> list[tuple[int, RecordBatchHeader]]:
    """Check every batch of a produce request's records and return their headers.

    Raises `CorruptRecordError` for anything that is not a sequence of whole, magic-2 batches
    with matching CRCs, and `InvalidRecordError` for impossible field values. Kafka answers
    the same inputs with CORRUPT_MESSAGE / INVALID_RECORD for the whole partition.
    """
    batches: list[tuple[int, RecordBatchHeader]] = []
    position = 0
    end = len(buf)
    if end == 0:
        raise CorruptRecordError("empty record set")
    while position < end:
        if end - position < RECORD_BATCH_OVERHEAD:
            raise CorruptRecordError(f"truncated record batch at byte {position}")
        header = read_header(buf, position)
        if header.magic != MAGIC_V2:
            raise CorruptRecordError(f"unsupported record batch magic {header.magic} (only v2 is accepted)")
        if header.batch_length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD or position + header.size > end:
            raise CorruptRecordError(f"record batch at byte {position} has an invalid length")
        if not crc_matches(buf, position, header):
            raise CorruptRecordError(f"record batch at byte {position} fails its CRC-32C check")
        if header.last_offset_delta < 0 or header.records_count < 0:
            raise InvalidRecordError("record batch has a negative record count")
        if header.records_count != header.last_offset_delta + 1 and not header.is_control:
            raise InvalidRecordError(
                f"record batch declares {header.records_count} records "
                f"but lastOffsetDelta {header.last_offset_delta}"
            )
        batches.append((position, header))
        position += header.size
    return batches


def encode_base_offset(base_offset: int) -> bytes:
    return _BASE_OFFSET.pack(base_offset)


def stamp_batch(buf: bytearray | memoryview, position: int, *, base_offset: int, leader_epoch: int) -> None:
    """Overwrite ``baseOffset`` and ``partitionLeaderEpoch`` in place (neither is under the CRC)."""
    _BASE_OFFSET.pack_into(buf, position, base_offset)
    _LEADER_EPOCH.pack_into(buf, position + LOG_OVERHEAD, leader_epoch)


def batch_prefix(*, base_offset: int, batch_length: int, leader_epoch: int) -> bytes:
    """The first 16 bytes of a batch as a leader writes it: its offset and epoch, same length.

    The log appends this followed by a view of the rest of the client's batch, so a produce is
    written without copying the batch (``os.writev``).
    """
    return _PREFIX.pack(base_offset, batch_length, leader_epoch)


def set_log_append_time(buf: bytearray | memoryview, position: int, timestamp: int) -> None:
    """Mark the batch at ``position`` as ``LogAppendTime`` at ``timestamp`` (Kafka's ``setMaxTimestamp``).

    Both fields are under the CRC, so it is recomputed. Records keep their own timestamps; readers
    use ``maxTimestamp`` for every record of a ``LogAppendTime`` batch.
    """
    attributes = _ATTRIBUTES.unpack_from(buf, position + CRC_START)[0] | _TIMESTAMP_TYPE_MASK
    _ATTRIBUTES.pack_into(buf, position + CRC_START, attributes)
    _MAX_TIMESTAMP.pack_into(buf, position + _MAX_TIMESTAMP_POSITION, timestamp)
    size = LOG_OVERHEAD + _OFFSET_AND_LENGTH.unpack_from(buf, position)[1]
    checksum = crc32c.crc32c(memoryview(buf)[position + CRC_START : position + size])
    _CRC.pack_into(buf, position + _CRC_POSITION, checksum)
