"""Durability: what the broker acknowledged survives SIGKILL, SIGTERM and a torn log tail.

Producer threads (librdkafka; acks=1, acks=all and idempotent, one topic each) send
numbered records continuously; the broker is killed with SIGKILL in the middle of the
streams and started again on the same port and data directory while the producers keep
going (they retry on their own). Afterwards every record a producer saw acknowledged must be
in the log at the offset it was told, in send order; the idempotent producer must also have
written nothing twice across the crash (its retries of in-flight batches are deduplicated
by producer state the broker rebuilt from the log).

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

#: librdkafka consumers look up their group coordinator, which creates __consumer_offsets;
#: one partition instead of 50 saves seconds of directory fsyncs per fresh broker.
ONE_OFFSETS_PARTITION = {"offsets_topic_num_partitions": "1"}
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


def _read_all(brook: BrookProcess, topic: str) -> list[Consumed]:
    with KafkaWire.connect(brook.bootstrap) as wire:
        end = list_offset(wire, topic, LATEST_TIMESTAMP)[0]
    return consume_confluent(brook.bootstrap, topic, end, timeout_s=60)


PRODUCER_MODES = {
    "acks-1": {"acks": "1", "enable.idempotence": False, "max.in.flight.requests.per.connection": 1},
    "acks-all": {"acks": "all", "enable.idempotence": False, "max.in.flight.requests.per.connection": 1},
    "idempotent": {"enable.idempotence": True},  # acks=all, 5 in flight, retries with sequence numbers
}


def test_kill_9_during_produce_streams_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Three producers (acks=1, acks=all, idempotent) stream into three topics; SIGKILL, restart,
    keep producing. For each: every acknowledged record is in the log at its acknowledged offset,
    acknowledged records are in send order, and the idempotent producer wrote nothing twice."""
    with start_brook(tmp_path / "brook", **ONE_OFFSETS_PARTITION) as brook:
        streams = {}
        for mode, config in PRODUCER_MODES.items():
            create_topic(brook.bootstrap, mode)
            streams[mode] = StreamProducer(brook.bootstrap, mode, config)
        for stream in streams.values():
            stream.start()
        try:
            for mode, stream in streams.items():
                wait_until(
                    lambda s=stream: s.acked_count >= 300, what=f"{mode}: 300 acknowledged before the crash"
                )
            brook.kill()
            at_crash = {mode: stream.acked_count for mode, stream in streams.items()}
            brook.start()
            for mode, stream in streams.items():
                wait_until(
                    lambda s=stream, n=at_crash[mode] + 300: s.acked_count >= n,
                    what=f"{mode}: 300 more acknowledged after the restart",
                )
        finally:
            for stream in streams.values():
                stream.finish()
        logs = {mode: _read_all(brook, mode) for mode in streams}
        assert "Traceback" not in brook.log_path.read_text()
    for mode, stream in streams.items():
        _check_stream(mode, stream, logs[mode])


def _check_stream(mode: str, stream: StreamProducer, records: list[Consumed]) -> None:
    assert not stream.failed, f"{mode}: records failed: {stream.failed[:5]}"
    assert [r.offset for r in records] == list(range(len(records))), f"{mode}: dense offsets"
    by_offset = {r.offset: int(r.value or b"-1") for r in records}
    lost = [(n, o) for n, o in stream.acked if by_offset.get(o) != n]
    assert not lost, f"{mode}: {len(lost)} acknowledged records missing or moved, e.g. {lost[:5]}"
    # In send order at their acknowledged offsets. (Without idempotence a batch written just before
    # the crash but never acknowledged is retried and written again: an earlier unacknowledged copy
    # is at-least-once delivery, as with Kafka, not a reordering.)
    acked_in_log_order = [n for n, _ in sorted(stream.acked, key=lambda acked: acked[1])]
    assert acked_in_log_order == sorted(acked_in_log_order), f"{mode}: acknowledged records in send order"
    numbers = [int(r.value or b"-1") for r in records]
    if mode == "idempotent":
        assert len(numbers) == len(set(numbers)), "the idempotent producer's records are each written once"
        assert set(numbers) == set(range(stream.sent)), "everything it sent was written exactly once"


def test_clean_shutdown_and_restart_keep_everything(tmp_path: Path) -> None:
    """SIGTERM exits 0 after a clean shutdown; after restart every record (all codecs) reads back the same."""
    with start_brook(tmp_path / "brook", **ONE_OFFSETS_PARTITION) as brook:
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


TORN_TAILS = {
    "random-bytes": os.urandom(97),
    "truncated-batch": new_batch([b"torn" * 100])[:40],  # a header promising more bytes than follow
    "zeros": bytes(4096),  # preallocated-looking space after the last batch
}


def test_torn_tail_after_kill_9_is_truncated(tmp_path: Path) -> None:
    """SIGKILL, then garbage appended to active segments (random bytes, half a batch, zeros): the
    broker recovers, keeps every whole batch, truncates the rest, and appends after the last good
    record. One topic per kind of garbage, one crash."""
    messages = [Message(value=f"v{i}".encode(), key=b"k") for i in range(200)]
    with start_brook(tmp_path / "brook", **ONE_OFFSETS_PARTITION) as brook:
        sizes = {}
        for topic in TORN_TAILS:
            create_topic(brook.bootstrap, topic)
            produce_confluent(brook.bootstrap, topic, messages[:100], compression="lz4")
            produce_confluent(brook.bootstrap, topic, messages[100:])
        brook.kill()
        for topic, garbage in TORN_TAILS.items():
            segment = _active_segment(brook, topic)
            sizes[topic] = segment.stat().st_size
            with segment.open("ab") as f:
                f.write(garbage)
        brook.start()
        for topic in TORN_TAILS:
            got = consume_confluent(brook.bootstrap, topic, 200)
            assert [(r.offset, r.value) for r in got] == [(i, m.value) for i, m in enumerate(messages)], topic
            with KafkaWire.connect(brook.bootstrap) as wire:
                assert list_offset(wire, topic, LATEST_TIMESTAMP)[0] == 200, topic
            assert _active_segment(brook, topic).stat().st_size == sizes[topic], f"{topic}: tail truncated"
            assert produce_confluent(brook.bootstrap, topic, [Message(value=b"after")]) == [200], topic
            assert [r.value for r in consume_confluent(brook.bootstrap, topic, 1, offset=200)] == [b"after"]
        assert brook.stop() == 0
        assert "Traceback" not in brook.log_path.read_text()
