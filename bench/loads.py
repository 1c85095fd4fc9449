"""Load generators: librdkafka (confluent-kafka) in this process, kcat, and Kafka's Java perf tools.

Every function runs one load against a bootstrap address and returns a `LoadResult`: records,
payload bytes, the seconds the load took and the CPU both sides spent (see `procfs.Meter`).
Throughput is payload bytes over time, in MB/s (10^6 bytes), the unit Kafka's tools use too
(they print MiB; we recompute from records/s so every row uses one unit).

Producer settings are the same for every client (`ProducerSettings`): linger.ms=10,
batch.size=1 MiB, no compression, acks as asked. Consumers use each client's defaults.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import statistics
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bench.procfs import Meter
from harness.jvm import run_kafka_tool

MB = 1_000_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProducerSettings:
    record_size: int
    acks: str  # "1" or "all"
    linger_ms: int = 10
    batch_size: int = 1 << 20
    compression: str = "none"

    def librdkafka(self, bootstrap: str) -> dict[str, str | int | bool]:
        return {
            "bootstrap.servers": bootstrap,
            "acks": self.acks,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_size,
            "compression.type": self.compression,
            # Only failures produce delivery events: a callback per record would cost the
            # Python client more than the broker spends on the record.
            "delivery.report.only.error": True,
        }

    def java(self) -> list[str]:
        return [
            f"acks={self.acks}",
            f"linger.ms={self.linger_ms}",
            f"batch.size={self.batch_size}",
            f"compression.type={self.compression}",
        ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadResult:
    records: int
    record_size: int
    seconds: float
    client_cpu_s: float
    broker_cpu_s: float
    note: str = ""

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.records * self.record_size / self.seconds / MB

    @property
    def client_cpu_pct(self) -> float:
        """Client CPU as % of one core over the measured time (Java: includes JVM start-up)."""
        return 100 * self.client_cpu_s / self.seconds

    @property
    def broker_cpu_pct(self) -> float:
        return 100 * self.broker_cpu_s / self.seconds


class LoadError(RuntimeError):
    """A load generator failed or lost records; never turned into a number."""


# --- librdkafka (confluent-kafka) ----------------------------------------------------------


def produce_librdkafka(
    bootstrap: str, topic: str, *, records: int, settings: ProducerSettings, broker_pid: int
) -> LoadResult:
    """Produce `records` records of `settings.record_size` random bytes, keyless, from one producer."""
    errors: list[str] = []

    def on_error(err: object, _msg: object) -> None:
        errors.append(str(err))

    config = settings.librdkafka(bootstrap) | {"on_delivery": on_error}
    producer = Producer(config)
    value = os.urandom(settings.record_size)
    produce, poll = producer.produce, producer.poll
    with Meter(broker_pid) as meter:
        for _ in range(records):
            while True:
                try:
                    produce(topic, value)
                    break
                except BufferError:  # local queue full: let librdkafka send, then retry
                    poll(0.001)
        remaining = producer.flush(120)
    if remaining or errors:
        raise LoadError(f"librdkafka producer: {remaining} undelivered, errors: {errors[:3]}")
    return LoadResult(
        records=records,
        record_size=settings.record_size,
        seconds=meter.wall_s,
        client_cpu_s=meter.client_cpu_s,
        broker_cpu_s=meter.broker_cpu_s,
    )


def consume_librdkafka(
    bootstrap: str,
    topic: str,
    *,
    partitions: int,
    records: int,
    record_size: int,
    broker_pid: int,
    stall_timeout_s: float = 30.0,
) -> LoadResult:
    """Read `records` records from the start of every partition with one consumer (assign, no group).

    librdkafka requires a group.id, but with assign() and no commits it never talks to a
    group coordinator, so this works on brokers without consumer groups.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )
    try:
        seen = 0
        last_progress = time.monotonic()
        with Meter(broker_pid) as meter:
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
            while seen < records:
                batch = consumer.consume(10_000, 1.0)
                for message in batch:
                    if message.error() is not None:
                        raise LoadError(f"librdkafka consumer: {message.error()}")
                if batch:
                    seen += len(batch)
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > stall_timeout_s:
                    raise LoadError(f"librdkafka consumer stalled at {seen}/{records} records")
    finally:
        consumer.close()
    return LoadResult(
        records=seen,
        record_size=record_size,
        seconds=meter.wall_s,
        client_cpu_s=meter.client_cpu_s,
        broker_cpu_s=meter.broker_cpu_s,
    )


