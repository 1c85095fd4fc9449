"""One way to produce and consume through each real client: aiokafka, kafka-python, confluent-kafka, kcat.

Integration tests compare what one client wrote with what another read, so every consumer
here returns the same `Consumed` records (offset, key, value, headers, timestamp and its
type) and every producer takes the same `Message`s. Nothing is mocked: each helper drives
the real library (or the kcat binary) against a broker address.

Consumers never join a group (Brook has no group coordinator yet): they assign the
partition and seek, which every client supports. All waits are bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from aiokafka import codec as aiokafka_codec
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, KafkaException, Producer
from confluent_kafka import TopicPartition as ConfluentTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaPythonTopicPartition
from kafka import codec as kafka_python_codec

DEFAULT_TIMEOUT_S = 30.0
KCAT = "kcat"

#: Kafka's codecs as every client here spells them ("none" = uncompressed).
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
CLIENTS = ("aiokafka", "kafka-python", "confluent", "kcat")


def codec_available(client: str, codec: str) -> bool:
    """Whether ``client`` can compress/decompress ``codec`` with the packages installed here."""
    if codec in ("none", "gzip") or client in ("confluent", "kcat"):
        return True  # librdkafka (confluent-kafka's wheel, Debian's kcat) is built with all codecs
    module: Any = aiokafka_codec if client == "aiokafka" else kafka_python_codec
    return bool(getattr(module, f"has_{codec}")())


@dataclass(frozen=True, slots=True)
class Message:
    """A record to produce. ``timestamp_ms=None`` lets the client stamp it (CreateTime = now)."""

    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Consumed:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int
    log_append_time: bool


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = 0.05,
    what: str = "",
) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` when the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or condition}")
        time.sleep(interval_s)


# --- admin --------------------------------------------------------------------------------


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(
    bootstrap: str, name: str, *, partitions: int = 1, config: Mapping[str, str] | None = None
) -> None:
    """Create a topic with confluent-kafka's AdminClient and wait for the result."""
    client = admin(bootstrap)  # keep a reference: the future fails if the client is destroyed
    futures = client.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))],
        operation_timeout=10,
    )
    futures[name].result(timeout=DEFAULT_TIMEOUT_S)


# --- producers ----------------------------------------------------------------------------


def produce_confluent(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    partition: int = 0,
    compression: str = "none",
    config: Mapping[str, Any] | None = None,
) -> list[int]:
    """Produce with librdkafka; returns the offsets from the delivery reports, in send order (-1: unknown)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": compression,
            "linger.ms": 50,  # several records per batch, so compressed batches hold many
            **(config or {}),
        }
    )
    offsets: list[int | None] = [None] * len(messages)
    errors: list[str] = []

    def delivered(index: int) -> Callable[[Any, Any], None]:
        def report(error: Any, message: Any) -> None:
            if error is not None:
                errors.append(str(error))
            else:
                offset = message.offset()
                offsets[index] = -1 if offset is None else offset  # acks=0: no offset is known

        return report

    for index, message in enumerate(messages):
        producer.produce(
            topic,
            value=message.value,
            key=message.key,
            headers=list(message.headers),
            partition=partition,
            timestamp=message.timestamp_ms or 0,
            on_delivery=delivered(index),
        )
    remaining = producer.flush(DEFAULT_TIMEOUT_S)
    assert remaining == 0, f"{remaining} message(s) not delivered"
    assert not errors, errors
    assert all(o is not None for o in offsets)
    return [o for o in offsets if o is not None]


async def produce_aiokafka_async(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    partition: int = 0,
    compression: str = "none",
    **config: Any,
) -> list[int]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=None if compression == "none" else compression,
        linger_ms=50,
        **config,
    )
    await producer.start()
    try:
        # send() (not send_and_wait) so consecutive records share a batch.
        futures = [
            await producer.send(
                topic,
                value=m.value,
                key=m.key,
                partition=partition,
                headers=list(m.headers),
                timestamp_ms=m.timestamp_ms,
            )
            for m in messages
        ]
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [md.offset for md in metadata]


def produce_aiokafka(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    partition: int = 0,
    compression: str = "none",
    **config: Any,
) -> list[int]:
    return asyncio.run(
        produce_aiokafka_async(
            bootstrap, topic, messages, partition=partition, compression=compression, **config
        )
    )


async def produce_one_batch_async(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    partition: int = 0,
    compression: str = "none",
) -> int:
    """Send ``messages`` as exactly one record batch (aiokafka's BatchBuilder); returns its base offset."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, compression_type=None if compression == "none" else compression
    )
    await producer.start()
    try:
        batch = producer.create_batch()
        for m in messages:
            appended = batch.append(
                key=m.key, value=m.value, timestamp=m.timestamp_ms, headers=list(m.headers)
            )
            assert appended is not None, "batch full"
        future = await producer.send_batch(batch, topic, partition=partition)
        metadata = await future
    finally:
        await producer.stop()
    return int(metadata.offset)


def produce_one_batch(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    partition: int = 0,
    compression: str = "none",
) -> int:
    return asyncio.run(
        produce_one_batch_async(bootstrap, topic, messages, partition=partition, compression=compression)
    )


