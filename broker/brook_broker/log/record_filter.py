"""Rewriting one record batch without some of its records (Kafka's ``MemoryRecords.filterTo``).

`cleaner.Cleaner` calls `filter_batch` for every batch of the segments it cleans, with a
predicate saying which records stay. The batch keeps its structure, so offsets, producer
state and leader epochs read from the cleaned log are those of the original:

- a batch whose records all stay is copied byte for byte (no decompression of the output);
- otherwise the kept records go into a batch with the same base offset, offset range
  (``lastOffsetDelta``), base timestamp, producer id, epoch and base sequence, partition
  leader epoch, attributes and codec (`record_reader.rebuild_batch`: each record's bytes are
  copied, the section recompressed with the batch's codec; snappy keeps its framing);
- a batch with no records left is dropped, or kept as an empty batch (header only, no
  compression, ``maxTimestamp`` kept) when the caller says it is needed;
- KIP-534: a kept batch with tombstones and no delete horizon gets one, ``now +
  delete.retention.ms``, stored as its ``baseTimestamp`` with attribute bit 6; a later
  cleaning removes those tombstones once the horizon has passed. Setting it re-encodes the
  kept records (`record_reader.build_batch`), even when every record stays, as Kafka does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from brook_broker.protocol import record_reader
from brook_broker.protocol.compression import XERIAL_MAGIC
from brook_broker.protocol.records import (
    RECORD_BATCH_OVERHEAD,
    CompressionType,
    RecordBatchHeader,
    TimestampType,
)

#: Attribute bit 6 (KIP-534): ``baseTimestamp`` is the batch's delete horizon.
DELETE_HORIZON_FLAG = 0x40


class FilteredBatch(NamedTuple):
    """What remains of one batch: its bytes (None: dropped) and the record counts."""

    data: bytes | memoryview | None
    records_read: int
    records_kept: int


def delete_horizon_ms(header: RecordBatchHeader) -> int | None:
    """The batch's KIP-534 delete horizon, or None if it has none."""
    return header.base_timestamp if header.attributes & DELETE_HORIZON_FLAG else None


def empty_batch(header: RecordBatchHeader) -> bytes:
    """The header-only batch that keeps a batch's offsets and producer fields (Kafka's writeEmptyHeader)."""
    return record_reader.build_batch(
        [],
        base_offset=header.base_offset,
        last_offset_delta=header.last_offset_delta,
        timestamp_type=header.timestamp_type,
        max_timestamp=header.max_timestamp,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch,
        is_transactional=header.is_transactional,
        is_control=header.is_control,
    )


#: ``keep(offset, key, has_value)``: whether the record at ``offset`` stays.
KeepRecord = Callable[[int, bytes | None, bool], bool]


def filter_batch(
    data: memoryview,
    header: RecordBatchHeader,
    *,
    keep: KeepRecord,
    retain_empty: bool,
    new_delete_horizon_ms: int,
) -> FilteredBatch:
    """Keep the records of one batch for which ``keep`` is true.

    ``retain_empty`` keeps an emptied batch as a header; ``new_delete_horizon_ms`` is the
    horizon given to a batch that keeps tombstones and has none yet. Raises
    `CorruptRecordError` if the records do not decode.
    """
    section, spans = record_reader.scan_records(data)
    base = header.base_offset
    kept = [
        index for index, span in enumerate(spans) if keep(base + span.offset_delta, span.key, span.has_value)
    ]
    if not kept:
        return FilteredBatch(empty_batch(header) if retain_empty else None, len(spans), 0)
    horizon = delete_horizon_ms(header)
    needs_horizon = horizon is None and any(not spans[index].has_value for index in kept)
    if len(kept) == len(spans) and not needs_horizon:
        return FilteredBatch(data, len(spans), len(kept))
    xerial_snappy = _is_xerial_snappy(data, header)
    if not needs_horizon:
        # The common case: the kept records' bytes are copied, nothing is re-encoded.
        rebuilt = record_reader.rebuild_batch(
            header, section, [spans[index] for index in kept], xerial_snappy=xerial_snappy
        )
        return FilteredBatch(rebuilt, len(spans), len(kept))
    # A new delete horizon becomes the base timestamp, so every timestamp delta changes.
    records = list(record_reader.iter_records(data))
    log_append_time = header.timestamp_type == TimestampType.LOG_APPEND_TIME
    rebuilt = record_reader.build_batch(
        [records[index] for index in kept],
        base_offset=header.base_offset,
        last_offset_delta=header.last_offset_delta,
        compression=header.compression,
        timestamp_type=header.timestamp_type,
        log_append_time=header.max_timestamp if log_append_time else None,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch,
        is_transactional=header.is_transactional,
        xerial_snappy=xerial_snappy,
        delete_horizon_ms=new_delete_horizon_ms,
    )
    return FilteredBatch(rebuilt, len(spans), len(kept))


def _is_xerial_snappy(data: memoryview, header: RecordBatchHeader) -> bool:
    # Keep the producer's snappy framing: librdkafka writes raw snappy, Java the xerial stream.
    if header.attributes & 0x07 != CompressionType.SNAPPY:
        return True
    section = data[RECORD_BATCH_OVERHEAD : RECORD_BATCH_OVERHEAD + len(XERIAL_MAGIC)]
    return bytes(section) == XERIAL_MAGIC
