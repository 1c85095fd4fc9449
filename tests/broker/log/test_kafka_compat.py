"""On-disk compatibility with Apache Kafka 4.x, both ways (needs the reference Kafka jars).

- Kafka's own ``kafka-dump-log`` reads Brook's segments, indexes and producer snapshots;
- Brook's loader opens a partition directory that a real Kafka broker wrote.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from log_testkit import TP, make_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log import checkpoint
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.record_reader import iter_records
from brook_broker.protocol.records import CompressionType, iter_batches
from harness import KafkaServer, run_kafka_tool

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]


def test_kafka_dump_log_reads_brook_files(tmp_path: Path) -> None:
    log = UnifiedLog.load(
        dir=tmp_path / str(TP),
        topic_partition=TP,
        config=LogConfig(index_interval_bytes=100, segment_bytes=4000),
    )
    now = int(time.time() * 1000)
    for i in range(30):
        codec = CompressionType.GZIP if i % 2 else CompressionType.NONE
        batch = make_batch(
            3,
            value_size=50,
            timestamp=now + 10 * i,
            producer_id=5,
            producer_epoch=0,
            base_sequence=3 * i,
            compression=codec,
        )
        log.append_as_leader(batch, leader_epoch=2)
    log.flush()
    log.close()
    files = sorted(
        str(p) for p in log.dir.iterdir() if p.suffix in (".log", ".index", ".timeindex", ".snapshot")
    )
    assert len(files) >= 7  # two segments with their indexes, snapshots at the roll and at close

    dump = run_kafka_tool("kafka-dump-log", ["--files", ",".join(files), "--deep-iteration"], timeout=120)
    assert dump.returncode == 0, dump.stderr
    assert dump.stdout.count("isvalid: true") == 30
    assert "isvalid: false" not in dump.stdout
    assert dump.stdout.count("| offset:") == 90
    assert "mismatch" not in dump.stdout.lower()
    assert "producerId: 5 producerEpoch: 0" in dump.stdout and "lastSequence: 89" in dump.stdout

    indexes = [f for f in files if f.endswith(("index", "timeindex"))]
    sanity = run_kafka_tool(
        "kafka-dump-log", ["--files", ",".join(indexes), "--index-sanity-check"], timeout=120
    )
    assert sanity.returncode == 0, sanity.stderr
    assert sanity.stdout.count("passed sanity check") == len(indexes)
    verify = run_kafka_tool(
        "kafka-dump-log", ["--files", ",".join(indexes), "--verify-index-only"], timeout=120
    )
    assert verify.returncode == 0, verify.stderr
    assert "mismatch" not in verify.stdout.lower()


def test_brook_loads_a_partition_written_by_kafka(kafka_ref: KafkaServer, tmp_path: Path) -> None:
    topic = f"brook-compat-{uuid.uuid4().hex[:8]}"
    created = run_kafka_tool(
        "kafka-topics",
        ["--bootstrap-server", kafka_ref.bootstrap, "--create", "--topic", topic, "--partitions", "1"],
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    producer = Producer(
        {
            "bootstrap.servers": kafka_ref.bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )
    values = [f"value-{i}".encode() for i in range(200)]
    for value in values:
        producer.produce(topic, value=value)
        producer.poll(0)
    assert producer.flush(30) == 0

    source = kafka_ref.log_dir / f"{topic}-0"
    copy = tmp_path / f"{topic}-0"
    deadline = time.monotonic() + 30
    while True:  # the broker writes asynchronously; wait until the copy holds every record
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        log = UnifiedLog.load(dir=copy, topic_partition=TP._replace(topic=topic), config=LogConfig())
        if log.log_end_offset == len(values) or time.monotonic() > deadline:
            break
        log.close()
        time.sleep(0.5)

    assert (log.log_start_offset, log.log_end_offset) == (0, len(values))
    data = log.read(0, max_bytes=1 << 30).records.read_bytes()
    decoded = [
        record.value
        for position, header in iter_batches(data)
        for record in iter_records(data[position:][: header.size])
    ]
    assert decoded == values
    assert log.topic_id == checkpoint.read_partition_metadata(source / checkpoint.PARTITION_METADATA)
    assert log.leader_epoch_cache.entries == [(0, 0)]
    [producer_id] = list(log.producer_state_manager.producers)
    entry = log.producer_state_manager.producers[producer_id]
    assert entry.last_seq == len(values) - 1 and entry.last_data_offset == len(values) - 1
    found = log.fetch_offset_by_timestamp(0)
    assert found is not None and found.offset == 0
    log.close()
