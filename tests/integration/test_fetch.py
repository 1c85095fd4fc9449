"""Fetch behaviour clients depend on: ordered responses, long polling, fetching from inside a batch.

Ordering and long polling are checked on raw connections (kio requests over a socket),
because a client library would hide which response came first; fetching from inside a
compressed batch is checked with every client, since each must filter out the records
before its position itself. Assertions are about order and behaviour; the only timing
assertions are generous bounds (a long poll must not return at once when empty, and must
return well before max_wait when a record arrives).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AioTopicPartition
from kio.schema.api_versions.v3.request import ApiVersionsRequest

from harness.brook import BrookProcess
from harness.kafka_clients import (
    CLIENTS,
    CONSUMERS,
    Message,
    codec_available,
    create_topic,
    produce_one_batch,
)
from harness.kafka_wire import (
    KafkaWire,
    fetch,
    fetch_batches,
    fetch_request,
    metadata_request,
    new_batch,
    produce,
    produce_request,
    read_batches,
)


def test_responses_come_back_in_request_order(shared_brook: BrookProcess, unique_topic: str) -> None:
    """A long-poll Fetch (max_wait 500 ms, nothing to read) pipelined with Produce, Metadata and
    ApiVersions on one socket: the answers arrive in request order, the Fetch's first, although
    the requests behind it could have been answered at once."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        sent = [
            wire.send(fetch_request(unique_topic, offset=0, max_wait_ms=500, min_bytes=1)),
            wire.send(metadata_request(unique_topic)),
            wire.send(produce_request(unique_topic, new_batch([b"pipelined"]), acks=1)),
            wire.send(ApiVersionsRequest(client_software_name="brook-it", client_software_version="1")),
            wire.send(metadata_request()),
        ]
        answers = [wire.receive() for _ in sent]
    assert [a.correlation_id for a in answers] == sent
    fetched = answers[0].body.responses[0].partitions[0]
    assert (fetched.error_code, bytes(fetched.records or b"")) == (0, b""), (
        "the fetch waited and found nothing"
    )
    assert answers[1].body.topics[0].error_code == 0
    assert answers[2].body.responses[0].partition_responses[0].base_offset == 0


def test_waiting_fetch_wakes_for_data_and_keeps_order(shared_brook: BrookProcess, unique_topic: str) -> None:
    """A long-poll Fetch woken by a produce on another connection answers early with the record,
    and the Metadata request pipelined behind it is still answered after it."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with (
        KafkaWire.connect(shared_brook.bootstrap) as wire,
        KafkaWire.connect(shared_brook.bootstrap) as other,
    ):
        started = time.monotonic()
        fetch_id = wire.send(fetch_request(unique_topic, offset=0, max_wait_ms=20_000, min_bytes=1))
        metadata_id = wire.send(metadata_request(unique_topic))
        time.sleep(0.2)  # let the fetch park in the purgatory first (if it has not, the test still holds)
        assert produce(other, unique_topic, new_batch([b"wake-up"])).base_offset == 0
        first = wire.receive()
        elapsed = time.monotonic() - started
        second = wire.receive()
    assert (first.correlation_id, second.correlation_id) == (fetch_id, metadata_id)
    batches = read_batches(bytes(first.body.responses[0].partitions[0].records or b""))
    assert [(b.base_offset, b.records_count) for b in batches] == [(0, 1)]
    assert elapsed < 10, "the fetch returned when data arrived, not at max_wait (20 s)"


def test_empty_long_poll_waits_for_max_wait(shared_brook: BrookProcess, unique_topic: str) -> None:
    """With nothing to read, a Fetch with max_wait 400 ms is answered, empty, after waiting (not at
    once); with min_bytes above what is there, it still answers at max_wait, with what there is."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        started = time.monotonic()
        empty = fetch(wire, unique_topic, offset=0, max_wait_ms=400)
        waited = time.monotonic() - started
        assert (empty.error_code, bytes(empty.records or b""), empty.high_watermark) == (0, b"", 0)
        assert 0.3 <= waited < 10, f"an empty long poll waits about max_wait (took {waited:.2f}s)"

        produce(wire, unique_topic, new_batch([b"small"]))
        started = time.monotonic()
        response = wire.request(fetch_request(unique_topic, offset=0, max_wait_ms=400, min_bytes=1_000_000))
        waited = time.monotonic() - started
        partition = response.responses[0].partitions[0]
        assert [b.records_count for b in read_batches(bytes(partition.records or b""))] == [1]
        assert 0.3 <= waited < 10, (
            "min_bytes not reached: the broker waits max_wait, then answers with what it has"
        )


