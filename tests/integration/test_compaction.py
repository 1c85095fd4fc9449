"""Log compaction in a running broker: the background cleaner keeps the last value per key.

The cleaner runs in the broker's own background task (a worker thread), so this proves the
wiring as well as the semantics: a compacted topic read from the beginning ends up with one
record per key, the latest one, and a key deleted with a tombstone (null value) disappears.
"""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from harness.brook import start_brook
from harness.kafka_clients import Message, create_topic, produce_confluent, wait_until

SEGMENT_MS = 200


def _roll(bootstrap: str, topic: str) -> None:
    """Let the active segment age past segment.ms; the next append starts a new one."""
    time.sleep(SEGMENT_MS / 1000 * 1.5)
    produce_confluent(bootstrap, topic, [Message(key=b"roll", value=b"-")])


def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record from the log start to the high watermark, as (key, value)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        records: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is None or message.error() is not None:
                continue
            records.append((message.key(), message.value()))
            if message.offset() >= high - 1:
                return records
        raise AssertionError(f"could not read {topic} up to offset {high}")
    finally:
        consumer.close()


def test_compacted_topic_keeps_the_latest_value_per_key(tmp_path: Path) -> None:
    with start_brook(tmp_path / "brook", log_cleaner_backoff_ms="100") as brook:
        topic = "compacted"
        create_topic(
            brook.bootstrap,
            topic,
            config={
                "cleanup.policy": "compact",
                "segment.ms": str(SEGMENT_MS),
                "min.cleanable.dirty.ratio": "0.01",
                "delete.retention.ms": "0",
            },
        )
        for round_ in range(3):
            produce_confluent(
                brook.bootstrap,
                topic,
                [Message(key=f"k{i}".encode(), value=f"v{round_}-{i}".encode()) for i in range(10)],
            )
            _roll(brook.bootstrap, topic)
        tombstone = Producer({"bootstrap.servers": brook.bootstrap})
        tombstone.produce(topic, key=b"k0", value=None)
        assert tombstone.flush(30) == 0

        def compacted() -> bool:
            # Each roll makes the log dirty again: a tombstone goes in the pass after its horizon.
            _roll(brook.bootstrap, topic)
            keys = [key for key, _ in _read_all(brook.bootstrap, topic) if key != b"roll"]
            return len(keys) == len(set(keys)) and b"k0" not in keys

        wait_until(compacted, timeout_s=120, interval_s=1, what="the cleaner to compact the topic")
        latest = {key: value for key, value in _read_all(brook.bootstrap, topic) if key != b"roll"}
        assert latest == {f"k{i}".encode(): f"v2-{i}".encode() for i in range(1, 10)}
