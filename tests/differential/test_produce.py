"""Produce side by side: offsets a client is told, and every error a producer can get back.

The client scenarios use librdkafka (confluent-kafka) the way applications do — keys, the
Java-compatible murmur2 partitioner, with and without idempotence — and compare the partition
and offset of every delivery report. The error scenarios send raw Produce requests (harness
`new_batch` record batches) so that exactly one rule is broken at a time, and compare the
error code, error message and per-record errors.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from confluent_kafka import Producer
from differential import admin
from differential.framework import Observation, Scenario, Target, plain, run_scenario, scenario

from harness.kafka_wire import CRC_OFFSET, new_batch

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

TIMEOUT_S = 30.0


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


def _produce_keyed(t: Target, topic: str, *, idempotent: bool) -> Observation:
    """Produce 60 keyed records (and 5 without a key, to partition 1) and return the delivery reports."""
    producer = Producer(
        {
            "bootstrap.servers": t.bootstrap,
            "partitioner": "murmur2_random",  # what the Java client does with a key
            "linger.ms": 20,
            "batch.num.messages": 7,  # several batches per partition
            "enable.idempotence": idempotent,
            "acks": "all",
        }
    )
    reports: list[tuple[str | None, int, int]] = []
    errors: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(str(error))
        else:
            key = message.key()
            reports.append((None if key is None else key.decode(), message.partition(), message.offset()))

    for i in range(60):
        producer.produce(topic, key=f"key-{i % 12}".encode(), value=f"v{i}".encode(), on_delivery=delivered)
    for i in range(5):
        producer.produce(topic, value=f"unkeyed-{i}".encode(), partition=1, on_delivery=delivered)
    assert producer.flush(TIMEOUT_S) == 0, "undelivered records"
    assert not errors, errors
    by_partition: dict[int, list[tuple[str | None, int]]] = {}
    for key, partition, offset in sorted(reports, key=lambda r: (r[1], r[2])):
        by_partition.setdefault(partition, []).append((key, offset))
    return {str(p): records for p, records in sorted(by_partition.items())}


@scenario
def produce_offsets_keyed(t: Target) -> Observation:
    """Keyed records land on the same partitions at the same offsets (0, 1, 2, ... per partition)."""
    name = t.topic()
    admin.create_topic(t, name, partitions=3)
    return _produce_keyed(t, name, idempotent=False)


@scenario
def produce_offsets_keyed_idempotent(t: Target) -> Observation:
    """The same with enable.idempotence (InitProducerId, sequenced batches, acks=all)."""
    name = t.topic()
    admin.create_topic(t, name, partitions=3)
    return _produce_keyed(t, name, idempotent=True)


def _response(t: Target, partition: Any) -> Observation:
    """A PartitionProduceResponse: times are "set"/"unset", messages scrubbed."""
    seen = plain(partition)
    append_time = plain(partition.log_append_time)
    seen["log_append_time"] = "unset" if append_time is None or append_time < 0 else "set"
    seen["error_message"] = t.scrub(seen["error_message"])
    return seen


def _produce_raw(t: Target, topic: str, batch: bytes, *, partition: int = 0, acks: int = -1) -> Observation:
    [response] = admin.produce(t, topic, {partition: batch}, acks=acks)
    return _response(t, response)


@scenario
def produce_raw_offsets(t: Target) -> Observation:
    """Raw batches: base offsets 0, 3, 5 and the log start offset, per partition; acks 1 and -1 alike."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    return [
        _produce_raw(t, name, new_batch([b"a", b"b", b"c"])),
        _produce_raw(t, name, new_batch([b"d", b"e"]), acks=1),
        _produce_raw(t, name, new_batch([b"f"])),
        _produce_raw(t, name, new_batch([b"g"]), partition=1),
    ]


@scenario
def produce_unknown_topic_or_partition(t: Target) -> Observation:
    """Produce to a missing topic or a partition past the last: UNKNOWN_TOPIC_OR_PARTITION, no auto-create."""
    name = t.topic()
    admin.create_topic(t, name)
    return {
        "missing_topic": _produce_raw(t, t.topic("missing"), new_batch([b"x"])),
        "missing_partition": _produce_raw(t, name, new_batch([b"x"]), partition=5),
        "still_missing": plain(admin.metadata(t, [t.topic("missing")]).topics[0].error_code),
    }


@scenario
def produce_oversize_batch(t: Target) -> Observation:
    """A batch larger than the topic's max.message.bytes: MESSAGE_TOO_LARGE, nothing appended."""
    name = t.topic()
    admin.create_topic(t, name, configs={"max.message.bytes": "1000"})
    return {
        "too_large": _produce_raw(t, name, new_batch([b"x" * 2000])),
        "fits": _produce_raw(t, name, new_batch([b"x" * 500])),
    }


@scenario
def produce_min_insync_above_replicas(t: Target) -> Observation:
    """acks=all on a one-replica topic with min.insync.replicas=2 is accepted: Kafka 4.x caps the
    minimum ISR at the replica count (so NOT_ENOUGH_REPLICAS needs a replica out of sync)."""
    name = t.topic()
    admin.create_topic(t, name, configs={"min.insync.replicas": "2"})
    return {
        "acks_all": _produce_raw(t, name, new_batch([b"x"]), acks=-1),
        "acks_1": _produce_raw(t, name, new_batch([b"y"]), acks=1),
    }


@scenario
def produce_corrupt_batch(t: Target) -> Observation:
    """A batch whose CRC does not match its contents: CORRUPT_MESSAGE, the connection stays usable."""
    name = t.topic()
    admin.create_topic(t, name)
    batch = bytearray(new_batch([b"abc"]))
    (crc,) = struct.unpack_from(">I", batch, CRC_OFFSET)
    struct.pack_into(">I", batch, CRC_OFFSET, crc ^ 0xFFFF)
    return {
        "corrupt": _produce_raw(t, name, bytes(batch)),
        "next": _produce_raw(t, name, new_batch([b"ok"])),
    }


@scenario
def produce_log_append_time(t: Target) -> Observation:
    """On a LogAppendTime topic the response carries the append time; on CreateTime it is -1."""
    name = t.topic()
    admin.create_topic(t, name, configs={"message.timestamp.type": "LogAppendTime"})
    create_time = t.topic("ct")
    admin.create_topic(t, create_time)
    return {
        "log_append_time": _produce_raw(t, name, new_batch([b"x"], timestamp_ms=1000)),
        "create_time": _produce_raw(t, create_time, new_batch([b"x"], timestamp_ms=1000)),
    }


@scenario
def produce_keyless_to_compacted_topic(t: Target) -> Observation:
    """A compacted topic keeps the latest record per key: a batch with a keyless record is refused
    with INVALID_RECORD and nothing of it is appended; keyed batches go on. compact,delete too."""
    compacted, both = t.topic(), t.topic("both")
    admin.create_topic(t, compacted, configs={"cleanup.policy": "compact"})
    admin.create_topic(t, both, configs={"cleanup.policy": "compact,delete"})
    return {
        "keyed": _produce_raw(t, compacted, new_batch([b"a"], keys=[b"k"])),
        "one_keyless": _produce_raw(t, compacted, new_batch([b"b", b"c"], keys=[b"k", None])),
        "keyed_after": _produce_raw(t, compacted, new_batch([b"d"], keys=[b"k"])),
        "compact_delete": _produce_raw(t, both, new_batch([b"e"], keys=[None])),
    }
