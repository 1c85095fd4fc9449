"""Builders and a fake clock for the log layer's tests (imported by them as ``log_testkit``).

Batches are encoded with `protocol.record_reader.build_batch`, the project's own encoder.
`tests/broker/log/conftest.py` puts this directory on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from brook_broker.log.manager import LogManager
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.record_reader import Record, build_batch, iter_records
from brook_broker.protocol.records import (
    NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    NO_SEQUENCE,
    CompressionType,
    RecordBatchHeader,
    iter_batches,
)
from brook_broker.protocol.types import TopicPartition

#: The ``open_log`` fixture: ``open_log(config=None, **UnifiedLog.load kwargs)``.
OpenLog = Callable[..., UnifiedLog]
#: The ``new_log_manager`` fixture: ``new_log_manager(dirs, **LogManager kwargs)``.
NewLogManager = Callable[..., LogManager]

TP = TopicPartition("events", 0)
#: Timestamps in tests sit near this wall-clock time (2024-01-01), and the fake clock starts here.
T0 = 1_704_067_200_000


class FakeClock:
    """Kafka's MockTime in miniature: milliseconds that move only when a test says so."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def make_batch(
    count: int = 1,
    *,
    value_size: int = 10,
    timestamp: int = T0,
    timestamps: Sequence[int] | None = None,
    base_offset: int = 0,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
    base_sequence: int = NO_SEQUENCE,
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
    compression: CompressionType = CompressionType.NONE,
    is_control: bool = False,
    tag: int = 0,
) -> bytes:
    """A v2 batch of ``count`` records whose values are ``value_size`` bytes of ``tag``."""
    stamps = list(timestamps) if timestamps is not None else [timestamp] * count
    records = [
        Record(
            offset=base_offset + i,
            timestamp=stamps[i],
            key=f"k{i}".encode(),
            value=bytes([tag % 256]) * value_size,
        )
        for i in range(count)
    ]
    return build_batch(
        records,
        base_offset=base_offset,
        compression=compression,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        partition_leader_epoch=partition_leader_epoch,
        is_control=is_control,
    )


# --- compaction -------------------------------------------------------------------------------

KeyValue = tuple[bytes | None, bytes | None]


def keyed_batch(
    pairs: Sequence[KeyValue],
    *,
    timestamp: int = T0,
    compression: CompressionType = CompressionType.NONE,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
    base_sequence: int = NO_SEQUENCE,
    xerial_snappy: bool = True,
) -> bytes:
    """A producer's batch of ``(key, value)`` records (value None: a tombstone), offsets from 0."""
    records = [Record(offset=i, timestamp=timestamp + i, key=k, value=v) for i, (k, v) in enumerate(pairs)]
    return build_batch(
        records,
        base_offset=0,
        compression=compression,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        xerial_snappy=xerial_snappy,
    )


def read_records(log: UnifiedLog, *, start: int | None = None) -> list[Record]:
    """Every record of the log from ``start`` (default: the log start) to its end, via `UnifiedLog.read`."""
    records: list[Record] = []
    offset = log.log_start_offset if start is None else start
    while offset < log.log_end_offset:
        data = log.read(offset, max_bytes=1 << 20).records.read_bytes()
        if not data:
            break
        for position, header in iter_batches(data):
            records.extend(iter_records(memoryview(data)[position : position + header.size], verify_crc=True))
            offset = header.next_offset
    return records


def read_batch_headers(log: UnifiedLog) -> list[RecordBatchHeader]:
    """The headers of every batch in the log, in order (from the segment files)."""
    return [header for segment in log.local_log.segments for _, header in segment.log.batch_headers()]


def latest_per_key(records: Sequence[Record]) -> dict[bytes, bytes | None]:
    """The model of a compacted log: each key's last value (None for a tombstone)."""
    model: dict[bytes, bytes | None] = {}
    for record in records:
        assert record.key is not None
        model[record.key] = record.value
    return model
