"""Record-level decoding (and encoding, for tests and tools) of magic-v2 record batches.

The hot path never calls this: batches stay opaque bytes (see `protocol.records`). It is
used where the broker needs record contents: the log cleaner (keys), validation of
compacted topics (keyless records), ``LogAppendTime`` handling, the ``brook`` CLI's
consumer, and tests. `build_batch` is the inverse, used by tests and the CLI's producer.

Record layout (Kafka's ``DefaultRecord``; varints are zigzag-encoded)::

    length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
    keyLength varint | key | valueLength varint | value
    headerCount varint | [headerKeyLength varint | headerKey | headerValueLength varint | value]

When the batch is compressed, everything after ``recordsCount`` is one compressed blob
(`protocol.compression` holds the codecs).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import crc32c

from brook_broker.protocol.compression import compress, decompress
from brook_broker.protocol.errors import CorruptRecordError
from brook_broker.protocol.records import (
    CRC_START,
    LOG_OVERHEAD,
    MAGIC_V2,
    NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    NO_SEQUENCE,
    NO_TIMESTAMP,
    RECORD_BATCH_OVERHEAD,
    CompressionType,
    RecordBatchHeader,
    TimestampType,
    read_header,
)

__all__ = [
    "Record",
    "RecordSpan",
    "build_batch",
    "iter_records",
    "rebuild_batch",
    "scan_records",
]

_HEADER = struct.Struct(">qiibIhiqqqhii")

_ATTR_TIMESTAMP_TYPE = 0x08
_ATTR_TRANSACTIONAL = 0x10
_ATTR_CONTROL = 0x20
#: KIP-534: ``baseTimestamp`` holds the delete horizon of the batch's tombstones.
_ATTR_DELETE_HORIZON = 0x40
#: Kafka's ``ByteUtils`` refuses varints longer than 5 bytes and varlongs longer than 10.
_VARINT_MAX_SHIFT = 28
_VARLONG_MAX_SHIFT = 63


class Record(NamedTuple):
    """One record with absolute offset and timestamp (ms); header keys are UTF-8 strings."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    attributes: int = 0


# --- decoding -------------------------------------------------------------------------------


def iter_records(batch: bytes | memoryview, *, verify_crc: bool = False) -> Iterator[Record]:
    """Decode the records of one v2 batch (bytes from its ``baseOffset`` on; extra bytes ignored).

    The header is checked (and the records section decompressed) before this returns; the
    records themselves are parsed lazily. Any malformation raises `CorruptRecordError`.
    """
    header, data = _records_section(batch, verify_crc=verify_crc)
    if not header.records_count:
        return iter(())
    log_append_time = header.max_timestamp if header.attributes & _ATTR_TIMESTAMP_TYPE else None
    return _parse_records(
        data,
        count=header.records_count,
        base_offset=header.base_offset,
        base_timestamp=header.base_timestamp,
        log_append_time=log_append_time,
    )


def _records_section(batch: bytes | memoryview, *, verify_crc: bool) -> tuple[RecordBatchHeader, bytes]:
    """The checked header and the decompressed records section (empty for an empty batch)."""
    if len(batch) < RECORD_BATCH_OVERHEAD:
        raise CorruptRecordError("record batch is shorter than its header")
    header = read_header(batch, 0)
    if header.magic != MAGIC_V2:
        raise CorruptRecordError(f"unsupported record batch magic {header.magic}")
    if header.batch_length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD or header.size > len(batch):
        raise CorruptRecordError("record batch length does not match its data")
    if header.records_count < 0:
        raise CorruptRecordError("record batch has a negative record count")
    if verify_crc and crc32c.crc32c(memoryview(batch)[CRC_START : header.size]) != header.crc:
        raise CorruptRecordError("record batch fails its CRC-32C check")
    if header.records_count == 0:
        # Compaction leaves empty batches with the codec bit still set and no records
        # section at all; Kafka's DefaultRecordBatch yields nothing without decompressing.
        return header, b""
    section = memoryview(batch)[RECORD_BATCH_OVERHEAD : header.size]
    # Not ``header.compression``: codecs 5-7 must become CorruptRecordError, not ValueError.
    return header, decompress(header.attributes & 0x07, section)


