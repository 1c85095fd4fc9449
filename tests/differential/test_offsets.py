"""Offsets side by side: ListOffsets, DeleteRecords, and what a consumer reads back in which order.

Records are produced with fixed CreateTime timestamps (raw batches), so timestamp lookups have
the same answer on both brokers; what is compared is every offset, timestamp, leader epoch,
low watermark and error code a client gets, and the exact sequence of records it consumes.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Producer
from differential import admin
from differential.admin import EARLIEST, LATEST, MAX_TIMESTAMP
from differential.framework import Observation, Scenario, Target, plain, run_scenario, scenario

from harness.kafka_clients import consume_confluent
from harness.kafka_wire import fetch_request, new_batch, read_batches

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

EARLIEST_LOCAL, LATEST_TIERED = -4, -5


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


def _fill(t: Target, topic: str) -> None:
    """Partition 0: offsets 0-2 at t=1000..1002, 3-4 at t=5000 and 3000 (max timestamp at offset 3),
    5 at t=4000; partition 1 stays empty."""
    for batch in (
        new_batch([b"a", b"b", b"c"], timestamp_ms=1000),
        new_batch([b"d"], timestamp_ms=5000),
        new_batch([b"e"], timestamp_ms=3000),
        new_batch([b"f"], timestamp_ms=4000),
    ):
        [response] = admin.produce(t, topic, {0: batch})
        assert int(response.error_code) == 0, response


def _offsets(t: Target, topic: str, queries: list[tuple[int, int]]) -> Observation:
    return [
        {
            "partition": int(p.partition_index),
            "error_code": plain(p.error_code),
            "offset": int(p.offset),
            "timestamp": int(p.timestamp),
            "leader_epoch": int(p.leader_epoch),
        }
        # Kafka answers a topic's partitions in its own (hash) order; clients key them by partition.
        for p in sorted(admin.list_offsets(t, topic, queries), key=lambda p: int(p.partition_index))
    ]


@scenario
def list_offsets(t: Target) -> Observation:
    """ListOffsets v10: earliest, latest, max timestamp, earliest local, latest tiered and by timestamp."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    _fill(t, name)
    specs = [
        EARLIEST,
        LATEST,
        MAX_TIMESTAMP,
        EARLIEST_LOCAL,
        LATEST_TIERED,
        0,
        1000,
        1001,
        2000,
        4500,
        5000,
        5001,
    ]
    return {str(spec): _offsets(t, name, [(0, spec), (1, spec)]) for spec in specs}


@scenario
def max_timestamp_inside_batches(t: Target) -> Observation:
    """MAX_TIMESTAMP picks the record, not the batch: the largest timestamp in the middle of a batch,
    ties inside a batch and across batches, and a later batch that does not beat it."""
    name = t.topic()
    admin.create_topic(t, name, partitions=3)
    batches = {
        0: [admin.timed_batch([(b"a", 1000), (b"b", 3000), (b"c", 2000)])],
        1: [
            admin.timed_batch([(b"a", 1000), (b"b", 3000), (b"c", 3000), (b"d", 2000)]),
            admin.timed_batch([(b"e", 3000), (b"f", 500)]),
        ],
        2: [admin.timed_batch([(b"a", 1000)]), admin.timed_batch([(b"b", 900), (b"c", 4000), (b"d", 4000)])],
    }
    for partition, blobs in batches.items():
        for blob in blobs:
            [response] = admin.produce(t, name, {partition: blob})
            assert int(response.error_code) == 0, response
    return {
        "max_timestamp": _offsets(t, name, [(p, MAX_TIMESTAMP) for p in batches]),
        "by_timestamp_2500": _offsets(t, name, [(p, 2500) for p in batches]),
        "by_timestamp_950": _offsets(t, name, [(p, 950) for p in batches]),
    }


@scenario
def list_offsets_errors(t: Target) -> Observation:
    """ListOffsets for an unknown topic and for a partition past the last one."""
    name = t.topic()
    admin.create_topic(t, name)
    return {
        "unknown_topic": _offsets(t, t.topic("missing"), [(0, LATEST)]),
        "unknown_partition": _offsets(t, name, [(3, LATEST)]),
    }


@scenario
def list_offsets_duplicate_partition(t: Target) -> Observation:
    """The same partition twice in one ListOffsets request: one INVALID_REQUEST entry for it."""
    name = t.topic()
    admin.create_topic(t, name)
    return _offsets(t, name, [(0, EARLIEST), (0, LATEST)])


@scenario
def delete_records(t: Target) -> Observation:
    """DeleteRecords moves the low watermark (to an offset, to the HW with -1), never back nor past the HW."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    _fill(t, name)
    steps = {
        "to_2": {0: 2},
        "back_to_1": {0: 1},
        "to_hw": {0: -1},
        "past_hw": {0: 100},
        "empty_partition": {1: 0},
        "unknown_partition": {7: 0},
    }
    seen: dict[str, Any] = {}
    for label, offsets in steps.items():
        seen[label] = [plain(p) for p in admin.delete_records(t, name, offsets)]
    seen["unknown_topic"] = [plain(p) for p in admin.delete_records(t, t.topic("missing"), {0: 0})]
    seen["after"] = {
        str(spec): _offsets(t, name, [(0, spec)]) for spec in (EARLIEST, LATEST, MAX_TIMESTAMP, 0)
    }
    return seen


def _fetch(t: Target, topic: str, offset: int) -> Observation:
    with t.wire() as wire:
        response = wire.request(fetch_request(topic, offset=offset))
    [partition] = response.responses[0].partitions
    batches = read_batches(bytes(partition.records or b""))
    return {
        "error_code": plain(partition.error_code),
        "high_watermark": int(partition.high_watermark),
        "last_stable_offset": int(partition.last_stable_offset),
        "log_start_offset": int(partition.log_start_offset),
        "batches": [(b.base_offset, b.last_offset, b.base_timestamp, b.max_timestamp) for b in batches],
    }


@scenario
def fetch_positions(t: Target) -> Observation:
    """Fetch v12 from the start, mid-batch, at the HW, past the HW, and below the log start offset."""
    name = t.topic()
    admin.create_topic(t, name)
    _fill(t, name)
    seen = {str(offset): _fetch(t, name, offset) for offset in (0, 1, 4, 6, 7)}
    admin.delete_records(t, name, {0: 3})
    seen["below_log_start"] = _fetch(t, name, 1)
    seen["at_log_start"] = _fetch(t, name, 3)
    return seen


@scenario
def consume_order(t: Target) -> Observation:
    """Records produced by librdkafka (keys, headers, several batches) are consumed back in offset order,
    from the start and from the middle, with the same keys, values, headers and timestamps."""
    name = t.topic()
    admin.create_topic(t, name)
    producer = Producer({"bootstrap.servers": t.bootstrap, "linger.ms": 5, "batch.num.messages": 4})
    for i in range(20):
        producer.produce(
            name,
            key=None if i % 5 == 0 else f"k{i % 3}".encode(),
            value=None if i == 7 else f"value-{i}".encode(),
            headers=[("i", str(i).encode())],
            partition=0,
            timestamp=10_000 + i,
        )
    assert producer.flush(30) == 0

    def records(offset: int, count: int) -> Observation:
        return [
            (r.offset, r.key, r.value, r.headers, r.timestamp_ms, r.log_append_time)
            for r in consume_confluent(t.bootstrap, name, count, offset=offset)
        ]

    return {"from_start": plain(records(0, 20)), "from_13": plain(records(13, 7))}
