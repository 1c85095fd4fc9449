"""Loading a ``__consumer_offsets`` partition: replay its records into a fresh shard.

Kafka's ``CoordinatorLoaderImpl``: read the partition from its log start offset to its log
end offset, batch by batch, and replay every record in order; later records win, tombstones
delete, and the result is the state the shard had when it last wrote (compaction only drops
records that later ones override). Transaction markers (control batches) are skipped.
Groups come back as their last GroupMetadata record left them: Stable with their members
(who get a fresh session timeout to reconnect), or Empty; offsets come back as committed.

`load_partition` reads in chunks and yields to the event loop between them, so a large
partition does not stall the broker; the caller (`coordinator.GroupCoordinator`) answers
COORDINATOR_LOAD_IN_PROGRESS for the partition's groups meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from brook_broker.coordinator.group.records import CoordinatorRecord, decode_record
from brook_broker.coordinator.group.shard import GroupCoordinatorShard
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.errors import CorruptRecordError
from brook_broker.protocol.record_reader import iter_records
from brook_broker.protocol.records import iter_batches

logger = logging.getLogger(__name__)

#: Bytes read per step; a larger batch is still read whole.
LOAD_CHUNK_BYTES = 1024 * 1024


def read_chunk(log: UnifiedLog, offset: int) -> tuple[list[tuple[int, CoordinatorRecord]], int]:
    """The records of the batches at ``offset`` onwards (about one chunk), and the next offset."""
    data = log.read(offset, max_bytes=LOAD_CHUNK_BYTES, max_offset=None, min_one_message=True)
    buf = data.records.read_bytes()
    records: list[tuple[int, CoordinatorRecord]] = []
    next_offset = offset
    for position, header in iter_batches(buf):
        next_offset = header.next_offset
        if header.is_control:
            continue
        for record in iter_records(memoryview(buf)[position : position + header.size]):
            if record.offset < offset or record.key is None:
                continue  # the start of a batch we began in the middle of; or not ours
            try:
                records.append((record.offset, decode_record(bytes(record.key), _value(record.value))))
            except CorruptRecordError as exc:
                # Kafka fails the whole load here; skipping one record keeps the other groups usable.
                logger.error(  # noqa: TRY400 - the message says all there is; no traceback
                    "%s: cannot decode the record at offset %d: %s", log.topic_partition, record.offset, exc
                )
    return records, next_offset


def _value(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


def iter_partition(log: UnifiedLog) -> Iterator[tuple[int, CoordinatorRecord]]:
    """Every record from the log start to the log end, in order (synchronous)."""
    offset = log.log_start_offset
    end = log.log_end_offset
    while offset < end:
        records, next_offset = read_chunk(log, offset)
        if next_offset <= offset:
            break  # nothing readable past here (should not happen below the log end)
        yield from records
        offset = next_offset


async def load_partition(log: UnifiedLog, shard: GroupCoordinatorShard) -> int:
    """Replay the whole partition into ``shard``; returns the number of records replayed."""
    count = 0
    offset = log.log_start_offset
    end = log.log_end_offset
    while offset < end:
        records, next_offset = read_chunk(log, offset)
        if next_offset <= offset:
            break
        for record_offset, record in records:
            shard.replay(record_offset, record)
        count += len(records)
        offset = next_offset
        await asyncio.sleep(0)  # let requests for other partitions through
    return count
