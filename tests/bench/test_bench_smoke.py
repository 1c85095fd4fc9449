"""Keeps bench/ from rotting: the Brook-only quick paths run end to end with tiny record counts.

No timing is asserted (the numbers of a tiny run mean nothing); the point is that the
benchmarks still start a broker, drive it with librdkafka and write their report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run_bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_brook_throughput_quick() -> None:
    out = _run_bench(
        "bench.throughput", "--quick", "--records", "2000", "--idle-partitions", "5", "--idle-wait", "0"
    )
    assert "produce 1 KiB, confluent-kafka (Python)" in out
    assert "consume 1 KiB, confluent-kafka (Python)" in out
    assert "RSS idle with 5 partitions" in out


def test_side_by_side_brook_only_report(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    _run_bench(
        "bench.side_by_side",
        "--quick",
        "--systems",
        "brook",
        "--no-java",
        "--no-limits",
        "--scale",
        "0.02",
        "--idle-wait",
        "0",
        "--latency-seconds",
        "1",
        "--output",
        str(report),
    )
    text = report.read_text()
    assert "<!-- BEGIN generated: side-by-side" in text
    assert "| produce | librdkafka, 1 KiB, acks=all | MB/s |" in text
    assert "end-to-end p99" in text