def produce_kafka_python(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    partition: int = 0,
    compression: str = "none",
    **config: Any,
) -> list[int]:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=None if compression == "none" else compression,
        linger_ms=50,
        **config,
    )
    try:
        futures = [
            producer.send(
                topic,
                value=m.value,
                key=m.key,
                partition=partition,
                headers=list(m.headers),
                timestamp_ms=m.timestamp_ms,
            )
            for m in messages
        ]
        producer.flush(DEFAULT_TIMEOUT_S)
        return [f.get(timeout=DEFAULT_TIMEOUT_S).offset for f in futures]
    finally:
        producer.close(timeout=5)


def produce_kcat(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    partition: int = 0,
    compression: str = "none",
    headers: tuple[tuple[str, bytes], ...] = (),
) -> None:
    """Produce lines with kcat: ``key<TAB>value`` per message (text only), the same headers on all.

    kcat cannot set a timestamp per record nor per-record headers; its messages get CreateTime = now.
    """
    lines = []
    for m in messages:
        assert m.key is not None and b"\t" not in m.key and b"\n" not in m.value
        lines.append(m.key + b"\t" + m.value)
    args = [KCAT, "-P", "-b", bootstrap, "-t", topic, "-p", str(partition), "-K", "\t"]
    args += ["-z", compression] if compression != "none" else []
    for name, value in headers:
        args += ["-H", f"{name}={value.decode()}"]
    args += ["-X", "linger.ms=50"]
    subprocess.run(
        args, input=b"\n".join(lines) + b"\n", check=True, timeout=DEFAULT_TIMEOUT_S, capture_output=True
    )


# --- consumers ----------------------------------------------------------------------------


def consume_confluent(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    partition: int = 0,
    offset: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    config: Mapping[str, Any] | None = None,
) -> list[Consumed]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "brook-integration-unused",  # required by librdkafka; assign() never joins it
            "enable.auto.commit": False,
            **(config or {}),
        }
    )
    try:
        consumer.assign([ConfluentTopicPartition(topic, partition, offset)])
        out: list[Consumed] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"confluent consumer got {len(out)} of {count} records"
            message = consumer.poll(min(remaining, 1.0))
            if message is None:
                continue
            if message.error() is not None:
                raise KafkaException(message.error())
            ts_type, ts = message.timestamp()
            offset_or_none, headers = message.offset(), message.headers() or []
            assert offset_or_none is not None and isinstance(headers, list)
            out.append(
                Consumed(
                    offset=offset_or_none,
                    key=message.key(),
                    value=message.value(),
                    headers=tuple((name, value) for name, value in headers if isinstance(value, bytes)),
                    timestamp_ms=ts,
                    log_append_time=ts_type == TIMESTAMP_LOG_APPEND_TIME,
                )
            )
        return out
    finally:
        consumer.close()


def _from_consumer_record(record: Any) -> Consumed:
    """aiokafka's and kafka-python's ConsumerRecord (same fields; timestamp type 1 = LogAppendTime)."""
    return Consumed(
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
        timestamp_ms=record.timestamp,
        log_append_time=record.timestamp_type == 1,
    )


async def consume_aiokafka_async(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    partition: int = 0,
    offset: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **config: Any,
) -> list[Consumed]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **config
    )
    await consumer.start()
    try:
        tp = AioTopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        out: list[Consumed] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"aiokafka consumer got {len(out)} of {count} records"
            batches = await consumer.getmany(tp, timeout_ms=int(min(remaining, 1.0) * 1000))
            out.extend(_from_consumer_record(record) for record in batches.get(tp, []))
        return out
    finally:
        await consumer.stop()


def consume_aiokafka(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    partition: int = 0,
    offset: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **config: Any,
) -> list[Consumed]:
    return asyncio.run(
        consume_aiokafka_async(
            bootstrap, topic, count, partition=partition, offset=offset, timeout_s=timeout_s, **config
        )
    )


def consume_kafka_python(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    partition: int = 0,
    offset: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **config: Any,
) -> list[Consumed]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **config)
    try:
        tp = KafkaPythonTopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        out: list[Consumed] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"kafka-python consumer got {len(out)} of {count} records"
            polled = consumer.poll(timeout_ms=int(min(remaining, 1.0) * 1000))
            out.extend(_from_consumer_record(record) for record in polled.get(tp, []))
        return out
    finally:
        consumer.close()


def consume_kcat(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    partition: int = 0,
    offset: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[Consumed]:
    """Consume ``count`` records with ``kcat -C -J`` (keys, values and headers must be UTF-8 text)."""
    args = [
        KCAT,
        "-C",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-p",
        str(partition),
        "-o",
        str(offset),
        "-c",
        str(count),
    ]
    args += ["-J", "-q"]
    result = subprocess.run(args, check=True, timeout=timeout_s, capture_output=True)
    out = []
    for line in result.stdout.decode().splitlines():
        record = json.loads(line)
        raw_headers: list[str] = record.get("headers") or []
        out.append(
            Consumed(
                offset=record["offset"],
                key=None if record["key"] is None else record["key"].encode(),
                value=None if record["payload"] is None else record["payload"].encode(),
                headers=tuple(
                    (raw_headers[i], raw_headers[i + 1].encode()) for i in range(0, len(raw_headers), 2)
                ),
                timestamp_ms=record["ts"],
                log_append_time=record["tstype"] == "logappend",
            )
        )
    return out


Consume = Callable[..., list[Consumed]]
CONSUMERS: dict[str, Consume] = {
    "aiokafka": consume_aiokafka,
    "kafka-python": consume_kafka_python,
    "confluent": consume_confluent,
    "kcat": consume_kcat,
}