def test_consumer_waiting_at_the_end_receives_a_new_record(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    """aiokafka waiting at the end of the log (fetch_max_wait_ms 20 s) gets a record produced
    meanwhile long before its long poll would have expired."""
    create_topic(shared_brook.bootstrap, unique_topic)

    async def run() -> float:
        consumer = AIOKafkaConsumer(bootstrap_servers=shared_brook.bootstrap, fetch_max_wait_ms=20_000)
        await consumer.start()
        try:
            tp = AioTopicPartition(unique_topic, 0)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            waiting = asyncio.create_task(consumer.getone())
            await asyncio.sleep(0.5)
            assert not waiting.done(), "nothing to read yet"
            started = time.monotonic()
            with KafkaWire.connect(shared_brook.bootstrap) as wire:
                await asyncio.to_thread(produce, wire, unique_topic, new_batch([b"arrived"]))
            record = await asyncio.wait_for(waiting, 30)
            assert (record.offset, record.value) == (0, b"arrived")
            return time.monotonic() - started
        finally:
            await consumer.stop()

    assert asyncio.run(run()) < 10


BATCH = [Message(value=f"record-{i}".encode(), key=f"k{i}".encode()) for i in range(10)]


@pytest.mark.parametrize("codec", ["none", "gzip", "lz4", "zstd"])
def test_fetch_from_inside_a_batch_returns_the_whole_batch(
    shared_brook: BrookProcess, unique_topic: str, codec: str
) -> None:
    """Two 10-record batches; a fetch at offset 14 returns the whole second batch (base offset 10),
    and each client positioned at 4 or 14 (inside a compressed batch) reads exactly from there on.
    (Tansu's bug: a consumer positioned inside the last batch hung.)"""
    create_topic(shared_brook.bootstrap, unique_topic)
    assert produce_one_batch(shared_brook.bootstrap, unique_topic, BATCH, compression=codec) == 0
    assert produce_one_batch(shared_brook.bootstrap, unique_topic, BATCH, compression=codec) == 10
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        assert [(b.base_offset, b.records_count) for b in fetch_batches(wire, unique_topic, offset=14)] == [
            (10, 10)
        ]
        assert [b.base_offset for b in fetch_batches(wire, unique_topic, offset=4)] == [0, 10]
    for client in CLIENTS:
        if not codec_available(client, codec):
            continue
        for position in (4, 14):
            got = CONSUMERS[client](shared_brook.bootstrap, unique_topic, 20 - position, offset=position)
            assert [(r.offset, r.value) for r in got] == [
                (o, BATCH[o % 10].value) for o in range(position, 20)
            ], f"{client} from {position}"


def test_every_waiting_fetch_wakes_for_one_produce(shared_brook: BrookProcess, unique_topic: str) -> None:
    """Several connections long-polling the same partition all wake for one produce."""
    create_topic(shared_brook.bootstrap, unique_topic)
    results: list[int] = []
    lock = threading.Lock()

    def poll() -> None:
        with KafkaWire.connect(shared_brook.bootstrap) as wire:
            data = fetch(wire, unique_topic, offset=0, max_wait_ms=20_000)
            with lock:
                results.append(len(read_batches(bytes(data.records or b""))))

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        produce(wire, unique_topic, new_batch([b"for-everyone"]))
    for thread in threads:
        thread.join(30)
    assert results == [1, 1, 1, 1]


def test_batch_larger_than_fetch_limits_is_still_returned(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    """KIP-74: a batch bigger than the partition and response limits is returned whole when it is
    the first thing to read, so consumers with small fetch sizes never get stuck behind it."""
    create_topic(shared_brook.bootstrap, unique_topic)
    big = Message(value=b"B" * 300_000, key=b"big")
    small = Message(value=b"small", key=b"s")
    assert produce_one_batch(shared_brook.bootstrap, unique_topic, [big]) == 0
    assert produce_one_batch(shared_brook.bootstrap, unique_topic, [small]) == 1
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        response = wire.request(fetch_request(unique_topic, offset=0, max_bytes=1024))
        records = bytes(response.responses[0].partitions[0].records or b"")
    assert [(b.base_offset, b.records_count) for b in read_batches(records)] == [(0, 1)]
    got = CONSUMERS["aiokafka"](shared_brook.bootstrap, unique_topic, 2, max_partition_fetch_bytes=1024)
    assert [(r.offset, r.value) for r in got] == [(0, big.value), (1, small.value)]
    got = CONSUMERS["confluent"](
        shared_brook.bootstrap,
        unique_topic,
        2,
        config={
            "max.partition.fetch.bytes": 1024,
            "fetch.max.bytes": 1024,
            "message.max.bytes": 1024,
        },
    )
    assert [(r.offset, r.value) for r in got] == [(0, big.value), (1, small.value)]
