"""Durability: what the broker acknowledged survives SIGKILL, SIGTERM and a torn log tail.

A producer thread (librdkafka) sends numbered records continuously; the broker is killed
with SIGKILL in the middle of the stream and started again on the same port and data
directory while the producer keeps going (it retries on its own). Afterwards every record
the producer saw acknowledged must be in the log at the offset it was told, in send order;
the idempotent producer must also have written nothing twice, across the crash (its
retries of in-flight batches are deduplicated from producer state the broker rebuilt).

A SIGKILL leaves the page cache intact, so these tests check the broker's own bookkeeping
(recovery, high watermark, producer state), not fsync; torn writes are simulated by
appending garbage to the active segment while the broker is down.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from harness.brook import BrookProcess, start_brook
from harness.kafka_clients import (
    CODECS,
    Consumed,
    Message,
    consume_confluent,
    create_topic,
    produce_confluent,
    wait_until,
)
from harness.kafka_wire import LATEST_TIMESTAMP, KafkaWire, list_offset, new_batch

TOPIC = "durable"


class StreamProducer(threading.Thread):
    """Sends ``00000000``, ``00000001``, ... until stopped; records what was acknowledged where."""

    def __init__(self, bootstrap: str, topic: str, config: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.topic = topic
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": 5,
                "message.timeout.ms": 60_000,
                "reconnect.backoff.max.ms": 200,
                **config,
            }
        )
        self.acked: list[tuple[int, int]] = []  # (sequence number, offset), in delivery order
        self.failed: list[tuple[int, str]] = []
        self.sent = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def _report(self, error: Any, message: Any) -> None:
        number = int(message.value())
        with self._lock:
            if error is not None:
                self.failed.append((number, str(error)))
            else:
                self.acked.append((number, message.offset()))

    @property
    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.producer.produce(
                    self.topic, value=f"{self.sent:08d}".encode(), partition=0, on_delivery=self._report
                )
                self.sent += 1
            except BufferError:
                self.producer.poll(0.05)
                continue
            self.producer.poll(0)
            time.sleep(0.0005)  # a steady stream, not a flood: keeps the log small and the test quick
        self.producer.flush(60)

    def finish(self) -> None:
        self._stopping.set()
        self.join(90)
        assert not self.is_alive(), "the producer did not finish flushing"


def _read_all(brook: BrookProcess) -> list[Consumed]:
    with KafkaWire.connect(brook.bootstrap) as wire:
        end = list_offset(wire, TOPIC, LATEST_TIMESTAMP)[0]
    return consume_confluent(brook.bootstrap, TOPIC, end, timeout_s=60)


PRODUCER_MODES = {
    "acks-1": {"acks": "1", "enable.idempotence": False, "max.in.flight.requests.per.connection": 1},
    "acks-all": {"acks": "all", "enable.idempotence": False, "max.in.flight.requests.per.connection": 1},
    "idempotent": {"enable.idempotence": True},  # acks=all, 5 in flight, retries with sequence numbers
}


@pytest.mark.parametrize("mode", list(PRODUCER_MODES))
def test_kill_9_during_a_produce_stream_loses_nothing_acknowledged(tmp_path: Path, mode: str) -> None:
    """SIGKILL mid-stream, restart, keep producing: every acknowledged record is in the log at its
    acknowledged offset, acknowledged records are in send order, and (idempotent) none is duplicated."""
    with start_brook(tmp_path / "brook") as brook:
        create_topic(brook.bootstrap, TOPIC)
        stream = StreamProducer(brook.bootstrap, TOPIC, PRODUCER_MODES[mode])
        stream.start()
        try:
            wait_until(lambda: stream.acked_count >= 400, what="400 acknowledged records before the crash")
            brook.kill()
            at_crash = stream.acked_count
            brook.start()
            assert "Traceback" not in brook.log_path.read_text()
            wait_until(
                lambda: stream.acked_count >= at_crash + 400, what="400 more acknowledgements after restart"
            )
        finally:
            stream.finish()
        assert not stream.failed, f"records failed: {stream.failed[:5]}"
        records = _read_all(brook)
    by_offset = {r.offset: int(r.value or b"-1") for r in records}
    assert len(by_offset) == len(records) and [r.offset for r in records] == list(range(len(records)))
    lost = [(n, o) for n, o in stream.acked if by_offset.get(o) != n]
    assert not lost, f"{len(lost)} acknowledged records missing or moved, e.g. {lost[:5]}"
    numbers = [int(r.value or b"-1") for r in records]
    acked = {n for n, _ in stream.acked}
    in_log_order = [n for n in numbers if n in acked]
    assert in_log_order == sorted(set(in_log_order)), "acknowledged records appear in send order"
    if mode == "idempotent":
        assert len(numbers) == len(set(numbers)), "the idempotent producer's records are each written once"
        assert set(numbers) == set(range(stream.sent)), "everything sent was written exactly once"


def test_clean_shutdown_and_restart_keep_everything(tmp_path: Path) -> None:
    """SIGTERM exits 0 after a clean shutdown; after restart every record (all codecs) reads back the same."""
    with start_brook(tmp_path / "brook") as brook:
        create_topic(brook.bootstrap, TOPIC, partitions=2)
        sent: list[Message] = []
        for codec in CODECS:
            batch = [
                Message(
                    value=f"{codec}-{i}".encode(), key=codec.encode(), headers=(("codec", codec.encode()),)
                )
                for i in range(50)
            ]
            produce_confluent(brook.bootstrap, TOPIC, batch, compression=codec)
            sent += batch
        assert brook.stop() == 0, "a clean shutdown exits 0"
        assert "shutdown complete" in brook.log_path.read_text()
        brook.start()
        got = consume_confluent(brook.bootstrap, TOPIC, len(sent))
        assert [(r.offset, r.key, r.value, r.headers) for r in got] == [
            (i, m.key, m.value, m.headers) for i, m in enumerate(sent)
        ]
        assert produce_confluent(brook.bootstrap, TOPIC, [Message(value=b"after")]) == [len(sent)]
        assert brook.stop() == 0
        assert "Traceback" not in brook.log_path.read_text()


def _active_segment(brook: BrookProcess, topic: str) -> Path:
    return max((brook.data_dir / "logs" / f"{topic}-0").glob("*.log"))


def _torn_batch() -> bytes:
    """The first 40 bytes of a real batch: a header that promises more bytes than follow."""
    return new_batch([b"torn" * 100])[:40]


@pytest.mark.parametrize(
    "garbage",
    [pytest.param(os.urandom(97), id="random-bytes"), pytest.param(_torn_batch(), id="truncated-batch")],
)
def test_torn_tail_after_kill_9_is_truncated(tmp_path: Path, garbage: bytes) -> None:
    """SIGKILL, then garbage appended to the active segment (a torn write): the broker recovers,
    keeps every whole batch, truncates the rest, and appends after the last good record."""
    with start_brook(tmp_path / "brook") as brook:
        create_topic(brook.bootstrap, TOPIC)
        messages = [Message(value=f"v{i}".encode(), key=b"k") for i in range(200)]
        produce_confluent(brook.bootstrap, TOPIC, messages[:100], compression="lz4")
        produce_confluent(brook.bootstrap, TOPIC, messages[100:])
        brook.kill()
        segment = _active_segment(brook, TOPIC)
        good_size = segment.stat().st_size
        with segment.open("ab") as f:
            f.write(garbage)
        brook.start()
        got = consume_confluent(brook.bootstrap, TOPIC, 200)
        assert [(r.offset, r.value) for r in got] == [(i, m.value) for i, m in enumerate(messages)]
        with KafkaWire.connect(brook.bootstrap) as wire:
            assert list_offset(wire, TOPIC, LATEST_TIMESTAMP)[0] == 200
        assert segment.stat().st_size == good_size, "the torn tail was truncated away"
        assert produce_confluent(brook.bootstrap, TOPIC, [Message(value=b"after")]) == [200]
        assert [r.value for r in consume_confluent(brook.bootstrap, TOPIC, 1, offset=200)] == [b"after"]
        assert brook.stop() == 0
        assert "Traceback" not in brook.log_path.read_text()
