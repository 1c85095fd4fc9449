"""ListOffsets: earliest, latest, by timestamp and max timestamp, as clients ask for them.

The topic is built so that the answers are known: three single-record batches, then one
gzip batch of five records whose timestamps are not in order (the largest in the middle),
then two more single records. Looking up a timestamp that falls inside the compressed
batch must return the exact record's offset (Kafka decompresses the batch to find it),
and the max-timestamp lookup (KIP-734) must name the record in the middle of that batch,
not the batch's last offset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AioTopicPartition
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import OffsetSpec
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaPythonTopicPartition

from harness.brook import BrookProcess
from harness.kafka_clients import Message, admin, create_topic, produce_confluent, produce_one_batch
from harness.kafka_wire import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_TIMESTAMP,
    KafkaWire,
    fetch_batches,
    list_offset,
)

#: Offsets 0..9 and their timestamps as offsets from the topic's base time.
DELTAS = [0, 10, 20, 30, 40, 90, 50, 60, 70, 80]
COMPRESSED = range(3, 8)  # the offsets in the one gzip batch


@dataclass(frozen=True)
class TimedTopic:
    bootstrap: str
    name: str
    base_ms: int

    def ts(self, offset: int) -> int:
        return self.base_ms + DELTAS[offset]


@pytest.fixture(scope="module")
def timed_topic(shared_brook: BrookProcess) -> Iterator[TimedTopic]:
    """One topic for every test here (they only read it)."""
    topic = TimedTopic(
        shared_brook.bootstrap, f"list-offsets-{time.time_ns()}", int(time.time() * 1000) - 600_000
    )
    create_topic(topic.bootstrap, topic.name)
    for offset in range(3):
        produce_confluent(
            topic.bootstrap, topic.name, [Message(value=b"single", timestamp_ms=topic.ts(offset))]
        )
    batch = [Message(value=f"in-batch-{o}".encode(), timestamp_ms=topic.ts(o)) for o in COMPRESSED]
    assert produce_one_batch(topic.bootstrap, topic.name, batch, compression="gzip") == 3
    for offset in (8, 9):
        produce_confluent(
            topic.bootstrap, topic.name, [Message(value=b"single", timestamp_ms=topic.ts(offset))]
        )
    with KafkaWire.connect(topic.bootstrap) as wire:
        batches = fetch_batches(wire, topic.name)
    assert [(b.base_offset, b.records_count, b.attributes & 7) for b in batches] == [
        (0, 1, 0),
        (1, 1, 0),
        (2, 1, 0),
        (3, 5, 1),  # gzip
        (8, 1, 0),
        (9, 1, 0),
    ]
    yield topic


def _expected(topic: TimedTopic, target_delta: int) -> tuple[int, int] | None:
    """Kafka's rule: the first offset (in log order) whose timestamp is >= the target."""
    for offset, delta in enumerate(DELTAS):
        if delta >= target_delta:
            return offset, topic.ts(offset)
    return None


TARGETS = [0, 5, 20, 35, 45, 55, 85, 90, 95]


def test_raw_list_offsets(timed_topic: TimedTopic) -> None:
    """ListOffsets v7 on the wire: earliest, latest, max timestamp and every target timestamp."""
    with KafkaWire.connect(timed_topic.bootstrap) as wire:
        assert list_offset(wire, timed_topic.name, EARLIEST_TIMESTAMP)[0] == 0
        assert list_offset(wire, timed_topic.name, LATEST_TIMESTAMP)[0] == 10
        assert list_offset(wire, timed_topic.name, MAX_TIMESTAMP) == (5, timed_topic.ts(5))
        for delta in TARGETS:
            expected = _expected(timed_topic, delta) or (-1, -1)
            assert list_offset(wire, timed_topic.name, timed_topic.base_ms + delta) == expected, (
                f"target +{delta}"
            )


def test_confluent_admin_list_offsets(timed_topic: TimedTopic) -> None:
    """AdminClient.list_offsets with OffsetSpec earliest, latest, max_timestamp and for_timestamp."""
    client = admin(timed_topic.bootstrap)
    tp = TopicPartition(timed_topic.name, 0)

    def ask(spec: OffsetSpec) -> tuple[int, int]:
        [future] = client.list_offsets({tp: spec}).values()
        info = future.result(15)
        return int(info.offset), int(info.timestamp)

    assert ask(OffsetSpec.earliest())[0] == 0
    assert ask(OffsetSpec.latest())[0] == 10
    assert ask(OffsetSpec.max_timestamp()) == (5, timed_topic.ts(5))
    for delta in TARGETS:
        expected = _expected(timed_topic, delta) or (-1, -1)
        assert ask(OffsetSpec.for_timestamp(timed_topic.base_ms + delta)) == expected, f"target +{delta}"


def test_confluent_consumer_offsets_for_times(timed_topic: TimedTopic) -> None:
    """librdkafka's consumer offsets_for_times (ListOffsets through the consumer) and watermarks."""
    consumer = Consumer({"bootstrap.servers": timed_topic.bootstrap, "group.id": "unused"})
    try:
        assert consumer.get_watermark_offsets(TopicPartition(timed_topic.name, 0), timeout=15) == (0, 10)
        for delta in TARGETS:
            [found] = consumer.offsets_for_times(
                [TopicPartition(timed_topic.name, 0, timed_topic.base_ms + delta)], timeout=15
            )
            expected = _expected(timed_topic, delta)
            assert found.offset == (-1 if expected is None else expected[0]), f"target +{delta}"
    finally:
        consumer.close()


def test_aiokafka_offsets_for_times(timed_topic: TimedTopic) -> None:
    """aiokafka (ListOffsets v1): beginning/end offsets, offsets_for_times (also inside the gzip batch)."""

    async def run() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=timed_topic.bootstrap)
        await consumer.start()
        try:
            tp = AioTopicPartition(timed_topic.name, 0)
            assert await consumer.beginning_offsets([tp]) == {tp: 0}
            assert await consumer.end_offsets([tp]) == {tp: 10}
            for delta in TARGETS:
                found = (await consumer.offsets_for_times({tp: timed_topic.base_ms + delta}))[tp]
                expected = _expected(timed_topic, delta)
                got = None if found is None else (found.offset, found.timestamp)
                assert got == expected, f"target +{delta}"
        finally:
            await consumer.stop()

    asyncio.run(run())


def test_kafka_python_offsets_for_times(timed_topic: TimedTopic) -> None:
    """kafka-python: beginning/end offsets and offsets_for_times."""
    consumer = KafkaConsumer(bootstrap_servers=timed_topic.bootstrap)
    try:
        tp = KafkaPythonTopicPartition(timed_topic.name, 0)
        assert consumer.beginning_offsets([tp]) == {tp: 0}
        assert consumer.end_offsets([tp]) == {tp: 10}
        for delta in TARGETS:
            found = consumer.offsets_for_times({tp: timed_topic.base_ms + delta})[tp]
            expected = _expected(timed_topic, delta)
            got = None if found is None else (found.offset, found.timestamp)
            assert got == expected, f"target +{delta}"
    finally:
        consumer.close()
