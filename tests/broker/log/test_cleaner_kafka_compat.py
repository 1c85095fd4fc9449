"""Apache Kafka's own tools read the segments Brook's log cleaner writes (needs the reference jars)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from cleaner_testkit import compact_config, make_cleaner
from log_testkit import TP, FakeClock, keyed_batch, read_batch_headers

from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.records import CompressionType
from harness import run_kafka_tool

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]


def test_kafka_dump_log_reads_cleaned_segments(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    clock = FakeClock(now)
    log = UnifiedLog.load(
        dir=tmp_path / str(TP),
        topic_partition=TP,
        config=compact_config(segment_bytes=4000, index_interval_bytes=200),
        time=clock,
    )
    for i in range(60):
        codec = CompressionType.GZIP if i % 3 else CompressionType.NONE
        pairs = [
            (f"k{(3 * i + j) % 25}".encode(), None if (i + j) % 11 == 0 else b"v%d" % i) for j in range(3)
        ]
        batch = keyed_batch(
            pairs, timestamp=now, compression=codec, producer_id=5, producer_epoch=0, base_sequence=3 * i
        )
        log.append_as_leader(batch, leader_epoch=2)
    log.update_high_watermark(log.log_end_offset)
    log.roll()
    assert make_cleaner(log, clock).clean_one() is not None
    headers = read_batch_headers(log)
    assert any(h.records_count == 0 for h in headers)  # the producer's last batch, emptied
    assert any(h.attributes & 0x40 for h in headers)  # tombstones with a delete horizon
    log.flush()
    log.close()

    files = sorted(str(p) for p in log.dir.iterdir() if p.suffix in (".log", ".index", ".timeindex"))
    dump = run_kafka_tool("kafka-dump-log", ["--files", ",".join(files), "--deep-iteration"], timeout=120)
    assert dump.returncode == 0, dump.stderr
    assert "isvalid: false" not in dump.stdout
    assert "mismatch" not in dump.stdout.lower()
    assert dump.stdout.count("isvalid: true") == len(headers)
    # Kafka reads the delete horizon Brook wrote (KIP-534).
    assert re.search(
        rf"deleteHorizonMs: OptionalLong\[{now + compact_config().delete_retention_ms}\]", dump.stdout
    )
    indexes = [f for f in files if f.endswith(("index", "timeindex"))]
    verify = run_kafka_tool(
        "kafka-dump-log", ["--files", ",".join(indexes), "--verify-index-only"], timeout=120
    )
    assert verify.returncode == 0, verify.stderr
    assert "mismatch" not in verify.stdout.lower()