class RecordSpan(NamedTuple):
    """One record of a records section: what the log cleaner decides on, and where its bytes are."""

    offset_delta: int
    timestamp_delta: int
    key: bytes | None
    has_value: bool
    start: int
    end: int


def scan_records(batch: bytes | memoryview) -> tuple[bytes, list[RecordSpan]]:
    """The decompressed records section of a batch and a `RecordSpan` per record.

    A lighter `iter_records` for the log cleaner and the keyless-record check: values and
    headers are skipped, not decoded (their lengths are checked by the record's length).
    """
    header, data = _records_section(batch, verify_crc=False)
    spans: list[RecordSpan] = []
    position, end = 0, len(data)
    for index in range(header.records_count):
        # As in `_parse_record`, one-byte varints are decoded inline: calls dominate the cost.
        try:
            length, body = _read_varint(data, position, _VARINT_MAX_SHIFT)
            record_end = body + length
            if length < 0 or record_end > end:
                raise CorruptRecordError(f"record {index} exceeds the batch")
            byte = data[body + 1]
            if byte < 0x80:
                timestamp_delta, cursor = (byte >> 1) ^ -(byte & 1), body + 2
            else:
                timestamp_delta, cursor = _read_varint(data, body + 1, _VARLONG_MAX_SHIFT)
            byte = data[cursor]
            if byte < 0x80:
                offset_delta, cursor = (byte >> 1) ^ -(byte & 1), cursor + 1
            else:
                offset_delta, cursor = _read_varint(data, cursor, _VARINT_MAX_SHIFT)
            key, cursor = _read_bytes(data, cursor, record_end)
            # A null value's length, -1, is the single zigzag byte 0x01.
            has_value = data[cursor] != 0x01
        except IndexError:
            raise CorruptRecordError(f"record {index} is truncated") from None
        if cursor >= record_end:
            raise CorruptRecordError(f"record {index} is longer than its length")
        spans.append(RecordSpan(offset_delta, timestamp_delta, key, has_value, position, record_end))
        position = record_end
    if position != end:
        raise CorruptRecordError(f"{end - position} bytes remain after the declared records")
    return data, spans


def _parse_records(
    data: bytes, *, count: int, base_offset: int, base_timestamp: int, log_append_time: int | None
) -> Iterator[Record]:
    position = 0
    end = len(data)
    for index in range(count):
        try:
            record, position = _parse_record(data, position, end)
        except IndexError:  # a varint or the attributes byte ran past the end of the data
            raise CorruptRecordError(f"record {index} is truncated") from None
        except UnicodeDecodeError:
            raise CorruptRecordError(f"record {index} has a header key that is not UTF-8") from None
        offset_delta, timestamp_delta, key, value, headers, attributes = record
        timestamp = base_timestamp + timestamp_delta if log_append_time is None else log_append_time
        yield Record(base_offset + offset_delta, timestamp, key, value, headers, attributes)
    if position != end:
        # Kafka's DefaultRecordBatch: "Incorrect declared batch size, records still remaining".
        raise CorruptRecordError(f"{end - position} bytes remain after the declared {count} records")


_RawRecord = tuple[int, int, bytes | None, bytes | None, tuple[tuple[str, bytes | None], ...], int]


def _parse_record(data: bytes, position: int, end: int) -> tuple[_RawRecord, int]:
    # Varints of one byte (values -64..63) are decoded inline: calls dominate the cost here.
    length, position = _read_varint(data, position, _VARINT_MAX_SHIFT)
    record_end = position + length
    if length < 0 or record_end > end:
        raise CorruptRecordError("record length exceeds the batch")
    attributes = data[position]
    attributes = attributes - 256 if attributes > 127 else attributes
    timestamp_delta, position = _read_varint(data, position + 1, _VARLONG_MAX_SHIFT)
    byte = data[position]
    if byte < 0x80:
        offset_delta = (byte >> 1) ^ -(byte & 1)
        position += 1
    else:
        offset_delta, position = _read_varint(data, position, _VARINT_MAX_SHIFT)
    key, position = _read_bytes(data, position, record_end)
    value, position = _read_bytes(data, position, record_end)
    byte = data[position]
    if byte == 0:  # no headers, the usual case
        return (offset_delta, timestamp_delta, key, value, (), attributes), _check_end(
            position + 1, record_end
        )
    header_count, position = _read_varint(data, position, _VARINT_MAX_SHIFT)
    if header_count < 0:
        raise CorruptRecordError("record has a negative header count")
    headers: list[tuple[str, bytes | None]] = []
    for _ in range(header_count):
        # Each header takes at least two bytes, so the bound check ends a forged huge count.
        header_key, position = _read_bytes(data, position, record_end)
        if header_key is None:
            raise CorruptRecordError("record header has a null key")
        header_value, position = _read_bytes(data, position, record_end)
        headers.append((header_key.decode(), header_value))
    return (offset_delta, timestamp_delta, key, value, tuple(headers), attributes), _check_end(
        position, record_end
    )