# --- kcat --------------------------------------------------------------------------------


def kcat_available() -> bool:
    return shutil.which("kcat") is not None


def payload_file(directory: Path, *, records: int, record_size: int) -> Path:
    """A file of `records` lines of `record_size` printable bytes each, for `kcat -P -l`."""
    path = directory / f"payload-{records}x{record_size}.txt"
    if not path.exists():
        line = os.urandom(record_size).hex()[:record_size].encode() + b"\n"
        with path.open("wb") as out:
            chunk = line * 1024
            full, rest = divmod(records, 1024)
            for _ in range(full):
                out.write(chunk)
            out.write(line * rest)
    return path


def produce_kcat(
    bootstrap: str, topic: str, *, payload: Path, records: int, settings: ProducerSettings, broker_pid: int
) -> LoadResult:
    """`kcat -P -l payload`: librdkafka without Python in the loop (process start-up included)."""
    kcat = shutil.which("kcat")
    if kcat is None:
        raise LoadError("kcat is not installed (make kcat)")
    command = [kcat, "-P", "-b", bootstrap, "-t", topic, "-l", str(payload)]
    for key, value in settings.librdkafka(bootstrap).items():
        if key not in ("bootstrap.servers", "delivery.report.only.error"):
            command += ["-X", f"{key}={value}"]
    with Meter(broker_pid) as meter:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0 or "fail" in result.stderr.lower():
        raise LoadError(f"kcat exited with {result.returncode}: {result.stderr.strip()[-500:]}")
    return LoadResult(
        records=records,
        record_size=settings.record_size,
        seconds=meter.wall_s,
        client_cpu_s=meter.client_cpu_s,
        broker_cpu_s=meter.broker_cpu_s,
    )


# --- Kafka's Java tools ----------------------------------------------------------------------

_PRODUCER_PERF = re.compile(
    r"(?P<records>\d+) records sent, (?P<rps>[\d.]+) records/sec \([\d.]+ MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency"
)


def produce_java(
    bootstrap: str, topic: str, *, records: int, settings: ProducerSettings, broker_pid: int
) -> LoadResult:
    """Kafka's ProducerPerformance (one Java producer, unthrottled); its own throughput figure.

    The tool times from its first send, so JVM start-up is excluded from throughput; the CPU
    figures cover the whole tool run (start-up and JIT included) divided by that time.
    """
    args = [
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(settings.record_size),
        "--throughput",
        "-1",
        "--reporting-interval",
        "60000",
        "--command-property",
        *settings.java(),
    ]
    with Meter(broker_pid) as meter:
        result = run_kafka_tool("kafka-producer-perf-test", args, timeout=600)
    summary = [m for m in _PRODUCER_PERF.finditer(result.stdout) if int(m["records"]) == records]
    if result.returncode != 0 or not summary:
        raise LoadError(
            f"ProducerPerformance exited with {result.returncode}: "
            f"{(result.stdout + result.stderr).strip()[-800:]}"
        )
    match = summary[-1]
    seconds = records / float(match["rps"])
    return LoadResult(
        records=records,
        record_size=settings.record_size,
        seconds=seconds,
        client_cpu_s=meter.client_cpu_s,
        broker_cpu_s=meter.broker_cpu_s,
        note=f"avg latency {match['avg']} ms",
    )


def consume_java(
    bootstrap: str, topic: str, *, records: int, record_size: int, broker_pid: int
) -> LoadResult:
    """Kafka's ConsumerPerformance (one Java consumer in a consumer group); fetch-phase throughput.

    ``fetch.nMsg.sec`` excludes the group join (rebalance) time, so it measures fetching.
    """
    args = [
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--group",
        f"bench-{uuid.uuid4().hex[:8]}",
        "--timeout",
        "30000",
        "--reporting-interval",
        "60000",
    ]
    with Meter(broker_pid) as meter:
        result = run_kafka_tool("kafka-consumer-perf-test", args, timeout=600)
    header, values = _perf_csv(result.stdout)
    if result.returncode != 0 or not values:
        raise LoadError(
            f"ConsumerPerformance exited with {result.returncode}: "
            f"{(result.stdout + result.stderr).strip()[-800:]}"
        )
    row = dict(zip(header, values, strict=True))
    consumed = int(row["data.consumed.in.nMsg"])
    if consumed < records:
        raise LoadError(f"ConsumerPerformance read {consumed}/{records} records")
    seconds = int(row["fetch.time.ms"]) / 1000
    return LoadResult(
        records=consumed,
        record_size=record_size,
        seconds=seconds,
        client_cpu_s=meter.client_cpu_s,
        broker_cpu_s=meter.broker_cpu_s,
        note=f"group join {row['rebalance.time.ms']} ms",
    )


