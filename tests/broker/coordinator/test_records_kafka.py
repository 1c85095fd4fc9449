"""The ``__consumer_offsets`` format against Apache Kafka 4.x's own bytes (needs the reference jars).

A group of real consumers (one of them static) commits offsets on the reference Kafka; we
then read Kafka's ``__consumer_offsets`` segment straight from its log directory, decode
every record of that group with Brook's codec, and check that encoding the decoded values
gives back Kafka's bytes exactly. Brook's own coordinator output is checked the other way
round with Kafka's ``kafka-dump-log --offsets-decoder``.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from brook_broker.coordinator.group.common import partition_for
from brook_broker.coordinator.group.records import (
    GroupMetadataKey,
    GroupMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
)
from brook_broker.protocol.record_reader import iter_records
from brook_broker.protocol.records import iter_batches
from harness import KafkaServer, run_kafka_tool
from harness.brook import BrookProcess
from harness.kafka_clients import create_topic

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]


def _raw_records(partition_dir: Path) -> list[tuple[bytes, bytes | None]]:
    records = []
    for segment in sorted(partition_dir.glob("*.log")):
        data = segment.read_bytes()
        for position, header in iter_batches(data):
            if header.is_control:
                continue
            for record in iter_records(memoryview(data)[position : position + header.size]):
                assert record.key is not None
                records.append((bytes(record.key), None if record.value is None else bytes(record.value)))
    return records


def _consume_and_commit(bootstrap: str, topic: str, group: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        producer.produce(topic, value=f"v{i}".encode(), partition=i % 2)
    assert producer.flush(30) == 0
    consumers = [
        Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "group.protocol": "classic",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                **({"group.instance.id": "static-1"} if i == 0 else {}),
            }
        )
        for i in range(2)
    ]
    for consumer in consumers:
        consumer.subscribe([topic])
    # Until every record is committed and both members own a partition: the last group record
    # Kafka writes then has the static member in it (with group.initial.rebalance.delay.ms=0 a
    # first generation may hold only one of them).
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 10 or not all(consumer.assignment() for consumer in consumers):
        assert time.monotonic() < deadline, f"consumed {len(seen)} of 10"
        for consumer in consumers:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                seen.add((message.partition(), message.offset()))
                consumer.commit(
                    offsets=[TopicPartition(topic, message.partition(), message.offset() + 1)],
                    asynchronous=False,
                )
    for consumer in consumers:
        consumer.close()


def test_brook_decodes_and_reencodes_kafkas_consumer_offsets_records_byte_for_byte(
    kafka_ref: KafkaServer,
) -> None:
    topic = f"records-{uuid.uuid4().hex[:8]}"
    group = f"group-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_ref.bootstrap, topic, partitions=2)
    _consume_and_commit(kafka_ref.bootstrap, topic, group)

    partition_dir = kafka_ref.log_dir / f"__consumer_offsets-{partition_for(group, 50)}"
    ours = []
    for key_bytes, value_bytes in _raw_records(partition_dir):
        key = decode_key(key_bytes)
        if getattr(key, "group", None) != group:
            continue
        assert encode_key(key) == key_bytes
        value = decode_value(key, value_bytes)
        if value_bytes is not None:
            version = int.from_bytes(value_bytes[:2], "big")
            assert encode_value(value, version=version) == value_bytes, f"{key} value v{version}"
        ours.append((key, value))

    commits = [(k, v) for k, v in ours if isinstance(k, OffsetCommitKey) and isinstance(v, OffsetCommitValue)]
    assert {k.partition for k, _ in commits} == {0, 1}
    assert max(v.offset for k, v in commits if k.partition == 0) == 5
    groups = [v for k, v in ours if isinstance(k, GroupMetadataKey) and isinstance(v, GroupMetadataValue)]
    stable = [v for v in groups if v.members]
    assert stable, "Kafka wrote the group with its members"
    assert any(m.group_instance_id == "static-1" for m in stable[-1].members)
    assert {v.protocol_type for v in stable} == {"consumer"}


def test_kafka_dump_log_decodes_brooks_consumer_offsets(brook: BrookProcess) -> None:
    topic, group = "orders", "dump-log-group"
    create_topic(brook.bootstrap, topic, partitions=2)
    _consume_and_commit(brook.bootstrap, topic, group)
    assert brook.stop() == 0
    partition_dir = brook.data_dir / "logs" / f"__consumer_offsets-{partition_for(group, 50)}"
    segment = sorted(partition_dir.glob("*.log"))[0]
    result = run_kafka_tool(
        "org.apache.kafka.tools.DumpLogSegments",
        ["--files", str(segment), "--offsets-decoder", "--print-data-log"],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f'"group":"{group}","topic":"{topic}","partition":0' in out.replace(" ", "")
    assert '"offset":5' in out.replace(" ", "")
    assert '"protocolType":"consumer"' in out.replace(" ", "")
    assert '"groupInstanceId":"static-1"' in out.replace(" ", "")
    assert "Exception" not in result.stderr