def _check_end(position: int, record_end: int) -> int:
    if position != record_end:
        raise CorruptRecordError("record length does not match its fields")
    return position


def _read_bytes(data: bytes, position: int, limit: int) -> tuple[bytes | None, int]:
    byte = data[position]
    if byte < 0x80:
        length = (byte >> 1) ^ -(byte & 1)
        position += 1
    else:
        length, position = _read_varint(data, position, _VARINT_MAX_SHIFT)
    if length < 0:
        return None, position
    if position + length > limit:
        raise CorruptRecordError("record field length exceeds the record")
    return data[position : position + length], position + length


def _read_varint(data: bytes, position: int, max_shift: int) -> tuple[int, int]:
    """A zigzag varint (``max_shift`` 28) or varlong (63) at ``position``: ``(value, next)``."""
    byte = data[position]
    position += 1
    if byte < 0x80:  # the common case: small lengths and deltas fit one byte
        return (byte >> 1) ^ -(byte & 1), position
    raw = byte & 0x7F
    shift = 7
    while True:
        byte = data[position]
        position += 1
        raw |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (raw >> 1) ^ -(raw & 1), position
        shift += 7
        if shift > max_shift:
            raise CorruptRecordError("varint is too long")


# --- encoding -------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)  # zigzag over 64 bits covers both varint and varlong
    out = bytearray()
    while raw > 0x7F:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def _encode_bytes(value: bytes | None) -> bytes:
    return _varint(-1) if value is None else _varint(len(value)) + value


def _encode_record(record: Record, *, base_offset: int, base_timestamp: int) -> bytes:
    parts = [
        struct.pack(">b", record.attributes),
        _varint(record.timestamp - base_timestamp),
        _varint(record.offset - base_offset),
        _encode_bytes(record.key),
        _encode_bytes(record.value),
        _varint(len(record.headers)),
    ]
    for header_key, header_value in record.headers:
        parts += (_encode_bytes(header_key.encode()), _encode_bytes(header_value))
    body = b"".join(parts)
    return _varint(len(body)) + body