def _perf_csv(stdout: str) -> tuple[list[str], list[str]]:
    """ConsumerPerformance prints a header line and a data line, comma-separated."""
    lines = [line for line in stdout.splitlines() if "," in line]
    for index, line in enumerate(lines[:-1]):
        if line.startswith("start.time"):
            return [c.strip() for c in line.split(",")], [c.strip() for c in lines[index + 1].split(",")]
    return [], []


# --- end-to-end latency ------------------------------------------------------------------------

#: Payload prefix: send time (CLOCK_MONOTONIC ns) and whether the record is measured.
_STAMP = struct.Struct(">q?")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LatencyResult:
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rate: int
    consumer_ready_s: float  # from the first probe record until the consumer saw one


def end_to_end_latency(
    bootstrap: str,
    topic: str,
    *,
    rate: int,
    seconds: float,
    record_size: int = 100,
    warmup_s: float = 1.0,
) -> LatencyResult:
    """Produce at `rate` records/s (acks=1, linger.ms=0) and time each record until a consumer sees it.

    The payload carries the send time (CLOCK_MONOTONIC, shared by both threads); the consumer
    is a separate client on its own thread, assigned to the (fresh, 1-partition) topic from
    offset 0. Three phases: probe records every 10 ms until the consumer has seen one (a new
    topic takes a while to become fetchable, which is start-up, not latency), then `warmup_s`
    at `rate`, then `seconds` at `rate`; only the last phase is measured.
    """
    total = int(rate * seconds)
    latencies_ns: list[int] = []
    fetching = threading.Event()
    done = threading.Event()
    failure: list[str] = []

    def consume() -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.assign([TopicPartition(topic, 0, 0)])
            deadline = time.monotonic() + seconds + warmup_s + 120
            while len(latencies_ns) < total and time.monotonic() < deadline:
                # poll(), not consume(n, timeout): consume waits for n records or the timeout.
                message = consumer.poll(0.1)
                if message is None:
                    continue
                now = time.monotonic_ns()
                if message.error() is not None:
                    failure.append(str(message.error()))
                    return
                value = message.value()
                assert value is not None
                sent, measured = _STAMP.unpack_from(value)
                fetching.set()
                if measured:
                    latencies_ns.append(now - sent)
        finally:
            consumer.close()
            done.set()

    thread = threading.Thread(target=consume, name="latency-consumer", daemon=True)
    thread.start()
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 0})
    padding = os.urandom(record_size - _STAMP.size)

    def send(measured: bool) -> None:
        producer.produce(topic, _STAMP.pack(time.monotonic_ns(), measured) + padding)
        producer.poll(0)

    probing = time.monotonic()
    while not fetching.wait(0.01):
        if time.monotonic() - probing > 60 or done.is_set():
            raise LoadError(f"latency consumer saw nothing within 60 s {failure[:1]}")
        send(False)
    consumer_ready_s = time.monotonic() - probing
    warmup = int(rate * warmup_s)
    start = time.monotonic()
    for i in range(warmup + total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        send(i >= warmup)
    if producer.flush(30) != 0:
        raise LoadError("latency producer could not deliver every record")
    done.wait(seconds + 120)
    thread.join(5)
    if failure or len(latencies_ns) < total:
        raise LoadError(f"latency consumer got {len(latencies_ns)}/{total} records {failure[:1]}")
    millis = sorted(ns / 1e6 for ns in latencies_ns)
    return LatencyResult(
        samples=len(millis),
        p50_ms=statistics.median(millis),
        p99_ms=millis[min(len(millis) - 1, int(len(millis) * 0.99))],
        max_ms=millis[-1],
        rate=rate,
        consumer_ready_s=consumer_ready_s,
    )
