"""Measure the reference Kafka harness: start-up time (1 and 3 nodes), idle RSS, stop time.

Run as `.venv/bin/python tests/harness/measure.py [--runs N] [--fast]`; prints one line per run and the
medians. The numbers in the harness report came from this script; rerun it after a version bump.
(The first-time jar download is measured separately: `MAVEN_OPTS=-Dmaven.repo.local=<empty dir>
BROOK_KAFKA_HOME=<empty dir> python3 tests/harness/dist.py`.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.append(str(Path(__file__).resolve().parents[1]))

from harness.jvm import FAST_START_JVM_OPTS
from harness.kafka import start_kafka, start_kafka_cluster

IDLE_S = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="C1-only JIT, as the pytest fixtures run")
    options = parser.parse_args()
    runs = options.runs
    jvm_opts = FAST_START_JVM_OPTS if options.fast else None
    single_total, single_java, single_rss, single_stop = [], [], [], []
    for run in range(runs):
        began = time.monotonic()
        with start_kafka(jvm_opts=jvm_opts) as server:
            single_total.append(time.monotonic() - began)
            single_java.append(server.startup_seconds or 0.0)
            time.sleep(IDLE_S)
            single_rss.append((server.rss_bytes() or 0) / 2**20)
            began = time.monotonic()
            server.stop()
            single_stop.append(time.monotonic() - began)
        print(
            f"1 node  run {run}: format+start {single_total[-1]:.2f}s, java->ready {single_java[-1]:.2f}s, "
            f"idle RSS {single_rss[-1]:.0f} MiB, stop {single_stop[-1]:.2f}s",
            flush=True,
        )
    cluster_total, cluster_java, cluster_stop = [], [], []
    for run in range(runs):
        began = time.monotonic()
        with start_kafka_cluster(nodes=3, jvm_opts=jvm_opts) as cluster:
            cluster_total.append(time.monotonic() - began)
            cluster_java.append(max(node.startup_seconds or 0.0 for node in cluster))
            began = time.monotonic()
            cluster.stop()
            cluster_stop.append(time.monotonic() - began)
        print(
            f"3 nodes run {run}: format+start {cluster_total[-1]:.2f}s, "
            f"java->all ready {cluster_java[-1]:.2f}s, stop {cluster_stop[-1]:.2f}s",
            flush=True,
        )
    median = statistics.median
    print(
        f"median: 1 node {median(single_total):.2f}s total / {median(single_java):.2f}s java->ready, "
        f"RSS {median(single_rss):.0f} MiB, stop {median(single_stop):.2f}s; "
        f"3 nodes {median(cluster_total):.2f}s total / {median(cluster_java):.2f}s java->ready, "
        f"stop {median(cluster_stop):.2f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