def build_batch(
    records: Sequence[Record],
    *,
    base_offset: int | None = None,
    compression: CompressionType = CompressionType.NONE,
    timestamp_type: TimestampType = TimestampType.CREATE_TIME,
    log_append_time: int | None = None,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
    base_sequence: int = NO_SEQUENCE,
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
    is_transactional: bool = False,
    is_control: bool = False,
    last_offset_delta: int | None = None,
    xerial_snappy: bool = True,
    delete_horizon_ms: int | None = None,
    max_timestamp: int | None = None,
) -> bytes:
    """Encode one v2 batch as a producer (or, with ``log_append_time``, the broker) would.

    ``base_offset`` defaults to the first record's offset and ``baseTimestamp`` is the first
    record's timestamp, as in Kafka's ``MemoryRecordsBuilder``. The log cleaner passes the rest:
    ``last_offset_delta`` keeps a source batch's offset range when records were removed (and
    builds the empty batches compaction leaves behind), ``delete_horizon_ms`` sets KIP-534's
    delete horizon (``baseTimestamp`` becomes the horizon, attribute bit 6 is set, record
    timestamps stay exact through their deltas), and ``max_timestamp`` keeps an empty
    batch's ``maxTimestamp``.
    """
    if base_offset is None:
        base_offset = records[0].offset if records else 0
    base_timestamp = records[0].timestamp if records else NO_TIMESTAMP
    if delete_horizon_ms is not None:
        base_timestamp = delete_horizon_ms
    if timestamp_type == TimestampType.LOG_APPEND_TIME and max_timestamp is None:
        if log_append_time is None:
            raise ValueError("a LogAppendTime batch needs log_append_time")
        max_timestamp = log_append_time
    elif max_timestamp is None:
        max_timestamp = max((r.timestamp for r in records), default=NO_TIMESTAMP)
    if last_offset_delta is None:
        last_offset_delta = records[-1].offset - base_offset if records else -1
    attributes = int(compression)
    attributes |= _ATTR_TIMESTAMP_TYPE if timestamp_type == TimestampType.LOG_APPEND_TIME else 0
    attributes |= _ATTR_TRANSACTIONAL if is_transactional else 0
    attributes |= _ATTR_CONTROL if is_control else 0
    attributes |= _ATTR_DELETE_HORIZON if delete_horizon_ms is not None else 0
    body = b"".join(
        _encode_record(record, base_offset=base_offset, base_timestamp=base_timestamp) for record in records
    )
    # An empty batch has no records section even when compressed (Kafka's writeEmptyHeader).
    section = compress(compression, body, xerial_snappy=xerial_snappy) if records else b""
    return _assemble_batch(
        base_offset=base_offset,
        partition_leader_epoch=partition_leader_epoch,
        attributes=attributes,
        last_offset_delta=last_offset_delta,
        base_timestamp=base_timestamp,
        max_timestamp=max_timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        records_count=len(records),
        section=section,
    )


def rebuild_batch(
    header: RecordBatchHeader, section: bytes, spans: Sequence[RecordSpan], *, xerial_snappy: bool = True
) -> bytes:
    """The batch ``header`` describes, holding only the records at ``spans`` of its records section.

    The log cleaner's copy: every header field stays (base offset, ``lastOffsetDelta``,
    ``baseTimestamp``, producer fields, attributes), so each record's bytes are copied as
    they are, their offset and timestamp deltas still valid. Recompressed with the batch's
    codec; ``maxTimestamp`` is recomputed for ``CreateTime`` batches.
    """
    if not spans:
        raise ValueError("a rebuilt batch needs at least one record")
    body = b"".join(section[span.start : span.end] for span in spans)
    max_timestamp = header.max_timestamp
    if not header.attributes & _ATTR_TIMESTAMP_TYPE:
        max_timestamp = header.base_timestamp + max(span.timestamp_delta for span in spans)
    return _assemble_batch(
        base_offset=header.base_offset,
        partition_leader_epoch=header.partition_leader_epoch,
        attributes=header.attributes,
        last_offset_delta=header.last_offset_delta,
        base_timestamp=header.base_timestamp,
        max_timestamp=max_timestamp,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        records_count=len(spans),
        section=compress(header.attributes & 0x07, body, xerial_snappy=xerial_snappy),
    )


def _assemble_batch(
    *,
    base_offset: int,
    partition_leader_epoch: int,
    attributes: int,
    last_offset_delta: int,
    base_timestamp: int,
    max_timestamp: int,
    producer_id: int,
    producer_epoch: int,
    base_sequence: int,
    records_count: int,
    section: bytes,
) -> bytes:
    try:
        header = bytearray(
            _HEADER.pack(
                base_offset,
                RECORD_BATCH_OVERHEAD - LOG_OVERHEAD + len(section),
                partition_leader_epoch,
                MAGIC_V2,
                0,  # the CRC, filled in below once the covered bytes exist
                attributes,
                last_offset_delta,
                base_timestamp,
                max_timestamp,
                producer_id,
                producer_epoch,
                base_sequence,
                records_count,
            )
        )
    except struct.error as exc:
        raise ValueError(f"record batch field out of range: {exc}") from exc
    crc = crc32c.crc32c(section, crc32c.crc32c(memoryview(header)[CRC_START:]))
    struct.pack_into(">I", header, CRC_START - 4, crc)
    return bytes(header) + section
