"""Offset lookups for ListOffsets: by timestamp and MAX_TIMESTAMP (Kafka's ``fetchOffsetByTimestamp``).

`UnifiedLog` calls `find_offset_by_timestamp` and `find_max_timestamp`; `LogSegment` calls
`first_record_at_or_after` once its time index and batch headers have narrowed the search to
one batch. Only that batch's records are decoded (through `protocol.record_reader`, which
handles every codec); ``LogAppendTime`` batches are answered from the header alone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from brook_broker.log.results import TimestampAndOffset
from brook_broker.protocol import record_reader
from brook_broker.protocol.errors import CorruptRecordError
from brook_broker.protocol.records import RecordBatchHeader, TimestampType

if TYPE_CHECKING:
    from brook_broker.log.local_log import LogSegments

logger = logging.getLogger(__name__)


def find_offset_by_timestamp(
    segments: LogSegments, target_ms: int, *, log_start_offset: int
) -> TimestampAndOffset | None:
    """The first record with timestamp >= ``target_ms`` and offset >= ``log_start_offset``.

    Kafka searches only the first segment whose largest timestamp qualifies; this goes on to
    later segments when that one's qualifying records all lie below the log start offset.
    """
    for segment in segments:
        following = segments.higher_segment(segment.base_offset)
        if following is not None and following.base_offset <= log_start_offset:
            continue
        if segment.largest_timestamp() < target_ms:
            continue
        found = segment.find_offset_by_timestamp(target_ms, log_start_offset)
        if found is not None:
            return found
    return None


def find_max_timestamp(segments: LogSegments) -> TimestampAndOffset | None:
    """The record with the largest timestamp, earliest such offset (Kafka 3.8+ semantics)."""
    candidates = [segment for segment in segments if segment.max_timestamp_so_far >= 0]
    if not candidates:
        return None
    # max() keeps the first of equal maxima: the earliest segment wins ties.
    segment = max(candidates, key=lambda candidate: candidate.max_timestamp_so_far)
    target = segment.max_timestamp_so_far
    position = segment.offset_index.lookup(segment.offset_of_max_timestamp_so_far).position
    for _, header, data in segment.log.batches(position):
        if header.max_timestamp == target:
            return TimestampAndOffset(
                target, offset_of_max_timestamp(data, header), header.partition_leader_epoch
            )
    return None


def first_record_at_or_after(
    batch: memoryview, header: RecordBatchHeader, *, timestamp: int, starting_offset: int
) -> TimestampAndOffset | None:
    """Within one batch, the first record with timestamp >= target and offset >= ``starting_offset``."""
    epoch = header.partition_leader_epoch
    if header.timestamp_type == TimestampType.LOG_APPEND_TIME:
        # Every record of a LogAppendTime batch carries the batch's maxTimestamp.
        if header.max_timestamp < timestamp:
            return None
        return TimestampAndOffset(header.max_timestamp, max(header.base_offset, starting_offset), epoch)
    try:
        for record in record_reader.iter_records(batch):
            if record.offset >= starting_offset and record.timestamp >= timestamp:
                return TimestampAndOffset(record.timestamp, record.offset, epoch)
    except CorruptRecordError:
        # The CRC matched when the batch was appended, but its records do not parse (the
        # broker does not decode records on produce). Answer at batch granularity.
        logger.warning("batch at offset %d has undecodable records", header.base_offset)
        return TimestampAndOffset(header.max_timestamp, max(header.base_offset, starting_offset), epoch)
    return None


def offset_of_max_timestamp(batch: memoryview, header: RecordBatchHeader) -> int:
    """The earliest record of the batch whose timestamp equals the batch's max (Kafka 3.8+)."""
    if header.timestamp_type == TimestampType.LOG_APPEND_TIME:
        return header.base_offset
    try:
        for record in record_reader.iter_records(batch):
            if record.timestamp == header.max_timestamp:
                return record.offset
    except CorruptRecordError:
        logger.warning("batch at offset %d has undecodable records", header.base_offset)
    return header.last_offset
