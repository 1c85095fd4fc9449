"""Records survive the broker intact whichever client writes them and whichever reads them.

Every producer (aiokafka, kafka-python, confluent-kafka, kcat) writes with every codec it
supports; every *other* client that can decompress that codec reads the records back, and
offsets, keys, values, headers and timestamps must equal what was sent. kafka-python
decompresses only what its optional packages allow (gzip here: python-snappy, lz4 and
zstandard are not installed), so its snappy/lz4/zstd cases are skipped, visibly.

Brook keeps batches as the client compressed them, so these tests are what proves the
broker stamps offsets without corrupting a batch of any codec (the CRC would catch it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from harness.brook import BrookProcess
from harness.kafka_clients import (
    CLIENTS,
    CODECS,
    CONSUMERS,
    Consumed,
    Message,
    codec_available,
    create_topic,
    produce_aiokafka,
    produce_confluent,
    produce_kafka_python,
    produce_kcat,
)

COUNT = 40
KCAT_HEADERS = (("origin", b"kcat"), ("codec", b"any"))


def _messages(*, text_only: bool) -> list[Message]:
    """Keys, several headers (a repeated name, an empty value), and known CreateTime timestamps."""
    base = int(time.time() * 1000) - 3_600_000  # an hour ago: clearly the client's, not the broker's
    messages = []
    for i in range(COUNT):
        key: bytes | None = f"key-{i % 7}".encode()
        value = f"value-{i}-".encode() * (1 + i % 5)
        if not text_only and i == 3:
            key, value = None, b""  # a null key and an empty value
        headers = (("trace", f"t{i}".encode()), ("trace", b"second"), ("empty", b""))
        messages.append(Message(value=value, key=key, headers=headers, timestamp_ms=base + 17 * i))
    return messages


def _case(producer: str, codec: str) -> Any:
    available = codec_available(producer, codec)
    return pytest.param(
        producer,
        codec,
        id=f"{producer}-{codec}",
        marks=pytest.mark.skipif(not available, reason=f"{producer} has no {codec} codec installed"),
    )


Produce = Callable[..., Any]
PRODUCERS: dict[str, Produce] = {
    "aiokafka": produce_aiokafka,
    "kafka-python": produce_kafka_python,
    "confluent": produce_confluent,
}


@pytest.mark.parametrize(("producer", "codec"), [_case(p, c) for p in CLIENTS for c in CODECS])
def test_every_client_reads_what_every_client_wrote(
    shared_brook: BrookProcess, unique_topic: str, producer: str, codec: str
) -> None:
    """Produce with one client and codec; every other capable client reads identical records."""
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic)
    text_only = producer == "kcat"
    messages = _messages(text_only=text_only)
    before = int(time.time() * 1000)
    if producer == "kcat":
        produce_kcat(bootstrap, unique_topic, messages, compression=codec, headers=KCAT_HEADERS)
    else:
        offsets = PRODUCERS[producer](bootstrap, unique_topic, messages, compression=codec)
        assert offsets == list(range(COUNT)), "offsets are assigned densely from 0, in send order"
    after = int(time.time() * 1000)

    readers = [c for c in CLIENTS if c != producer and codec_available(c, codec)]
    if producer != "kcat" and "kcat" in readers and any(m.key is None for m in messages):
        readers.remove("kcat")  # kcat's JSON cannot tell a null key from an absent one; checked below
        readers.append("kcat-text")
    for reader in readers:
        got = CONSUMERS[reader.removesuffix("-text")](bootstrap, unique_topic, COUNT)
        if producer == "kcat":
            _check_kcat_records(got, messages, before=before, after=after, reader=reader)
        elif reader == "kcat-text":
            _check_records(
                [g for g in got if g.offset != 3], [m for i, m in enumerate(messages) if i != 3], reader
            )
        else:
            _check_records(got, messages, reader)


def _check_records(got: Sequence[Consumed], sent: Sequence[Message], reader: str) -> None:
    assert len(got) == len(sent), reader
    for record, message in zip(got, sent, strict=True):
        expected = Consumed(
            offset=record.offset,
            key=message.key,
            value=message.value,
            headers=message.headers,
            timestamp_ms=message.timestamp_ms or -1,
            log_append_time=False,
        )
        assert record == expected, f"{reader} read a different record at offset {record.offset}"
    assert [r.offset for r in got] == sorted({r.offset for r in got}), (
        f"{reader}: offsets in order, no repeats"
    )


def _check_kcat_records(
    got: Sequence[Consumed], sent: Sequence[Message], *, before: int, after: int, reader: str
) -> None:
    assert [r.offset for r in got] == list(range(COUNT)), reader
    for record, message in zip(got, sent, strict=True):
        assert (record.key, record.value, record.headers) == (message.key, message.value, KCAT_HEADERS), (
            reader
        )
        assert before - 1000 <= record.timestamp_ms <= after + 1000, "kcat's CreateTime is the send time"
        assert not record.log_append_time


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_log_append_time_topic_stamps_broker_time(
    shared_brook: BrookProcess, unique_topic: str, codec: str
) -> None:
    """With message.timestamp.type=LogAppendTime the broker overwrites the client's timestamps.

    The produce response carries the append time, consumers see timestamp type LogAppendTime
    and a time between just before the produce and just after it, identical for the records
    of one batch; keys, values and headers are untouched (the broker rewrote the batch header
    and its CRC, not the records).
    """
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, config={"message.timestamp.type": "LogAppendTime"})
    messages = _messages(text_only=False)
    before = int(time.time() * 1000)
    offsets = produce_confluent(bootstrap, unique_topic, messages, compression=codec)
    after = int(time.time() * 1000)
    assert offsets == list(range(COUNT))
    for reader in ("confluent", "aiokafka", "kafka-python"):
        if not codec_available(reader, codec):
            continue
        got = CONSUMERS[reader](bootstrap, unique_topic, COUNT)
        assert [(r.key, r.value, r.headers) for r in got] == [(m.key, m.value, m.headers) for m in messages]
        assert all(r.log_append_time for r in got), reader
        assert all(before - 1000 <= r.timestamp_ms <= after + 1000 for r in got), reader


def test_log_append_time_in_produce_response(shared_brook: BrookProcess, unique_topic: str) -> None:
    """aiokafka reports the broker's append time (from the produce response) for a LogAppendTime topic."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, config={"message.timestamp.type": "LogAppendTime"})

    async def send() -> Any:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            return await producer.send_and_wait(unique_topic, b"v", partition=0, timestamp_ms=1_000)
        finally:
            await producer.stop()

    before = int(time.time() * 1000)
    metadata = asyncio.run(send())
    after = int(time.time() * 1000)
    assert metadata.timestamp_type == 1  # LogAppendTime
    assert before - 1000 <= metadata.timestamp <= after + 1000
