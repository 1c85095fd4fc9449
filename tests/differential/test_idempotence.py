"""Idempotent producers side by side, played by hand with raw requests for exact control.

A real client never sends a duplicate or a sequence gap on purpose, so each scenario plays an
idempotent producer over one connection: InitProducerId, then record batches carrying the
producer id, epoch and base sequence (harness `new_batch`). Every step's answer (error code,
message, base offset, log start offset) is compared, and so is the log afterwards (batch base
offsets, producer ids relative to the first, sequences).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from differential import admin
from differential.framework import Observation, Scenario, Target, plain, run_scenario, scenario, wait_for

from harness.kafka_wire import (
    KafkaWire,
    fetch_request,
    init_producer_id_request,
    new_batch,
    produce_request,
    read_batches,
)

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

COORDINATOR_LOAD_IN_PROGRESS = 14


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


#: A step: (producer, epoch offset from the granted epoch, base sequence, record count); producer
#: "a"/"b" are ids from InitProducerId, "none" a plain non-idempotent batch, "ghost" an id never granted.
Step = tuple[str, int, int, int]


def _play(t: Target, steps: Sequence[Step]) -> Observation:
    name = t.topic()
    admin.create_topic(t, name)
    with t.wire() as wire:
        granted = {p: _init(wire) for p in ("a", "b")}
        ids = {"a": granted["a"][0], "b": granted["b"][0], "none": -1, "ghost": granted["b"][0] + 500}
        answers = []
        for producer, epoch_offset, sequence, count in steps:
            producer_id = ids[producer]
            epoch = -1 if producer == "none" else granted.get(producer, (0, 0))[1] + epoch_offset
            batch = new_batch(
                [f"{producer}-{sequence + i}".encode() for i in range(count)],
                producer_id=producer_id,
                producer_epoch=epoch,
                base_sequence=-1 if producer == "none" else sequence,
                timestamp_ms=1_000,
            )
            response = wire.request(produce_request(name, batch))
            answers.append(_answer(t, response.responses[0].partition_responses[0]))
        log = _log(wire, name, ids)
    return {
        "init_producer_id": [{"epoch": epoch, "id_is_valid": pid >= 0} for pid, epoch in granted.values()],
        "answers": answers,
        "log": log,
    }


def _init(wire: KafkaWire) -> tuple[int, int]:
    """InitProducerId, retried while the broker fetches its first block of producer ids
    (COORDINATOR_LOAD_IN_PROGRESS right after Kafka starts), as clients retry it."""
    response = wait_for(
        lambda: wire.request(init_producer_id_request()),
        lambda r: int(r.error_code) != COORDINATOR_LOAD_IN_PROGRESS,
    )
    assert int(response.error_code) == 0, response
    return int(response.producer_id), int(response.producer_epoch)


def _answer(t: Target, partition: Any) -> Observation:
    return {
        "error_code": plain(partition.error_code),
        "error_message": t.scrub(partition.error_message),
        "base_offset": int(partition.base_offset),
        "log_start_offset": int(partition.log_start_offset),
    }


def _log(wire: KafkaWire, topic: str, ids: dict[str, int]) -> Observation:
    response = wire.request(fetch_request(topic, offset=0))
    [partition] = response.responses[0].partitions
    names = {pid: producer for producer, pid in ids.items()}
    return [
        {
            "base_offset": b.base_offset,
            "records": b.records_count,
            "producer": names.get(b.producer_id, str(b.producer_id)),
            "base_sequence": b.base_sequence,
        }
        for b in read_batches(bytes(partition.records or b""))
    ]


@scenario
def duplicate_batch(t: Target) -> Observation:
    """A retried batch (same producer, epoch, sequence) gets the original base offset, is not re-written."""
    return _play(t, [("none", 0, 0, 1), ("a", 0, 0, 3), ("a", 0, 0, 3), ("a", 0, 3, 2), ("a", 0, 3, 2)])


@scenario
def duplicate_of_older_batches(t: Target) -> Observation:
    """Retries of any of the last five batches are duplicates; a retry of the sixth-newest is not."""
    steps: list[Step] = [("a", 0, 2 * n, 2) for n in range(7)]
    steps += [("a", 0, 4, 2), ("a", 0, 12, 2), ("a", 0, 2, 2)]
    return _play(t, steps)


@scenario
def sequence_gap(t: Target) -> Observation:
    """A sequence gap: OUT_OF_ORDER_SEQUENCE_NUMBER, nothing written; then the expected sequence appends."""
    return _play(t, [("a", 0, 0, 3), ("a", 0, 10, 1), ("a", 0, 2, 1), ("a", 0, 3, 1)])


@scenario
def first_sequence_not_zero(t: Target) -> Observation:
    """A fresh producer id whose first batch does not start at sequence 0, and an id never granted."""
    return _play(t, [("a", 0, 5, 1), ("b", 0, 0, 1), ("ghost", 0, 0, 1), ("ghost", 0, 7, 1)])


@scenario
def epoch_fencing(t: Target) -> Observation:
    """A bumped epoch restarts at sequence 0 (not at another sequence); the old epoch is then fenced."""
    return _play(t, [("a", 0, 0, 2), ("a", 1, 4, 1), ("a", 1, 0, 1), ("a", 0, 2, 1), ("a", 1, 1, 1)])


@scenario
def producers_are_independent(t: Target) -> Observation:
    """Two producers interleaved on one partition: each one's sequences are checked separately."""
    return _play(t, [("a", 0, 0, 1), ("b", 0, 0, 2), ("a", 0, 1, 1), ("b", 0, 0, 2), ("b", 0, 2, 1)])
