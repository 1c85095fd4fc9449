"""The smallest end-to-end check: a real broker process, a real client, a round trip."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from harness.brook import BrookProcess


def test_produce_and_consume_with_librdkafka(shared_brook: BrookProcess, unique_topic: str) -> None:
    producer = Producer({"bootstrap.servers": shared_brook.bootstrap, "acks": "all"})
    for i in range(10):
        producer.produce(unique_topic, key=b"k", value=f"v{i}".encode())
    assert producer.flush(10) == 0
    consumer = Consumer(
        {"bootstrap.servers": shared_brook.bootstrap, "group.id": "unused", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(unique_topic, 0, 0)])
    values = []
    while len(values) < 10:
        message = consumer.poll(10)
        assert message is not None, "timed out waiting for records"
        assert message.error() is None
        values.append(message.value())
    consumer.close()
    assert values == [f"v{i}".encode() for i in range(10)]
