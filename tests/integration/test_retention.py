"""Retention: old segments leave the disk, the log start offset moves, readers start at the new start.

Segments are 1 MiB (the smallest ``segment.bytes`` Kafka 4.x accepts), so each test writes a
few MiB; the broker checks retention every 200 ms (``tuned_brook``) and topics set
``file.delete.delay.ms=0`` so a deleted segment's files go at once instead of a minute
later. Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AioTopicPartition
from confluent_kafka import OFFSET_BEGINNING, TopicCollection
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from harness.brook import BrookProcess
from harness.kafka_clients import (
    Message,
    admin,
    consume_confluent,
    create_topic,
    produce_confluent,
    wait_until,
)
from harness.kafka_wire import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, KafkaWire, list_offset

pytestmark = pytest.mark.xdist_group("tuned_brook")

SEGMENT_BYTES = 1024 * 1024
RECORD = b"r" * 1000
#: Records per MiB-sized segment, about (records carry ~70 bytes of framing each in small batches).
PER_SEGMENT = SEGMENT_BYTES // len(RECORD)


def _segments(brook: BrookProcess, topic: str) -> list[int]:
    """Base offsets of the partition's segment files on disk (``.deleted`` files excluded)."""
    directory = brook.data_dir / "logs" / f"{topic}-0"
    return sorted(int(p.stem) for p in directory.glob("*.log"))


def _files(brook: BrookProcess, topic: str) -> list[Path]:
    return sorted((brook.data_dir / "logs" / f"{topic}-0").iterdir())


def _offsets(brook: BrookProcess, topic: str) -> tuple[int, int]:
    with KafkaWire.connect(brook.bootstrap) as wire:
        return list_offset(wire, topic, EARLIEST_TIMESTAMP)[0], list_offset(wire, topic, LATEST_TIMESTAMP)[0]


def _fill(brook: BrookProcess, topic: str, *, segments: float, timestamp_ms: int | None = None) -> int:
    count = int(PER_SEGMENT * segments)
    messages = [Message(value=RECORD, key=str(i).encode(), timestamp_ms=timestamp_ms) for i in range(count)]
    produce_confluent(brook.bootstrap, topic, messages, compression="none", config={"batch.size": 64 * 1024})
    return count


def _read_from_beginning(brook: BrookProcess, topic: str) -> int:
    """The first offset a librdkafka consumer positioned at OFFSET_BEGINNING receives."""
    [first] = consume_confluent(brook.bootstrap, topic, 1, offset=OFFSET_BEGINNING)
    return first.offset


def test_retention_bytes_deletes_oldest_segments(tuned_brook: BrookProcess, unique_topic: str) -> None:
    """retention.bytes=2 MiB over ~4.5 MiB of 1 MiB segments: the oldest segment files vanish,
    ListOffsets earliest is the first remaining segment's base offset, and consumers from the
    beginning (librdkafka OFFSET_BEGINNING; a stale offset 0 with auto.offset.reset) start there."""
    create_topic(
        tuned_brook.bootstrap,
        unique_topic,
        config={
            "segment.bytes": str(SEGMENT_BYTES),
            "retention.bytes": str(2 * SEGMENT_BYTES),
            "file.delete.delay.ms": "0",
        },
    )
    total = _fill(tuned_brook, unique_topic, segments=4.5)
    wait_until(lambda: _offsets(tuned_brook, unique_topic)[0] > 0, what="retention to move the log start")
    wait_until(lambda: len(_segments(tuned_brook, unique_topic)) <= 3, what="old segments to be deleted")
    remaining = _segments(tuned_brook, unique_topic)
    start, end = _offsets(tuned_brook, unique_topic)
    assert (start, end) == (remaining[0], total)
    wait_until(
        lambda: not any(p.name.endswith(".deleted") for p in _files(tuned_brook, unique_topic)),
        what="no .deleted files left behind (file.delete.delay.ms=0)",
    )
    base_names = {
        int(p.stem) for p in _files(tuned_brook, unique_topic) if p.suffix in (".index", ".timeindex")
    }
    assert base_names <= set(remaining), "the deleted segments' index files are gone too"
    size = sum(p.stat().st_size for p in _files(tuned_brook, unique_topic) if p.suffix == ".log")
    assert size <= 3 * SEGMENT_BYTES
    assert _read_from_beginning(tuned_brook, unique_topic) == start
    [reset] = consume_confluent(
        tuned_brook.bootstrap, unique_topic, 1, offset=0, config={"auto.offset.reset": "earliest"}
    )
    assert reset.offset == start


def test_retention_ms_deletes_segments_past_their_time(tuned_brook: BrookProcess, unique_topic: str) -> None:
    """Records stamped two days ago fill two segments under the default 7-day retention; lowering
    retention.ms to one day (IncrementalAlterConfigs, a live change) deletes them. The active
    segment, holding a record stamped now, stays; aiokafka's seek_to_beginning lands on it."""
    create_topic(
        tuned_brook.bootstrap,
        unique_topic,
        config={"segment.bytes": str(SEGMENT_BYTES), "file.delete.delay.ms": "0"},
    )
    two_days_ago = int(time.time() * 1000) - 2 * 86_400_000
    old = _fill(tuned_brook, unique_topic, segments=2.2, timestamp_ms=two_days_ago)
    produce_confluent(tuned_brook.bootstrap, unique_topic, [Message(value=b"fresh")])
    before = _segments(tuned_brook, unique_topic)
    assert len(before) == 3
    assert _offsets(tuned_brook, unique_topic) == (0, old + 1), "nothing expires under the 7-day default"

    client = admin(tuned_brook.bootstrap)
    entry = ConfigEntry("retention.ms", str(86_400_000), incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, unique_topic, incremental_configs=[entry])
    client.incremental_alter_configs([resource])[resource].result(15)

    wait_until(
        lambda: _segments(tuned_brook, unique_topic) == before[-1:], what="the two expired segments to go"
    )
    assert _offsets(tuned_brook, unique_topic) == (before[-1], old + 1)

    async def first_after_seek_to_beginning() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=tuned_brook.bootstrap)
        await consumer.start()
        try:
            tp = AioTopicPartition(unique_topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            return await consumer.position(tp)
        finally:
            await consumer.stop()

    assert asyncio.run(first_after_seek_to_beginning()) == before[-1]
    description = client.describe_topics(TopicCollection([unique_topic]))[unique_topic].result(15)
    assert len(description.partitions) == 1
